/* gen_corpus.c — writes the seed corpus for fuzz_codec into DIR (its old files are removed first):
 * one valid frame per Envelope message type (every field set), a hand-made heartbeat, and a few
 * refused frames (empty-body, wrong version, truncated). Usage: gen_corpus DIR */
#include "codec.h"
#include "msgfill.h"

#include <glib/gstdio.h>
#include <stdio.h>

static int s_write(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    GError *gerr = NULL;
    if (!g_file_set_contents(path, (const char *)buf, (gssize)len, &gerr)) {
        fprintf(stderr, "gen_corpus: %s\n", gerr->message);
        g_error_free(gerr);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        perror(dir);
        return 1;
    }
    GDir *d = g_dir_open(dir, 0, NULL);
    for (const char *n = d ? g_dir_read_name(d) : NULL; n != NULL; n = g_dir_read_name(d)) {
        g_autofree char *p = g_build_filename(dir, n, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_REGULAR))
            g_remove(p);
    }
    if (d)
        g_dir_close(d);

    Drover__Envelope__BodyCase cases[64];
    size_t n = msgfill_body_cases(cases, G_N_ELEMENTS(cases));
    msgfill *mf = msgfill_new(1);
    int written = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        drv_error *err = NULL;
        if (drv_codec_pack(msgfill_envelope(mf, cases[i]), 0, &buf, &len, &err) != 0) {
            fprintf(stderr, "gen_corpus: %s\n", err->message);
            return 1;
        }
        g_autofree char *name = g_strdup_printf("valid-%s", drv_codec_body_name(cases[i]));
        if (s_write(dir, name, buf, len) < 0)
            return 1;
        written++;
        if (i == 0) { /* a truncated one and a wrong-version one, from the first frame */
            if (s_write(dir, "truncated", buf, len / 2) < 0)
                return 1;
            buf[1] = 2; /* field 1 (version) is the first varint: 08 01 → 08 02 */
            if (s_write(dir, "version-2", buf, len) < 0)
                return 1;
            written += 2;
        }
        g_free(buf);
    }
    msgfill_destroy(&mf);
    static const uint8_t only_version[] = {0x08, 0x01};
    if (s_write(dir, "no-body", only_version, sizeof(only_version)) < 0)
        return 1;
    written++;
    printf("gen_corpus: %d files in %s\n", written, dir);
    return 0;
}

/* fuzz_codec.c — libFuzzer target for drv_codec_unpack. Any input either is refused with a
 * DRV_ERR_PROTO error, or decodes into a version-1 envelope with a body that packs again and whose
 * canonical encoding is stable (pack → unpack → pack gives the same bytes). ASan/UBSan/LSan catch
 * memory errors, undefined behaviour and leaks. Built only with DROVER_FUZZ=ON on clang. */
#include "codec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reports which property broke, then aborts so libFuzzer saves the input. */
static void s_broken(const char *what, const drv_error *err)
{
    fprintf(stderr, "fuzz_codec: %s%s%s\n", what, err ? ": " : "", err ? err->message : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Drover__Envelope *env = NULL;
    drv_error *err = NULL;
    if (drv_codec_unpack(data, size, 0, &env, &err) != 0) {
        if (err == NULL || err->kind != DRV_ERR_PROTO || env != NULL)
            s_broken("refused without a DRV_ERR_PROTO error", err);
        drv_error_destroy(&err);
        return 0;
    }
    if (err != NULL || env == NULL || env->version != DRV_PROTO_VERSION ||
        strcmp(drv_codec_body_name(env->body_case), "none") == 0)
        s_broken("accepted an envelope without version 1 and a body", NULL);

    uint8_t *a = NULL, *b = NULL;
    size_t a_len = 0, b_len = 0;
    size_t limit = 2 * size + 1024;
    if (drv_codec_pack(env, limit, &a, &a_len, &err) != 0)
        s_broken("an accepted envelope does not pack", err);
    Drover__Envelope *again = NULL;
    if (drv_codec_unpack(a, a_len, limit, &again, &err) != 0)
        s_broken("a repacked envelope does not unpack", err);
    if (drv_codec_pack(again, limit, &b, &b_len, &err) != 0)
        s_broken("a repacked envelope does not pack again", err);
    if (a_len != b_len || memcmp(a, b, a_len) != 0)
        s_broken("the canonical encoding is not stable", NULL);
    g_free(a);
    g_free(b);
    drv_codec_destroy(&again);
    drv_codec_destroy(&env);
    return 0;
}

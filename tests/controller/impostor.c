/* impostor.c — a hostile agent for tests/controller/security.sh: a raw ZeroMQ DEALER that speaks
 * drover's agent protocol with whatever CURVE key and routing id it is given.
 *
 *   drv-impostor ENDPOINT SERVER_PUBLIC_KEY SECRET_KEY_FILE ROUTING_ID CLAIMED_HOST_ID WAIT_MS
 *                [COMMAND_ID XML]
 *
 * It registers (facts claiming CLAIMED_HOST_ID, 1 PiB of memory or IMPOSTOR_MEMORY_KIB, 1 CPU),
 * and, given COMMAND_ID, then answers that command "ok" with XML as the domain's definition. It
 * prints every message it receives ("register-ack", "command ID", ...) and exits 0 when the
 * controller answered anything within WAIT_MS, 3 when it heard nothing (refused), 2 on a usage or
 * setup error. */
#include "codec.h"
#include "curve.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static int s_send(void *sock, Drover__Envelope *env)
{
    drv_error *err = NULL;
    if (drv_wire_send(sock, NULL, env, 0, &err) < 0) {
        fprintf(stderr, "impostor: send: %s\n", err->message);
        drv_error_destroy(&err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 7 && argc != 9) {
        fprintf(stderr,
                "usage: %s ENDPOINT SERVER_KEY SECRET_KEY_FILE ROUTING_ID CLAIMED_ID "
                "WAIT_MS [COMMAND_ID XML]\n",
                argv[0]);
        return 2;
    }
    char secret[41], pub[41], server[41];
    drv_error *err = NULL;
    if (drv_curve_read_secret(argv[3], secret, pub, &err) < 0 ||
        drv_curve_read_public(argv[2], server, &err) < 0) {
        fprintf(stderr, "impostor: %s\n", err->message);
        drv_error_destroy(&err);
        return 2;
    }
    long wait_ms = strtol(argv[6], NULL, 10);
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, rcv = 100;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &rcv, sizeof(rcv));
    zmq_setsockopt(sock, ZMQ_ROUTING_ID, argv[4], strlen(argv[4]));
    if (drv_curve_client(sock, secret, pub, server, &err) < 0 || zmq_connect(sock, argv[1]) < 0) {
        fprintf(stderr, "impostor: %s\n", err ? err->message : zmq_strerror(errno));
        return 2;
    }
    Drover__HostFacts facts = DROVER__HOST_FACTS__INIT;
    facts.host_id = argv[5];
    facts.hostname = argv[5];
    facts.arch = "x86_64";
    facts.cpus = 1;
    /* 1 PiB unless IMPOSTOR_MEMORY_KIB says otherwise (an impostor that passes the range check) */
    const char *mem = g_getenv("IMPOSTOR_MEMORY_KIB");
    facts.memory_kib = mem != NULL ? g_ascii_strtoull(mem, NULL, 10) : 1ull << 40;
    facts.free_memory_kib = facts.memory_kib;
    Drover__Register reg = DROVER__REGISTER__INIT;
    reg.facts = &facts;
    reg.agent_instance = "impostor";
    reg.libvirt_connected = true;
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_REGISTER;
    env.register_ = &reg;
    if (s_send(sock, &env) < 0)
        return 2;
    int heard = 0;
    bool replied = argc != 9;
    gint64 deadline = g_get_monotonic_time() + wait_ms * 1000;
    while (g_get_monotonic_time() < deadline) {
        Drover__Envelope *in = NULL;
        if (drv_wire_recv(sock, false, 0, 0, NULL, &in, &err) < 0) {
            drv_error_destroy(&err);
        } else {
            heard++;
            if (in->body_case == DROVER__ENVELOPE__BODY_COMMAND)
                printf("command %s\n", in->command->id ? in->command->id : "");
            else
                printf("%s\n", drv_codec_body_name(in->body_case));
            fflush(stdout);
            drv_codec_destroy(&in);
        }
        if (!replied && heard > 0) { /* registered: now the forged answer */
            Drover__Reply rep = DROVER__REPLY__INIT;
            rep.command_id = argv[7];
            rep.ok = true;
            rep.xml = argv[8];
            Drover__Envelope out = DROVER__ENVELOPE__INIT;
            out.body_case = DROVER__ENVELOPE__BODY_REPLY;
            out.reply = &rep;
            for (int i = 0; i < 50; i++) /* a flood, as in issue 13 */
                s_send(sock, &out);
            replied = true;
            printf("forged %s\n", argv[7]);
            fflush(stdout);
        }
    }
    zmq_close(sock);
    zmq_ctx_shutdown(ctx);
    zmq_ctx_term(ctx);
    return heard > 0 ? 0 : 3;
}

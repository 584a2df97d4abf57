/* etcd_test_util.h — what every etcd integration test program shares: one real etcd per program
 * (tests/support/etcd_fixture.h), clients on it, and a main() that skips without an etcd binary and
 * keeps etcd's log when a test failed. */
#ifndef DROVER_TEST_ETCD_UTIL_H
#define DROVER_TEST_ETCD_UTIL_H

#include "etcd.h"
#include "etcd_fixture.h"
#include "log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

/* The program's etcd, started by ETCD_TEST_MAIN. */
extern drv_test_etcd *etcd_test_server;

/* A client on the program's etcd (asserts it could be created). */
drv_etcd *etcd_test_client(long timeout_ms);
/* Milliseconds on the monotonic clock. */
int64_t etcd_test_now_ms(void);

/* Runs the cmocka group against a fresh etcd; exit 77 (skipped) when etcd is not installed. */
#define ETCD_TEST_MAIN(tests)                                                                      \
    int main(void)                                                                                 \
    {                                                                                              \
        if (!drv_test_etcd_available()) {                                                          \
            printf("SKIPPED: no etcd binary on PATH\n");                                           \
            return 77;                                                                             \
        }                                                                                          \
        drv_log_init("etcd-test", DRV_LOG_INFO); /* DROVER_LOG_LEVEL=debug shows the client */     \
        etcd_test_server = drv_test_etcd_start();                                                  \
        if (etcd_test_server == NULL)                                                              \
            return 1;                                                                              \
        int failed = cmocka_run_group_tests(tests, NULL, NULL);                                    \
        drv_test_etcd_destroy(&etcd_test_server, failed != 0);                                     \
        return failed;                                                                             \
    }

#endif

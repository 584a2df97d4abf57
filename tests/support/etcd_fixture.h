/* etcd_fixture.h — a real, single-member etcd for C tests and benchmarks (library
 * `drover_test_support`).
 *
 * drv_test_etcd_start() runs the `etcd` binary as a child process, listening on free loopback ports
 * (client and peer), with its data directory on /dev/shm and its log (zap, stderr) in a file under
 * $DROVER_TEST_OUT (or /tmp). It returns once GET /health answers {"health":"true"} (at most 20 s).
 * The process is always stopped by its PID: SIGTERM, then SIGKILL if it has not exited after 10 s.
 *
 * Typical cmocka use:
 *
 *     static drv_test_etcd *s_etcd;
 *     int main(void) {
 *         if (!drv_test_etcd_available()) { printf("SKIPPED: no etcd binary\n"); return 77; }
 *         s_etcd = drv_test_etcd_start();
 *         if (s_etcd == NULL) return 1;                 // cause and log path already printed
 *         int failed = cmocka_run_group_tests(tests, NULL, NULL);
 *         drv_test_etcd_destroy(&s_etcd, failed != 0);  // keeps the log when something failed
 *         return failed;
 *     }
 *
 * Tests then connect with drv_test_etcd_endpoint(s_etcd). drv_test_etcd_stop() and
 * drv_test_etcd_restart() simulate an etcd outage: the same ports and the same data come back, so
 * keys, revisions and leases survive. Not thread-safe: drive one fixture from one thread. */
#ifndef DROVER_TEST_ETCD_FIXTURE_H
#define DROVER_TEST_ETCD_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct drv_test_etcd drv_test_etcd;

/* True when an `etcd` binary is on PATH (tests skip with exit code 77 otherwise). */
bool drv_test_etcd_available(void);

/* Starts etcd on 127.0.0.1. Returns NULL after printing the cause (and the log's path) to stderr.
 */
drv_test_etcd *drv_test_etcd_start(void);
/* Same, with the client URL bound to bind_addr (e.g. a bridge address other namespaces can reach);
 * the peer URL stays on 127.0.0.1. */
drv_test_etcd *drv_test_etcd_start_on(const char *bind_addr);

/* "http://127.0.0.1:PORT" (borrowed; valid until destroy, unchanged by stop/restart). */
const char *drv_test_etcd_endpoint(const drv_test_etcd *self);
/* The log file (borrowed) and the data directory (borrowed). */
const char *drv_test_etcd_log_path(const drv_test_etcd *self);
const char *drv_test_etcd_data_dir(const drv_test_etcd *self);
/* PID of the running etcd, or 0 when stopped. */
pid_t drv_test_etcd_pid(const drv_test_etcd *self);

/* Stops etcd (SIGTERM, waitpid; SIGKILL after 10 s). Keeps ports and data. 0 on success; stopping a
 * stopped etcd is a no-op. */
int drv_test_etcd_stop(drv_test_etcd *self);
/* Starts etcd again on the same ports and data (stops it first if it runs) and waits for /health.
 * 0 on success, -1 after printing the cause. */
int drv_test_etcd_restart(drv_test_etcd *self);

/* Stops etcd and removes its data directory. The log file is kept, and its path printed to stderr,
 * when failed is true; otherwise it is removed. NULL-safe; sets *self_p to NULL. */
void drv_test_etcd_destroy(drv_test_etcd **self_p, bool failed);

/* A TCP port on 127.0.0.1 that nobody listened on a moment ago (bound then released), or 0. Handy
 * for "dead endpoint" tests. */
int drv_test_free_port(void);

#endif

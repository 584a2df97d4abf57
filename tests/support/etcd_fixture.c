/* etcd_fixture.c — see etcd_fixture.h. */
#define _GNU_SOURCE /* program_invocation_short_name */
#include "etcd_fixture.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_HEALTH_WAIT_MS 20000
#define S_STOP_WAIT_MS   10000

struct drv_test_etcd {
    pid_t pid;
    int client_port;
    int peer_port;
    char *bind_addr;
    char *endpoint;
    char *data_dir;
    char *log_path;
};

bool drv_test_etcd_available(void)
{
    g_autofree char *path = g_find_program_in_path("etcd");
    return path != NULL;
}

int drv_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void s_print_log_tail(const drv_test_etcd *self)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    if (!g_file_get_contents(self->log_path, &text, &len, NULL) || len == 0)
        return;
    size_t from = len > 3000 ? len - 3000 : 0;
    fprintf(stderr, "--- tail of %s ---\n%s\n---\n", self->log_path, text + from);
}

/* GET /health once; true when etcd reports itself healthy. */
static bool s_healthy(const drv_test_etcd *self)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return false;
    g_autofree char *url = g_strconcat(self->endpoint, "/health", NULL);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    /* The default write function fwrite()s into WRITEDATA. */
    char *buf = NULL;
    size_t buf_len = 0;
    FILE *mem = open_memstream(&buf, &buf_len);
    if (mem == NULL) {
        curl_easy_cleanup(c);
        return false;
    }
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    fclose(mem);
    bool ok = rc == CURLE_OK && status == 200 && buf != NULL &&
              strstr(buf, "\"health\":\"true\"") != NULL;
    free(buf);
    return ok;
}

/* Reaps the child if it exited; returns true when it is gone. */
static bool s_reap(drv_test_etcd *self, int *ret_status)
{
    int status = 0;
    pid_t r = waitpid(self->pid, &status, WNOHANG);
    if (r == self->pid || (r < 0 && errno == ECHILD)) {
        self->pid = 0;
        if (ret_status != NULL)
            *ret_status = status;
        return true;
    }
    return false;
}

static int s_spawn(drv_test_etcd *self)
{
    g_autofree char *client_url =
        g_strdup_printf("http://%s:%d", self->bind_addr, self->client_port);
    g_autofree char *peer_url = g_strdup_printf("http://127.0.0.1:%d", self->peer_port);
    g_autofree char *cluster = g_strdup_printf("t=%s", peer_url);
    const char *argv[] = {"etcd",
                          "--name",
                          "t",
                          "--data-dir",
                          self->data_dir,
                          "--listen-client-urls",
                          client_url,
                          "--advertise-client-urls",
                          client_url,
                          "--listen-peer-urls",
                          peer_url,
                          "--initial-advertise-peer-urls",
                          peer_url,
                          "--initial-cluster",
                          cluster,
                          "--initial-cluster-state",
                          "new",
                          "--logger=zap",
                          "--log-outputs=stderr",
                          NULL};
    int log_fd = open(self->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        fprintf(stderr, "etcd fixture: cannot open %s: %s\n", self->log_path, strerror(errno));
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "etcd fixture: fork: %s\n", strerror(errno));
        close(log_fd);
        return -1;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls. Dies with the test if the test dies. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0)
            dup2(null_fd, 0);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        execvp("etcd", (char *const *)argv);
        _exit(127);
    }
    close(log_fd);
    self->pid = pid;

    gint64 until = g_get_monotonic_time() + (gint64)S_HEALTH_WAIT_MS * 1000;
    while (g_get_monotonic_time() < until) {
        int status = 0;
        if (s_reap(self, &status)) {
            fprintf(stderr, "etcd fixture: etcd exited during start-up (status %d); log %s\n",
                    status, self->log_path);
            s_print_log_tail(self);
            return -1;
        }
        if (s_healthy(self))
            return 0;
        g_usleep(50 * 1000);
    }
    fprintf(stderr, "etcd fixture: %s/health not healthy after %d ms; log %s\n", self->endpoint,
            S_HEALTH_WAIT_MS, self->log_path);
    s_print_log_tail(self);
    drv_test_etcd_stop(self);
    return -1;
}

drv_test_etcd *drv_test_etcd_start_on(const char *bind_addr)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    drv_test_etcd *self = g_new0(drv_test_etcd, 1);
    self->bind_addr = g_strdup(bind_addr != NULL ? bind_addr : "127.0.0.1");
    self->client_port = drv_test_free_port();
    do
        self->peer_port = drv_test_free_port();
    while (self->peer_port == self->client_port);
    self->endpoint = g_strdup_printf("http://%s:%d", self->bind_addr, self->client_port);
    self->data_dir = g_strdup("/dev/shm/drover-etcd.XXXXXX");
    if (g_mkdtemp(self->data_dir) == NULL) {
        fprintf(stderr, "etcd fixture: cannot create %s: %s\n", self->data_dir, strerror(errno));
        g_free(self->data_dir);
        self->data_dir = NULL;
        drv_test_etcd_destroy(&self, false);
        return NULL;
    }
    const char *out = g_getenv("DROVER_TEST_OUT");
    if (out == NULL || out[0] == '\0')
        out = g_get_tmp_dir();
    g_mkdir_with_parents(out, 0755);
    g_autofree char *name = g_strdup_printf("etcd-%s-XXXXXX.log", program_invocation_short_name);
    self->log_path = g_build_filename(out, name, NULL);
    int fd = g_mkstemp(self->log_path);
    if (fd < 0) {
        fprintf(stderr, "etcd fixture: cannot create %s: %s\n", self->log_path, strerror(errno));
        g_free(self->log_path);
        self->log_path = NULL;
        drv_test_etcd_destroy(&self, false);
        return NULL;
    }
    close(fd);
    if (s_spawn(self) < 0) {
        drv_test_etcd_destroy(&self, true);
        return NULL;
    }
    return self;
}

drv_test_etcd *drv_test_etcd_start(void)
{
    return drv_test_etcd_start_on(NULL);
}

const char *drv_test_etcd_endpoint(const drv_test_etcd *self)
{
    return self->endpoint;
}

const char *drv_test_etcd_log_path(const drv_test_etcd *self)
{
    return self->log_path;
}

const char *drv_test_etcd_data_dir(const drv_test_etcd *self)
{
    return self->data_dir;
}

pid_t drv_test_etcd_pid(const drv_test_etcd *self)
{
    return self->pid;
}

int drv_test_etcd_stop(drv_test_etcd *self)
{
    if (self == NULL || self->pid <= 0)
        return 0;
    if (kill(self->pid, SIGTERM) < 0 && errno == ESRCH) {
        s_reap(self, NULL);
        self->pid = 0;
        return 0;
    }
    gint64 until = g_get_monotonic_time() + (gint64)S_STOP_WAIT_MS * 1000;
    while (g_get_monotonic_time() < until) {
        if (s_reap(self, NULL))
            return 0;
        g_usleep(20 * 1000);
    }
    fprintf(stderr, "etcd fixture: pid %d ignored SIGTERM for %d ms, sending SIGKILL\n",
            (int)self->pid, S_STOP_WAIT_MS);
    kill(self->pid, SIGKILL);
    waitpid(self->pid, NULL, 0);
    self->pid = 0;
    return 0;
}

int drv_test_etcd_restart(drv_test_etcd *self)
{
    drv_test_etcd_stop(self);
    return s_spawn(self);
}

static int s_remove_tree(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    if (dir != NULL) {
        const char *name;
        while ((name = g_dir_read_name(dir)) != NULL) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
                !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
                s_remove_tree(child);
            else
                g_unlink(child);
        }
        g_dir_close(dir);
    }
    return g_rmdir(path);
}

void drv_test_etcd_destroy(drv_test_etcd **self_p, bool failed)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    drv_test_etcd *self = *self_p;
    drv_test_etcd_stop(self);
    if (self->data_dir != NULL)
        s_remove_tree(self->data_dir);
    if (self->log_path != NULL) {
        if (failed)
            fprintf(stderr, "etcd fixture: test failed; etcd log kept in %s\n", self->log_path);
        else
            g_unlink(self->log_path);
    }
    g_free(self->bind_addr);
    g_free(self->endpoint);
    g_free(self->data_dir);
    g_free(self->log_path);
    g_free(self);
    *self_p = NULL;
}

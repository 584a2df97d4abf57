/* main.c — drover-agent: options, signals, PID file, then the agent loop.
 * Exit codes: 0 clean shutdown, 1 runtime failure, 2 usage or configuration error. */
#include "agent.h"
#include "log.h"
#include "options.h"
#include "virt.h"

#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    drv_log_init("drover-agent", DRV_LOG_INFO);
    drv_agent_options *opts = NULL;
    drv_error *err = NULL;
    if (drv_agent_options_parse(argc, argv, &opts, &err) < 0) {
        fprintf(stderr, "drover-agent: %s\n", err->message);
        drv_error_destroy(&err);
        return 2;
    }
    drv_log_init("drover-agent", opts->log_level);

    /* SIGTERM/SIGINT arrive on a signalfd the main loop polls; block them before any thread. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        drv_err("signalfd: %s", g_strerror(errno));
        drv_agent_options_destroy(&opts);
        return 1;
    }
    if (opts->pid_file != NULL) {
        g_autofree char *pid = g_strdup_printf("%ld\n", (long)getpid());
        GError *gerr = NULL;
        if (!g_file_set_contents(opts->pid_file, pid, -1, &gerr)) {
            drv_err("pid file '%s': %s", opts->pid_file, gerr->message);
            g_error_free(gerr);
            drv_agent_options_destroy(&opts);
            close(sfd);
            return 1;
        }
    }
    if (drv_virt_global_init(&err) < 0) {
        drv_err("%s", err->message);
        drv_error_destroy(&err);
        drv_agent_options_destroy(&opts);
        close(sfd);
        return 1;
    }
    drv_agent *agent = drv_agent_new(opts, &err);
    if (agent == NULL) {
        drv_err("%s", err->message);
        drv_error_destroy(&err);
        drv_agent_options_destroy(&opts);
        close(sfd);
        return 1;
    }
    int rc = drv_agent_run(agent, sfd);
    drv_agent_destroy(&agent);
    if (opts->pid_file != NULL)
        unlink(opts->pid_file);
    drv_agent_options_destroy(&opts);
    close(sfd);
    drv_info("stopped");
    return rc == 0 ? 0 : 1;
}

/* verbs.c — the verb table (see verbs.h) and the help texts generated from it. */
#include "verbs.h"

#include <string.h>

#define NAME_ARG(n)                                                                                \
    {                                                                                              \
        n, DRV_CLI_ARG_STRING, false                                                               \
    }
#define OPT_LIVE                                                                                   \
    {                                                                                              \
        "live", DRV_CLI_OPT_FLAG, "live", NULL, false, "affect the running domain"                 \
    }
#define OPT_CONFIG                                                                                 \
    {                                                                                              \
        "config", DRV_CLI_OPT_FLAG, "config", NULL, false, "affect the persistent definition"      \
    }
/* Filters and paging of the list verbs (controller/api_list.c). */
#define OPT_LABEL_FILTER(HELP)                                                                     \
    {                                                                                              \
        "label", DRV_CLI_OPT_STRING, "label", "KEY=VALUE", false, HELP                             \
    }
#define OPT_LIMIT                                                                                  \
    {                                                                                              \
        "limit", DRV_CLI_OPT_UINT, "limit", "N", false,                                            \
            "at most N items; the output then ends with the token for the next page"               \
    }
#define OPT_CONTINUE                                                                               \
    {                                                                                              \
        "continue", DRV_CLI_OPT_STRING, "continue", "TOKEN", false,                                \
            "start after TOKEN (the last item of the previous page)"                               \
    }
#define OPT_N_PLUS_1                                                                               \
    {                                                                                              \
        "n-plus-one", DRV_CLI_OPT_FLAG, "n_plus_one", NULL, false,                                 \
            "keep room to restart every domain of any single lost host"                            \
    }

const drv_cli_opt drv_cli_global_opts[] = {
    {"controller", DRV_CLI_OPT_STRING, NULL, "URL", false,
     "controller client endpoint (env DROVER_CONTROLLER, default tcp://127.0.0.1:7702)"},
    {"events", DRV_CLI_OPT_STRING, NULL, "URL", false,
     "controller event endpoint (env DROVER_EVENTS, default tcp://127.0.0.1:7703)"},
    {"json", DRV_CLI_OPT_FLAG, NULL, NULL, false, "print the result document (JSON) for scripts"},
    {"timeout", DRV_CLI_OPT_SECONDS, NULL, "S", false,
     "seconds to wait for the controller's answer (default 30)"},
    {"help", DRV_CLI_OPT_FLAG, NULL, NULL, false, "show help"},
    {0},
};

static const drv_cli_verb s_verbs[] = {
    /* ------------------------------------------------------------------ host */
    {"host",
     "list",
     {{0}},
     {{"state", DRV_CLI_OPT_STRING, "state", "STATE", false,
       "only hosts in this state: active, preparing-maintenance, maintenance, reachable, "
       "unreachable"},
      OPT_LABEL_FILTER("only hosts with this label"),
      OPT_LIMIT,
      OPT_CONTINUE,
      {0}},
     "list the hosts with their state and room",
     "host.list",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_HOST_LIST,
     NULL,
     NULL},
    {"host",
     "show",
     {NAME_ARG("HOST"), {0}},
     {{0}},
     "show a host's facts, labels, pools and domains",
     "host.show",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_HOST,
     NULL,
     NULL},
    {"host",
     "label",
     {NAME_ARG("HOST"), {"KEY=VALUE|KEY-", DRV_CLI_ARG_REST, false}, {0}},
     {{0}},
     "set (k=v) or remove (k-) labels of a host",
     "host.label",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Host '{id}' labels: {labels}",
     NULL},
    {"host",
     "stats",
     {NAME_ARG("HOST"), {0}},
     {{0}},
     "show a host's recent CPU, memory and load and its domains' CPU, steal and I/O",
     "host.stats",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_HOST_STATS,
     NULL,
     NULL},
    {"host",
     "drain-plan",
     {NAME_ARG("HOST"), {0}},
     {OPT_N_PLUS_1, {0}},
     "plan a destination for each domain of a host (dry run)",
     "host.drain-plan",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_DRAIN_PLAN,
     NULL,
     NULL},
    {"host",
     "ha-plan",
     {NAME_ARG("HOST"), {0}},
     {{0}},
     "which HA domains would restart where, and which would wait, if the host died now",
     "host.ha-plan",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_JSON,
     NULL,
     NULL},
    {"host",
     "maintenance",
     {NAME_ARG("HOST"), {0}},
     {{"dry-run", DRV_CLI_OPT_FLAG, "dry_run", NULL, false,
       "print where each domain would go (or why it cannot move) and change nothing"},
      {"max-parallel", DRV_CLI_OPT_UINT, "max_parallel", "N", false,
       "concurrent migrations cluster-wide (default 8)"},
      {"per-source", DRV_CLI_OPT_UINT, "per_source", "N", false,
       "concurrent migrations out of one host (default 2)"},
      {"per-dest", DRV_CLI_OPT_UINT, "per_dest", "N", false,
       "concurrent migrations into one host (default 2)"},
      {"on-unmovable", DRV_CLI_OPT_STRING, "on_unmovable", "HOW", false,
       "leave or shutdown the domains that cannot move (default: refuse the whole drain)"},
      {"shutdown-timeout", DRV_CLI_OPT_UINT, "shutdown_timeout", "SECONDS", false,
       "with --on-unmovable shutdown: how long to wait for each guest to shut down (default 120)"},
      {"force", DRV_CLI_OPT_FLAG, "force", NULL, false,
       "with --on-unmovable shutdown: destroy the guests still running after the timeout"},
      OPT_N_PLUS_1,
      {"wait", DRV_CLI_OPT_FLAG, NULL, NULL, false,
       "follow the drain until it ends; exit 0 only when the host is empty"},
      {0}},
     "empty a host by live migration, then put it in maintenance",
     "host.maintenance",
     DRV_CLI_RUN_DRAIN,
     DRV_CLI_SHOW_DRAIN_PLAN,
     NULL,
     NULL},
    {"host",
     "activate",
     {NAME_ARG("HOST"), {0}},
     {{"restore", DRV_CLI_OPT_FLAG, "restore", NULL, false,
       "move the domains the last drain moved back to this host"},
      {"wait", DRV_CLI_OPT_FLAG, NULL, NULL, false, "follow the restore until it ends"},
      {0}},
     "take a host out of maintenance (optionally bringing its domains back)",
     "host.activate",
     DRV_CLI_RUN_DRAIN,
     DRV_CLI_SHOW_HOST,
     NULL,
     NULL},

    {"host",
     "enroll",
     {NAME_ARG("HOST"), {"PUBLIC-KEY|FILE", DRV_CLI_ARG_STRING, false}, {0}},
     {{0}},
     "allow an agent's CURVE public key (z85, or its .pub file) for a host id (admin)",
     "host.enroll",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Host '{arg0}' enrolled",
     NULL},
    {"host",
     "remove",
     {NAME_ARG("HOST"), {0}},
     {{0}},
     "revoke a host's key and remove it (refused while it holds domains; admin)",
     "host.remove",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Host '{arg0}' removed",
     NULL},

    /* ------------------------------------------------------------------ keys */
    {"keygen",
     NULL,
     {{"PATH", DRV_CLI_ARG_STRING, false}, {0}},
     {{0}},
     "write a new CURVE key pair: PATH.key (secret, mode 0600) and PATH.pub",
     NULL,
     DRV_CLI_RUN_KEYGEN,
     DRV_CLI_SHOW_JSON,
     NULL,
     NULL},

    /* ------------------------------------------------------------------ domain */
    {"domain",
     "define",
     {{"FILE|-", DRV_CLI_ARG_BODY, false}, {0}},
     {{0}},
     "define (or redefine) a domain from libvirt XML",
     "domain.define",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' defined (revision {revision})",
     NULL},
    {"domain",
     "undefine",
     {NAME_ARG("NAME"), {0}},
     {{"remove-storage", DRV_CLI_OPT_FLAG, "remove_storage", NULL, false,
       "also delete its volumes in cluster pools (disk, seed); refused unless it is shut off"},
      {0}},
     "remove a domain's definition from the cluster",
     "domain.undefine",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' undefined",
     NULL},
    {"domain",
     "create",
     {{"FILE|-", DRV_CLI_ARG_BODY, false}, {0}},
     {{0}},
     "create and start a transient domain from libvirt XML",
     "domain.create",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' created on {host}",
     NULL},
    {"domain",
     "create",
     {NAME_ARG("NAME"), {0}},
     {{"vcpus", DRV_CLI_OPT_UINT, "vcpus", "N", false, "virtual CPUs (default 1)"},
      {"memory", DRV_CLI_OPT_SIZE, "memory_kib", "SIZE", true, "memory (256M, 2G)"},
      {"disk", DRV_CLI_OPT_STRING, "disk", "pool=P,size=S[,backing=V]", true,
       "the disk: a new volume in pool P"},
      {"network", DRV_CLI_OPT_STRING, "network", "NET", false, "a cluster network (virtio NIC)"},
      {"cloud-init", DRV_CLI_OPT_FILE, "user_data", "FILE", false,
       "cloud-config user-data for the NoCloud seed"},
      {"meta-data", DRV_CLI_OPT_FILE, "meta_data", "FILE", false, "NoCloud meta-data"},
      {"network-config", DRV_CLI_OPT_FILE, "network_config", "FILE", false,
       "NoCloud network-config"},
      {"ssh-key", DRV_CLI_OPT_FILE, "ssh_key", "FILE", false, "a public key to authorise"},
      {"boot", DRV_CLI_OPT_STRING, "boot", "kernel=K,initrd=I[,cmdline=A]", false,
       "direct kernel boot"},
      {"virt-type", DRV_CLI_OPT_STRING, "virt_type", "kvm|qemu", false,
       "domain type (default kvm; qemu = TCG)"},
      {"serial-log", DRV_CLI_OPT_STRING, "serial_log", "FILE", false,
       "append the serial console to FILE"},
      {"cpu", DRV_CLI_OPT_STRING, "cpu", "baseline|host-model", false,
       "the guest CPU: the cluster baseline (default; migrates anywhere) or libvirt's host-model"},
      {"ha", DRV_CLI_OPT_FLAG, "ha", NULL, false,
       "restart it elsewhere when its host dies "
       "(as domain ha --enable, docs/ha.md)"},
      {"start", DRV_CLI_OPT_FLAG, "start", NULL, false, "start it once defined"},
      {"dry-run", DRV_CLI_OPT_FLAG, "dry_run", NULL, false, "print the XML, create nothing"},
      {0}},
     "provision a domain: volumes, NoCloud seed, definition (docs/provisioning.md)",
     "domain.provision",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' created{host}",
     NULL},
    {"domain",
     "start",
     {NAME_ARG("NAME"), {0}},
     {{0}},
     "place a defined domain on a host and start it",
     "domain.start",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' started on {host}",
     NULL},
    {"domain",
     "shutdown",
     {NAME_ARG("NAME"), {0}},
     {{"timeout", DRV_CLI_OPT_SECONDS, "timeout_ms", "S", false,
       "seconds to wait for the guest to shut down"},
      {0}},
     "ask the guest to shut down",
     "domain.shutdown",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' is being shutdown",
     NULL},
    {"domain",
     "reboot",
     {NAME_ARG("NAME"), {0}},
     {{0}},
     "ask the guest to reboot",
     "domain.reboot",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' is being rebooted",
     NULL},
    {"domain",
     "destroy",
     {NAME_ARG("NAME"), {0}},
     {{0}},
     "stop a domain at once (power off)",
     "domain.destroy",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' destroyed",
     NULL},
    {"domain",
     "suspend",
     {NAME_ARG("NAME"), {0}},
     {{0}},
     "pause a running domain",
     "domain.suspend",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' suspended",
     NULL},
    {"domain",
     "resume",
     {NAME_ARG("NAME"), {0}},
     {{0}},
     "resume a paused domain",
     "domain.resume",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' resumed",
     NULL},
    {"domain",
     "save",
     {NAME_ARG("NAME"), {0}},
     {{"file", DRV_CLI_OPT_STRING, "file", "PATH", false,
       "where to write the memory image: an absolute path ending in .drover-save on storage "
       "every host sees (default: beside the domain's first disk)"},
      {0}},
     "save a running domain's memory to shared storage and stop it (restore may run it on any "
     "host)",
     "domain.save",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' saved to {saved_path}",
     NULL},
    {"domain",
     "restore",
     {NAME_ARG("NAME"), {0}},
     {{0}},
     "run a saved domain again from its memory image (a save file on any host with room, a "
     "managed save on its own host)",
     "domain.restore",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' restored on {host}",
     NULL},
    {"domain",
     "managedsave",
     {NAME_ARG("NAME"), {0}},
     {{0}},
     "save a running domain's memory on its host (libvirt's managed save) and stop it",
     "domain.managedsave",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' state saved by libvirt on {host}",
     NULL},
    {"domain",
     "managedsave-remove",
     {NAME_ARG("NAME"), {0}},
     {{0}},
     "discard a domain's saved memory image (managed save or save file): the next start boots "
     "afresh",
     "domain.managedsave-remove",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Saved state of domain '{name}' removed",
     NULL},
    {"domain",
     "list",
     {{0}},
     {{"all", DRV_CLI_OPT_FLAG, "all", NULL, false, "include shut off domains"},
      {"host", DRV_CLI_OPT_STRING, "host", "HOST", false, "only domains placed on this host"},
      {"state", DRV_CLI_OPT_STRING, "state", "STATE", false,
       "only domains in this state (running, paused, shut off / shutoff, unknown, ...; implies "
       "--all)"},
      OPT_LABEL_FILTER("only domains placed on a host with this label"),
      OPT_LIMIT,
      OPT_CONTINUE,
      {0}},
     "list domains",
     "domain.list",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_DOMAIN_LIST,
     NULL,
     NULL},
    {"domain",
     "info",
     {NAME_ARG("NAME"), {0}},
     {{0}},
     "show a domain's state, placement, resources and revision",
     "domain.info",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_DOMAIN_INFO,
     NULL,
     NULL},
    {"domain",
     "stats",
     {NAME_ARG("NAME"), {0}},
     {{0}},
     "show a domain's recent CPU, steal (vCPUs waiting for a host CPU), memory and I/O",
     "domain.stats",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_DOMAIN_STATS,
     NULL,
     NULL},
    {"domain",
     "state",
     {NAME_ARG("NAME"), {0}},
     {{0}},
     "show a domain's state and reason",
     "domain.state",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_DOMAIN_STATE,
     NULL,
     NULL},
    {"domain",
     "dumpxml",
     {NAME_ARG("NAME"), {0}},
     {{"inactive", DRV_CLI_OPT_FLAG, "inactive", NULL, false,
       "the persistent definition, not the live XML"},
      {0}},
     "print a domain's XML",
     "domain.dumpxml",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_XML,
     NULL,
     NULL},
    {"domain",
     "edit",
     {NAME_ARG("NAME"), {0}},
     {{"expect-revision", DRV_CLI_OPT_UINT, "expect_revision", "REV", false,
       "store only if the stored revision is still REV (default: the one fetched for editing)"},
      {0}},
     "edit a domain's XML in $EDITOR and store it as a new revision",
     "domain.edit",
     DRV_CLI_RUN_EDIT,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' XML stored as revision {revision}",
     NULL},
    {"domain",
     "history",
     {NAME_ARG("NAME"), {0}},
     {{0}},
     "list the revisions of a domain's definition",
     "domain.history",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_HISTORY,
     NULL,
     NULL},
    {"domain",
     "history-show",
     {NAME_ARG("NAME"), {"REV", DRV_CLI_ARG_UINT, false}, {0}},
     {{0}},
     "print the XML of one revision",
     "domain.history-show",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_XML,
     NULL,
     NULL},
    {"domain",
     "console",
     {NAME_ARG("NAME"), {0}},
     {{"force", DRV_CLI_OPT_FLAG, "force", NULL, false,
       "take the console over from another client"},
      {0}},
     "attach to the domain's serial console (Ctrl-] ends; with piped input, the end of the input)",
     "domain.console",
     DRV_CLI_RUN_CONSOLE,
     DRV_CLI_SHOW_XML, /* not used: cli/console.c prints the guest's output */
     NULL,
     NULL},
    {"domain",
     "diff",
     {NAME_ARG("NAME"), {"REV1", DRV_CLI_ARG_UINT, true}, {"REV2", DRV_CLI_ARG_UINT, true}, {0}},
     {{0}},
     "unified diff of two revisions of the definition (default: the last two; REV1 alone: "
     "against the latest)",
     "domain.history-show",
     DRV_CLI_RUN_DIFF,
     DRV_CLI_SHOW_XML, /* not used: cli/diff.c prints the diff */
     NULL,
     NULL},
    {"domain",
     "rollback",
     {NAME_ARG("NAME"), {"REV", DRV_CLI_ARG_UINT, false}, {0}},
     {{0}},
     "store revision REV's XML as a new revision",
     "domain.rollback",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' rolled back to revision {arg1} (now revision {revision})",
     NULL},
    {"domain",
     "setvcpus",
     {NAME_ARG("NAME"), {"COUNT", DRV_CLI_ARG_UINT, false}, {0}},
     {OPT_LIVE,
      OPT_CONFIG,
      {"maximum", DRV_CLI_OPT_FLAG, "maximum", NULL, false,
       "change the maximum number of vCPUs (in the definition)"},
      {0}},
     "change the number of vCPUs",
     "domain.setvcpus",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' set to {arg1} vCPUs",
     NULL},
    {"domain",
     "setmem",
     {NAME_ARG("NAME"), {"SIZE", DRV_CLI_ARG_SIZE, false}, {0}},
     {OPT_LIVE, OPT_CONFIG, {0}},
     "change the memory (512M, 2GiB; plain number = KiB)",
     "domain.setmem",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' memory set to {arg1:size}",
     NULL},
    {"domain",
     "setmaxmem",
     {NAME_ARG("NAME"), {"SIZE", DRV_CLI_ARG_SIZE, false}, {0}},
     {OPT_CONFIG, {0}},
     "change the maximum memory in the definition (512M, 2GiB; plain number = KiB)",
     "domain.setmaxmem",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' maximum memory set to {arg1:size}",
     NULL},
    {"domain",
     "attach-device",
     {NAME_ARG("NAME"), {"FILE|-", DRV_CLI_ARG_BODY, false}, {0}},
     {OPT_LIVE, OPT_CONFIG, {0}},
     "attach a device described by an XML file",
     "domain.attach-device",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Device attached to domain '{name}'",
     NULL},
    {"domain",
     "detach-device",
     {NAME_ARG("NAME"), {"FILE|-", DRV_CLI_ARG_BODY, false}, {0}},
     {OPT_LIVE, OPT_CONFIG, {0}},
     "detach a device described by an XML file",
     "domain.detach-device",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Device detached from domain '{name}'",
     NULL},
    {"domain",
     "autostart",
     {NAME_ARG("NAME"), {0}},
     {{"disable", DRV_CLI_OPT_FLAG, "disable", NULL, false, "turn autostart off"}, {0}},
     "start the domain again whenever its host comes back",
     "domain.autostart",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' autostart: {autostart}",
     NULL},

    {"domain",
     "ha",
     {NAME_ARG("NAME"), {0}},
     {{"enable", DRV_CLI_OPT_FLAG, "enable", NULL, false,
       "restart it elsewhere when its host fails"},
      {"disable", DRV_CLI_OPT_FLAG, "disable", NULL, false, "turn HA off"},
      {"priority", DRV_CLI_OPT_STRING, "priority", "N", false,
       "higher restarts first when room is short (default 0)"},
      {"restart-limit", DRV_CLI_OPT_UINT, "restart_limit", "K", false,
       "HA restarts allowed before it stays ha-waiting (default 0 = no limit)"},
      {0}},
     "set the domain's high-availability policy (docs/ha.md)",
     "domain.ha",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{name}' HA: {ha}",
     NULL},

    {"domain",
     "migrate",
     {NAME_ARG("NAME"), {0}},
     {{"to", DRV_CLI_OPT_STRING, "to", "HOST", false,
       "destination host (default: the scheduler chooses one)"},
      {"max-downtime", DRV_CLI_OPT_UINT, "max_downtime_ms", "MS", false,
       "longest pause of the guest at the switch-over, in ms"},
      {"bandwidth", DRV_CLI_OPT_UINT, "bandwidth_mibs", "MIB/S", false,
       "bandwidth limit of the migration, in MiB/s"},
      {"auto-converge", DRV_CLI_OPT_FLAG, "auto_converge", NULL, false,
       "slow the guest's vCPUs down when the migration does not converge"},
      {"postcopy", DRV_CLI_OPT_FLAG, "postcopy", NULL, false,
       "switch to post-copy when pre-copy does not converge"},
      {"timeout", DRV_CLI_OPT_SECONDS, "timeout_ms", "S", false,
       "abort the migration after S seconds (the guest stays on its host)"},
      {"detach", DRV_CLI_OPT_FLAG, NULL, NULL, false,
       "print the job id and return at once (follow it with job watch)"},
      {"dry-run", DRV_CLI_OPT_FLAG, "dry_run", NULL, false,
       "run the checks and print the destination and the prediction; move nothing"},
      {0}},
     "live-migrate a running domain to another host",
     "domain.migrate",
     DRV_CLI_RUN_MIGRATE,
     DRV_CLI_SHOW_JOB,
     NULL,
     NULL},

    /* ------------------------------------------------------------------ snapshot */
    {"snapshot",
     "create",
     {NAME_ARG("DOMAIN"), {"NAME", DRV_CLI_ARG_STRING, true}, {0}},
     {{0}},
     "take a snapshot of a domain",
     "snapshot.create",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain snapshot {name} created",
     NULL},
    {"snapshot",
     "list",
     {NAME_ARG("DOMAIN"), {0}},
     {{0}},
     "list a domain's snapshots",
     "snapshot.list",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_SNAPSHOT_LIST,
     NULL,
     NULL},
    {"snapshot",
     "revert",
     {NAME_ARG("DOMAIN"), NAME_ARG("NAME"), {0}},
     {{0}},
     "revert a domain to a snapshot",
     "snapshot.revert",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain '{domain}' reverted to snapshot {name}",
     NULL},
    {"snapshot",
     "delete",
     {NAME_ARG("DOMAIN"), NAME_ARG("NAME"), {0}},
     {{0}},
     "delete a snapshot",
     "snapshot.delete",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Domain snapshot {name} deleted",
     NULL},

    /* ------------------------------------------------------------------ job */
    {"job",
     "list",
     {{0}},
     {{0}},
     "list jobs (migrations, drains) with their state",
     "job.list",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_JOB_LIST,
     NULL,
     NULL},
    {"job",
     "show",
     {NAME_ARG("ID"), {0}},
     {{0}},
     "show a job's state, progress and outcome",
     "job.show",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_JOB,
     NULL,
     NULL},
    {"job",
     "watch",
     {NAME_ARG("ID"), {0}},
     {{0}},
     "follow a job's progress until it ends",
     "job.show",
     DRV_CLI_RUN_JOB_WATCH,
     DRV_CLI_SHOW_JOB,
     NULL,
     NULL},
    {"job",
     "cancel",
     {NAME_ARG("ID"), {0}},
     {{0}},
     "cancel a job (a migration is aborted; the domain stays on its host)",
     "job.cancel",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Cancel of job {arg0} requested",
     NULL},

    /* ------------------------------------------------------------------ cluster */
    {"cluster",
     "status",
     {{0}},
     {{0}},
     "show the leader and cluster totals",
     "cluster.status",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_CLUSTER_STATUS,
     NULL,
     NULL},
    {"cluster",
     "balance",
     {{0}},
     {{"dry-run", DRV_CLI_OPT_FLAG, "dry_run", NULL, false,
       "only show the plan and change nothing"},
      {"objective", DRV_CLI_OPT_STRING, "objective", "cpu|memory|cpu+memory", false,
       "what the plan minimises (default cpu+memory)"},
      {"max-moves", DRV_CLI_OPT_UINT, "max_moves", "N", false, "at most N moves (default 3)"},
      {"cpu-threshold", DRV_CLI_OPT_STRING, "cpu_threshold", "X", false,
       "CPU pressure above which a host is hot (default 0.8)"},
      {"min-gain", DRV_CLI_OPT_STRING, "min_gain", "X", false,
       "a move must lower the score by this much (default 0.01)"},
      {"no-n-plus-one", DRV_CLI_OPT_FLAG, "no_n_plus_one", NULL, false,
       "allow moves that break N+1"},
      {"max-parallel", DRV_CLI_OPT_UINT, "max_parallel", "N", false,
       "concurrent migrations cluster-wide (default 8)"},
      {"per-source", DRV_CLI_OPT_UINT, "per_source", "N", false,
       "concurrent migrations out of one host (default 2)"},
      {"per-dest", DRV_CLI_OPT_UINT, "per_dest", "N", false,
       "concurrent migrations into one host (default 2)"},
      {"wait", DRV_CLI_OPT_FLAG, NULL, NULL, false,
       "follow the balance job until it ends; exit 0 only when every move was made"},
      {0}},
     "plan live migrations that relieve CPU/steal pressure and even out memory, with the score "
     "before and after, and run them as a balance job (or only show them with --dry-run)",
     "cluster.balance",
     DRV_CLI_RUN_DRAIN,
     DRV_CLI_SHOW_BALANCE_PLAN,
     NULL,
     NULL},
    {"cluster",
     "cpu-baseline",
     {{0}},
     {{"xml", DRV_CLI_OPT_FLAG, NULL, NULL, false,
       "print a libvirt <cpu> element that every active host can run"},
      {"arch", DRV_CLI_OPT_STRING, "arch", "ARCH", false, "only hosts of this architecture"},
      {"model", DRV_CLI_OPT_STRING, "model", "MODEL", false,
       "CPU model for the <cpu> element (needed when the hosts' models differ)"},
      {0}},
     "show the CPU features every active host has",
     "cluster.cpu-baseline",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_CPU_BASELINE,
     NULL,
     NULL},
    {"cluster",
     "export-snapshot",
     {{0}},
     {{0}},
     "print the scheduler snapshot (JSON) for offline planning",
     "cluster.export-snapshot",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_JSON,
     NULL,
     NULL},

    /* ------------------------------------------------------------------ capacity */
    {"top",
     NULL,
     {{0}},
     {{"once", DRV_CLI_OPT_FLAG, NULL, NULL, false, "print one view and exit (no redraw)"},
      {"interval", DRV_CLI_OPT_SECONDS, NULL, "S", false, "seconds between views (default 2)"},
      {"domains", DRV_CLI_OPT_UINT, NULL, "N", false, "busiest domains shown (default 20)"},
      {0}},
     "live view: hosts with CPU and memory bars, then the busiest domains (CPU, steal, memory)",
     "cluster.stats",
     DRV_CLI_RUN_TOP,
     DRV_CLI_SHOW_TOP,
     NULL,
     NULL},
    {"capacity",
     NULL,
     {{0}},
     {{"vcpus", DRV_CLI_OPT_UINT, "vcpus", "N", true, "vCPUs of one domain"},
      {"memory", DRV_CLI_OPT_SIZE, "memory_kib", "SIZE", true,
       "memory of one domain (512M, 2GiB; plain number = KiB)"},
      {"flags", DRV_CLI_OPT_LIST, "flags", "F,...", false, "CPU features the domain requires"},
      {"arch", DRV_CLI_OPT_STRING, "arch", "ARCH", false, "architecture the domain needs (x86_64)"},
      OPT_N_PLUS_1,
      {"from-file", DRV_CLI_OPT_STRING, NULL, "FILE", false,
       "plan offline from a snapshot file (cluster export-snapshot) instead of the controller"},
      {0}},
     "how many more domains of a size fit, per host",
     "capacity",
     DRV_CLI_RUN_CAPACITY,
     DRV_CLI_SHOW_CAPACITY,
     NULL,
     "hosts_down=1"},

    /* ------------------------------------------------------------------ events */
    {"events",
     NULL,
     {{0}},
     {{"topic", DRV_CLI_OPT_STRING, NULL, "PREFIX", false,
       "only events whose topic starts with PREFIX (host., domain.web1, job.)"},
      {"count", DRV_CLI_OPT_UINT, NULL, "N", false, "exit after N events"},
      {0}},
     "print cluster events as they happen, one per line (Ctrl-C stops)",
     NULL,
     DRV_CLI_RUN_EVENTS,
     DRV_CLI_SHOW_EVENT,
     NULL,
     NULL},
    /* ------------------------------------------------------------------ provisioning */
    {"pool",
     "define",
     {NAME_ARG("NAME"), {0}},
     {{"type", DRV_CLI_OPT_STRING, "type", "dir", false, "pool type (dir)"},
      {"path", DRV_CLI_OPT_STRING, "path", "DIR", true, "the pool's directory on every host"},
      {"shared", DRV_CLI_OPT_FLAG, "shared", NULL, false,
       "every host sees the same directory (verified with a marker file)"},
      {0}},
     "define a storage pool on every host",
     "pool.define",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_JSON,
     NULL,
     NULL},
    {"pool",
     "undefine",
     {NAME_ARG("NAME"), {0}},
     {{0}},
     "stop and undefine a pool on every host (refused while it holds volumes or a domain uses "
     "it; the directory stays)",
     "pool.undefine",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Pool '{arg0}' undefined",
     NULL},
    {"pool",
     "list",
     {{0}},
     {{0}},
     "list storage pools",
     "pool.list",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_JSON,
     NULL,
     NULL},
    {"pool",
     "info",
     {NAME_ARG("NAME"), {0}},
     {{0}},
     "a pool and each host's view of it (active, capacity, available)",
     "pool.info",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_JSON,
     NULL,
     NULL},
    {"vol",
     "create",
     {NAME_ARG("POOL"), NAME_ARG("NAME"), {0}},
     {{"size", DRV_CLI_OPT_SIZE, "size_kib", "SIZE", true, "capacity (20G)"},
      {"format", DRV_CLI_OPT_STRING, "format", "qcow2|raw", false, "image format (qcow2)"},
      {"backing", DRV_CLI_OPT_STRING, "backing", "VOL", false, "a volume of the pool to overlay"},
      {0}},
     "create a volume in a pool",
     "vol.create",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Volume '{arg0}/{arg1}' created on {host}",
     NULL},
    {"vol",
     "list",
     {NAME_ARG("POOL"), {0}},
     {{0}},
     "list the volumes of a pool",
     "vol.list",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_JSON,
     NULL,
     NULL},
    {"vol",
     "info",
     {NAME_ARG("POOL"), NAME_ARG("NAME"), {0}},
     {{0}},
     "a volume's record",
     "vol.info",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_JSON,
     NULL,
     NULL},
    {"vol",
     "delete",
     {NAME_ARG("POOL"), NAME_ARG("NAME"), {0}},
     {{0}},
     "delete a volume (refused while a domain uses it)",
     "vol.delete",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Volume '{arg0}/{arg1}' deleted",
     NULL},
    {"vol",
     "clone",
     {NAME_ARG("POOL"), NAME_ARG("SRC"), NAME_ARG("NEW"), {0}},
     {{0}},
     "copy a volume to a new one in the same pool (the source's domain must be shut off)",
     "vol.clone",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Volume '{arg0}/{arg2}' cloned from '{arg1}' on {host}",
     NULL},
    {"vol",
     "resize",
     {NAME_ARG("POOL"), NAME_ARG("NAME"), {"SIZE", DRV_CLI_ARG_SIZE, false}, {0}},
     {{"shrink", DRV_CLI_OPT_FLAG, "shrink", NULL, false,
       "allow a smaller size (data past it is lost; never for a running domain)"},
      {0}},
     "grow a volume (a running domain's disk is grown live)",
     "vol.resize",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Volume '{arg0}/{arg1}' resized to {arg2:size}",
     NULL},
    {"vol",
     "upload",
     {NAME_ARG("POOL"), NAME_ARG("NAME"), {"FILE|-", DRV_CLI_ARG_BODY, false}, {0}},
     {{"format", DRV_CLI_OPT_STRING, "format", "qcow2|raw", false,
       "the image's format (default: qcow2 when it has a qcow2 header, else raw)"},
      {0}},
     "import an image (at most 15 MiB) as a new volume",
     "vol.upload",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Volume '{arg0}/{arg1}' uploaded to {host}",
     NULL},
    {"vol",
     "wipe",
     {NAME_ARG("POOL"), NAME_ARG("NAME"), {0}},
     {{"algorithm", DRV_CLI_OPT_STRING, "algorithm",
       "zero|nnsa|dod|bsi|gutmann|schneier|pfitzner7|pfitzner33|random|trim", false,
       "libvirt's wipe algorithm (default zero; all but zero and trim need scrub)"},
      {0}},
     "overwrite a volume's data (refused while a domain uses it)",
     "vol.wipe",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_MESSAGE,
     "Volume '{arg0}/{arg1}' wiped",
     NULL},
    {"net",
     "define",
     {NAME_ARG("NAME"), {0}},
     {{"bridge", DRV_CLI_OPT_STRING, "bridge", "BR", false, "forward to an existing bridge"},
      {"nat", DRV_CLI_OPT_STRING, "nat", "A.B.C.0/24", false, "a NAT network on that subnet"},
      {0}},
     "define and start a network on every host",
     "net.define",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_JSON,
     NULL,
     NULL},
    {"net",
     "list",
     {{0}},
     {{0}},
     "list networks",
     "net.list",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_JSON,
     NULL,
     NULL},
    {"net",
     "info",
     {NAME_ARG("NAME"), {0}},
     {{0}},
     "a network and each host's view of it",
     "net.info",
     DRV_CLI_RUN_REMOTE,
     DRV_CLI_SHOW_JSON,
     NULL,
     NULL},
};

const drv_cli_verb *drv_cli_verbs(size_t *ret_n)
{
    *ret_n = G_N_ELEMENTS(s_verbs);
    return s_verbs;
}

const drv_cli_verb *drv_cli_verb_form(const drv_cli_verb *verb, int n, char **words)
{
    const drv_cli_verb *end = s_verbs + G_N_ELEMENTS(s_verbs);
    const drv_cli_verb *other = verb + 1;
    if (verb == NULL || other >= end || g_strcmp0(other->group, verb->group) != 0 ||
        g_strcmp0(other->name, verb->name) != 0)
        return verb;
    for (int i = 0; i < n; i++) {
        if (!g_str_has_prefix(words[i], "--") || words[i][2] == '\0')
            continue;
        g_autofree char *name = g_strdup(words[i] + 2);
        char *eq = strchr(name, '=');
        if (eq != NULL)
            *eq = '\0';
        if (drv_cli_opt_find(verb->opts, name) == NULL && drv_cli_opt_find(other->opts, name))
            return other;
    }
    return verb;
}

const drv_cli_verb *drv_cli_verb_find(const char *group, const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(s_verbs); i++) {
        const drv_cli_verb *v = &s_verbs[i];
        if (g_strcmp0(v->group, group) == 0 && g_strcmp0(v->name, name) == 0)
            return v;
    }
    return NULL;
}

/* Replaces "option KEY" (KEY followed by a non-word character or the end) with "--FLAG". */
static void s_flag_word(GString *s, const char *key, const char *flag)
{
    g_autofree char *from = g_strdup_printf("option %s", key);
    g_autofree char *to = g_strdup_printf("--%s", flag);
    size_t at = 0;
    const char *hit;
    while ((hit = strstr(s->str + at, from)) != NULL) {
        size_t pos = (size_t)(hit - s->str), end = pos + strlen(from);
        char next = s->str[end];
        if (g_ascii_isalnum(next) || next == '_') {
            at = end;
            continue;
        }
        g_string_erase(s, (gssize)pos, (gssize)strlen(from));
        g_string_insert(s, (gssize)pos, to);
        at = pos + strlen(to);
    }
}

char *drv_cli_verbs_flag_words(const char *api_verb, const char *message)
{
    GString *s = g_string_new(message ? message : "");
    for (size_t i = 0; api_verb != NULL && i < G_N_ELEMENTS(s_verbs); i++) {
        if (g_strcmp0(s_verbs[i].api_verb, api_verb) != 0)
            continue;
        for (const drv_cli_opt *o = s_verbs[i].opts; o->name != NULL; o++)
            if (o->api_key != NULL)
                s_flag_word(s, o->api_key, o->name);
    }
    return g_string_free(s, FALSE);
}

bool drv_cli_group_exists(const char *group)
{
    for (size_t i = 0; i < G_N_ELEMENTS(s_verbs); i++)
        if (g_strcmp0(s_verbs[i].group, group) == 0)
            return true;
    return false;
}

const drv_cli_opt *drv_cli_opt_find(const drv_cli_opt *opts, const char *name)
{
    if (opts == NULL)
        opts = drv_cli_global_opts;
    for (const drv_cli_opt *o = opts; o->name != NULL; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

static void s_append_opt_synopsis(GString *s, const drv_cli_opt *o)
{
    g_string_append_c(s, ' ');
    if (!o->required)
        g_string_append_c(s, '[');
    g_string_append_printf(s, "--%s", o->name);
    if (o->kind != DRV_CLI_OPT_FLAG)
        g_string_append_printf(s, " %s", o->metavar ? o->metavar : "VALUE");
    if (!o->required)
        g_string_append_c(s, ']');
}

char *drv_cli_verb_synopsis(const drv_cli_verb *verb)
{
    GString *s = g_string_new("drover ");
    g_string_append(s, verb->group);
    if (verb->name != NULL)
        g_string_append_printf(s, " %s", verb->name);
    for (const drv_cli_arg *a = verb->args; a->name != NULL; a++) {
        if (a->optional)
            g_string_append_printf(s, " [%s]", a->name);
        else if (a->kind == DRV_CLI_ARG_REST)
            g_string_append_printf(s, " %s...", a->name);
        else
            g_string_append_printf(s, " %s", a->name);
    }
    for (const drv_cli_opt *o = verb->opts; o->name != NULL; o++)
        s_append_opt_synopsis(s, o);
    return g_string_free(s, FALSE);
}

static void s_append_opts(GString *s, const drv_cli_opt *opts)
{
    for (const drv_cli_opt *o = opts; o->name != NULL; o++) {
        g_autofree char *left = o->kind == DRV_CLI_OPT_FLAG
                                    ? g_strdup_printf("--%s", o->name)
                                    : g_strdup_printf("--%s %s", o->name, o->metavar);
        g_string_append_printf(s, "  %-22s %s%s\n", left, o->help,
                               o->required ? " (required)" : "");
    }
}

char *drv_cli_help_verb(const drv_cli_verb *verb)
{
    GString *s = g_string_new(NULL);
    g_autofree char *syn = drv_cli_verb_synopsis(verb);
    g_string_append_printf(s, "usage: %s\n\n%s.\n", syn, verb->summary);
    bool described = false;
    for (const drv_cli_arg *a = verb->args; a->name != NULL; a++)
        described |= a->kind != DRV_CLI_ARG_STRING || a->optional;
    if (described) {
        g_string_append(s, "\narguments:\n");
        for (const drv_cli_arg *a = verb->args; a->name != NULL; a++) {
            const char *what = "";
            switch (a->kind) {
            case DRV_CLI_ARG_BODY:
                what = "an XML file, or - to read standard input";
                break;
            case DRV_CLI_ARG_SIZE:
                what = "a size: 512M, 2GiB, 1T; a plain number is KiB";
                break;
            case DRV_CLI_ARG_UINT:
                what = "a non-negative integer";
                break;
            case DRV_CLI_ARG_REST:
                what = "one or more";
                break;
            default:
                what = a->optional ? "optional" : "";
                break;
            }
            if (what[0] != '\0')
                g_string_append_printf(s, "  %-22s %s\n", a->name, what);
        }
    }
    if (verb->opts[0].name != NULL) {
        g_string_append(s, "\noptions:\n");
        s_append_opts(s, verb->opts);
    }
    g_string_append_printf(s, "\nclient API verb: %s\n",
                           verb->api_verb ? verb->api_verb : "(none: event stream)");
    return g_string_free(s, FALSE);
}

static void s_append_verb_lines(GString *s, const char *group)
{
    for (size_t i = 0; i < G_N_ELEMENTS(s_verbs); i++) {
        const drv_cli_verb *v = &s_verbs[i];
        if (group != NULL && strcmp(v->group, group) != 0)
            continue;
        g_autofree char *left =
            v->name ? g_strdup_printf("%s %s", v->group, v->name) : g_strdup(v->group);
        g_string_append_printf(s, "  %-24s %s\n", left, v->summary);
    }
}

char *drv_cli_help_all(void)
{
    GString *s = g_string_new(
        "usage: drover [--controller URL] [--events URL] [--json] [--timeout S] GROUP VERB "
        "ARGS...\n\n"
        "drover manages libvirt domains across a cluster through drover-controller.\n\n"
        "verbs:\n");
    s_append_verb_lines(s, NULL);
    g_string_append(s, "\nglobal options:\n");
    s_append_opts(s, drv_cli_global_opts);
    g_string_append(s, "\n'drover help GROUP VERB' or 'drover GROUP VERB --help' shows one verb.\n"
                       "Exit status: 0 success, 1 failure, 2 usage error.\n");
    return g_string_free(s, FALSE);
}

char *drv_cli_help_group(const char *group)
{
    if (!drv_cli_group_exists(group))
        return NULL;
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "usage: drover %s VERB ARGS...\n\nverbs:\n", group);
    s_append_verb_lines(s, group);
    return g_string_free(s, FALSE);
}

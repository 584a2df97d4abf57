/* events.c — see events.h. The PUB edge: protobuf-c types stay in this file. */
#include "events.h"

#include "ctl_io.h"
#include "codec.h"
#include "curve.h"
#include "log.h"
#include "view.h"

#include <string.h>
#include <zmq.h>

struct ctl_events {
    void *pub;
    GHashTable *last_state; /* domain name → "state|reason|host|desired" last published */
};

ctl_events *ctl_events_new(void *zctx, const char *endpoint, const char *curve_secret,
                           drv_error **err)
{
    void *pub = zmq_socket(zctx, ZMQ_PUB);
    int linger = 0, hwm = 10000;
    int64_t max = 64 * 1024; /* subscribers send only subscriptions */
    zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(pub, ZMQ_MAXMSGSIZE, &max, sizeof(max));
    if (drv_curve_server(pub, curve_secret, DRV_ZAP_DOMAIN_EVENTS, err) < 0) {
        zmq_close(pub);
        drv_error_prefix(err, "event socket");
        return NULL;
    }
    if (zmq_bind(pub, endpoint) < 0) {
        int e = errno;
        zmq_close(pub);
        drv_error_set(err, DRV_ERR_IO, e, "event socket: bind %s: %s", endpoint, zmq_strerror(e));
        return NULL;
    }
    ctl_events *self = g_new0(ctl_events, 1);
    self->pub = pub;
    self->last_state = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return self;
}

void ctl_events_destroy(ctl_events **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    zmq_close((*self_p)->pub);
    g_hash_table_unref((*self_p)->last_state);
    g_free(*self_p);
    *self_p = NULL;
}

void ctl_events_publish(ctl_events *self, const char *topic, const char *type, json_object *object)
{
    g_autofree char *json = ctl_view_finish(ctl_view_event(type, object));
    if (self == NULL)
        return;
    Drover__ClusterEvent ce = DROVER__CLUSTER_EVENT__INIT;
    ce.topic = (char *)topic;
    ce.json = json;
    ce.timestamp_ms = (uint64_t)(g_get_real_time() / 1000);
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_CLUSTER_EVENT;
    env.cluster_event = &ce;
    drv_error *err = NULL;
    if (drv_wire_send(self->pub, topic, &env, ZMQ_DONTWAIT, &err) < 0) {
        drv_debug("event %s %s dropped: %s", topic, type, err->message);
        drv_error_destroy(&err);
    }
    drv_debug("event %s %s", topic, type);
}

void ctl_events_host(ctl *c, const ctl_host *h, const char *type)
{
    g_autofree char *topic = g_strdup_printf("host.%s", h->id);
    ctl_publish(c, topic, type, ctl_view_host_api(c->model, h, false));
}

/* True when a "state-changed" of d would say nothing new: the state, its reason, the host and
 * the desired state are those of the last one published (a verb's answer and the libvirt event
 * of the same change, or libvirt's several events of one transition). */
static bool s_state_unchanged(ctl_events *self, ctl_model *m, const ctl_domain *d)
{
    const char *state, *reason;
    ctl_model_domain_state(m, d, &state, &reason);
    char *sig = g_strdup_printf("%s|%s|%s|%s", state, reason ? reason : "", d->host ? d->host : "",
                                ctl_desired_to_string(d->desired));
    const char *last = g_hash_table_lookup(self->last_state, d->name);
    if (last != NULL && strcmp(last, sig) == 0) {
        g_free(sig);
        return true;
    }
    g_hash_table_replace(self->last_state, g_strdup(d->name), sig);
    return false;
}

void ctl_events_domain(ctl *c, const ctl_domain *d, const char *type)
{
    if (c->events != NULL && strcmp(type, "state-changed") == 0 &&
        s_state_unchanged(c->events, c->model, d))
        return;
    g_autofree char *topic = g_strdup_printf("domain.%s", d->name);
    ctl_publish(c, topic, type, ctl_view_domain_api(c->model, d));
}

void ctl_events_domain_name(ctl *c, const char *name, const char *type, json_object *extra)
{
    if (c->events != NULL && strcmp(type, "undefined") == 0)
        g_hash_table_remove(c->events->last_state, name);
    g_autofree char *topic = g_strdup_printf("domain.%s", name);
    ctl_publish(c, topic, type, extra ? extra : ctl_view_named("name", name));
}

void ctl_events_job(ctl *c, const drv_job *job, const char *type, const char *message)
{
    g_autofree char *topic = g_strdup_printf("job.%s", job->id);
    json_object *o = drv_job_to_api_json(job, (uint64_t)ctl_wall_ms(c));
    if (message != NULL)
        json_object_object_add(o, "message", json_object_new_string(message));
    ctl_publish(c, topic, type, o);
}

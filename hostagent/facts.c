/* facts.c — see facts.h. */
#include "facts.h"

#include "domstate.h"

#include <string.h>

static void s_pool_free(gpointer p)
{
    drv_pool_fact *pool = p;
    g_free(pool->name);
    g_free(pool->type);
    g_free(pool->path);
    g_free(pool);
}

drv_host_facts *drv_host_facts_new(void)
{
    drv_host_facts *self = g_new0(drv_host_facts, 1);
    self->cpu_features = g_ptr_array_new_with_free_func(g_free);
    self->pools = g_ptr_array_new_with_free_func(s_pool_free);
    self->networks = g_ptr_array_new_with_free_func(g_free);
    self->label_keys = g_ptr_array_new_with_free_func(g_free);
    self->label_values = g_ptr_array_new_with_free_func(g_free);
    return self;
}

void drv_host_facts_destroy(drv_host_facts **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    drv_host_facts *self = *self_p;
    g_free(self->host_id);
    g_free(self->hostname);
    g_free(self->arch);
    g_free(self->cpu_vendor);
    g_free(self->cpu_model);
    g_ptr_array_unref(self->cpu_features);
    g_free(self->host_uuid);
    g_free(self->hypervisor_type);
    g_free(self->migration_uri);
    g_free(self->libvirt_uri);
    g_ptr_array_unref(self->pools);
    g_ptr_array_unref(self->networks);
    g_ptr_array_unref(self->label_keys);
    g_ptr_array_unref(self->label_values);
    g_free(self);
    *self_p = NULL;
}

void drv_host_facts_add_feature(drv_host_facts *self, const char *feature)
{
    if (feature == NULL || *feature == '\0')
        return;
    guint i = 0;
    for (; i < self->cpu_features->len; i++) {
        int c = strcmp(g_ptr_array_index(self->cpu_features, i), feature);
        if (c == 0)
            return;
        if (c > 0)
            break;
    }
    g_ptr_array_insert(self->cpu_features, (gint)i, g_strdup(feature));
}

void drv_host_facts_set_features(drv_host_facts *self, const char *const *features)
{
    g_ptr_array_set_size(self->cpu_features, 0);
    for (size_t i = 0; features != NULL && features[i] != NULL; i++)
        drv_host_facts_add_feature(self, features[i]);
}

drv_dom_info *drv_dom_info_new(void)
{
    return g_new0(drv_dom_info, 1);
}

void drv_dom_info_free(drv_dom_info *info)
{
    if (info == NULL)
        return;
    g_free(info->name);
    g_free(info->uuid);
    g_free(info->xml_hash);
    g_strfreev(info->live_devices);
    g_free(info);
}

void drv_dom_info_destroy(drv_dom_info **info_p)
{
    if (info_p == NULL)
        return;
    drv_dom_info_free(*info_p);
    *info_p = NULL;
}

const char *drv_dom_state_to_string(drv_dom_state state)
{
    return drv_domstate_name((int)state);
}

char *drv_dom_xml_hash(const char *xml)
{
    return g_compute_checksum_for_string(G_CHECKSUM_SHA256, xml ? xml : "", -1);
}

char *drv_host_facts_cpu_summary(const drv_host_facts *self)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "arch=%s\ncpu_vendor=%s\ncpu_model=%s\nhost_uuid=%s\ncpu_features=",
                           self->arch ? self->arch : "", self->cpu_vendor ? self->cpu_vendor : "",
                           self->cpu_model ? self->cpu_model : "",
                           self->host_uuid ? self->host_uuid : "");
    for (guint i = 0; i < self->cpu_features->len; i++)
        g_string_append_printf(s, "%s%s", i ? "," : "",
                               (const char *)g_ptr_array_index(self->cpu_features, i));
    g_string_append_c(s, '\n');
    return g_string_free(s, FALSE);
}

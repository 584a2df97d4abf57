/* test_sched_scenarios.c — golden scheduler scenarios: each scenarios/ (one .json file each) holds
 * a cluster and a list of cases (place, capacity, drain, baseline, balance); each case's "expect"
 * object must be a subset of the JSON rendering of the actual answer (objects: every expected key
 * matches; arrays: same length, element by element; scalars: equal). A place case with "book": true
 * adds the placed domain to the cluster so later cases see it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "scheduler.h"

/* Subset match; on mismatch, prints the path and both values and returns false. */
static bool s_match(json_object *want, json_object *got, const char *path)
{
    if (json_object_is_type(want, json_type_object)) {
        if (!json_object_is_type(got, json_type_object)) {
            fprintf(stderr, "  %s: expected an object, got %s\n", path,
                    json_object_to_json_string(got));
            return false;
        }
        json_object_object_foreach(want, k, v)
        {
            json_object *g = NULL;
            g_autofree char *sub = g_strdup_printf("%s.%s", path, k);
            json_object_object_get_ex(got, k, &g);
            if (!s_match(v, g, sub))
                return false;
        }
        return true;
    }
    if (json_object_is_type(want, json_type_array)) {
        if (!json_object_is_type(got, json_type_array) ||
            json_object_array_length(want) != json_object_array_length(got)) {
            fprintf(stderr, "  %s: expected %s, got %s\n", path, json_object_to_json_string(want),
                    json_object_to_json_string(got));
            return false;
        }
        for (size_t i = 0; i < json_object_array_length(want); i++) {
            g_autofree char *sub = g_strdup_printf("%s[%zu]", path, i);
            if (!s_match(json_object_array_get_idx(want, i), json_object_array_get_idx(got, i),
                         sub))
                return false;
        }
        return true;
    }
    bool ok;
    if (!want || !got)
        ok = want == got;
    else if (json_object_is_type(want, json_type_double) ||
             json_object_is_type(got, json_type_double))
        ok = json_object_get_double(want) == json_object_get_double(got);
    else
        ok = json_object_equal(want, got);
    if (!ok)
        fprintf(stderr, "  %s: expected %s, got %s\n", path,
                want ? json_object_to_json_string(want) : "null",
                got ? json_object_to_json_string(got) : "(absent/null)");
    return ok;
}

static json_object *s_run_place(drv_sched_cluster *c, json_object *tc)
{
    json_object *req_o = NULL;
    json_object_object_get_ex(tc, "place", &req_o);
    drv_sched_request *req = NULL;
    drv_error *err = NULL;
    if (drv_sched_request_from_json(req_o, &req, &err) < 0) {
        fail_msg("request: %s", err->message);
    }
    drv_sched_result *r = NULL;
    assert_int_equal(drv_sched_place(c, req, &r, &err), 0);
    json_object *out = drv_sched_result_to_json(r);
    json_object *book = NULL;
    if (json_object_object_get_ex(tc, "book", &book) && json_object_get_boolean(book) && r->fits) {
        assert_non_null(req->name);
        drv_sched_domain_spec d = {
            .name = req->name,
            .host = r->host,
            .vcpus = req->vcpus,
            .memory_kib = req->memory_kib,
            .arch = req->arch,
            .features = req->features,
            .pools = req->pools,
            .networks = req->networks,
            .labels = req->labels,
            .affinity_group = req->affinity_group,
            .anti_affinity_group = req->anti_affinity_group,
            .running = true,
        };
        if (drv_sched_cluster_add_domain(c, &d, &err) < 0)
            fail_msg("book %s: %s", req->name, err->message);
    }
    drv_sched_result_destroy(&r);
    drv_sched_request_destroy(&req);
    return out;
}

static json_object *s_run_capacity(drv_sched_cluster *c, json_object *tc)
{
    json_object *shape_o = NULL, *v = NULL;
    json_object_object_get_ex(tc, "capacity", &shape_o);
    drv_sched_request *shape = NULL;
    drv_error *err = NULL;
    if (drv_sched_request_from_json(shape_o, &shape, &err) < 0)
        fail_msg("shape: %s", err->message);
    drv_sched_capacity_opts opts = {0};
    if (json_object_object_get_ex(tc, "n_plus_one", &v))
        opts.n_plus_one = json_object_get_boolean(v);
    if (json_object_object_get_ex(tc, "hosts_down", &v))
        opts.hosts_down = json_object_get_boolean(v);
    drv_sched_capacity *cap = NULL;
    if (drv_sched_capacity_compute(c, shape, &opts, &cap, &err) < 0)
        fail_msg("capacity: %s", err->message);
    json_object *out = drv_sched_capacity_to_json(cap);
    drv_sched_capacity_destroy(&cap);
    drv_sched_request_destroy(&shape);
    return out;
}

static json_object *s_run_drain(drv_sched_cluster *c, json_object *tc)
{
    json_object *v = NULL;
    json_object_object_get_ex(tc, "drain", &v);
    drv_sched_drain_opts opts = {0};
    json_object *n1 = NULL;
    if (json_object_object_get_ex(tc, "n_plus_one", &n1))
        opts.n_plus_one = json_object_get_boolean(n1);
    drv_sched_drain_plan *plan = NULL;
    drv_error *err = NULL;
    if (drv_sched_drain_plan_compute(c, json_object_get_string(v), &opts, &plan, &err) < 0) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "error", json_object_new_string(err->message));
        drv_error_destroy(&err);
        return o;
    }
    json_object *out = drv_sched_drain_plan_to_json(plan);
    drv_sched_drain_plan_destroy(&plan);
    return out;
}

static json_object *s_run_baseline(drv_sched_cluster *c, json_object *tc)
{
    json_object *b = NULL, *v = NULL;
    json_object_object_get_ex(tc, "baseline", &b);
    const char *arch = NULL, *model = NULL;
    if (json_object_object_get_ex(b, "arch", &v) && v)
        arch = json_object_get_string(v);
    if (json_object_object_get_ex(b, "model", &v) && v)
        model = json_object_get_string(v);
    json_object *o = json_object_new_object();
    g_auto(GStrv) features = drv_sched_baseline_features(c, arch);
    json_object *fa = json_object_new_array();
    for (size_t i = 0; features[i]; i++)
        json_object_array_add(fa, json_object_new_string(features[i]));
    json_object_object_add(o, "features", fa);
    g_autofree char *xml = NULL;
    drv_error *err = NULL;
    if (drv_sched_baseline_cpu_xml(c, arch, model, &xml, &err) < 0) {
        json_object_object_add(o, "error", json_object_new_string(err->message));
        drv_error_destroy(&err);
    } else {
        json_object_object_add(o, "xml", json_object_new_string(xml));
    }
    return o;
}

/* "balance": {"load": {"hosts": {...}, "domains": {...}}, "opts": {...}} → the plan. */
static json_object *s_run_balance(drv_sched_cluster *c, json_object *tc)
{
    json_object *b = NULL, *load = NULL, *opts_o = NULL;
    json_object_object_get_ex(tc, "balance", &b);
    json_object_object_get_ex(b, "load", &load);
    json_object_object_get_ex(b, "opts", &opts_o);
    drv_error *err = NULL;
    drv_sched_balance_opts opts;
    drv_sched_balance_opts_init(&opts);
    if (drv_sched_balance_opts_from_json(opts_o, &opts, &err) < 0) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "error", json_object_new_string(err->message));
        drv_error_destroy(&err);
        return o;
    }
    g_autofree drv_sched_host_load *hl = NULL;
    g_autofree drv_sched_domain_load *dl = NULL;
    size_t nh = 0, nd = 0;
    if (drv_sched_balance_load_from_json(load, &hl, &nh, &dl, &nd, &err) < 0)
        fail_msg("balance load: %s", err->message);
    drv_sched_balance_plan *plan = NULL;
    if (drv_sched_balance_plan_compute(c, hl, nh, dl, nd, &opts, &plan, &err) < 0) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "error", json_object_new_string(err->message));
        drv_error_destroy(&err);
        return o;
    }
    json_object *out = drv_sched_balance_plan_to_json(plan);
    drv_sched_balance_plan_destroy(&plan);
    return out;
}

/* "balance_check": {"domain": "a", "source": "h1", "dest": "h2", "n_plus_one": true} →
 * {"allowed": bool, "why": "..."} (the re-check of a planned move before its launch). */
static json_object *s_run_balance_check(drv_sched_cluster *c, json_object *tc)
{
    json_object *b = NULL, *v = NULL;
    json_object_object_get_ex(tc, "balance_check", &b);
    bool n1 = !json_object_object_get_ex(b, "n_plus_one", &v) || json_object_get_boolean(v);
    const char *dom = NULL, *src = NULL, *dst = NULL;
    if (json_object_object_get_ex(b, "domain", &v))
        dom = json_object_get_string(v);
    if (json_object_object_get_ex(b, "source", &v))
        src = json_object_get_string(v);
    if (json_object_object_get_ex(b, "dest", &v))
        dst = json_object_get_string(v);
    char *why = NULL;
    drv_error *err = NULL;
    int rc = drv_sched_balance_move_check(c, dom, src, dst, n1, &why, &err);
    json_object *o = json_object_new_object();
    if (rc < 0) {
        json_object_object_add(o, "error", json_object_new_string(err->message));
        drv_error_destroy(&err);
        return o;
    }
    json_object_object_add(o, "allowed", json_object_new_boolean(rc == 0));
    json_object_object_add(o, "why", why ? json_object_new_string(why) : NULL);
    g_free(why);
    return o;
}

/* Applies "mutate" steps: [{"host_state": ["h1", "maintenance"]}, {"remove_host": "h2"}, ...]. */
static void s_mutate(drv_sched_cluster *c, json_object *tc)
{
    json_object *m = NULL;
    if (!json_object_object_get_ex(tc, "mutate", &m))
        return;
    for (size_t i = 0; i < json_object_array_length(m); i++) {
        json_object *step = json_object_array_get_idx(m, i), *v;
        drv_error *err = NULL;
        int r = 0;
        if (json_object_object_get_ex(step, "host_state", &v)) {
            drv_sched_host_state st;
            assert_int_equal(drv_sched_host_state_from_string(
                                 json_object_get_string(json_object_array_get_idx(v, 1)), &st),
                             0);
            r = drv_sched_cluster_set_host_state(
                c, json_object_get_string(json_object_array_get_idx(v, 0)), st, &err);
        } else if (json_object_object_get_ex(step, "remove_host", &v)) {
            r = drv_sched_cluster_remove_host(c, json_object_get_string(v), &err);
        } else if (json_object_object_get_ex(step, "remove_reservation", &v)) {
            r = drv_sched_cluster_remove_reservation(c, json_object_get_string(v), &err);
        } else {
            fail_msg("unknown mutation %s", json_object_to_json_string(step));
        }
        if (r < 0)
            fail_msg("mutation: %s", err->message);
    }
}

static void test_scenario(void **state)
{
    const char *path = *state;
    json_object *root = json_object_from_file(path);
    if (!root)
        fail_msg("%s: cannot parse", path);
    json_object *cl = NULL, *cases = NULL;
    assert_true(json_object_object_get_ex(root, "cluster", &cl));
    assert_true(json_object_object_get_ex(root, "cases", &cases));
    drv_sched_cluster *c = NULL;
    drv_error *err = NULL;
    if (drv_sched_cluster_from_json_object(cl, &c, &err) < 0)
        fail_msg("%s: cluster: %s", path, err->message);

    /* every scenario cluster survives a round trip through the snapshot format */
    g_autofree char *text = drv_sched_cluster_to_json(c);
    drv_sched_cluster *c2 = NULL;
    assert_int_equal(drv_sched_cluster_from_json(text, &c2, &err), 0);
    g_autofree char *text2 = drv_sched_cluster_to_json(c2);
    assert_string_equal(text, text2);
    drv_sched_cluster_destroy(&c2);

    bool ok = true;
    for (size_t i = 0; i < json_object_array_length(cases); i++) {
        json_object *tc = json_object_array_get_idx(cases, i), *name = NULL, *want = NULL;
        json_object_object_get_ex(tc, "name", &name);
        assert_true(json_object_object_get_ex(tc, "expect", &want));
        s_mutate(c, tc);
        json_object *got = NULL;
        if (json_object_object_get_ex(tc, "place", NULL))
            got = s_run_place(c, tc);
        else if (json_object_object_get_ex(tc, "capacity", NULL))
            got = s_run_capacity(c, tc);
        else if (json_object_object_get_ex(tc, "drain", NULL))
            got = s_run_drain(c, tc);
        else if (json_object_object_get_ex(tc, "baseline", NULL))
            got = s_run_baseline(c, tc);
        else if (json_object_object_get_ex(tc, "balance", NULL))
            got = s_run_balance(c, tc);
        else if (json_object_object_get_ex(tc, "balance_check", NULL))
            got = s_run_balance_check(c, tc);
        else
            fail_msg("%s: case %zu has no action", path, i);
        if (!s_match(want, got, "$")) {
            fprintf(stderr, "%s: case \"%s\" failed; actual:\n%s\n", path,
                    name ? json_object_get_string(name) : "?",
                    json_object_to_json_string_ext(got, JSON_C_TO_STRING_PRETTY));
            ok = false;
        }
        json_object_put(got);
    }
    drv_sched_cluster_destroy(&c);
    json_object_put(root);
    assert_true(ok);
}

static gint s_path_cmp(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    GDir *dir = g_dir_open(SCENARIO_DIR, 0, NULL);
    if (!dir) {
        fprintf(stderr, "no scenario dir %s\n", SCENARIO_DIR);
        return 1;
    }
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    const char *n;
    while ((n = g_dir_read_name(dir)))
        if (g_str_has_suffix(n, ".json"))
            g_ptr_array_add(paths, g_build_filename(SCENARIO_DIR, n, NULL));
    g_dir_close(dir);
    g_ptr_array_sort(paths, s_path_cmp);
    if (paths->len == 0) {
        fprintf(stderr, "no scenarios in %s\n", SCENARIO_DIR);
        return 1;
    }
    struct CMUnitTest *tests = g_new0(struct CMUnitTest, paths->len);
    for (guint i = 0; i < paths->len; i++) {
        tests[i].name = g_path_get_basename(g_ptr_array_index(paths, i));
        tests[i].test_func = test_scenario;
        tests[i].initial_state = g_ptr_array_index(paths, i);
    }
    int rc = _cmocka_run_group_tests("sched_scenarios", tests, paths->len, NULL, NULL);
    for (guint i = 0; i < paths->len; i++)
        g_free((char *)tests[i].name);
    g_free(tests);
    g_ptr_array_unref(paths);
    return rc;
}

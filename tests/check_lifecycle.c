/* Rule lifecycle against the mock cluster and redis-server: hot reload under
 * load, refused rulesets, audit records, pushes to a group, shadow rulesets,
 * signed control messages, and one ruleset per group. */
#include "control.h"
#include "harness.h"

#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EVENTS "data/demo/events.jsonl"
#define RULES "tests/packs/windows.json"
#define PACK "rules/packs/default.json"

/* Copies a file to a new temporary path, optionally replacing one string. */
static const char *copy_file(const char *path, const char *from, const char *to) {
    size_t len;
    rw_error_t err;
    rw_error_clear(&err);
    char *text = rw_file_read(path, &len, &err);
    ck_assert_ptr_nonnull(text);
    rw_buf_t b;
    rw_buf_init(&b);
    const char *at = from ? strstr(text, from) : NULL;
    if (at) {
        rw_buf_append(&b, text, (size_t)(at - text));
        rw_buf_puts(&b, to);
        rw_buf_puts(&b, at + strlen(from));
    } else {
        rw_buf_puts(&b, text);
    }
    const char *out = h_tmpfile(".json", rw_buf_cstr(&b));
    rw_buf_fini(&b);
    free(text);
    return out;
}

/* The keys of a test: key "a" is in the engines' keys file, key "b" is not. */
typedef struct keys {
    char a[256], b[256], file[256];
} keys_t;

static void keys_make(keys_t *k) {
    char pub[128], json[400];
    snprintf(k->a, sizeof(k->a), "%s", h_keypair(pub));
    snprintf(json, sizeof(json), "{\"keys\": [{\"id\": \"a\", \"public_key\": \"%s\"}]}\n", pub);
    snprintf(k->file, sizeof(k->file), "%s", h_tmpfile(".json", json));
    char unused[128];
    snprintf(k->b, sizeof(k->b), "%s", h_keypair(unused));
}

/* An engine config of h_engine_config with a "rulesets" section and, when
 * metrics_port is not 0, metrics served there. Returns its path (static per
 * call slot, as h_tmpfile). */
static const char *config_with(const char *brokers, int redis_port, const char *rules,
                               const char *group, const char *rulesets, int metrics_port) {
    size_t len;
    rw_error_t err;
    rw_error_clear(&err);
    char *text = rw_file_read(h_engine_config(brokers, redis_port, rules, group), &len, &err);
    ck_assert_ptr_nonnull(text);
    char *at = strstr(text, " \"metrics_listen\": null,");
    ck_assert_ptr_nonnull(at);
    *at = 0;
    char out[4096], listen[64] = "null";
    if (metrics_port)
        snprintf(listen, sizeof(listen), "\"127.0.0.1:%d\"", metrics_port);
    snprintf(out, sizeof(out), "%s \"metrics_listen\": %s,\n \"rulesets\": %s,\n%s", text, listen,
             rulesets, at + strlen(" \"metrics_listen\": null,\n"));
    free(text);
    return h_tmpfile(".json", out);
}

/* The usual config of these tests: keys "a" accepted, nothing to sign with. */
static const char *config_keys(const h_peers_t *p, const char *rules, const char *group,
                               const keys_t *k) {
    char rs[512];
    snprintf(rs, sizeof(rs), "{\"keys_file\": \"%s\"}", k->file);
    return config_with(p->mock.bootstraps, p->redis.port, rules, group, rs, 0);
}

/* Produces one control message, signed with key_path as key_id unless
 * key_path is NULL. */
static void control_send(const char *brokers, const char *action, const char *value,
                         const char *key_path, const char *key_id) {
    rw_error_t err;
    rw_error_clear(&err);
    rw_signer_t *s = key_path ? rw_control_signer_load(key_path, key_id, &err) : NULL;
    ck_assert(!key_path || s);
    rd_kafka_t *prod = h_producer(brokers);
    ck_assert_int_eq(rw_control_produce(prod, "risk.rules", action, value, strlen(value), s), 0);
    ck_assert_int_eq(rd_kafka_flush(prod, h_ms(10000)), 0);
    rd_kafka_destroy(prod);
    rw_control_signer_destroy(s);
}

/* Audit records matching action / target / source / version (NULL: any). */
typedef struct audit_want {
    const char *brokers, *action, *target, *source, *version;
    size_t min;
    size_t engines;    /* distinct "engine" values seen */
    const char *error; /* NULL: any; else a record's errors must hold this text */
    const char *key_id;
} audit_want_t;

/* Whether one of the record's errors holds text. */
static bool errors_hold(json_t *a, const char *text) {
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(a, "errors"), i, v) {
        if (strstr(json_string_value(v), text))
            return true;
    }
    return false;
}

static size_t audit_count(audit_want_t *w) {
    h_msgs_t m = {0};
    h_consume_all(w->brokers, "risk.audit", w->min, 1000, 5000, &m);
    size_t n = 0;
    char seen[8][64];
    w->engines = 0;
    for (size_t i = 0; i < m.n; i++) {
        json_t *a = json_loadb(m.m[i].value, m.m[i].len, 0, NULL);
        const char *f[4] = {json_string_value(json_object_get(a, "action")),
                            json_string_value(json_object_get(a, "target")),
                            json_string_value(json_object_get(a, "source")),
                            json_string_value(json_object_get(a, "version"))};
        const char *want[4] = {w->action, w->target, w->source, w->version};
        bool ok = true;
        for (int k = 0; k < 4; k++)
            ok = ok && (!want[k] || (f[k] && strcmp(f[k], want[k]) == 0));
        ok = ok && (!w->error || errors_hold(a, w->error));
        const char *kid = json_string_value(json_object_get(a, "key_id"));
        ok = ok && (!w->key_id || (kid && strcmp(kid, w->key_id) == 0));
        ck_assert_ptr_nonnull(json_string_value(json_object_get(a, "sha256")));
        ck_assert(json_is_array(json_object_get(a, "errors")));
        if (ok) {
            n++;
            const char *eng = json_string_value(json_object_get(a, "engine"));
            bool dup = false;
            for (size_t k = 0; k < w->engines; k++)
                dup = dup || strcmp(seen[k], eng) == 0;
            if (!dup && w->engines < 8)
                snprintf(seen[w->engines++], 64, "%s", eng);
        }
        json_decref(a);
    }
    h_msgs_free(&m);
    return n;
}

static bool audit_seen(void *arg) {
    audit_want_t *w = arg;
    return audit_count(w) >= w->min;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* event_id:level of every alert, sorted, with duplicates kept. */
static size_t alert_events(const h_msgs_t *m, char ***out, const char *ruleset) {
    char **ids = calloc(m->n ? m->n : 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        json_t *a = json_loadb(m->m[i].value, m->m[i].len, 0, NULL);
        if (ruleset)
            ck_assert_str_eq(json_string_value(json_object_get(a, "ruleset")), ruleset);
        char buf[300];
        snprintf(buf, sizeof(buf), "%s:%s", json_string_value(json_object_get(a, "event_id")),
                 json_string_value(json_object_get(a, "level")));
        ids[n++] = strdup(buf);
        json_decref(a);
    }
    qsort(ids, n, sizeof(char *), cmp_str);
    *out = ids;
    return n;
}

/* Streams the demo events; the alerts and counters are exactly the replay's. */
static void alerts_as_replay(const h_peers_t *p, const h_expect_t *e) {
    rd_kafka_t *prod = h_producer(p->mock.bootstraps);
    long n = h_produce_events(prod, EVENTS);
    rd_kafka_destroy(prod);
    h_progress_t pr = {p->rc, n};
    ck_assert(h_wait(h_all_counted, &pr, 60000));
    long long total = e->alerts[1] + e->alerts[2] + e->alerts[3];
    h_msgs_t alerts = {0};
    h_consume_all(p->mock.bootstraps, "risk.alerts", (size_t)total, 500, 30000, &alerts);
    h_assert_alert_ids(&alerts, e);
    h_assert_counters(p->rc, e);
    h_msgs_free(&alerts);
}

/* A new version pushed in the middle of the stream takes over between batches;
 * every event is counted once and alerted once, and the windows carry over
 * (same rule ids, keys, windows and params): the alerts are exactly those of
 * one replay over the whole stream. */
START_TEST(test_lifecycle_push_under_load_loses_and_duplicates_nothing) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    const char *v2 = copy_file(RULES, "\"version\": \"2026-11-27.1\"", "\"version\": \"v2\"");
    char v2_path[128], halves[2][256];
    snprintf(v2_path, sizeof(v2_path), "%s", v2);
    h_split_lines(EVENTS, 2, halves);
    keys_t k;
    keys_make(&k);
    const char *cfg = config_keys(&p, RULES, "lc-push", &k);
    pid_t eng =
        h_engine_start(cfg, h_path("lifecycle_push_under_load_loses_and_duplicates_nothing.log"));
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n1 = h_produce_events(prod, halves[0]);
    h_progress_t pr = {p.rc, n1};
    ck_assert(h_wait(h_all_counted, &pr, 60000));

    char out[4096];
    const char *push[] = {"rules", "push", v2_path,    "--brokers", p.mock.bootstraps,
                          "--key", k.a,    "--key-id", "a",         NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), push), 0);
    audit_want_t w = {.brokers = p.mock.bootstraps,
                      .action = "loaded",
                      .target = "live",
                      .source = "topic",
                      .version = "v2",
                      .min = 1};
    w.key_id = "a";
    ck_assert_msg(h_wait(audit_seen, &w, 30000), "no audit record of the push");

    long n2 = h_produce_events(prod, halves[1]);
    rd_kafka_destroy(prod);
    pr.want = n1 + n2;
    ck_assert(h_wait(h_all_counted, &pr, 60000));
    ck_assert_int_eq(h_hsum(p.rc, "{rw}:events:*"), n1 + n2);

    long long total = e.alerts[1] + e.alerts[2] + e.alerts[3];
    h_msgs_t alerts = {0};
    h_consume_all(p.mock.bootstraps, "risk.alerts", (size_t)total, 500, 30000, &alerts);
    ck_assert_int_eq((long long)alerts.n, total);
    size_t v1 = 0, vv2 = 0;
    for (size_t i = 0; i < alerts.n; i++) {
        v1 += strstr(alerts.m[i].value, "\"ruleset_version\":\"2026-11-27.1\"") != NULL;
        vv2 += strstr(alerts.m[i].value, "\"ruleset_version\":\"v2\"") != NULL;
    }
    ck_assert_uint_gt(v1, 0);
    ck_assert_uint_gt(vv2, 0);
    ck_assert_int_eq((long long)(v1 + vv2), total);
    /* Same events and levels as one replay: nothing lost, nothing twice. */
    char **got;
    size_t ng = alert_events(&alerts, &got, NULL);
    ck_assert_uint_eq(ng, e.n_event_levels);
    for (size_t i = 0; i < ng; i++)
        ck_assert_str_eq(got[i], e.event_levels[i]);
    h_assert_counters(p.rc, &e);
    h_ids_free(got, ng);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_msgs_free(&alerts);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

/* A broken rules file (SIGHUP) and an invalid ruleset on the control topic are
 * refused with audit records; the running ruleset stays and its alerts are
 * unchanged. */
START_TEST(test_lifecycle_refused_rulesets_change_nothing) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    char rules[128];
    snprintf(rules, sizeof(rules), "%s", copy_file(RULES, NULL, NULL));
    keys_t k;
    keys_make(&k);
    const char *cfg = config_keys(&p, rules, "lc-refuse", &k);
    pid_t eng = h_engine_start(cfg, h_path("lifecycle_refused_rulesets_change_nothing.log"));
    audit_want_t up = {.brokers = p.mock.bootstraps,
                       .action = "loaded",
                       .target = "live",
                       .source = "file",
                       .version = NULL,
                       .min = 1};
    ck_assert_msg(h_wait(audit_seen, &up, 30000), "engine did not start");

    /* The file breaks; SIGHUP. */
    FILE *f = fopen(rules, "w");
    fputs("{\"ruleset\": \"test-windows\", \"version\": \"broken\", \"rules\": [\n"
          "  {\"id\": \"x\", \"module\": \"nope\", \"thresholds\": {\"low\": 1}}]}\n",
          f);
    fclose(f);
    kill(eng, SIGHUP);
    /* An invalid ruleset arrives on the control topic, signed, past the CLI's check. */
    const char *bad = "{\"ruleset\": \"test-windows\", \"version\": \"bad2\", \"rules\": 7}";
    control_send(p.mock.bootstraps, "load", bad, k.a, "a");
    audit_want_t w = {.brokers = p.mock.bootstraps,
                      .action = "refused",
                      .target = "live",
                      .source = NULL,
                      .version = NULL,
                      .min = 2};
    ck_assert_msg(h_wait(audit_seen, &w, 30000), "refusals not audited");
    w.source = "file";
    w.version = "broken";
    w.min = 1;
    ck_assert_uint_eq(audit_count(&w), 1);
    w.source = "topic";
    w.version = "bad2";
    ck_assert_uint_eq(audit_count(&w), 1);

    alerts_as_replay(&p, &e);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

/* One push reaches both engines of a group. */
START_TEST(test_lifecycle_push_reaches_two_engines) {
    h_peers_t p;
    h_peers_start(&p);
    keys_t k;
    keys_make(&k);
    const char *cfg = config_keys(&p, RULES, "lc-two", &k);
    char cfg_path[128];
    snprintf(cfg_path, sizeof(cfg_path), "%s", cfg);
    pid_t a = h_engine_start(cfg_path, h_path("lifecycle_push_reaches_two_engines.log"));
    pid_t b = h_engine_start(cfg_path, h_path("lifecycle_push_reaches_two_engines.log"));
    audit_want_t up = {.brokers = p.mock.bootstraps,
                       .action = "loaded",
                       .target = "live",
                       .source = "file",
                       .version = NULL,
                       .min = 2};
    ck_assert_msg(h_wait(audit_seen, &up, 30000), "engines did not start");
    const char *v3 = copy_file(RULES, "\"version\": \"2026-11-27.1\"", "\"version\": \"v3\"");
    char out[4096];
    const char *push[] = {"rules", "push", v3, "--brokers", p.mock.bootstraps, "--key", k.a, NULL};
    /* No key id given, none in a config: push cannot tell which key it signs with. */
    ck_assert_int_eq(h_run(out, sizeof(out), push), 2);
    ck_assert_ptr_nonnull(strstr(out, "which key id is this key?"));
    const char *cfg_push[] = {"rules", "push", v3, "-c", cfg_path, "--key", k.a, NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), cfg_push), 0); /* the id from the keys file */
    ck_assert_ptr_nonnull(strstr(out, "signed with key a"));
    audit_want_t w = {.brokers = p.mock.bootstraps,
                      .action = "loaded",
                      .target = "live",
                      .source = "topic",
                      .version = "v3",
                      .min = 2};
    ck_assert_msg(h_wait(audit_seen, &w, 30000), "the push did not reach both engines");
    audit_count(&w);
    ck_assert_uint_eq(w.engines, 2);
    ck_assert_int_eq(h_engine_stop(a, SIGTERM, 30000), 0);
    ck_assert_int_eq(h_engine_stop(b, SIGTERM, 30000), 0);
    h_peers_stop(&p);
}
END_TEST

/* A shadow ruleset sees live traffic but writes only its shadow topic and its
 * own counters; promoting it is one command. */
START_TEST(test_lifecycle_shadow_never_reaches_live_topics) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    keys_t k;
    keys_make(&k);
    const char *cfg = config_keys(&p, RULES, "lc-shadow", &k);
    pid_t eng = h_engine_start(cfg, h_path("lifecycle_shadow_never_reaches_live_topics.log"));
    char out[4096];
    const char *push[] = {"rules", "push", PACK,       "--shadow", "--brokers", p.mock.bootstraps,
                          "--key", k.a,    "--key-id", "a",        NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), push), 0);
    audit_want_t w = {.brokers = p.mock.bootstraps,
                      .action = "loaded",
                      .target = "shadow",
                      .source = "topic",
                      .version = NULL,
                      .min = 1};
    ck_assert_msg(h_wait(audit_seen, &w, 30000), "shadow not loaded");

    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n = h_produce_events(prod, EVENTS);
    rd_kafka_destroy(prod);
    h_progress_t pr = {p.rc, n};
    ck_assert(h_wait(h_all_counted, &pr, 60000));
    /* Live: exactly the live ruleset's alerts and counters. */
    long long total = e.alerts[1] + e.alerts[2] + e.alerts[3];
    h_msgs_t live = {0}, high = {0}, shadow = {0};
    h_consume_all(p.mock.bootstraps, "risk.alerts", (size_t)total, 500, 30000, &live);
    ck_assert_int_eq((long long)live.n, total);
    char **ids;
    size_t nids = alert_events(&live, &ids, "test-windows");
    h_ids_free(ids, nids);
    h_consume_all(p.mock.bootstraps, "risk.alerts.high", (size_t)e.alerts[3], 500, 30000, &high);
    ck_assert_int_eq((long long)high.n, e.alerts[3]);
    nids = alert_events(&high, &ids, "test-windows");
    h_ids_free(ids, nids);
    h_assert_counters(p.rc, &e);
    /* Shadow: its own topic and counters. */
    h_consume_all(p.mock.bootstraps, "risk.alerts.shadow", 1, 500, 30000, &shadow);
    ck_assert_uint_gt(shadow.n, 0);
    nids = alert_events(&shadow, &ids, "retail-default");
    h_ids_free(ids, nids);
    ck_assert_int_eq(h_hsum(p.rc, "{rw:shadow}:events:*"), n);
    ck_assert_int_gt(h_hsum(p.rc, "{rw:shadow}:alerts:*"), 0);

    const char *promote[] = {"rules",    "promote", "--brokers", p.mock.bootstraps, "--key", k.a,
                             "--key-id", "a",       NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), promote), 0);
    audit_want_t pw = {.brokers = p.mock.bootstraps,
                       .action = "loaded",
                       .target = "live",
                       .source = "topic",
                       .version = "2026-12-02.1" /* rules/packs/default.json's */,
                       .min = 1};
    ck_assert_msg(h_wait(audit_seen, &pw, 30000), "promotion not audited");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_msgs_free(&live);
    h_msgs_free(&high);
    h_msgs_free(&shadow);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

/* Nothing but a push signed by a key of the keys file, within the limits and
 * newer than the live version, changes the rules: unsigned, forged, unknown-key,
 * oversized and old pushes are refused and audited, and after a restart (the
 * control topic is read again) the engine runs the one good push and alerts
 * as its replay does. */
START_TEST(test_lifecycle_bad_pushes_refused_also_after_restart) {
    h_peers_t p;
    h_peers_start(&p);
    keys_t k;
    keys_make(&k);
    char cfg[256];
    snprintf(cfg, sizeof(cfg), "%s", config_keys(&p, RULES, "lc-signed", &k));
    const char *log = h_path("lifecycle_bad_pushes_refused_also_after_restart.log");
    pid_t eng = h_engine_start(cfg, log);
    audit_want_t up = {
        .brokers = p.mock.bootstraps, .action = "loaded", .source = "file", .min = 1};
    ck_assert_msg(h_wait(audit_seen, &up, 30000), "engine did not start");

    const char *empty = "{\"ruleset\": \"retail-default\", \"version\": \"2026-11-27.3\", "
                        "\"rules\": []}";
    control_send(p.mock.bootstraps, "load", empty, NULL, NULL);  /* unsigned */
    control_send(p.mock.bootstraps, "load", empty, k.b, "a");    /* forged: b claims a's id */
    control_send(p.mock.bootstraps, "load", empty, k.b, "b");    /* a key not in the keys file */
    control_send(p.mock.bootstraps, "promote", "x", NULL, NULL); /* unsigned promote */
    rw_buf_t big;
    rw_buf_init(&big);
    rw_buf_puts(&big, "{\"ruleset\": \"big\", \"version\": \"v9\", \"rules\": [");
    for (int i = 0; i < 2000; i++)
        rw_buf_printf(&big,
                      "%s{\"id\": \"r%d\", \"module\": \"value\", \"params\": {\"field\": "
                      "\"amount\"}, \"thresholds\": {\"low\": 1}}",
                      i ? "," : "", i);
    rw_buf_puts(&big, "]}");
    control_send(p.mock.bootstraps, "load", rw_buf_cstr(&big), k.a, "a"); /* over max_rules */
    rw_buf_fini(&big);
    size_t len;
    rw_error_t err;
    rw_error_clear(&err);
    char *rules = rw_file_read(RULES, &len, &err);
    ck_assert_ptr_nonnull(rules);
    const char *at = strstr(rules, "\"version\": \"2026-11-27.1\"");
    ck_assert_ptr_nonnull(at);
    char text[3][16384];
    const char *versions[3] = {"v5", "v4", "v5"};
    for (int i = 0; i < 3; i++) {
        snprintf(text[i], sizeof(text[i]), "%.*s\"version\": \"%s\"%s", (int)(at - rules), rules,
                 versions[i], at + strlen("\"version\": \"2026-11-27.1\""));
        control_send(p.mock.bootstraps, "load", text[i], k.a, "a");
    }
    free(rules);
    h_expect_t e; /* alerts name their ruleset's version: those of v5 */
    ck_assert_int_eq(h_expect_replay(h_tmpfile(".json", text[0]), EVENTS, &e), 0);

    audit_want_t refused = {.brokers = p.mock.bootstraps, .action = "refused", .min = 7};
    ck_assert_msg(h_wait(audit_seen, &refused, 30000), "refusals not audited");
    static const char *const why[][2] = {
        {"unsigned", ""},
        {"bad signature", "a"},
        {"not in rulesets.keys_file", "b"},
        {"2000 rules, over the limit of 500", "a"},
        {"\"v4\" is not newer than \"v5\"", "a"},
        {"\"v5\" is not newer than \"v5\"", "a"},
    };
    for (size_t i = 0; i < sizeof(why) / sizeof(*why); i++) {
        audit_want_t w = {.brokers = p.mock.bootstraps, .action = "refused", .min = 1};
        w.error = why[i][0];
        w.key_id = why[i][1];
        ck_assert_msg(audit_count(&w) >= 1, "no refusal for \"%s\"", why[i][0]);
    }
    audit_want_t v5 = {.brokers = p.mock.bootstraps,
                       .action = "loaded",
                       .source = "topic",
                       .version = "v5",
                       .min = 1};
    v5.key_id = "a";
    ck_assert_uint_eq(audit_count(&v5), 1);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);

    /* A restart reads the control topic again, with the same checks. */
    eng = h_engine_start(cfg, log);
    v5.min = 2;
    ck_assert_msg(h_wait(audit_seen, &v5, 30000), "the restarted engine does not run v5");
    static const char *const never[] = {"2026-11-27.3", "v9", "v4"};
    for (size_t i = 0; i < 3; i++) {
        audit_want_t w = {.brokers = p.mock.bootstraps, .action = "loaded", .version = never[i]};
        ck_assert_uint_eq(audit_count(&w), 0);
    }
    alerts_as_replay(&p, &e);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

typedef struct log_want {
    const char *path, *text;
} log_want_t;

static bool log_seen(void *arg) {
    const log_want_t *w = arg;
    return h_file_has(w->path, w->text);
}

static size_t body_add(char *data, size_t size, size_t n, void *arg) {
    rw_buf_append(arg, data, size * n);
    return size * n;
}

/* GET http://127.0.0.1:port/path: the status, and the body in out (freed by the caller). */
static long http_get(int port, const char *path, rw_buf_t *out) {
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    rw_buf_init(out);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_add);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    rw_buf_cstr(out);
    return code;
}

typedef struct http_want {
    int port;
    const char *path, *text;
    long status;    /* 0: any */
    char last[200]; /* the last answer seen, for a failure's message */
} http_want_t;

static bool http_seen(void *arg) {
    http_want_t *w = arg;
    rw_buf_t b;
    long code = http_get(w->port, w->path, &b);
    bool ok = (!w->status || code == w->status) && strstr(b.data, w->text);
    snprintf(w->last, sizeof(w->last), "%ld %s", code, b.data);
    rw_buf_fini(&b);
    return ok;
}

/* The engines of a group run one ruleset whichever way it changes: a push
 * reaches both; a SIGHUP on an engine without a signing key is refused with
 * how to publish the file; a SIGHUP on one with a key publishes it, and both
 * take it; an engine started later takes it too, and each exports it. An
 * engine that cannot take the group's ruleset (no keys) runs another: it and
 * the others say so in their logs and /healthz until it stops. */
START_TEST(test_lifecycle_group_runs_one_ruleset) {
    h_peers_t p;
    h_peers_start(&p);
    keys_t k;
    keys_make(&k);
    char rules[128], cfg[4][256], logs[4][256], rs[4][1024];
    snprintf(rules, sizeof(rules), "%s", copy_file(RULES, NULL, NULL));
    int port[4];
    for (int i = 0; i < 4; i++) {
        port[i] = rw_proc_free_port();
        snprintf(logs[i], sizeof(logs[i]), "%s/group-%c.log", h_dir(), 'a' + i);
    }
    /* a signs (SIGHUP publishes); b and c only verify; d has no keys. */
    snprintf(rs[0], sizeof(rs[0]),
             "{\"keys_file\": \"%s\", \"signing_key_file\": \"%s\", \"heartbeat_ms\": 300}", k.file,
             k.a);
    snprintf(rs[1], sizeof(rs[1]), "{\"keys_file\": \"%s\", \"heartbeat_ms\": 300}", k.file);
    snprintf(rs[2], sizeof(rs[2]), "%s", rs[1]);
    snprintf(rs[3], sizeof(rs[3]), "{\"heartbeat_ms\": 300}");
    for (int i = 0; i < 4; i++)
        snprintf(cfg[i], sizeof(cfg[i]), "%s",
                 config_with(p.mock.bootstraps, p.redis.port, i == 3 ? RULES : rules, "lc-group",
                             rs[i], port[i]));
    pid_t eng[4];
    eng[0] = h_engine_start(cfg[0], logs[0]);
    eng[1] = h_engine_start(cfg[1], logs[1]);
    audit_want_t w = {.brokers = p.mock.bootstraps, .action = "loaded", .source = "file", .min = 2};
    ck_assert_msg(h_wait(audit_seen, &w, 30000), "engines did not start");

    /* A push reaches both. */
    char v2[128], out[4096];
    snprintf(v2, sizeof(v2), "%s",
             copy_file(RULES, "\"version\": \"2026-11-27.1\"", "\"version\": \"v2\""));
    const char *push[] = {"rules", "push", v2,         "--brokers", p.mock.bootstraps,
                          "--key", k.a,    "--key-id", "a",         NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), push), 0);
    w = (audit_want_t){.brokers = p.mock.bootstraps,
                       .action = "loaded",
                       .source = "topic",
                       .version = "v2",
                       .min = 2};
    ck_assert_msg(h_wait(audit_seen, &w, 30000), "the push did not reach both engines");

    /* The shared rules file becomes v3. SIGHUP on b: refused, b stays on v2. */
    FILE *f = fopen(rules, "w");
    size_t len;
    rw_error_t err;
    rw_error_clear(&err);
    char *v3 = rw_file_read(
        copy_file(RULES, "\"version\": \"2026-11-27.1\"", "\"version\": \"v3\""), &len, &err);
    fwrite(v3, 1, len, f);
    fclose(f);
    free(v3);
    kill(eng[1], SIGHUP);
    w = (audit_want_t){.brokers = p.mock.bootstraps,
                       .action = "refused",
                       .source = "file",
                       .version = "v3",
                       .min = 1,
                       .error = "riskwarn rules push"};
    ck_assert_msg(h_wait(audit_seen, &w, 30000), "the SIGHUP on b was not refused");
    /* SIGHUP on a: published, and both take it. */
    kill(eng[0], SIGHUP);
    w = (audit_want_t){.brokers = p.mock.bootstraps,
                       .action = "loaded",
                       .source = "topic",
                       .version = "v3",
                       .min = 2,
                       .key_id = "a"};
    ck_assert_msg(h_wait(audit_seen, &w, 30000), "the SIGHUP on a did not reach both engines");
    audit_count(&w);
    ck_assert_uint_eq(w.engines, 2);
    /* c starts later and takes v3 from the control topic. */
    eng[2] = h_engine_start(cfg[2], logs[2]);
    w.min = 3;
    ck_assert_msg(h_wait(audit_seen, &w, 30000), "c does not run v3");
    char info[300];
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *v3rs = rw_ruleset_load_file(rules, &errs);
    ck_assert_ptr_nonnull(v3rs);
    snprintf(info, sizeof(info),
             "riskwarn_ruleset_info{target=\"live\",ruleset=\"test-windows\",version=\"v3\","
             "sha256=\"%s\"} 1",
             v3rs->sha256);
    rw_ruleset_destroy(v3rs);
    rw_errors_fini(&errs);
    for (int i = 0; i < 3; i++) {
        http_want_t hw = {port[i], "/metrics", info, 200, ""};
        ck_assert_msg(h_wait(http_seen, &hw, 10000), "engine %c does not export v3", 'a' + i);
        hw = (http_want_t){port[i], "/healthz", "ok", 200, ""};
        ck_assert_msg(http_seen(&hw), "engine %c is not healthy: %s", 'a' + i, hw.last);
    }

    /* d cannot take the group's ruleset: it runs its file, and everyone says so. */
    eng[3] = h_engine_start(cfg[3], logs[3]);
    log_want_t lw = {logs[3], "disagrees on the live ruleset"};
    ck_assert_msg(h_wait(log_seen, &lw, 30000), "d does not find the disagreement");
    http_want_t hw = {port[3], "/healthz", "disagrees on the live ruleset", 503, ""};
    ck_assert_msg(h_wait(http_seen, &hw, 10000), "d's /healthz does not report it: %s", hw.last);
    hw = (http_want_t){port[3], "/metrics", "riskwarn_ruleset_group_disagreeing 3", 200, ""};
    ck_assert_msg(h_wait(http_seen, &hw, 10000), "d does not count the 3 others");
    lw.path = logs[0];
    ck_assert_msg(h_wait(log_seen, &lw, 30000), "a does not find the disagreement");
    ck_assert_int_eq(h_engine_stop(eng[3], SIGTERM, 30000), 0);
    lw.text = "agrees on the live ruleset again";
    ck_assert_msg(h_wait(log_seen, &lw, 30000), "a does not see the group agree again");
    /* d's leaving rebalances the group: a may hold no partitions for a while. */
    hw = (http_want_t){port[0], "/healthz", "ok", 200, ""};
    ck_assert_msg(h_wait(http_seen, &hw, 30000), "a is not healthy again: %s", hw.last);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(h_engine_stop(eng[i], SIGTERM, 30000), 0);
    h_peers_stop(&p);
}
END_TEST

static Suite *lifecycle_suite(void) {
    Suite *s = suite_create("lifecycle");
    TCase *tc = tcase_create("rules");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_lifecycle_push_under_load_loses_and_duplicates_nothing);
    tcase_add_test(tc, test_lifecycle_refused_rulesets_change_nothing);
    tcase_add_test(tc, test_lifecycle_push_reaches_two_engines);
    tcase_add_test(tc, test_lifecycle_shadow_never_reaches_live_topics);
    tcase_add_test(tc, test_lifecycle_bad_pushes_refused_also_after_restart);
    tcase_add_test(tc, test_lifecycle_group_runs_one_ruleset);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(lifecycle_suite); }

/* Rule lifecycle against the mock cluster and redis-server: hot reload under
 * load, refused rulesets, audit records, pushes to a group, shadow rulesets. */
#include "harness.h"

#include <check.h>
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

/* Audit records matching action / target / source / version (NULL: any). */
typedef struct audit_want {
    const char *brokers, *action, *target, *source, *version;
    size_t min;
    size_t engines; /* distinct "engine" values seen */
} audit_want_t;

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

/* Splits the events file in two halves. */
static void halves(char first[128], char second[128]) {
    FILE *f = fopen(EVENTS, "r");
    ck_assert_ptr_nonnull(f);
    char line[8192];
    long total = 0;
    while (fgets(line, sizeof(line), f))
        total++;
    rewind(f);
    snprintf(first, 128, "%s", h_tmpfile(".jsonl", ""));
    snprintf(second, 128, "%s", h_tmpfile(".jsonl", ""));
    FILE *a = fopen(first, "w"), *b = fopen(second, "w");
    for (long k = 0; fgets(line, sizeof(line), f); k++)
        fputs(line, k < total / 2 ? a : b);
    fclose(a);
    fclose(b);
    fclose(f);
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
    char v2_path[128], first[128], second[128];
    snprintf(v2_path, sizeof(v2_path), "%s", v2);
    halves(first, second);
    const char *cfg = h_engine_config(p.mock.bootstraps, p.redis.port, RULES, "lc-push");
    pid_t eng =
        h_engine_start(cfg, h_path("lifecycle_push_under_load_loses_and_duplicates_nothing.log"));
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n1 = h_produce_events(prod, first);
    h_progress_t pr = {p.rc, n1};
    ck_assert(h_wait(h_all_counted, &pr, 60000));

    char out[4096];
    const char *push[] = {"rules", "push", v2_path, "--brokers", p.mock.bootstraps, NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), push), 0);
    audit_want_t w = {p.mock.bootstraps, "loaded", "live", "topic", "v2", 1, 0};
    ck_assert_msg(h_wait(audit_seen, &w, 30000), "no audit record of the push");

    long n2 = h_produce_events(prod, second);
    rd_kafka_destroy(prod);
    pr.want = n1 + n2;
    ck_assert(h_wait(h_all_counted, &pr, 60000));
    ck_assert_int_eq(h_hsum(p.rc, "{rw}:events:*"), n1 + n2);

    long long total = e.alerts[1] + e.alerts[2] + e.alerts[3];
    h_msgs_t alerts = {0};
    h_consume_all(p.mock.bootstraps, "risk.alerts", (size_t)total, 500, 30000, &alerts);
    ck_assert_int_eq(alerts.n, total);
    size_t v1 = 0, vv2 = 0;
    for (size_t i = 0; i < alerts.n; i++) {
        v1 += strstr(alerts.m[i].value, "\"ruleset_version\":\"2026-11-27.1\"") != NULL;
        vv2 += strstr(alerts.m[i].value, "\"ruleset_version\":\"v2\"") != NULL;
    }
    ck_assert_int_gt(v1, 0);
    ck_assert_int_gt(vv2, 0);
    ck_assert_int_eq(v1 + vv2, total);
    /* Same events and levels as one replay: nothing lost, nothing twice. */
    char **got;
    size_t ng = alert_events(&alerts, &got, NULL);
    ck_assert_int_eq(ng, e.n_event_levels);
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
    const char *cfg = h_engine_config(p.mock.bootstraps, p.redis.port, rules, "lc-refuse");
    pid_t eng = h_engine_start(cfg, h_path("lifecycle_refused_rulesets_change_nothing.log"));
    audit_want_t up = {p.mock.bootstraps, "loaded", "live", "file", NULL, 1, 0};
    ck_assert_msg(h_wait(audit_seen, &up, 30000), "engine did not start");

    /* The file breaks; SIGHUP. */
    FILE *f = fopen(rules, "w");
    fputs("{\"ruleset\": \"test-windows\", \"version\": \"broken\", \"rules\": [\n"
          "  {\"id\": \"x\", \"module\": \"nope\", \"thresholds\": {\"low\": 1}}]}\n",
          f);
    fclose(f);
    kill(eng, SIGHUP);
    /* An invalid ruleset arrives on the control topic, past the CLI's check. */
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    const char *bad = "{\"ruleset\": \"test-windows\", \"version\": \"bad2\", \"rules\": 7}";
    ck_assert_int_eq(h_produce(prod, "risk.rules", 0, NULL, bad, strlen(bad)), 0);
    rd_kafka_flush(prod, 5000);
    audit_want_t w = {p.mock.bootstraps, "refused", "live", NULL, NULL, 2, 0};
    ck_assert_msg(h_wait(audit_seen, &w, 30000), "refusals not audited");
    w.source = "file";
    w.version = "broken";
    w.min = 1;
    ck_assert_int_eq(audit_count(&w), 1);
    w.source = "topic";
    w.version = "bad2";
    ck_assert_int_eq(audit_count(&w), 1);

    long n = h_produce_events(prod, EVENTS);
    rd_kafka_destroy(prod);
    h_progress_t pr = {p.rc, n};
    ck_assert(h_wait(h_all_counted, &pr, 60000));
    long long total = e.alerts[1] + e.alerts[2] + e.alerts[3];
    h_msgs_t alerts = {0};
    h_consume_all(p.mock.bootstraps, "risk.alerts", (size_t)total, 500, 30000, &alerts);
    h_assert_alert_ids(&alerts, &e);
    h_assert_counters(p.rc, &e);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_msgs_free(&alerts);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

/* One push reaches both engines of a group. */
START_TEST(test_lifecycle_push_reaches_two_engines) {
    h_peers_t p;
    h_peers_start(&p);
    const char *cfg = h_engine_config(p.mock.bootstraps, p.redis.port, RULES, "lc-two");
    char cfg_path[128];
    snprintf(cfg_path, sizeof(cfg_path), "%s", cfg);
    pid_t a = h_engine_start(cfg_path, h_path("lifecycle_push_reaches_two_engines.log"));
    pid_t b = h_engine_start(cfg_path, h_path("lifecycle_push_reaches_two_engines.log"));
    audit_want_t up = {p.mock.bootstraps, "loaded", "live", "file", NULL, 2, 0};
    ck_assert_msg(h_wait(audit_seen, &up, 30000), "engines did not start");
    const char *v3 = copy_file(RULES, "\"version\": \"2026-11-27.1\"", "\"version\": \"v3\"");
    char out[4096];
    const char *push[] = {"rules", "push", v3, "--brokers", p.mock.bootstraps, NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), push), 0);
    audit_want_t w = {p.mock.bootstraps, "loaded", "live", "topic", "v3", 2, 0};
    ck_assert_msg(h_wait(audit_seen, &w, 30000), "the push did not reach both engines");
    audit_count(&w);
    ck_assert_int_eq(w.engines, 2);
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
    const char *cfg = h_engine_config(p.mock.bootstraps, p.redis.port, RULES, "lc-shadow");
    pid_t eng = h_engine_start(cfg, h_path("lifecycle_shadow_never_reaches_live_topics.log"));
    char out[4096];
    const char *push[] = {"rules", "push", PACK, "--shadow", "--brokers", p.mock.bootstraps, NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), push), 0);
    audit_want_t w = {p.mock.bootstraps, "loaded", "shadow", "topic", NULL, 1, 0};
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
    ck_assert_int_eq(live.n, total);
    char **ids;
    size_t nids = alert_events(&live, &ids, "test-windows");
    h_ids_free(ids, nids);
    h_consume_all(p.mock.bootstraps, "risk.alerts.high", (size_t)e.alerts[3], 500, 30000, &high);
    ck_assert_int_eq(high.n, e.alerts[3]);
    nids = alert_events(&high, &ids, "test-windows");
    h_ids_free(ids, nids);
    h_assert_counters(p.rc, &e);
    /* Shadow: its own topic and counters. */
    h_consume_all(p.mock.bootstraps, "risk.alerts.shadow", 1, 500, 30000, &shadow);
    ck_assert_int_gt(shadow.n, 0);
    nids = alert_events(&shadow, &ids, "retail-default");
    h_ids_free(ids, nids);
    ck_assert_int_eq(h_hsum(p.rc, "{rw:shadow}:events:*"), n);
    ck_assert_int_gt(h_hsum(p.rc, "{rw:shadow}:alerts:*"), 0);

    const char *promote[] = {"rules", "promote", "--brokers", p.mock.bootstraps, NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), promote), 0);
    audit_want_t pw = {p.mock.bootstraps, "loaded", "live", "topic", "2026-11-27.2", 1, 0};
    ck_assert_msg(h_wait(audit_seen, &pw, 30000), "promotion not audited");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_msgs_free(&live);
    h_msgs_free(&high);
    h_msgs_free(&shadow);
    h_expect_free(&e);
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
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(lifecycle_suite); }

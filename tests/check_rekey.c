/* Input not keyed by entity, re-keyed through an internal topic (engine/rekey.h): the
 * events of accounts produced without a key over three partitions give the alerts,
 * counters and windows of their replay with "rekey", and other alerts without it. */
#include "harness.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUT "events.unkeyed"
#define INTERNAL "risk.rekeyed.transactions"
#define ACCOUNTS 2
#define PER_ACCOUNT 15

/* Counts and sums over 10 minutes, keyed by account: every level depends on which of an
 * account's events a window holds when an event is evaluated. */
static const char *rules(void) {
    return h_tmpfile(".json",
                     "{\"ruleset\": \"rekey-test\", \"version\": \"1\",\n"
                     " \"rules\": [\n"
                     "  {\"id\": \"count-10m\", \"module\": \"window_count\",\n"
                     "   \"match\": {\"type\": \"transaction\"}, \"key\": \"account\",\n"
                     "   \"params\": {\"window\": \"10m\"},\n"
                     "   \"thresholds\": {\"low\": 3, \"medium\": 5, \"high\": 8}},\n"
                     "  {\"id\": \"sum-10m\", \"module\": \"window_sum\",\n"
                     "   \"match\": {\"type\": \"transaction\"}, \"key\": \"account\",\n"
                     "   \"params\": {\"window\": \"10m\", \"field\": \"amount\"},\n"
                     "   \"thresholds\": {\"low\": 3000, \"medium\": 6000, \"high\": 9000}}]}\n");
}

/* The events, in time order: ACCOUNTS accounts, one transaction a minute each. */
static char lines[ACCOUNTS * PER_ACCOUNT][400];

static const char *events(void) {
    static char all[sizeof(lines) + 64];
    size_t o = 0;
    for (int i = 0; i < PER_ACCOUNT; i++)
        for (int a = 0; a < ACCOUNTS; a++) {
            char *l = lines[i * ACCOUNTS + a];
            snprintf(
                l, sizeof(lines[0]),
                "{\"event_id\": \"tx-%d-%02d\", \"type\": \"transaction\", "
                "\"ts\": \"2026-11-27T04:%02d:%02d.000Z\", \"account\": \"62220202001122%02d\", "
                "\"amount\": %d, \"direction\": \"out\"}",
                a, i, 10 + i, 7 * a, 33 + a, 500 + 100 * ((i * 7) % 5));
            o += (size_t)snprintf(all + o, sizeof(all) - o, "%s\n", l);
        }
    return h_tmpfile(".jsonl", all);
}

/* The peers, with the unkeyed input topic's three partitions on one broker so that the
 * engine reads them in one fetch: a batch then holds every partition's events, each
 * partition's in a run of its own, which is what re-keying must put in order. */
static void peers(h_peers_t *p) {
    rw_error_t err;
    rw_error_clear(&err);
    h_peers_start(p);
    ck_assert_msg(rw_mock_topic(&p->mock, INPUT ":3", &err) == 0, "%s", err.text);
    ck_assert_msg(rw_mock_topic(&p->mock, INTERNAL ":3", &err) == 0, "%s", err.text);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(rd_kafka_mock_partition_set_leader(p->mock.cluster, INPUT, i, 1), 0);
    /* Without a key, round robin over the partitions: one account's events are spread over
     * all three, each partition in time order. */
    rd_kafka_t *prod = h_producer(p->mock.bootstraps);
    for (size_t i = 0; i < ACCOUNTS * PER_ACCOUNT; i++)
        ck_assert_int_eq(h_produce(prod, INPUT, (int32_t)(i % 3), NULL, lines[i], strlen(lines[i])),
                         0);
    ck_assert_int_eq(rd_kafka_flush(prod, 10000), 0);
    rd_kafka_destroy(prod);
}

static const char *config(const h_peers_t *p, const char *rules_path, const char *group,
                          const char *prefix, const char *alerts, const char *rekey) {
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"%s\", \"input_topics\": "
             "[\"" INPUT "\"],\n"
             "   \"alert_topic\": \"%s\", \"high_alert_topic\": \"%s.high\",\n"
             "   \"properties\": {\"session.timeout.ms\": 6000, \"heartbeat.interval.ms\": 500}},\n"
             " \"redis\": {\"host\": \"127.0.0.1\", \"port\": %d, \"key_prefix\": \"%s\"},\n"
             " \"metrics_listen\": null,\n"
             " \"rules\": \"%s\"%s%s}\n",
             p->mock.bootstraps, group, alerts, alerts, p->redis.port, prefix, rules_path,
             rekey ? ",\n \"rekey\": " : "", rekey ? rekey : "");
    return h_tmpfile(".json", text);
}

typedef struct counted {
    redisContext *rc;
    const char *pattern;
    long long want;
    const char *log; /* with reread: the engine's log */
    long long reread;
} counted_t;

/* The messages the engine's log says it found applied before ("N messages read again"). */
static long long log_reread(const char *log) {
    FILE *f = fopen(log, "r");
    char line[4096];
    long long n = 0;
    while (f && fgets(line, sizeof(line), f)) {
        const char *at = strstr(line, "live: ");
        long long k;
        if (at && sscanf(at, "live: %lld messages read again", &k) == 1)
            n += k;
    }
    if (f)
        fclose(f);
    return n;
}

static bool all_counted(void *arg) {
    counted_t *c = arg;
    return h_hsum(c->rc, c->pattern) >= c->want && (!c->reread || log_reread(c->log) >= c->reread);
}

/* Runs one engine until it counted every event (and, with reread, found that many messages
 * applied before); returns the alerts it published. */
static void run_engine_until(h_peers_t *p, const char *cfg, const char *log, long long reread,
                             const char *alerts, long long n_alerts_min, h_msgs_t *out) {
    const char *pattern = "{rw}:events:*";
    pid_t pid = h_engine_start(cfg, log);
    counted_t c = {p->rc, pattern, ACCOUNTS * PER_ACCOUNT, log, reread};
    ck_assert_msg(h_wait(all_counted, &c, 60000),
                  "%s: not every event counted (%lld of %d), or not %lld read again (%lld)", log,
                  h_hsum(p->rc, pattern), ACCOUNTS * PER_ACCOUNT, reread, log_reread(log));
    ck_assert_int_eq(h_engine_stop(pid, SIGTERM, 30000), 0);
    h_consume_all(p->mock.bootstraps, alerts, (size_t)n_alerts_min, 500, 10000, out);
}

static void run_engine(h_peers_t *p, const char *cfg, const char *log, const char *alerts,
                       long long n_alerts_min, h_msgs_t *out) {
    run_engine_until(p, cfg, log, 0, alerts, n_alerts_min, out);
}

/* One test's set-up: the peers with the events produced, their replay, and the config of
 * an engine (re-keying with rekey, else not). */
typedef struct fixture {
    h_peers_t p;
    h_expect_t e;
    char rules[256], cfg[256];
} fixture_t;

static void fixture_start(fixture_t *f, const char *group, bool rekey) {
    const char *ev = events();
    peers(&f->p);
    snprintf(f->rules, sizeof(f->rules), "%s", rules());
    ck_assert_int_eq(h_expect_replay(f->rules, ev, &f->e), 0);
    ck_assert_int_eq(f->e.events, ACCOUNTS * PER_ACCOUNT);
    ck_assert_int_gt(f->e.alerts[3], 0);
    /* A batch waits for every partition with messages (not only the default 500 ms),
     * so the merge by time does not depend on how busy the machine is. */
    char route[160];
    snprintf(route, sizeof(route),
             "{\"field\": \"account\", \"topic\": \"" INTERNAL "\", \"max_idle_ms\": %d}",
             h_ms(30000));
    snprintf(f->cfg, sizeof(f->cfg), "%s",
             config(&f->p, f->rules, group, "rw:", "risk.alerts", rekey ? route : NULL));
}

static void fixture_stop(fixture_t *f) {
    h_expect_free(&f->e);
    h_peers_stop(&f->p);
}

START_TEST(test_rekey_same_as_replay) {
    fixture_t f;
    fixture_start(&f, "rk", true);
    h_peers_t *p = &f.p;
    h_msgs_t alerts = {0};
    run_engine(p, f.cfg, h_path("rekey.log"), "risk.alerts", (long long)f.e.n_alert_ids, &alerts);
    h_assert_alert_ids(&alerts, &f.e);
    h_assert_counters(p->rc, &f.e);
    h_assert_ttls(p->rc);
    /* The internal topic: every event once, keyed by its account's pseudonym (no account
     * number in it), one partition an account, each account's events in time order. */
    h_msgs_t in = {0};
    h_consume_all(p->mock.bootstraps, INTERNAL, ACCOUNTS * PER_ACCOUNT, 500, 10000, &in);
    ck_assert_uint_eq(in.n, ACCOUNTS * PER_ACCOUNT);
    for (size_t i = 0; i < in.n; i++) {
        ck_assert_msg(in.m[i].key && strlen(in.m[i].key) == 32, "a copy's key is not a pseudonym");
        ck_assert_ptr_null(strstr(in.m[i].key, "6222"));
        ck_assert_str_eq(in.m[i].hdr[1], INPUT); /* rw.topic: where it came from */
        for (size_t j = 0; j < i; j++) {
            if (strcmp(in.m[j].key, in.m[i].key) != 0)
                continue;
            ck_assert_int_eq(in.m[j].partition, in.m[i].partition);
            const char *tj = strstr(in.m[j].value, "\"ts\""), *ti = strstr(in.m[i].value, "\"ts\"");
            if (in.m[j].offset < in.m[i].offset)
                ck_assert_msg(strncmp(tj, ti, 36) < 0, "out of time order: %s before %s",
                              in.m[j].value, in.m[i].value);
        }
    }
    h_msgs_free(&in);
    h_msgs_free(&alerts);
    /* check --connect names the internal topic beside the input. */
    char out[8192];
    const char *args[] = {"check", "-c", f.cfg, "--connect", NULL};
    h_run(out, sizeof(out), args);
    ck_assert_msg(strstr(out, INTERNAL) && strstr(out, "3 partitions   re-keyed input (rekey) of "
                                                       "every input topic, by account"),
                  "%s", out);
    fixture_stop(&f);
}
END_TEST

/* The forwarder dies once its copies are acknowledged and before it commits their input
 * offsets; the engine that takes over produces every copy again. The internal topic then
 * holds each event twice, and the fences by input offset take each once: the replay's
 * alerts, counters and windows. */
START_TEST(test_rekey_forwarder_killed) {
    fixture_t f;
    fixture_start(&f, "rk", true);
    h_peers_t *p = &f.p;
    pid_t dead = h_engine_start_env(f.cfg, h_path("rekey-dies.log"), "RW_TEST_DIE=after-rekey:1");
    ck_assert_int_eq(h_engine_wait(dead, 60000), 137);
    ck_assert_int_eq(h_hsum(p->rc, "{rw}:events:*"), 0);
    h_msgs_t alerts = {0}, in = {0};
    /* It reads the dead forwarder's copies and its own: each event twice. */
    run_engine_until(p, f.cfg, h_path("rekey-after.log"), ACCOUNTS * PER_ACCOUNT, "risk.alerts",
                     (long long)f.e.n_alert_ids, &alerts);
    h_consume_all(p->mock.bootstraps, INTERNAL, 2 * ACCOUNTS * PER_ACCOUNT, 500, 10000, &in);
    ck_assert_uint_ge(in.n, 2 * ACCOUNTS * PER_ACCOUNT);
    ck_assert_int_eq(h_hsum(p->rc, "{rw}:events:*"), ACCOUNTS * PER_ACCOUNT);
    h_assert_alert_ids(&alerts, &f.e);
    h_assert_counters(p->rc, &f.e);
    h_msgs_free(&in);
    h_msgs_free(&alerts);
    fixture_stop(&f);
}
END_TEST

/* Without "rekey" the same engine on the same input gives other alerts: the test above
 * would see an engine that does not re-key. */
START_TEST(test_without_rekey_differs) {
    fixture_t f;
    fixture_start(&f, "nr", false);
    const h_expect_t *e = &f.e;
    h_msgs_t alerts = {0};
    run_engine(&f.p, f.cfg, h_path("norekey.log"), "risk.alerts", 1, &alerts);
    char **ids;
    size_t n = h_alert_ids(&alerts, &ids);
    bool same = n == e->n_alert_ids;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(ids[i], e->alert_ids[i]) == 0;
    ck_assert_msg(!same, "unkeyed input without rekey gave the replay's %zu alerts", n);
    h_ids_free(ids, n);
    h_msgs_free(&alerts);
    fixture_stop(&f);
}
END_TEST

/* Bad "rekey" sections are refused at start-up, at their place in the file. */
START_TEST(test_rekey_config_errors) {
    static const struct {
        const char *rekey, *says;
    } bad[] = {
        {"{\"field\": \"account\"}", "\"topic\" is required"},
        {"{\"field\": \"account\", \"topic\": \"" INPUT "\"}", "is an input topic"},
        {"{\"field\": \"account\", \"topic\": \"risk.alerts\"}", "a topic the engine writes"},
        {"{\"field\": [], \"topic\": \"t\"}", "non-empty list"},
        {"{\"field\": \"account\", \"topic\": \"t\", \"input\": \"" INPUT "\"}", "unknown key"},
        {"[{\"input\": \"events.other\", \"field\": \"account\", \"topic\": \"t\"}]",
         "not one of kafka.input_topics"},
        {"[{\"input\": \"" INPUT "\", \"field\": \"a\", \"topic\": \"t\"}, {\"input\": \"" INPUT
         "\", \"field\": \"b\", \"topic\": \"u\"}]",
         "has a route already"},
        {"{\"field\": \"account\", \"topic\": \"t\", \"max_idle_ms\": -1}",
         "integer of milliseconds"},
        {"42", "must be an object"},
    };
    h_peers_t p = {0};
    snprintf(p.mock.bootstraps, sizeof(p.mock.bootstraps), "127.0.0.1:9");
    p.redis.port = 6379;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *cfg =
            config(&p, "tests/packs/windows.json", "g", "rw:", "risk.alerts", bad[i].rekey);
        char out[4096];
        const char *args[] = {"check", "-c", cfg, NULL};
        ck_assert_int_eq(h_run(out, sizeof(out), args), 2);
        ck_assert_msg(strstr(out, bad[i].says) && strstr(out, ".json:"), "%s: %s", bad[i].rekey,
                      out);
    }
    /* The copies of an input partition reach the internal topic in order only from an
     * idempotent producer. */
    const char *idem =
        h_tmpfile(".json", "{\"kafka\": {\"input_topics\": [\"" INPUT "\"],\n"
                           "  \"properties\": {\"enable.idempotence\": false}},\n"
                           " \"rules\": \"tests/packs/windows.json\",\n"
                           " \"rekey\": {\"field\": \"account\", \"topic\": \"t\"}}\n");
    char said[4096];
    const char *check_idem[] = {"check", "-c", idem, NULL};
    ck_assert_int_eq(h_run(said, sizeof(said), check_idem), 2);
    ck_assert_msg(strstr(said, "enable.idempotence: must be true with \"rekey\""), "%s", said);
    const char *good[] = {
        "{\"field\": [\"account\", \"customer_id\"], \"topic\": \"t\"}",
        "[{\"input\": \"" INPUT "\", \"field\": \"account\", \"topic\": \"t\"}]",
    };
    for (size_t i = 0; i < 2; i++) {
        const char *cfg =
            config(&p, "tests/packs/windows.json", "g", "rw:", "risk.alerts", good[i]);
        char out[4096];
        const char *args[] = {"check", "-c", cfg, NULL};
        ck_assert_msg(h_run(out, sizeof(out), args) == 0, "%s: %s", good[i], out);
    }
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("rekey");
    TCase *tc = tcase_create("rekey");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_rekey_config_errors);
    tcase_add_test(tc, test_rekey_same_as_replay);
    tcase_add_test(tc, test_rekey_forwarder_killed);
    tcase_add_test(tc, test_without_rekey_differs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(suite); }

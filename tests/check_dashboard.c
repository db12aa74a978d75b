/* For dashboards and responders: masking in every output, cool-down across two
 * engines, tail, stats, metrics and the webhook, against the mock cluster, a
 * real redis-server and a local HTTP receiver. */
#include "harness.h"

#include <check.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EVENTS "data/demo/events.jsonl"
#define RULES "tests/packs/windows.json"

/* Every raw value of a masked field in the events file (accounts, counterparties, ...). */
static size_t raw_values(char ***out) {
    static const char *const masked[] = {"account",     "counterparty", "id_number",
                                         "card_number", "phone",        NULL};
    FILE *f = fopen(EVENTS, "r");
    ck_assert_ptr_nonnull(f);
    char line[8192];
    char **v = NULL;
    size_t n = 0;
    while (fgets(line, sizeof(line), f)) {
        json_t *e = json_loads(line, 0, NULL);
        for (size_t i = 0; masked[i]; i++) {
            const char *s = json_string_value(json_object_get(e, masked[i]));
            if (s && strlen(s) > 10) {
                v = realloc(v, (n + 1) * sizeof(char *));
                v[n++] = strdup(s);
            }
        }
        json_decref(e);
    }
    fclose(f);
    *out = v;
    return n;
}

static void assert_no_raw(const char *what, const char *text, char **raw, size_t n) {
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(strstr(text, raw[i]) == NULL, "%s shows the raw value %s", what, raw[i]);
}

/* ---- a local HTTP receiver ---------------------------------------------------------------- */

typedef struct receiver {
    struct MHD_Daemon *d;
    int port;
    unsigned status; /* what it answers */
    pthread_mutex_t lock;
    rw_buf_t bodies; /* every body received, one a line */
    int count;
} receiver_t;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **state) {
    (void)url;
    (void)version;
    receiver_t *r = cls;
    if (*state == NULL) { /* first call: headers only */
        *state = r;
        return MHD_YES;
    }
    if (*size) {
        pthread_mutex_lock(&r->lock);
        rw_buf_append(&r->bodies, data, *size);
        pthread_mutex_unlock(&r->lock);
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&r->lock);
    rw_buf_append(&r->bodies, "\n", 1);
    r->count++;
    pthread_mutex_unlock(&r->lock);
    ck_assert_str_eq(method, "POST");
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void receiver_start(receiver_t *r, unsigned status) {
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    rw_buf_init(&r->bodies);
    r->status = status;
    r->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, r,
                            MHD_OPTION_END);
    ck_assert_ptr_nonnull(r->d);
    r->port = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static int receiver_count(receiver_t *r) {
    pthread_mutex_lock(&r->lock);
    int n = r->count;
    pthread_mutex_unlock(&r->lock);
    return n;
}

static void receiver_stop(receiver_t *r) {
    MHD_stop_daemon(r->d);
    rw_buf_fini(&r->bodies);
    pthread_mutex_destroy(&r->lock);
}

typedef struct at_least {
    receiver_t *r;
    int n;
} at_least_t;

static bool received(void *arg) {
    at_least_t *a = arg;
    return receiver_count(a->r) >= a->n;
}

/* ---- helpers --------------------------------------------------------------------------------- */

/* An engine config with metrics on a free port and an optional webhook. */
static const char *config_with(const h_peers_t *p, const char *rules, const char *group,
                               int metrics_port, const char *webhook) {
    char text[4096];
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"%s\",\n"
             "   \"properties\": {\"session.timeout.ms\": 6000, \"heartbeat.interval.ms\": 500}},\n"
             " \"redis\": {\"host\": \"127.0.0.1\", \"port\": %d},\n"
             " \"metrics_listen\": \"127.0.0.1:%d\",\n"
             " \"webhook\": %s,\n"
             " \"rules\": \"%s\"}\n",
             p->mock.bootstraps, group, p->redis.port, metrics_port, webhook ? webhook : "null",
             rules);
    return h_tmpfile(".json", text);
}

/* GET a local URL with libcurl's command-line sibling: the test only needs text. */
static char *http_get(int port, const char *path) {
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "curl -s -m 5 http://127.0.0.1:%d%s", port, path);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    rw_buf_t b;
    rw_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rw_buf_append(&b, chunk, n);
    pclose(f);
    rw_buf_cstr(&b);
    return b.data;
}

static double metric(const char *text, const char *series) {
    const char *at = strstr(text, series);
    while (at && at != text && at[-1] != '\n')
        at = strstr(at + 1, series);
    if (!at || at[strlen(series)] != ' ')
        return -1;
    return strtod(at + strlen(series) + 1, NULL);
}

/* ---- tests --------------------------------------------------------------------------------- */

/* One known run: alerts and counters of the replay; metrics, stats and tail
 * agree with them; no output shows a raw account or counterparty; the webhook
 * receives every high alert. */
START_TEST(test_dashboard_outputs_agree_and_mask) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    receiver_t rx;
    receiver_start(&rx, 200);
    char hook[200];
    snprintf(hook, sizeof(hook),
             "{\"url\": \"http://127.0.0.1:%d/page\", \"min_level\": \"high\", "
             "\"digest_after\": 1000}",
             rx.port); /* one POST an alert: no digests */
    int mport = rw_proc_free_port();
    const char *cfg = config_with(&p, RULES, "db-main", mport, hook);
    const char *log = h_path("dashboard_outputs_agree_and_mask.log");
    unlink(log);
    pid_t eng = h_engine_start(cfg, log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n = h_produce_events(prod, EVENTS);
    rd_kafka_destroy(prod);
    h_progress_t pr = {p.rc, n};
    ck_assert(h_wait(h_all_counted, &pr, 60000));
    at_least_t al = {&rx, (int)e.alerts[3]};
    ck_assert_msg(h_wait(received, &al, 30000), "webhook got %d of %lld high alerts",
                  receiver_count(&rx), e.alerts[3]);

    char **raw;
    size_t nraw = raw_values(&raw);
    ck_assert_uint_gt(nraw, 100);

    /* Metrics after the known run. */
    char *m = http_get(mport, "/metrics");
    ck_assert_msg(metric(m, "riskwarn_alerts_total{level=\"high\"}") == (double)e.alerts[3], "%s",
                  m);
    ck_assert(metric(m, "riskwarn_alerts_total{level=\"low\"}") == (double)e.alerts[1]);
    ck_assert(metric(m, "riskwarn_alerts_total{level=\"medium\"}") == (double)e.alerts[2]);
    double events = 0;
    for (const char *l = strstr(m, "\nriskwarn_events_total{"); l;
         l = strstr(l + 1, "\nriskwarn_events_total{"))
        events += strtod(strchr(l, ' ') + 1, NULL);
    ck_assert(events == (double)n);
    ck_assert(metric(m, "riskwarn_webhook_total{result=\"sent\"}") >= (double)e.alerts[3]);
    ck_assert_ptr_nonnull(
        strstr(m, "riskwarn_ruleset_info{target=\"live\",ruleset=\"test-windows\""));
    ck_assert_ptr_nonnull(strstr(m, "riskwarn_batch_seconds_count"));
    ck_assert_ptr_nonnull(strstr(m, "riskwarn_consumer_lag{topic=\"events.transactions\""));
    free(m);
    char *health = http_get(mport, "/healthz");
    ck_assert_str_eq(health, "ok\n");
    free(health);

    /* stats: the same numbers as the replay for the busiest day. */
    const char *busiest = NULL;
    long long most = -1;
    for (size_t i = 0; i < e.n_counters; i++)
        if (strncmp(e.counters[i].key, "alerts:", 7) == 0) {
            long long day = 0;
            for (size_t k = 0; k < e.n_counters; k++)
                if (strcmp(e.counters[k].key, e.counters[i].key) == 0)
                    day += e.counters[k].value;
            if (day > most) {
                most = day;
                busiest = e.counters[i].key + 7;
            }
        }
    ck_assert_ptr_nonnull(busiest);
    char redis[64], out[65536];
    snprintf(redis, sizeof(redis), "127.0.0.1:%d", p.redis.port);
    const char *stats[] = {"stats", "--redis", redis, "--date", busiest, NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), stats), 0);
    long long lo = 0, me = 0, hi = 0;
    char akey[64];
    snprintf(akey, sizeof(akey), "alerts:%s", busiest);
    for (size_t i = 0; i < e.n_counters; i++)
        if (strcmp(e.counters[i].key, akey) == 0) {
            lo += strcmp(e.counters[i].field, "low") == 0 ? e.counters[i].value : 0;
            me += strcmp(e.counters[i].field, "medium") == 0 ? e.counters[i].value : 0;
            hi += strcmp(e.counters[i].field, "high") == 0 ? e.counters[i].value : 0;
        }
    char want[200];
    snprintf(want, sizeof(want), "%8lld %8lld %8lld %8lld", lo, me, hi, lo + me + hi);
    ck_assert_msg(strstr(out, want) != NULL, "stats lacks \"%s\":\n%s", want, out);
    ck_assert_ptr_nonnull(strstr(out, "top rules"));
    ck_assert_ptr_nonnull(strstr(out, "events by type"));
    assert_no_raw("stats", out, raw, nraw);

    /* tail: one line an alert, no colour off a terminal, high only with --level. */
    const char *tail[] = {
        "tail", "--brokers", p.mock.bootstraps, "--from-beginning", "--until-end", "--level",
        "high", NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), tail), 0);
    long lines = 0;
    for (const char *c = out; (c = strchr(c, '\n')); c++)
        lines++;
    ck_assert_int_eq(lines, e.alerts[3]);
    ck_assert_msg(strstr(out, "\033[") == NULL, "colour codes off a terminal");
    ck_assert(strncmp(out, "HIGH ", 5) == 0);
    ck_assert_ptr_nonnull(strstr(out, "key="));
    assert_no_raw("tail", out, raw, nraw);
    const char *tailj[] = {
        "tail", "--brokers", p.mock.bootstraps, "--from-beginning", "--until-end", "--json", NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), tailj), 0);
    ck_assert(out[0] == '{');

    /* Every output: alerts, high alerts, audit, the webhook, the log. */
    static const char *const topics[] = {"risk.alerts", "risk.alerts.high", "risk.audit", NULL};
    for (size_t t = 0; topics[t]; t++) {
        h_msgs_t msgs = {0};
        h_consume_all(p.mock.bootstraps, topics[t], 1, 300, 20000, &msgs);
        ck_assert_uint_gt(msgs.n, 0);
        for (size_t i = 0; i < msgs.n; i++) {
            assert_no_raw(topics[t], msgs.m[i].value, raw, nraw);
            if (msgs.m[i].key)
                assert_no_raw("message key", msgs.m[i].key, raw, nraw);
        }
        h_msgs_free(&msgs);
    }
    pthread_mutex_lock(&rx.lock);
    assert_no_raw("webhook", rw_buf_cstr(&rx.bodies), raw, nraw);
    pthread_mutex_unlock(&rx.lock);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    size_t len;
    rw_error_t err;
    rw_error_clear(&err);
    char *logtext = rw_file_read(log, &len, &err);
    ck_assert_ptr_nonnull(logtext);
    assert_no_raw("log", logtext, raw, nraw);
    free(logtext);

    for (size_t i = 0; i < nraw; i++)
        free(raw[i]);
    free(raw);
    receiver_stop(&rx);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

/* A webhook that always fails never blocks the stream. */
START_TEST(test_dashboard_failing_webhook_does_not_block) {
    h_peers_t p;
    h_peers_start(&p);
    receiver_t rx;
    receiver_start(&rx, 500);
    char hook[200];
    snprintf(hook, sizeof(hook),
             "{\"url\": \"http://127.0.0.1:%d/page\", \"min_level\": \"low\", \"timeout_ms\": 200, "
             "\"retries\": 2}",
             rx.port);
    int mport = rw_proc_free_port();
    const char *cfg = config_with(&p, RULES, "db-hook", mport, hook);
    pid_t eng = h_engine_start(cfg, h_path("dashboard_failing_webhook_does_not_block.log"));
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n = h_produce_events(prod, EVENTS);
    rd_kafka_destroy(prod);
    h_progress_t pr = {p.rc, n};
    ck_assert_msg(h_wait(h_all_counted, &pr, 60000), "the stream stalled behind the webhook");
    at_least_t al = {&rx, 3};
    ck_assert(h_wait(received, &al, 30000));
    char *m = http_get(mport, "/metrics");
    ck_assert_msg(metric(m, "riskwarn_webhook_total{result=\"dropped\"}") > 0 ||
                      metric(m, "riskwarn_webhook_total{result=\"failed\"}") > 0,
                  "%s", m);
    free(m);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    receiver_stop(&rx);
    h_peers_stop(&p);
}
END_TEST

/* Cool-down state is shared through Redis: two engines own one partition each;
 * a hit on one engine holds back the same rule and key on the other, and a
 * higher level passes at once. */
START_TEST(test_dashboard_cooldown_across_two_engines) {
    h_peers_t p;
    h_peers_start(&p);
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(rw_mock_topic(&p.mock, "events.pair:2", &err) == 0, "%s", err.text);
    const char *rules = h_tmpfile(
        ".json",
        "{\"ruleset\": \"cd\", \"version\": \"1\", \"cooldown\": \"1h\", \"rules\": [\n"
        " {\"id\": \"big\", \"module\": \"value\", \"match\": {\"type\": \"transaction\"},\n"
        "  \"key\": \"account\", \"params\": {\"field\": \"amount\"},\n"
        "  \"thresholds\": {\"low\": 10, \"high\": 1000}}]}\n");
    char rules_path[128];
    snprintf(rules_path, sizeof(rules_path), "%s", rules);
    const char *cfg = h_engine_config_topics(p.mock.bootstraps, p.redis.port, rules_path, "db-cool",
                                             "[\"events.pair\"]");
    char cfg_path[128];
    snprintf(cfg_path, sizeof(cfg_path), "%s", cfg);
    pid_t a = h_engine_start(cfg_path, h_path("dashboard_cooldown_across_two_engines.log"));
    pid_t b = h_engine_start(cfg_path, h_path("dashboard_cooldown_across_two_engines.log"));
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    static const char *const ev[] = {
        "{\"event_id\": \"c1\", \"type\": \"transaction\", \"ts\": \"2026-11-27T10:00:00Z\", "
        "\"account\": \"6222020200112233445\", \"amount\": 50}",
        "{\"event_id\": \"c2\", \"type\": \"transaction\", \"ts\": \"2026-11-27T10:01:00Z\", "
        "\"account\": \"6222020200112233445\", \"amount\": 60}",
        "{\"event_id\": \"c3\", \"type\": \"transaction\", \"ts\": \"2026-11-27T10:02:00Z\", "
        "\"account\": \"6222020200112233445\", \"amount\": 5000}",
        "{\"event_id\": \"c4\", \"type\": \"transaction\", \"ts\": \"2026-11-27T10:03:00Z\", "
        "\"account\": \"6222020200112233445\", \"amount\": 70}"};
    for (int i = 0; i < 4; i++) {
        /* Alternate partitions, one event at a time: each waits for the last. */
        ck_assert_int_eq(h_produce(prod, "events.pair", i % 2, NULL, ev[i], strlen(ev[i])), 0);
        rd_kafka_flush(prod, 5000);
        h_progress_t pr = {p.rc, i + 1};
        ck_assert_msg(h_wait(h_all_counted, &pr, 60000), "event %d not processed", i + 1);
    }
    rd_kafka_destroy(prod);
    h_msgs_t alerts = {0};
    h_consume_all(p.mock.bootstraps, "risk.alerts", 2, 1000, 20000, &alerts);
    /* A rebalance may make an engine read a message again: its alert comes again
     * with the same alert_id (at least once). Distinct alerts, in order: c1, c3. */
    const char *distinct[2] = {NULL, NULL};
    size_t nd = 0;
    char first_id[40] = "";
    for (size_t i = 0; i < alerts.n; i++) {
        const char *id = strstr(alerts.m[i].value, "\"alert_id\":\"");
        ck_assert_ptr_nonnull(id);
        if (nd && strncmp(id, first_id, 39) == 0)
            continue; /* c1 published again */
        if (nd == 2 && strncmp(id, strstr(distinct[1], "\"alert_id\":\""), 39) == 0)
            continue; /* c3 published again */
        ck_assert_msg(nd < 2, "a third distinct alert: %s", alerts.m[i].value);
        if (nd == 0)
            snprintf(first_id, sizeof(first_id), "%.39s", id);
        distinct[nd++] = alerts.m[i].value;
    }
    ck_assert_uint_eq(nd, 2);
    ck_assert_ptr_nonnull(strstr(distinct[0], "\"event_id\":\"c1\""));
    ck_assert_ptr_nonnull(strstr(distinct[1], "\"event_id\":\"c3\""));
    /* The high alert says how many were held back before it. */
    ck_assert_ptr_nonnull(strstr(distinct[1], "\"suppressed\":1"));
    ck_assert_int_eq(h_hget(p.rc, "{rw}:suppressed:2026-11-27", "big"), 2);
    ck_assert_int_eq(h_engine_stop(a, SIGTERM, 30000), 0);
    ck_assert_int_eq(h_engine_stop(b, SIGTERM, 30000), 0);
    h_msgs_free(&alerts);
    h_peers_stop(&p);
}
END_TEST

/* ---- metrics from start-up --------------------------------------------------------------- */

/* Every sample's family has its HELP and TYPE lines. */
static void assert_help_and_type(const char *text) {
    for (const char *l = text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
        if (*l == '#' || *l == '\n')
            continue;
        char name[128];
        size_t n = strcspn(l, "{ \n");
        snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), l);
        static const char *const suffixes[] = {"_bucket", "_sum", "_count", NULL};
        char want[256];
        snprintf(want, sizeof(want), "# TYPE %s ", name);
        for (size_t i = 0; suffixes[i] && !strstr(text, want); i++) {
            size_t nl = strlen(name), sl = strlen(suffixes[i]);
            if (nl > sl && strcmp(name + nl - sl, suffixes[i]) == 0)
                snprintf(want, sizeof(want), "# TYPE %.*s histogram", (int)(nl - sl), name);
        }
        ck_assert_msg(strstr(text, want), "no TYPE for %s in:\n%s", name, text);
        memcpy(want + 2, "HELP", 4);
        *strrchr(want, ' ') = 0;
        ck_assert_msg(strstr(text, want), "no HELP for %s", name);
    }
}

/* The number of riskwarn_consumer_lag series of an engine; -1 when unreachable. */
static int lag_series(int port) {
    char *m = http_get(port, "/metrics");
    int n = m[0] ? 0 : -1;
    for (const char *l = strstr(m, "\nriskwarn_consumer_lag{"); l;
         l = strstr(l + 1, "\nriskwarn_consumer_lag{"))
        n++;
    free(m);
    return n;
}

typedef struct lag_split {
    int ports[2], want; /* the input partitions, all told */
} lag_split_t;

/* Both engines hold partitions, and their lag series add up to the partitions
 * there are: revoked ones are gone from the engine that had them. */
static bool lag_split(void *arg) {
    lag_split_t *l = arg;
    int a = lag_series(l->ports[0]), b = lag_series(l->ports[1]);
    return a > 0 && b > 0 && a + b == l->want;
}

typedef struct metric_wait {
    int port;
    const char *series;
    double want;
} metric_wait_t;

static bool metric_is(void *arg) {
    metric_wait_t *w = arg;
    char *m = http_get(w->port, "/metrics");
    bool ok = metric(m, w->series) == w->want;
    free(m);
    return ok;
}

static void wait_metric(int port, const char *series, double want, const char *what) {
    metric_wait_t w = {port, series, want};
    if (!h_wait(metric_is, &w, 30000)) {
        char *m = http_get(port, "/metrics");
        ck_abort_msg("%s: %s is not %g in:\n%s", what, series, want, m);
    }
}

/* Every metric has HELP and TYPE and exists from start-up; dead letters carry
 * their reason; the lag gauge reaches 0 on a timer once the input is read, and
 * follows the assignment when a second engine takes partitions; a refused
 * ruleset reload shows in riskwarn_config_last_reload_successful. */
START_TEST(test_dashboard_metrics_from_start) {
    h_peers_t p;
    h_peers_start(&p);
    char rules[256];
    rw_error_t err;
    rw_error_clear(&err);
    size_t len;
    char *pack = rw_file_read(RULES, &len, &err);
    ck_assert_ptr_nonnull(pack);
    snprintf(rules, sizeof(rules), "%s", h_tmpfile(".json", pack));
    int mport = rw_proc_free_port();
    pid_t eng = h_engine_start(config_with(&p, rules, "db-metrics", mport, NULL),
                               h_path("dashboard_metrics_a.log"));
    /* Before any event. */
    wait_metric(mport, "riskwarn_config_last_reload_successful", 1, "start-up");
    char *m = http_get(mport, "/metrics");
    assert_help_and_type(m);
    static const char *const zero[] = {
        "riskwarn_alerts_total{level=\"high\"}",
        "riskwarn_deadletters_total{reason=\"invalid_json\"}",
        "riskwarn_redis_errors_total",
        "riskwarn_kafka_errors_total",
        "riskwarn_state_evictions_total",
        "riskwarn_batch_seconds_count",
        "riskwarn_event_to_alert_seconds_count",
        "riskwarn_rule_hits_total{rule=\"velocity-1h\",level=\"high\"}",
        NULL};
    for (size_t i = 0; zero[i]; i++)
        ck_assert_msg(metric(m, zero[i]) == 0, "%s not 0 at start-up:\n%s", zero[i], m);
    char build[128];
    snprintf(build, sizeof(build), "riskwarn_build_info{version=\"%s\"", RW_VERSION);
    ck_assert_msg(strstr(m, build), "%s", m);
    ck_assert_msg(strstr(m, "# TYPE riskwarn_events_total counter"), "%s", m);
    free(m);

    /* Events, then the malformed messages: each reason counted. */
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n = h_produce_events(prod, EVENTS);
    long bad = h_produce_lines(prod, "data/demo/bad.jsonl", "events.transactions");
    h_progress_t pr = {p.rc, n + bad};
    ck_assert(h_wait(h_all_counted, &pr, 60000));
    FILE *f = fopen("data/demo/bad.jsonl", "r");
    char line[70000];
    long not_json = 0;
    while (fgets(line, sizeof(line), f)) {
        json_error_t je;
        json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &je);
        not_json += !j;
        json_decref(j);
    }
    fclose(f);
    ck_assert_int_gt(not_json, 0);
    wait_metric(mport, "riskwarn_deadletters_total{reason=\"invalid_json\"}", (double)not_json,
                "dead letters");
    m = http_get(mport, "/metrics");
    double dead = 0;
    for (const char *l = strstr(m, "\nriskwarn_deadletters_total{reason="); l;
         l = strstr(l + 1, "\nriskwarn_deadletters_total{reason="))
        dead += strtod(strchr(l, ' ') + 1, NULL);
    ck_assert_msg(dead == (double)bad, "%ld malformed messages:\n%s", bad, m);
    assert_help_and_type(m);
    free(m);
    /* Nothing left to read: every partition's lag is 0, without another batch. */
    wait_metric(mport, "riskwarn_consumer_lag{topic=\"events.transactions\",partition=\"3\"}", 0,
                "lag after the input");

    /* A second engine takes some partitions: the first drops their series. */
    int mport2 = rw_proc_free_port();
    pid_t eng2 = h_engine_start(config_with(&p, rules, "db-metrics", mport2, NULL),
                                h_path("dashboard_metrics_b.log"));
    lag_split_t ls = {{mport, mport2}, 5};
    ck_assert_msg(h_wait(lag_split, &ls, 60000), "lag series: %d and %d of 5", lag_series(mport),
                  lag_series(mport2));

    /* A refused reload, then a good one. */
    f = fopen(rules, "w");
    fputs("{\"ruleset\": \"broken\",", f);
    fclose(f);
    kill(eng, SIGHUP);
    wait_metric(mport, "riskwarn_config_last_reload_successful", 0, "refused reload");
    f = fopen(rules, "w");
    fwrite(pack, 1, len, f);
    fclose(f);
    kill(eng, SIGHUP);
    wait_metric(mport, "riskwarn_config_last_reload_successful", 1, "good reload");
    free(pack);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(h_engine_stop(eng2, SIGTERM, 30000), 0);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_peers_stop(&p);
}
END_TEST

static Suite *dashboard_suite(void) {
    Suite *s = suite_create("dashboard");
    TCase *tc = tcase_create("outputs");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_dashboard_outputs_agree_and_mask);
    tcase_add_test(tc, test_dashboard_failing_webhook_does_not_block);
    tcase_add_test(tc, test_dashboard_cooldown_across_two_engines);
    tcase_add_test(tc, test_dashboard_metrics_from_start);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(dashboard_suite); }

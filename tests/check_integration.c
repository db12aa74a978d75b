/* Integration tests: the engine binary against librdkafka's mock cluster and a
 * real redis-server. Each case starts its own peers and stops them. */
#include "harness.h"
#include "pseudonym.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EVENTS "data/demo/events.jsonl"
#define BAD "data/demo/bad.jsonl"
/* Windows only: exact on several partitions when each entity keeps to one. */
#define RULES "tests/packs/windows.json"
#define PACK "rules/packs/default.json"

/* Reads the engine's alerts on risk.alerts into *alerts: exactly the replay's (e), each
 * once. */
static void consume_exact_alerts(const h_peers_t *p, const h_expect_t *e, h_msgs_t *alerts) {
    long long total = e->alerts[1] + e->alerts[2] + e->alerts[3];
    h_consume_all(p->mock.bootstraps, "risk.alerts", (size_t)total, 500, 30000, alerts);
    ck_assert_int_eq((long long)alerts->n, total);
    h_assert_alert_ids(alerts, e);
}

START_TEST(test_integration_alerts_deadletters_counters) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    ck_assert_int_gt(e.alerts[1], 0);
    ck_assert_int_gt(e.alerts[2], 0);
    ck_assert_int_gt(e.alerts[3], 0);

    const char *cfg = h_engine_config(p.mock.bootstraps, p.redis.port, RULES, "it-main");
    pid_t eng = h_engine_start(cfg, h_path("engine.log"));
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n = h_produce_events(prod, EVENTS);
    long nbad = h_produce_events(prod, BAD);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n, e.events);
    ck_assert_int_eq(nbad, 10);

    h_progress_t pr = {p.rc, n + nbad};
    ck_assert_msg(h_wait(h_all_counted, &pr, 90000), "engine did not count every message");

    h_msgs_t alerts = {0};
    consume_exact_alerts(&p, &e, &alerts);
    /* Accounts leave the engine masked in the event, and as their pseudonym in the key. */
    size_t accounts = 0;
    for (size_t i = 0; i < alerts.n; i++) {
        json_t *a = json_loads(alerts.m[i].value, 0, NULL);
        const char *acct =
            json_string_value(json_object_get(json_object_get(a, "event"), "account"));
        if (acct) {
            accounts++;
            ck_assert_msg(strchr(acct, '*') != NULL, "raw account %s", acct);
        }
        ck_assert_ptr_nonnull(alerts.m[i].key);
        /* The message key is the alert's entity_ref, never the number. */
        const char *ref = json_string_value(json_object_get(a, "entity_ref"));
        if (strncmp(alerts.m[i].key, "account:", 8) == 0)
            ck_assert_msg(ref && strcmp(alerts.m[i].key + 8, ref) == 0 &&
                              strlen(ref) == RW_PSEUDONYM_LEN,
                          "key %s, entity_ref %s", alerts.m[i].key, ref ? ref : "none");
        json_decref(a);
    }
    ck_assert_uint_gt(accounts, 0);

    /* High alerts: the high ones only. */
    h_msgs_t high = {0};
    h_consume_all(p.mock.bootstraps, "risk.alerts.high", (size_t)e.alerts[3], 500, 30000, &high);
    ck_assert_int_eq((long long)high.n, e.alerts[3]);
    for (size_t i = 0; i < high.n; i++)
        ck_assert_msg(strstr(high.m[i].value, "\"level\":\"high\"") != NULL, "not high: %s",
                      high.m[i].value);

    /* Dead letters: original bytes, reason and source in headers. */
    h_msgs_t dead = {0};
    h_consume_all(p.mock.bootstraps, "risk.deadletter", 10, 500, 30000, &dead);
    ck_assert_uint_eq(dead.n, 10);
    FILE *f = fopen(BAD, "r");
    char line[4096];
    size_t found = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = 0;
        for (size_t i = 0; i < dead.n; i++)
            if (strcmp(dead.m[i].value, line) == 0) {
                found++;
                ck_assert_ptr_nonnull(dead.m[i].hdr[0]);
                ck_assert_uint_gt(strlen(dead.m[i].hdr[0]), 5);
                ck_assert_msg(strcmp(dead.m[i].hdr[1], "events.service") == 0 ||
                                  strcmp(dead.m[i].hdr[1], "events.transactions") == 0,
                              "rw.topic %s", dead.m[i].hdr[1]);
                ck_assert_ptr_nonnull(dead.m[i].hdr[2]);
                ck_assert_ptr_nonnull(dead.m[i].hdr[3]);
                break;
            }
    }
    fclose(f);
    ck_assert_uint_eq(found, 10);

    /* Counters: the replay's, and a dead-letter count; every key has a TTL. */
    h_assert_counters(p.rc, &e);
    ck_assert_int_eq(h_hsum(p.rc, "{rw}:events:*"), n + nbad);
    h_assert_ttls(p.rc);

    /* SIGTERM: a clean stop. */
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_msgs_free(&alerts);
    h_msgs_free(&high);
    h_msgs_free(&dead);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

typedef struct partial {
    redisContext *rc;
    long long at_least;
} partial_t;

static bool some_counted(void *arg) {
    partial_t *p = arg;
    return h_hsum(p->rc, "{rw}:events:*") >= p->at_least;
}

static bool log_mentions_auth(void *path) { return h_file_has(path, "AUTH failed"); }

/* SIGKILL in the middle of the stream, then a restart, several times: every
 * alert that the events call for is published, and no counter or window counts
 * a message twice although killed engines leave offsets uncommitted. */
START_TEST(test_integration_sigkill_restart) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    const char *cfg = h_engine_config(p.mock.bootstraps, p.redis.port, RULES, "it-kill");
    char cfg_path[128], parts[6][256];
    snprintf(cfg_path, sizeof(cfg_path), "%s", cfg);
    h_split_lines(EVENTS, 6, parts);
    const char *log = h_path("engine-kill.log");
    unlink(log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n = 0;
    /* Where each engine dies: after publishing a batch's alerts but before
     * storing its state; after storing state but before committing; killed from
     * outside once it has done its part; after publishing again; after storing a
     * batch's state (sent before its alerts) but before publishing its alerts. */
    static const char *const deaths[5] = {
        "RW_TEST_DIE=after-publish:2", "RW_TEST_DIE=before-commit:1", NULL,
        "RW_TEST_DIE=after-publish:1", "RW_TEST_DIE=after-write:1"};
    for (int i = 0, part = 0; i < 5; i++) {
        n += h_produce_events(prod, parts[part++]);
        pid_t eng = h_engine_start_env(cfg_path, log, deaths[i]);
        if (i == 0) {
            /* The first engine dies in its second batch: one batch can take a whole part,
             * so the next part follows once the first batch is stored. */
            partial_t pa = {p.rc, 1};
            if (!h_wait(some_counted, &pa, 90000))
                ck_abort_msg("engine 0 stored no batch");
            n += h_produce_events(prod, parts[part++]);
        }
        if (deaths[i]) {
            ck_assert_msg(h_engine_wait(eng, 90000) == 137, "engine %d did not die as told", i);
            continue;
        }
        partial_t pa = {p.rc, n};
        if (!h_wait(some_counted, &pa, 90000))
            ck_abort_msg("engine made no progress to %ld", n);
        ck_assert_int_eq(h_engine_stop(eng, SIGKILL, 10000), 128 + SIGKILL);
    }
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n, e.events);
    pid_t eng = h_engine_start(cfg_path, log);
    h_progress_t pr = {p.rc, n};
    ck_assert_msg(h_wait(h_all_counted, &pr, 90000), "not every message counted after restart");

    long long total = e.alerts[1] + e.alerts[2] + e.alerts[3];
    h_msgs_t alerts = {0};
    h_consume_all(p.mock.bootstraps, "risk.alerts", (size_t)total, 3000, 60000, &alerts);
    /* At least once: every expected alert is there (re-published ones share ids). */
    h_assert_alert_ids(&alerts, &e);
    ck_assert_int_ge((long long)alerts.n, total);
    /* Killed engines left offsets uncommitted: messages were read again... */
    ck_assert_msg(h_file_has(log, "read again after a restart"), "no message was read again");
    /* ...and counted once all the same. */
    h_assert_counters(p.rc, &e);
    ck_assert_int_eq(h_hsum(p.rc, "{rw}:events:*"), n);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_msgs_free(&alerts);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

/* The offsets group has committed on the engines' input topics, summed. */
typedef struct committed {
    const char *brokers, *group;
    long want;
} committed_t;

static long committed_total(const char *brokers, const char *group) {
    rd_kafka_t *c = h_group_client(brokers, group);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(5);
    for (int i = 0; i < 4; i++)
        rd_kafka_topic_partition_list_add(l, "events.transactions", i);
    rd_kafka_topic_partition_list_add(l, "events.service", 0);
    ck_assert_int_eq(rd_kafka_committed(c, l, h_ms(10000)), 0);
    long sum = 0;
    for (int i = 0; i < l->cnt; i++)
        if (l->elems[i].offset > 0)
            sum += (long)l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(c);
    return sum;
}

static bool all_committed(void *arg) {
    const committed_t *c = arg;
    return committed_total(c->brokers, c->group) == c->want;
}

static bool committed_beyond(void *arg) {
    const committed_t *c = arg;
    return committed_total(c->brokers, c->group) > c->want;
}

/* The offsets of stored batches go to the group coordinator at most every
 * kafka.commit_interval_ms: with 300,000, a running engine's commits stay behind
 * what it has counted (only its first batch is committed), and its stop commits
 * the rest; with the default, an engine with nothing more to read commits all of
 * it while it runs. */
START_TEST(test_integration_commit_interval) {
    h_peers_t p;
    h_peers_start(&p);
    char parts[2][256], text[1024];
    h_split_lines(EVENTS, 2, parts);
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"it-commit-slow\",\n"
             "   \"input_topics\": [\"events.transactions\", \"events.service\"],\n"
             "   \"commit_interval_ms\": 300000},\n"
             " \"redis\": {\"host\": \"127.0.0.1\", \"port\": %d},\n"
             " \"metrics_listen\": null, \"rules\": \"%s\"}\n",
             p.mock.bootstraps, p.redis.port, RULES);
    const char *cfg = h_tmpfile(".json", text), *log = h_path("engine-commit.log");
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n0 = h_produce_events(prod, parts[0]);
    pid_t eng = h_engine_start(cfg, log);
    h_progress_t pr = {p.rc, n0};
    ck_assert_msg(h_wait(h_all_counted, &pr, 90000), "first part not counted");
    long n1 = h_produce_events(prod, parts[1]);
    rd_kafka_destroy(prod);
    pr.want = n0 + n1;
    ck_assert_msg(h_wait(h_all_counted, &pr, 90000), "second part not counted");
    /* With a commit after every batch, the offsets passed the first part within 3 s. */
    committed_t c = {p.mock.bootstraps, "it-commit-slow", n0};
    ck_assert_msg(!h_wait(committed_beyond, &c, 3000),
                  "committed %ld of %ld while running, more than the first part's %ld",
                  committed_total(p.mock.bootstraps, "it-commit-slow"), n0 + n1, n0);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    ck_assert_int_eq(committed_total(p.mock.bootstraps, "it-commit-slow"), n0 + n1);

    /* The default interval: committed while running, once there is nothing more. */
    cfg = h_engine_config(p.mock.bootstraps, p.redis.port, RULES, "it-commit-default");
    eng = h_engine_start(cfg, log);
    c = (committed_t){p.mock.bootstraps, "it-commit-default", n0 + n1};
    ck_assert_msg(h_wait(all_committed, &c, 90000), "committed %ld of %ld while running",
                  committed_total(p.mock.bootstraps, "it-commit-default"), n0 + n1);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_peers_stop(&p);
}
END_TEST

/* Whether the cluster has the topic (asked without creating it). */
typedef struct topic_probe {
    rd_kafka_t *rk;
    const char *topic;
} topic_probe_t;

static bool topic_exists(void *arg) {
    const topic_probe_t *t = arg;
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(t->rk, 1, NULL, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    bool found = false;
    for (int i = 0; i < md->topic_cnt; i++)
        found |= strcmp(md->topics[i].topic, t->topic) == 0 && !md->topics[i].err;
    rd_kafka_metadata_destroy(md);
    return found;
}

/* The engine asks for its alert topic's metadata at start-up, before any alert (the
 * producer would otherwise learn it only at its first alert, up to a second late): a
 * topic the cluster creates when asked exists with no message in it. */
START_TEST(test_integration_alert_topic_known_before_alerts) {
    h_peers_t p;
    h_peers_start(&p);
    char text[1024];
    snprintf(
        text, sizeof(text),
        "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"it-warm\",\n"
        "   \"input_topics\": [\"events.transactions\"], \"alert_topic\": \"risk.alerts.warm\",\n"
        "   \"properties\": {\"session.timeout.ms\": 6000}},\n"
        " \"redis\": {\"host\": \"127.0.0.1\", \"port\": %d},\n"
        " \"metrics_listen\": null, \"rules\": \"%s\"}\n",
        p.mock.bootstraps, p.redis.port, RULES);
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "%s", h_tmpfile(".json", text));
    const char *log = h_path("engine-warm.log");
    unlink(log);
    rd_kafka_t *rk = h_producer(p.mock.bootstraps);
    topic_probe_t t = {rk, "risk.alerts.warm"};
    ck_assert(!topic_exists(&t));
    pid_t eng = h_engine_start(cfg, log);
    ck_assert_msg(h_wait(topic_exists, &t, 30000), "the engine never asked for its alert topic");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_msgs_t alerts = {0};
    h_consume_all(p.mock.bootstraps, "risk.alerts.warm", 0, 500, 3000, &alerts);
    ck_assert_uint_eq(alerts.n, 0);
    h_msgs_free(&alerts);
    rd_kafka_destroy(rk);
    h_peers_stop(&p);
}
END_TEST

/* A broken rules file stops `run` at start-up with file:line:col, exit 2. */
START_TEST(test_integration_bad_rules_exit_2) {
    const char *rules = h_tmpfile(".json", "{\"ruleset\": \"x\", \"version\": \"1\",\n"
                                           " \"rules\": [\n"
                                           "  {\"id\": \"a\", \"module\": \"value\",\n"
                                           "   \"params\": {\"field\": \"amount\"},\n"
                                           "   \"thresholds\": {\"low\": 5, \"medium\": 5}}\n"
                                           " ]}\n");
    char rules_path[128];
    snprintf(rules_path, sizeof(rules_path), "%s", rules);
    const char *cfg = h_engine_config("127.0.0.1:1", 1, rules_path, "it-bad");
    char out[4096];
    const char *args[] = {"run", "-c", cfg, NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), args), 2);
    char want[256];
    snprintf(want, sizeof(want), "%s:5:", rules_path);
    ck_assert_msg(strstr(out, want) != NULL, "no file:line:col in: %s", out);

    const char *broken = h_tmpfile(".json", "{\"ruleset\": \"x\",\n  \"rules\": [,]}\n");
    const char *args2[] = {"rules", "check", broken, NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), args2), 2);
    snprintf(want, sizeof(want), "%s:2:", broken);
    ck_assert_msg(strstr(out, want) != NULL, "no file:line:col in: %s", out);

    /* A config with an unknown key is refused the same way. */
    const char *badcfg = h_tmpfile(".json", "{\"kafka\": {\"brokerz\": \"x\"}}\n");
    const char *args3[] = {"run", "-c", badcfg, NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), args3), 2);
    ck_assert_msg(strstr(out, "brokerz") != NULL, "%s", out);
}
END_TEST

/* Fills a watchlist on a masked field: with the values' pseudonyms, as the engine looks
 * them up (what `riskwarn pseudonym` prints). */
static void sadd_lines(redisContext *rc, const char *key, const char *path) {
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        char ref[RW_PSEUDONYM_LEN + 1];
        rw_pseudonym(line, strlen(line), ref);
        redisReply *r = redisCommand(rc, "SADD %s %s", key, ref);
        ck_assert_ptr_nonnull(r);
        freeReplyObject(r);
    }
    fclose(f);
}

/* The values of the masked fields of every event in a JSON-lines file (accounts,
 * counterparties, ID numbers, phones), 8 characters or longer. */
static size_t raw_values(const char *path, char ***out) {
    static const char *const masked[] = {"account", "counterparty", "id_number", "card_number",
                                         "phone"};
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[8192];
    size_t n = 0, cap = 0;
    *out = NULL;
    while (fgets(line, sizeof(line), f)) {
        json_t *ev = json_loads(line, 0, NULL);
        for (size_t k = 0; ev && k < sizeof(masked) / sizeof(*masked); k++) {
            const char *v = json_string_value(json_object_get(ev, masked[k]));
            if (!v || strlen(v) < 8)
                continue;
            if (n == cap)
                *out = realloc(*out, (cap = cap ? 2 * cap : 256) * sizeof(char *));
            (*out)[n++] = strdup(v);
        }
        json_decref(ev);
    }
    fclose(f);
    return n;
}

/* Appends a reply's strings (nested arrays too) to b. */
static void reply_text(const redisReply *r, rw_buf_t *b) {
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
        rw_buf_append(b, r->str, r->len);
        rw_buf_puts(b, "\n");
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        reply_text(r->element[i], b);
}

/* No raw value of a masked field anywhere in Redis (key names, hash fields and values,
 * window members, cases, cool-downs, fences) nor in the published alerts and their keys. */
static void assert_no_raw_values(redisContext *rc, const h_msgs_t *alerts, const char *events) {
    char **raw;
    size_t n_raw = raw_values(events, &raw);
    ck_assert_uint_gt(n_raw, 100);
    rw_buf_t all;
    rw_buf_init(&all);
    redisReply *keys = redisCommand(rc, "KEYS *");
    ck_assert_ptr_nonnull(keys);
    for (size_t i = 0; i < keys->elements; i++) {
        const char *k = keys->element[i]->str;
        rw_buf_puts(&all, k);
        rw_buf_puts(&all, "\n");
        redisReply *t = redisCommand(rc, "TYPE %s", k);
        const char *cmd = strcmp(t->str, "hash") == 0   ? "HGETALL %s"
                          : strcmp(t->str, "zset") == 0 ? "ZRANGE %s 0 -1"
                          : strcmp(t->str, "set") == 0  ? "SMEMBERS %s"
                          : strcmp(t->str, "list") == 0 ? "LRANGE %s 0 -1"
                                                        : "GET %s";
        redisReply *v = redisCommand(rc, cmd, k);
        ck_assert_ptr_nonnull(v);
        reply_text(v, &all);
        freeReplyObject(v);
        freeReplyObject(t);
    }
    freeReplyObject(keys);
    for (size_t i = 0; i < alerts->n; i++) {
        rw_buf_append(&all, alerts->m[i].value, alerts->m[i].len);
        rw_buf_puts(&all, "\n");
        if (alerts->m[i].key)
            rw_buf_puts(&all, alerts->m[i].key);
    }
    const char *text = rw_buf_cstr(&all);
    for (size_t i = 0; i < n_raw; i++) {
        const char *at = strstr(text, raw[i]);
        ck_assert_msg(at == NULL, "raw value %s stored: ...%.120s", raw[i],
                      at ? (at - text > 60 ? at - 60 : text) : "");
        free(raw[i]);
    }
    free(raw);
    rw_buf_fini(&all);
}

/* The whole default pack, every module, on one partition in event order: the
 * engine's alerts and counters equal the in-memory replay's exactly, deadline
 * cases (driven by event time) and Redis watchlists included; no raw account or
 * counterparty number is kept in Redis or published. */
START_TEST(test_integration_default_pack_equals_replay) {
    h_peers_t p;
    h_peers_start(&p);
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(rw_mock_topic(&p.mock, "events.all:1", &err) == 0, "%s", err.text);
    sadd_lines(p.rc, "rw:list:counterparty-watchlist", "data/demo/watchlist.txt");
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay_redis(PACK, EVENTS, p.redis.port, &e), 0);
    ck_assert_int_gt(e.alerts[3], 0);
    const char *cfg = h_engine_config_topics(p.mock.bootstraps, p.redis.port, PACK, "it-pack",
                                             "[\"events.all\"]");
    pid_t eng = h_engine_start(cfg, h_path("engine-pack.log"));
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n = h_produce_lines(prod, EVENTS, "events.all");
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n, e.events);
    h_progress_t pr = {p.rc, n};
    ck_assert_msg(h_wait(h_all_counted, &pr, 90000), "engine did not count every message");
    h_msgs_t alerts = {0};
    consume_exact_alerts(&p, &e, &alerts);
    h_assert_counters(p.rc, &e);
    h_assert_ttls(p.rc);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_msgs_t high = {0};
    h_consume_all(p.mock.bootstraps, "risk.alerts.high", (size_t)e.alerts[3], 500, 30000, &high);
    assert_no_raw_values(p.rc, &alerts, EVENTS);
    assert_no_raw_values(p.rc, &high, EVENTS);
    h_msgs_free(&high);
    h_msgs_free(&alerts);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

/* Redis with a password and another database: the engine sends AUTH and
 * SELECT on every connect; a wrong password is a runtime failure it retries,
 * never a crash. */
START_TEST(test_integration_redis_auth_and_db) {
    h_peers_t p;
    h_peers_start(&p);
    rw_redis_server_t secure;
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(rw_proc_redis_start(&secure, "s3cret-pass", 10000, &err) == 0, "%s", err.text);
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"it-auth\"},\n"
             " \"redis\": {\"port\": %d, \"password\": \"s3cret-pass\", \"db\": 3},\n"
             " \"metrics_listen\": null, \"rules\": \"%s\"}\n",
             p.mock.bootstraps, secure.port, RULES);
    const char *cfg = h_tmpfile(".json", text);
    pid_t eng = h_engine_start(cfg, h_path("engine-auth.log"));
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n = h_produce_events(prod, BAD);
    rd_kafka_destroy(prod);
    rw_redis_opts_t o = {"127.0.0.1", secure.port, NULL, "s3cret-pass", 3, "rw:", "t", 5000, 0};
    redisContext *rc = rw_store_redis_connect(&o, &err);
    ck_assert_msg(rc != NULL, "%s", err.text);
    h_progress_t pr = {rc, n};
    ck_assert_msg(h_wait(h_all_counted, &pr, 60000), "nothing counted in db 3");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    redisFree(rc);
    /* Nothing went to database 0. */
    rw_redis_opts_t o0 = {"127.0.0.1", secure.port, NULL, "s3cret-pass", 0, "rw:", "t", 5000, 0};
    rc = rw_store_redis_connect(&o0, &err);
    ck_assert_int_eq(h_hsum(rc, "{rw}:*"), 0);
    redisFree(rc);

    /* A wrong password: the engine keeps retrying and stops cleanly. */
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"it-auth2\"},\n"
             " \"redis\": {\"port\": %d, \"password\": \"wrong\"},\n"
             " \"metrics_listen\": null, \"rules\": \"%s\"}\n",
             p.mock.bootstraps, secure.port, RULES);
    const char *log = h_path("engine-auth2.log");
    unlink(log);
    eng = h_engine_start(h_tmpfile(".json", text), log);
    ck_assert_msg(h_wait(log_mentions_auth, RW_UNCONST(void *, log), 60000),
                  "no AUTH failure logged");
    int rc2 = h_engine_stop(eng, SIGTERM, 60000);
    ck_assert_msg(rc2 == 0 || rc2 == 1, "exit %d", rc2);
    rw_proc_redis_stop(&secure);
    h_peers_stop(&p);
}
END_TEST

/* The engine under valgrind over a short stream: no definite leaks, no invalid
 * reads or writes, from start to a SIGTERM stop. */
START_TEST(test_integration_valgrind_no_leaks) {
    if (system("valgrind --version >/dev/null 2>&1") != 0 || getenv("RW_SANITIZED")) {
        /* valgrind is installed by scripts/deps.sh; it cannot run an ASan build. */
        return;
    }
    h_peers_t p;
    h_peers_start(&p);
    const char *cfg = h_engine_config(p.mock.bootstraps, p.redis.port, PACK, "it-valgrind");
    const char *log = h_path("engine-valgrind.log");
    unlink(log);
    static const char *const vg[] = {"valgrind",
                                     "--leak-check=full",
                                     "--errors-for-leak-kinds=definite",
                                     "--error-exitcode=99",
                                     "--quiet",
                                     NULL};
    pid_t eng = h_engine_start_wrapped(cfg, log, vg);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n = h_produce_events(prod, BAD);
    const char *some = h_tmpfile(".jsonl", "");
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "head -n 300 %s > %s", EVENTS, some);
    ck_assert_int_eq(system(cmd), 0);
    n += h_produce_events(prod, some);
    rd_kafka_destroy(prod);
    h_progress_t pr = {p.rc, n};
    ck_assert_msg(h_wait(h_all_counted, &pr, 180000), "engine under valgrind made no progress");
    int rc = h_engine_stop(eng, SIGTERM, 120000);
    ck_assert_msg(rc == 0, "valgrind found errors or leaks (exit %d): see %s", rc, log);
    h_peers_stop(&p);
}
END_TEST

/* `replay` under valgrind: no definite leaks, no invalid reads or writes. Its state
 * is left to the process's exit in a build without AddressSanitizer, which must stay
 * reachable (held, not lost) for a leak checker. */
START_TEST(test_integration_replay_valgrind_no_leaks) {
    if (system("valgrind --version >/dev/null 2>&1") != 0 || getenv("RW_SANITIZED"))
        return; /* as above */
    const char *some = h_tmpfile(".jsonl", "");
    const char *log = h_path("replay-valgrind.log");
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "head -n 2000 %s > %s", EVENTS, some);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd),
             "valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 "
             "%s replay --rules %s %s >/dev/null 2>%s",
             h_bin(), PACK, some, log);
    int rc = system(cmd);
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
                  "valgrind found errors or leaks in replay (exit %d): see %s",
                  WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, log);
}
END_TEST

/* `riskwarn mock-kafka` prints its bootstrap servers first, carries messages on
 * the topics it was asked for, and stops on SIGTERM. */
START_TEST(test_integration_mock_kafka_command) {
    const char *args[] = {"mock-kafka", "--brokers", "2", "--topic", "mk.test:3", NULL};
    int fd;
    pid_t pid = h_spawn(args, false, &fd);
    FILE *out = fdopen(fd, "r");
    char line[512] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), out));
    line[strcspn(line, "\n")] = 0;
    ck_assert_msg(strstr(line, "127.0.0.1:") != NULL && strchr(line, ',') != NULL, "first line: %s",
                  line);
    rd_kafka_t *prod = h_producer(line);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(h_produce(prod, "mk.test", i, "k", "hello", 5), 0);
    rd_kafka_flush(prod, 10000);
    rd_kafka_destroy(prod);
    h_msgs_t m = {0};
    ck_assert_uint_eq(h_consume_all(line, "mk.test", 3, 300, 20000, &m), 3);
    ck_assert_str_eq(m.m[0].value, "hello");
    h_msgs_free(&m);
    ck_assert_int_eq(h_engine_stop(pid, SIGTERM, 10000), 0);
    fclose(out);
}
END_TEST

static Suite *integration_suite(void) {
    Suite *s = suite_create("integration");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_integration_bad_rules_exit_2);
    tcase_add_test(tc, test_integration_alert_topic_known_before_alerts);
    tcase_add_test(tc, test_integration_mock_kafka_command);
    tcase_add_test(tc, test_integration_alerts_deadletters_counters);
    tcase_add_test(tc, test_integration_sigkill_restart);
    tcase_add_test(tc, test_integration_commit_interval);
    tcase_add_test(tc, test_integration_default_pack_equals_replay);
    tcase_add_test(tc, test_integration_redis_auth_and_db);
    tcase_add_test(tc, test_integration_valgrind_no_leaks);
    tcase_add_test(tc, test_integration_replay_valgrind_no_leaks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(integration_suite); }

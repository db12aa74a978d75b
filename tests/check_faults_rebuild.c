/* Fault test: Redis loses its state while the engine is stopped, and
 * `riskwarn rebuild` builds it again from the input topics. The fixture:
 * faults.h. */
#include "faults.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Windows of an hour and a day, a cool-down and deadline cases. */
#define PACK "tests/packs/rebuild.json"
#define GROUP "ft-rebuild"

/* Messages on the output topics (alerts, high alerts, dead letters). */
static long long outputs(const char *brokers) {
    static const char *const topics[] = {"risk.alerts", "risk.alerts.high", "risk.deadletter"};
    rd_kafka_t *c = h_producer(brokers);
    long long n = 0;
    for (size_t t = 0; t < 3; t++)
        for (int32_t part = 0; part < 2; part++) {
            int64_t lo, hi;
            if (rd_kafka_query_watermark_offsets(c, topics[t], part, &lo, &hi, h_ms(10000)) == 0)
                n += hi;
        }
    rd_kafka_destroy(c);
    return n;
}

/* "ts" of the first line of a JSON-lines file. */
static void first_ts(const char *path, char *out, size_t len) {
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[8192];
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    fclose(f);
    json_t *j = json_loads(line, 0, NULL);
    ck_assert_ptr_nonnull(j);
    snprintf(out, len, "%s", json_string_value(json_object_get(j, "ts")));
    json_decref(j);
}

/* The replay's counters of the days from `from` on, against Redis's. */
typedef struct days {
    redisContext *rc;
    const h_expect_t *e;
    const char *from;
    size_t checked;
} days_t;

static bool days_equal(void *arg) {
    days_t *d = arg;
    d->checked = 0;
    for (size_t i = 0; i < d->e->n_counters; i++) {
        const rw_memstore_counter_t *c = &d->e->counters[i];
        const char *date = strrchr(c->key, ':');
        if (!date || strcmp(date + 1, d->from) < 0)
            continue;
        char key[400];
        snprintf(key, sizeof(key), "{rw}:%s", c->key);
        if (h_hget(d->rc, key, c->field) != c->value)
            return false;
        d->checked++;
    }
    return true;
}

/* Whether the group has committed every input partition up to its end. */
typedef struct commits {
    rd_kafka_t *member; /* of GROUP, never joined: it only asks for the offsets */
    rd_kafka_t *prod;
} commits_t;

static bool all_committed(void *arg) {
    commits_t *c = arg;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(5);
    for (int32_t part = 0; part < 4; part++)
        rd_kafka_topic_partition_list_add(l, "events.transactions", part);
    rd_kafka_topic_partition_list_add(l, "events.service", 0);
    bool all = rd_kafka_committed(c->member, l, h_ms(10000)) == 0;
    for (int i = 0; all && i < l->cnt; i++) {
        int64_t lo, hi;
        all = rd_kafka_query_watermark_offsets(c->prod, l->elems[i].topic, l->elems[i].partition,
                                               &lo, &hi, h_ms(10000)) == 0 &&
              l->elems[i].offset >= hi;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return all;
}

static int rebuild(const char *cfg, const char *since, char *out, size_t len) {
    const char *args[] = {"rebuild", "-c", cfg, "--since", since, NULL};
    return h_run(out, len, args);
}

/* The first half of the stream through the engine; rebuild refused while it
 * runs; the engine stopped; FLUSHALL; `rebuild --since` three days before
 * the second half; the engine started again on the second half. Every
 * alert is the undisturbed replay's (deadline alerts and cool-downs
 * included), rebuild publishes nothing, and the counters of the days it
 * recounts equal the replay's. */
START_TEST(test_faults_rebuild) {
    h_peers_t p;
    h_peers_start(&p);
    const char *log = h_path("faults-rebuild.log");
    unlink(log);
    char cfg[256];
    snprintf(cfg, sizeof(cfg), "%s", config_rules(&p, GROUP, false, 0, PACK));
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(PACK, EVENTS, &e), 0);
    char parts[2][256];
    h_split_lines(EVENTS, 2, parts);
    long first = count_lines(parts[0]);
    /* TIME three days before the second half: an earlier TIME than the engines need is
     * safe, and those days' counters are recounted whole. */
    char next[64], since[64];
    first_ts(parts[1], next, sizeof(next));
    int64_t t;
    ck_assert_int_eq(rw_time_parse(next, strlen(next), &t), 0);
    rw_time_format(t - 3 * 86400000LL, since, sizeof(since));

    pid_t eng = h_engine_start(cfg, log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    /* Kafka timestamps are event times, as when events are produced as they happen: rebuild
     * finds where its reading starts by time. */
    ck_assert_int_eq(rw_mock_produce_file_at(prod, parts[0], NULL, true), first);
    wait_counted(&p, first, 90000, "first half");
    char out[8192];
    int rc = rebuild(cfg, since, out, sizeof(out));
    ck_assert_msg(rc != 0 && strstr(out, "other members") && strstr(out, "nothing written"),
                  "rebuild with the engine running: exit %d: %s", rc, out);
    /* Its join made the group rebalance, which fails the commit in flight: the engine
     * commits those messages once it has read them again. Stopped when the group has
     * committed the whole first half, so that rebuild reads up to its end (else only
     * up to an earlier batch: maybe no case or cool-down, a partition with nothing
     * after the horizon). */
    commits_t cm = {h_group_client(p.mock.bootstraps, GROUP), prod};
    ck_assert_msg(h_wait(all_committed, &cm, 60000), "the first half was never committed whole");
    rd_kafka_destroy(cm.member);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);

    redisReply *r = redisCommand(p.rc, "FLUSHALL");
    ck_assert_ptr_nonnull(r);
    freeReplyObject(r);
    long long before = outputs(p.mock.bootstraps);
    rc = rebuild(cfg, since, out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "published nothing"), "rebuild: exit %d: %s", rc, out);
    fprintf(stderr, "%s", out);
    ck_assert_msg(!strstr(out, " 0 open cases") && !strstr(out, " 0 cool-downs"),
                  "rebuild wrote no case or cool-down: %s", out);
    ck_assert_int_eq(outputs(p.mock.bootstraps), before);
    /* It read from the horizon before TIME, not the whole first half. */
    const char *nread = strstr(out, ": read ");
    ck_assert_ptr_nonnull(nread);
    long long read = atoll(nread + strlen(": read "));
    ck_assert_msg(read > 0 && read < first, "rebuild read %lld of %ld messages", read, first);
    const char *day = strstr(out, "of the days from ");
    ck_assert_msg(day, "rebuild says no day: %s", out);
    char from[11];
    snprintf(from, sizeof(from), "%.10s", day + strlen("of the days from "));

    eng = h_engine_start(cfg, log);
    ck_assert_int_eq(rw_mock_produce_file_at(prod, parts[1], NULL, true), count_lines(parts[1]));
    rd_kafka_destroy(prod);
    /* Days the rebuild recounted hold every event, as the replay's. Waited for
     * before the alerts: the first half's alerts (some published twice across a
     * rebalance) can outnumber the expected ones, so the alert topic alone does
     * not show that the second half was read. */
    days_t d = {p.rc, &e, from, 0};
    ck_assert_msg(h_wait(days_equal, &d, 60000), "the counters of the days from %s differ", from);
    ck_assert_uint_gt(d.checked, 0);
    assert_alerts(&p, &e, "rebuilt");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    unlink_parts(parts, 2);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

/* The lines of EVENTS whose "ts" starts with one of the days [first, last]
 * ("YYYY-MM-DD", as the file writes them) into path. Returns their number. */
static long lines_of_days(const char *path, const char *first, const char *last) {
    FILE *in = fopen(EVENTS, "r"), *out = fopen(path, "w");
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    char line[8192];
    long n = 0;
    while (fgets(line, sizeof(line), in)) {
        const char *ts = strstr(line, "\"ts\":\"");
        if (!ts || strncmp(ts + 6, first, 10) < 0 || strncmp(ts + 6, last, 10) > 0)
            continue;
        fputs(line, out);
        n++;
    }
    fclose(in);
    fclose(out);
    return n;
}

/* A partition whose committed messages all lie before the horizon: rebuild
 * reads none of them, and still writes its fence (at the message before the
 * group's committed offset) beside the fences of the partition it recounts. */
START_TEST(test_faults_rebuild_partition_before_horizon) {
    h_peers_t p;
    h_peers_start(&p);
    const char *log = h_path("faults-rebuild-old.log");
    unlink(log);
    char cfg[256];
    snprintf(cfg, sizeof(cfg), "%s", config_rules(&p, GROUP "-old", false, 0, PACK));
    char old_path[256], new_path[256];
    snprintf(old_path, sizeof(old_path), "%s", h_path("rebuild-old.jsonl"));
    snprintf(new_path, sizeof(new_path), "%s", h_path("rebuild-new.jsonl"));
    /* Days far apart: the ruleset's horizon before the later ones (two windows of a
     * day, six hours of cool-down, three workdays of cases) does not reach the first. */
    long n_old = lines_of_days(old_path, "2026-11-09", "2026-11-09");
    long n_new = lines_of_days(new_path, "2026-11-24", "2026-11-25");
    ck_assert_int_gt(n_old, 0);
    ck_assert_int_gt(n_new, 0);

    pid_t eng = h_engine_start(cfg, log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    /* The old days alone on events.service/0, the later ones on events.transactions/0. */
    ck_assert_int_eq(rw_mock_produce_file_at(prod, old_path, "events.service", true), n_old);
    ck_assert_int_eq(rw_mock_produce_file_at(prod, new_path, "events.transactions", true), n_new);
    rd_kafka_destroy(prod);
    wait_counted(&p, n_old + n_new, 90000, "both topics");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);

    redisReply *r = redisCommand(p.rc, "FLUSHALL");
    ck_assert_ptr_nonnull(r);
    freeReplyObject(r);
    char out[8192];
    int rc = rebuild(cfg, "2026-11-25T12:00:00+08:00", out, sizeof(out));
    fprintf(stderr, "%s", out);
    ck_assert_msg(rc == 0 && strstr(out, "published nothing"), "rebuild: exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "wrote 2 fences"), "rebuild: %s", out);
    /* The old partition's fence is its last message: the engine, started again, reads
     * nothing of it twice. */
    r = redisCommand(p.rc, "GET {rw}:fence:%s:events.service:0", GROUP "-old");
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(r->type == REDIS_REPLY_STRING && atol(r->str) == n_old - 1,
                  "events.service/0's fence: %s, not %ld",
                  r->type == REDIS_REPLY_STRING ? r->str : "none", n_old - 1);
    freeReplyObject(r);
    unlink(old_path);
    unlink(new_path);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    Suite *s = h_suite_of("faults_rebuild", test_faults_rebuild, 300);
    h_suite_add(s, "partition_before_horizon", test_faults_rebuild_partition_before_horizon, 300);
    return s;
}

int main(void) { return h_main(suite); }

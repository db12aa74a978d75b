/* Bounded resources under a long overload: the input arrives far faster than
 * the engine works, its producer queue is kept small so that publishing backs
 * up, and yet memory stays flat, lag grows and drains, and nothing is dropped. */
#include "harness.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EVENTS "data/demo/events.jsonl"
#define RULES "tests/packs/windows.json"
#define COPIES 10     /* the mock cluster keeps 5 MiB a partition: events.service holds ~3.5 */
#define SHIFT_DAYS 30 /* each copy later in event time than the last ends, all in the past */

/* Writes COPIES copies of the demo events, each with new event ids and its
 * times shifted, so windows stay as small as in one copy. */
static const char *overload_file(void) {
    FILE *in = fopen(EVENTS, "r");
    ck_assert_ptr_nonnull(in);
    static char path[128];
    snprintf(path, sizeof(path), "%s", h_tmpfile(".jsonl", ""));
    FILE *out = fopen(path, "w");
    char line[8192];
    for (int k = 0; k < COPIES; k++) {
        rewind(in);
        while (fgets(line, sizeof(line), in)) {
            json_t *e = json_loads(line, 0, NULL);
            ck_assert_ptr_nonnull(e);
            const char *ts = json_string_value(json_object_get(e, "ts"));
            int64_t ms;
            ck_assert_int_eq(rw_time_parse(ts, strlen(ts), &ms), 0);
            char shifted[40], id[300];
            /* Copies end before the demo's own days: nothing lies in the future of the wall
             * clock, where the engine would refuse it (max_future_ms). */
            rw_time_format(ms + (int64_t)(k - COPIES) * SHIFT_DAYS * 86400000, shifted,
                           sizeof(shifted));
            snprintf(id, sizeof(id), "%s~%d", json_string_value(json_object_get(e, "event_id")), k);
            json_object_set_new(e, "ts", json_string(shifted));
            json_object_set_new(e, "event_id", json_string(id));
            char *text = json_dumps(e, JSON_COMPACT);
            fprintf(out, "%s\n", text);
            free(text);
            json_decref(e);
        }
    }
    fclose(out);
    fclose(in);
    return path;
}

START_TEST(test_overload_memory_flat_nothing_dropped) {
    h_peers_t p;
    h_peers_start(&p);
    const char *events = overload_file();
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, events, &e), 0);
    char text[2048];
    /* A small producer queue (backpressure) and small fetch queues (bounded). */
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"ov\",\n"
             "   \"properties\": {\"queue.buffering.max.messages\": 64,\n"
             "                  \"queued.max.messages.kbytes\": 2048}},\n"
             " \"redis\": {\"port\": %d}, \"metrics_listen\": null, \"rules\": \"%s\"}\n",
             p.mock.bootstraps, p.redis.port, RULES);
    const char *cfg = h_tmpfile(".json", text);
    const char *log = h_path("overload.log");
    unlink(log);
    /* The whole input first: the engine starts far behind. */
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n = h_produce_events(prod, events);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n, e.events);
    pid_t eng = h_engine_start(cfg, log);

    long first = -1, peak = 0;
    int64_t deadline = rw_monotonic_ms() + h_ms(240000);
    long long counted = 0;
    while ((counted = h_hsum(p.rc, "{rw}:events:*")) < n && rw_monotonic_ms() < deadline) {
        long rss = h_rss_kib(eng);
        ck_assert_msg(rss > 0, "the engine is gone");
        if (first < 0 && counted >= n / 10)
            first = rss; /* warmed up: caches and pools in place */
        if (first >= 0 && rss > peak)
            peak = rss;
        usleep(100 * 1000);
    }
    ck_assert_msg(counted == n, "counted %lld of %ld", counted, n);
    ck_assert_int_ge(first, 0);
    /* Flat: 90% of a long stream adds no more than 64 MiB on top of the first 10%.
     * (Not under AddressSanitizer: its quarantine keeps freed memory by design.) */
    if (!getenv("RW_SANITIZED"))
        ck_assert_msg(peak - first < 64 * 1024, "memory grew from %ld KiB to %ld KiB", first, peak);

    /* Nothing dropped: every alert of the replay, with the counters. */
    long long total = e.alerts[1] + e.alerts[2] + e.alerts[3];
    h_msgs_t alerts = {0};
    h_consume_all(p.mock.bootstraps, "risk.alerts", (size_t)total, 1000, 60000, &alerts);
    h_assert_alert_ids(&alerts, &e);
    h_assert_counters(p.rc, &e);
    h_assert_ttls(p.rc);
    /* Publishing did back up: the engine waited for room instead of dropping. */
    size_t len;
    rw_error_t err;
    rw_error_clear(&err);
    char *logtext = rw_file_read(log, &len, &err);
    ck_assert_msg(logtext && strstr(logtext, "waited") &&
                      strstr(logtext, "for room (backpressure)"),
                  "the producer queue never filled");
    free(logtext);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_msgs_free(&alerts);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

/* For h_wait: arg is {path, text}. */
static bool log_has(void *arg) {
    const char *const *a = arg;
    return h_file_has(a[0], a[1]);
}

/* The RSS of an idle engine started with "state_pretouch_mb": mb, once it logged that it runs
 * (and, with mb, that it touched the memory) and half a second later: the memory touched in
 * advance is kept, not given back. */
static long idle_rss_kib(const h_peers_t *p, int mb) {
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"pt%d\"},\n"
             " \"redis\": {\"port\": %d}, \"metrics_listen\": null, \"rules\": \"%s\",\n"
             " \"state_pretouch_mb\": %d}\n",
             p->mock.bootstraps, mb, p->redis.port, RULES, mb);
    const char *cfg = h_tmpfile(".json", text);
    char log[64], line[80];
    snprintf(log, sizeof(log), "pretouch-%d.log", mb);
    const char *path = h_path(log);
    unlink(path);
    snprintf(line, sizeof(line), mb ? "state memory: %d MiB touched in advance" : "running:", mb);
    pid_t eng = h_engine_start(cfg, path);
    const char *log_line[2] = {path, line};
    ck_assert_msg(h_wait(log_has, log_line, 30000), "no \"%s\" in the engine's log", line);
    long first = h_rss_kib(eng);
    usleep(500 * 1000);
    long later = h_rss_kib(eng);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    ck_assert_int_gt(first, 0);
    ck_assert_msg(later > first - 8 * 1024, "RSS fell from %ld KiB to %ld KiB", first, later);
    return later;
}

/* state_pretouch_mb: an engine that touched 48 MiB in advance holds them (malloc keeps them
 * for the state) where one that touched none does not. */
START_TEST(test_pretouch_memory_is_held) {
    h_peers_t p;
    h_peers_start(&p);
    long none = idle_rss_kib(&p, 0), some = idle_rss_kib(&p, 48);
    /* Not under AddressSanitizer: its allocator keeps memory its own way. */
    if (!getenv("RW_SANITIZED"))
        ck_assert_msg(some - none >= 40 * 1024, "RSS %ld KiB with 48 MiB touched, %ld without",
                      some, none);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("overload");
    TCase *tc = tcase_create("overload");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_overload_memory_flat_nothing_dropped);
    tcase_add_test(tc, test_pretouch_memory_is_held);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(suite); }

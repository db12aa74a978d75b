/* Hostile input and hostile peers: the engine binary against librdkafka's mock
 * cluster and a real redis-server, fed what a careless or hostile sender would
 * send. No single message stops the engine or a partition (messages larger
 * than the producer may send, malformed or valid); an event from the far future
 * moves no clock, in run and replay alike; a SIGKILLed engine comes back
 * within its session timeout; the metrics endpoint answers with thousands of
 * idle connections open.
 *
 * One tcase a case: CK_RUN_CASE=future_timestamp runs one. */
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define RULES "rules/packs/default.json"

static size_t count_in(const h_msgs_t *m, const char *needle) {
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += m->m[i].value && strstr(m->m[i].value, needle) != NULL;
    return n;
}

/* ---- an event from the future ------------------------------------------------------------ */

/* 40 complaints opened, one transaction dated 2100, the 40 resolved the next
 * day, then a large transfer that alerts. Returns the path of the file. */
static const char *future_events(void) {
    static char text[64 * 1024];
    size_t o = 0;
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(
            text + o, sizeof(text) - o,
            "{\"event_id\":\"op-%d\",\"type\":\"complaint\",\"ts\":\"2026-11-16T18:"
            "%02d:00+08:00\",\"complaint_id\":\"c%d\",\"customer_id\":\"cust-%d\","
            "\"action\":\"opened\",\"severity\":\"general\",\"product\":\"p%d\","
            "\"channel\":\"Web\",\"branch\":\"b%d\"}\n",
            i, i, i, i, i, i);
    o += (size_t)snprintf(
        text + o, sizeof(text) - o,
        "{\"event_id\":\"tx-2100\",\"type\":\"transaction\",\"ts\":\"2100-01-01T00:"
        "00:00Z\",\"account\":\"6222000000000000001\",\"amount\":10,"
        "\"direction\":\"out\"}\n");
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(
            text + o, sizeof(text) - o,
            "{\"event_id\":\"rs-%d\",\"type\":\"complaint\",\"ts\":\"2026-11-17T06:"
            "%02d:00+08:00\",\"complaint_id\":\"c%d\",\"customer_id\":\"cust-%d\","
            "\"action\":\"resolved\",\"severity\":\"general\",\"product\":\"p%d\","
            "\"channel\":\"Web\",\"branch\":\"b%d\"}\n",
            i, i, i, i, i, i);
    snprintf(
        text + o, sizeof(text) - o,
        "{\"event_id\":\"tx-canary\",\"type\":\"transaction\",\"ts\":\"2026-11-17T07:00:00+08:"
        "00\",\"account\":\"6222000000000000002\",\"amount\":2000000,\"direction\":\"out\"}\n");
    return h_tmpfile(".jsonl", text);
}

/* Without the bound, the 2100 event passed every open case's deadlines: 240
 * deadline alerts in replay, 150 in run. With it, the event is a dead letter
 * and no case crosses a threshold; the transfer after it still alerts. */
START_TEST(test_hostile_future_timestamp) {
    char path[256];
    snprintf(path, sizeof(path), "%s", future_events());
    /* replay */
    static char out[1 << 20];
    const char *args[] = {"replay", "--rules", RULES, path, NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), args), 0);
    ck_assert_msg(strstr(out, "\"module\":\"deadline\"") == NULL, "replay: a deadline alert");
    ck_assert_ptr_nonnull(strstr(out, "future_timestamp"));
    ck_assert_ptr_nonnull(strstr(out, "\"event_id\":\"tx-canary\""));

    /* run: every event in one partition, so the 2100 event would move the
     * clock of the cases' own partition */
    h_peers_t p;
    h_peers_start(&p);
    char err[256];
    ck_assert_msg(rw_mock_topic(&p.mock, "events.all:1", err, sizeof(err)) == 0, "%s", err);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    ck_assert_int_eq(h_produce_lines(prod, path, "events.all"), 82);
    rd_kafka_flush(prod, 10000);
    rd_kafka_destroy(prod);
    const char *cfg = h_engine_config_topics(p.mock.bootstraps, p.redis.port, RULES, "future",
                                             "[\"events.all\"]");
    const char *log = h_path("future.log");
    pid_t eng = h_engine_start(cfg, log);
    h_progress_t prog = {p.rc, 82};
    ck_assert_msg(h_wait(h_all_counted, &prog, 60000), "not every message was counted");
    h_msgs_t alerts = {0}, dead = {0};
    h_consume_all(p.mock.bootstraps, "risk.alerts", 1, 1500, 20000, &alerts);
    h_consume_all(p.mock.bootstraps, "risk.deadletter", 1, 500, 20000, &dead);
    ck_assert_uint_eq(count_in(&alerts, "\"module\":\"deadline\""), 0);
    ck_assert_uint_eq(count_in(&alerts, "\"event_id\":\"tx-canary\""), 1);
    ck_assert_uint_eq(dead.n, 1);
    ck_assert_ptr_nonnull(dead.m[0].hdr[0]);
    ck_assert_msg(strncmp(dead.m[0].hdr[0], "future_timestamp", 16) == 0, "rw.error: %s",
                  dead.m[0].hdr[0]);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_msgs_free(&alerts);
    h_msgs_free(&dead);
    h_peers_stop(&p);
}
END_TEST

static void add_case(Suite *s, const char *name, const TTest *test) {
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

static Suite *hostile_suite(void) {
    Suite *s = suite_create("hostile");
    add_case(s, "future_timestamp", test_hostile_future_timestamp);
    return s;
}

int main(void) { return h_main(hostile_suite); }

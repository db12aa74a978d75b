/* Fault test: Kafka refuses the engine's output for good (message too large,
 * invalid). The fixture: faults.h. */
#include "faults.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_PACK "rules/packs/default.json"

static bool stack_empty(void *arg) {
    h_peers_t *p = arg;
    size_t cnt = 0;
    ck_assert_int_eq(rd_kafka_mock_broker_error_stack_cnt(p->mock.cluster, 3, API_PRODUCE, &cnt),
                     0);
    return cnt == 0;
}

/* A malformed message, then a large transfer on another partition. */
static void produce_pair(h_peers_t *p, const char *bad, int n) {
    rd_kafka_t *prod = h_producer(p->mock.bootstraps);
    char ev[512];
    snprintf(ev, sizeof(ev),
             "{\"event_id\":\"canary-%d\",\"type\":\"transaction\",\"ts\":\"2026-11-20T10:00:00Z\","
             "\"account\":\"622200000000000005%d\",\"amount\":2000000,\"direction\":\"out\"}",
             n, n);
    ck_assert_int_eq(h_produce(prod, "events.transactions", 0, NULL, bad, strlen(bad)), 0);
    ck_assert_int_eq(h_produce(prod, "events.transactions", 1, NULL, ev, strlen(ev)), 0);
    ck_assert_int_eq(rd_kafka_flush(prod, 10000), 0);
    rd_kafka_destroy(prod);
}

/* A dead letter refused as too large is produced again smaller: a prefix of
 * its message (with size and digest), then none; refused even then, it is
 * dropped, logged and counted. Either way the batch finishes: the transfer
 * after it alerts, and SIGTERM finds nothing stuck. Only the engine produces
 * to broker 3, which leads the dead-letter topic. */
START_TEST(test_faults_produce_refused) {
    h_peers_t p;
    h_peers_start(&p);
    const char *group = "ft-refused";
    place(&p, group, 1, 2, 3);
    set_leader(&p, "risk.alerts", 1, 2);
    const char *cfg = h_engine_config(p.mock.bootstraps, p.redis.port, DEFAULT_PACK, group);
    const char *log = h_path("faults-refused.log");
    pid_t eng = h_engine_start(cfg, log);
    log_wait_t running = {log, 0, "partitions assigned:", "events."};
    ck_assert_msg(h_wait(log_shows, &running, 60000), "the engine did not start");

    char bad[3001];
    memset(bad, '#', sizeof(bad) - 1);
    bad[sizeof(bad) - 1] = 0;
    /* Refused twice: the whole message, then its prefix; the third, empty, passes. */
    ck_assert_int_eq(rd_kafka_mock_broker_push_request_error_rtts(
                         p.mock.cluster, 3, API_PRODUCE, 2, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, 0,
                         RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, 0),
                     0);
    produce_pair(&p, bad, 1);
    wait_counted(&p, 2, 60000, "the first pair");
    ck_assert_msg(h_wait(stack_empty, &p, 60000), "the dead letter was not produced again");
    h_msgs_t dead = {0}, alerts = {0};
    h_consume_all(p.mock.bootstraps, "risk.deadletter", 1, 500, 30000, &dead);
    ck_assert_uint_eq(dead.n, 1);
    ck_assert_uint_eq(dead.m[0].len, 0);
    ck_assert_str_eq(dead.m[0].hdr[4], "3000");
    ck_assert_str_eq(dead.m[0].hdr[6], "0");
    uint8_t d[32];
    char hex[65];
    rw_sha256(bad, 3000, d);
    rw_hex(d, 32, hex);
    ck_assert_str_eq(dead.m[0].hdr[5], hex);

    /* Refused three times: dropped, and the partition goes on. */
    ck_assert_int_eq(rd_kafka_mock_broker_push_request_error_rtts(
                         p.mock.cluster, 3, API_PRODUCE, 3, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, 0,
                         RD_KAFKA_RESP_ERR_INVALID_RECORD, 0, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
                         0),
                     0);
    produce_pair(&p, bad, 2);
    wait_counted(&p, 4, 60000, "the second pair");
    log_wait_t dropped = {log, 0, "dead letter of events.transactions/0/1 dropped", NULL};
    ck_assert_msg(h_wait(log_shows, &dropped, 60000), "the refused dead letter was not dropped");
    h_consume_all(p.mock.bootstraps, "risk.alerts", 2, 1000, 30000, &alerts);
    size_t canaries = 0;
    for (size_t i = 0; i < alerts.n; i++)
        canaries += strstr(alerts.m[i].value, "\"event_id\":\"canary-") != NULL;
    ck_assert_uint_ge(canaries, 2);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_msgs_free(&dead);
    h_msgs_free(&alerts);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    return h_suite_of("faults_produce_refused", test_faults_produce_refused, 300);
}

int main(void) { return h_main(suite); }

/* Fault test: broker down and up. The fixture and what every fault case checks: faults.h. */
#include "faults.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Broker 1 (leader of half the input partitions, of an alert partition, of the
 * high-alert topic, and the group's coordinator) goes down between two parts
 * of the stream and comes back once the engine has stalled on it for longer
 * than its session timeout. */
START_TEST(test_faults_broker_down_and_up) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    rd_kafka_mock_cluster_t *mc = p.mock.cluster;
    const char *group = "ft-down";
    static const int32_t tx[4] = {1, 2, 3, 1};
    for (int32_t i = 0; i < 4; i++)
        set_leader(&p, "events.transactions", i, tx[i]);
    set_leader(&p, "events.service", 0, 1);
    set_leader(&p, "risk.alerts", 0, 1);
    set_leader(&p, "risk.alerts", 1, 2);
    set_leader(&p, "risk.alerts.high", 0, 1);
    set_leader(&p, "risk.deadletter", 0, 3);
    ck_assert_int_eq(rd_kafka_mock_coordinator_set(mc, "group", group, 1), 0);
    char cfg[256], parts[3][256];
    snprintf(cfg, sizeof(cfg), "%s", config(&p, group, false, 0));
    h_split_lines(EVENTS, 3, parts);
    const char *log = h_path("faults-down.log");
    pid_t eng = h_engine_start(cfg, log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n0 = h_produce_events(prod, parts[0]);
    wait_counted(&p, n0, 90000, "before the outage");

    size_t mark = file_size(log);
    ck_assert_int_eq(rd_kafka_mock_broker_set_down(mc, 1), 0);
    stream_t s;
    stream_start(&s, prod, parts[1], 1, 0, 0);
    /* The engine's clients lost broker 1, and it does what it can without. */
    char b1[64];
    snprintf(b1, sizeof(b1), "%.*s/1: ", (int)strcspn(p.mock.bootstraps, ","), p.mock.bootstraps);
    log_wait_t w = {log, mark, b1, NULL};
    ck_assert_msg(h_wait(log_shows, &w, 30000), "the engine's log shows no failure of broker 1");
    /* Stalled longer than the session timeout: the coordinator drops the
     * engine from the group, which it rejoins when the broker is back. */
    long long stalled = wait_stalled(p.rc, 8000, 60000);
    long n1 = count_lines(parts[1]);
    ck_assert_msg(stalled < n0 + n1, "broker 1 down, yet all %lld messages were counted", stalled);

    ck_assert_int_eq(rd_kafka_mock_broker_set_up(mc, 1), 0);
    ck_assert_int_eq(stream_join(&s), n1);
    long n2 = h_produce_events(prod, parts[2]);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n0 + n1 + n2, e.events);
    assert_outcome(&p, &e, n0 + n1 + n2, "broker down and up");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_expect_free(&e);
    unlink_parts(parts, 3);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    return h_suite_of("faults_broker_down_and_up", test_faults_broker_down_and_up, 300);
}

int main(void) { return h_main(suite); }

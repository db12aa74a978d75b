/* Fault test: sigterm with alerts in flight. The fixture and what every fault case checks:
 * faults.h. */
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

/* SIGTERM while the engine publishes a big part whose acknowledgements take a
 * second each (broker 2, the alerts' leader, answers slowly): it finishes the
 * batches in flight, commits and exits 0; a restart reads nothing again. */
START_TEST(test_faults_sigterm_with_alerts_in_flight) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    const char *group = "ft-term";
    place(&p, group, 1, 2, 2);
    ck_assert_int_eq(rd_kafka_mock_broker_set_rtt(p.mock.cluster, 2, 1000), 0);
    char cfg[256], parts[4][256];
    snprintf(cfg, sizeof(cfg), "%s", config(&p, group, false, 0));
    h_split_lines(EVENTS, 4, parts);
    const char *log = h_path("faults-term.log"), *log2 = h_path("faults-term2.log");
    pid_t eng = h_engine_start(cfg, log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n0 = h_produce_events(prod, parts[0]);
    wait_counted(&p, n0, 90000, "before the big part");
    long n1 = h_produce_events(prod, parts[1]) + h_produce_events(prod, parts[2]);
    wait_counted(&p, n0 + 1, 90000, "in the big part");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 60000), 0);
    /* Batches are counted in Redis before their alerts are acknowledged: the
     * engine says what it still had in flight when it stopped. */
    long long done = counted(p.rc);
    ck_assert_msg(done < n0 + n1 || log_has(log, "batches in flight"),
                  "the big part was over before SIGTERM (%lld counted, nothing in flight)", done);
    ck_assert_msg(log_has(log, "stopping:"), "no clean stop in the log");

    ck_assert_int_eq(rd_kafka_mock_broker_set_rtt(p.mock.cluster, 2, 0), 0);
    eng = h_engine_start(cfg, log2);
    long n3 = h_produce_events(prod, parts[3]);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n0 + n1 + n3, e.events);
    assert_outcome(&p, &e, n0 + n1 + n3, "SIGTERM with alerts in flight");
    /* What the stopped engine finished, it committed. */
    ck_assert_msg(!log_has(log2, "read again"), "messages finished before SIGTERM were read again");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_expect_free(&e);
    unlink_parts(parts, 4);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    return h_suite_of("faults_sigterm_with_alerts_in_flight",
                      test_faults_sigterm_with_alerts_in_flight, 300);
}

int main(void) { return h_main(suite); }

/* Fault test: two engines one killed. The fixture and what every fault case checks: faults.h. */
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

/* Two engines share a group; once both have counted events, one is killed
 * (SIGKILL) mid-stream. The other takes its partitions after the session
 * timeout and reads its uncommitted messages again. */
START_TEST(test_faults_two_engines_one_killed) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    char cfg[256];
    snprintf(cfg, sizeof(cfg), "%s", config(&p, "ft-two", true, 0));
    const char *log_a = h_path("faults-two-a.log"), *log_b = h_path("faults-two-b.log");
    pid_t a = h_engine_start(cfg, log_a);
    pid_t b = h_engine_start(cfg, log_b);
    busy_t busy = {{metrics_port(log_a), metrics_port(log_b)}};
    /* Both engines hold partitions before the stream starts. */
    log_wait_t wa = {log_a, 0, "partitions assigned:", "events."};
    log_wait_t wb = {log_b, 0, "partitions assigned:", "events."};
    ck_assert_msg(h_wait(log_shows, &wa, 60000) && h_wait(log_shows, &wb, 60000),
                  "the two engines did not both get partitions");
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    /* The last sixth of the stream waits for the kill. */
    stream_t s;
    stream_start(&s, prod, EVENTS, 60, 250, 50);
    ck_assert_msg(h_wait(both_busy, &busy, 60000), "the two engines did not both count events");
    ck_assert_int_eq(h_engine_stop(a, SIGKILL, 10000), 128 + SIGKILL);
    atomic_store(&s.gate, 0);
    long n = stream_join(&s);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n, e.events);
    assert_outcome(&p, &e, n, "two engines, one killed");
    ck_assert_int_eq(h_engine_stop(b, SIGTERM, 30000), 0);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    return h_suite_of("faults_two_engines_one_killed", test_faults_two_engines_one_killed, 300);
}

int main(void) { return h_main(suite); }

/* Fault test: leader changes. The fixture and what every fault case checks: faults.h. */
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

/* The engine's topics and their partition counts. */
static const struct {
    const char *name;
    int partitions;
} topics[] = {{"events.transactions", 4},
              {"events.service", 1},
              {"risk.alerts", 2},
              {"risk.alerts.high", 1},
              {"risk.deadletter", 1}};
#define N_TOPICS (sizeof(topics) / sizeof(topics[0]))

/* Every partition's leader, input and output, moves to another broker six
 * times while the events stream in. */
START_TEST(test_faults_leader_changes) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    char cfg[256];
    snprintf(cfg, sizeof(cfg), "%s", config(&p, "ft-leaders", false, 0));
    const char *log = h_path("faults-leaders.log");
    pid_t eng = h_engine_start(cfg, log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    stream_t s;
    stream_start(&s, prod, EVENTS, 40, 150, 0);
    const int rounds = 6;
    for (int r = 1; r <= rounds; r++) {
        wait_counted(&p, e.events * r / (rounds + 1), 90000, "between leader changes");
        for (size_t t = 0; t < N_TOPICS; t++)
            for (int32_t i = 0; i < topics[t].partitions; i++)
                set_leader(&p, topics[t].name, i, (i + r) % 3 + 1);
    }
    long n = stream_join(&s);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n, e.events);
    assert_outcome(&p, &e, n, "leader changes");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    return h_suite_of("faults_leader_changes", test_faults_leader_changes, 300);
}

int main(void) { return h_main(suite); }

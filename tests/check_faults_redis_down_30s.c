/* Fault test: redis down 30s. The fixture and what every fault case checks: faults.h. */
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

/* redis-server hangs for 30 s (SIGSTOP, SIGCONT): connections stay open and
 * commands time out. The engine pauses, says so on /healthz, and carries on
 * where it stopped. */
START_TEST(test_faults_redis_down_30s) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    char cfg[256];
    snprintf(cfg, sizeof(cfg), "%s", config(&p, "ft-rstop", true, 0));
    const char *log = h_path("faults-rstop.log");
    pid_t eng = h_engine_start(cfg, log);
    int port = metrics_port(log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    stream_t s;
    stream_start(&s, prod, EVENTS, 30, 150, 0);
    wait_counted(&p, e.events / 3, 90000, "before the outage");

    /* p.rc stays unused while the server is stopped: its commands would time out. */
    size_t mark = file_size(log);
    ck_assert_int_eq(kill(p.redis.pid, SIGSTOP), 0);
    int64_t t0 = rw_monotonic_ms();
    log_wait_t w = {log, mark, "retrying in", NULL};
    ck_assert_msg(h_wait(log_shows, &w, 30000), "the engine did not notice Redis hanging");
    health_t sick = {port, 503};
    ck_assert_msg(h_wait(health_is, &sick, 20000), "/healthz did not turn 503");
    /* The outage lasts 30 s; the engine must live through it. */
    while (rw_monotonic_ms() - t0 < 30000) {
        ck_assert_msg(waitpid(eng, NULL, WNOHANG) == 0, "the engine exited during the outage");
        usleep(100000);
    }
    ck_assert_int_eq(kill(p.redis.pid, SIGCONT), 0);

    long n = stream_join(&s);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n, e.events);
    assert_outcome(&p, &e, n, "redis down 30 s");
    health_t well = {port, 200};
    ck_assert_msg(h_wait(health_is, &well, 20000), "/healthz did not turn 200 again");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    return h_suite_of("faults_redis_down_30s", test_faults_redis_down_30s, 300);
}

int main(void) { return h_main(suite); }

/* Fault test: redis killed and restarted. The fixture and what every fault case checks: faults.h.
 */
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

/* redis-server is killed (SIGKILL) twice mid-stream and restarted on the same
 * port with its data (an fsync'd append-only file): batches in flight are
 * retried, and the fences keep a write that landed before the kill from
 * counting twice. */
START_TEST(test_faults_redis_killed_and_restarted) {
    h_peers_t p;
    h_peers_start(&p);
    h_redis_persist(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    char cfg[256];
    snprintf(cfg, sizeof(cfg), "%s", config(&p, "ft-rkill", false, 0));
    const char *log = h_path("faults-rkill.log");
    pid_t eng = h_engine_start(cfg, log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    stream_t s;
    stream_start(&s, prod, EVENTS, 40, 150, 0);
    for (int k = 1; k <= 2; k++) {
        wait_counted(&p, e.events * k / 3, 90000, "before the kill");
        size_t mark = file_size(log);
        h_redis_kill(&p);
        log_wait_t w = {log, mark, "retrying in", NULL};
        ck_assert_msg(h_wait(log_shows, &w, 30000), "the engine did not notice Redis was gone");
        h_redis_restart(&p);
    }
    long n = stream_join(&s);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n, e.events);
    assert_outcome(&p, &e, n, "redis killed and restarted");
    /* Restarted with its data: the state was not lost, and nothing says so. */
    ck_assert(!log_has(log, "redis lost its state"));
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_expect_free(&e);
    h_redis_persist_fini(&p);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    return h_suite_of("faults_redis_killed_and_restarted", test_faults_redis_killed_and_restarted,
                      300);
}

int main(void) { return h_main(suite); }

/* Fault test: redis reply lost. The fixture and what every fault case checks: faults.h. */
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

/* The reply to the engine's Redis write is lost twice (through a proxy that
 * forwards the write, then swallows the answer): Redis applied the batch, the
 * engine times out and tries again. The fences it reads then show the batch
 * applied: it publishes its alerts again and counts nothing twice.
 *
 * The input is held back at a gate (a third and two thirds of it, and a chunk)
 * until the loss is armed: an engine far behind the input (a loaded machine)
 * would otherwise take what is left in one or two large batches and make no
 * write after the count the test waits for. */
START_TEST(test_faults_redis_reply_lost) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    proxy_t px;
    proxy_start(&px, p.redis.port);
    char cfg[256];
    snprintf(cfg, sizeof(cfg), "%s", config(&p, "ft-rlost", false, px.port));
    const char *log = h_path("faults-rlost.log");
    pid_t eng = h_engine_start(cfg, log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    stream_t s;
    stream_start(&s, prod, EVENTS, 30, 150, 11);
    for (int k = 1; k <= 2; k++) {
        wait_counted(&p, e.events * k / 3, 90000, "before a lost reply");
        size_t mark = file_size(log);
        atomic_store(&px.armed, 1);
        atomic_store(&s.gate, k == 1 ? 21 : 0); /* the writes to lose come with the next chunks */
        lost_wait_t lw = {&px, k};
        ck_assert_msg(h_wait(replies_lost, &lw, 60000), "no Redis write went through the proxy");
        /* The engine times out, finds its batch applied, and goes on. */
        log_wait_t w = {log, mark, "read again", NULL};
        ck_assert_msg(h_wait(log_shows, &w, 30000),
                      "after a lost reply, the engine did not find its batch applied");
        /* The first retry is logged; a second within seconds is held back by the log's rate
         * limit (and counted on the next line), and "read again" above proves it ran. */
        ck_assert_msg(k > 1 || log_has_from(log, mark, "redis apply", "retrying in"),
                      "the engine did not retry the write whose reply was lost");
    }
    long n = stream_join(&s);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n, e.events);
    assert_outcome(&p, &e, n, "redis reply lost");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    proxy_stop(&px);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    return h_suite_of("faults_redis_reply_lost", test_faults_redis_reply_lost, 300);
}

int main(void) { return h_main(suite); }

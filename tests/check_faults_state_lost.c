/* Fault test: Redis loses its state mid-stream. The fixture: faults.h. */
#include "faults.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Waits for the engine to say, in its log, metric and /healthz, that Redis
 * lost its state after the log's byte mark. */
static void assert_loss_told(const char *log, size_t mark, int port, double times) {
    log_wait_t w = {log, mark, "redis lost its state", "restored from memory"};
    ck_assert_msg(h_wait(log_shows, &w, 60000), "the engine did not log the loss of the state");
    ck_assert_msg(metric_sum(port, "riskwarn_state_lost_total") >= times,
                  "riskwarn_state_lost_total is %g, not %g",
                  metric_sum(port, "riskwarn_state_lost_total"), times);
    char body[4096];
    int status = http_get(port, "/healthz", body, sizeof(body));
    ck_assert_int_eq(status, 503);
    ck_assert_msg(strstr(body, "state: redis lost its state"), "/healthz says: %s", body);
}

/* The packs run: windows only, and windows with a cool-down and deadline
 * cases (whose open cases the engine holds and writes back too). */
static const char *const packs[] = {RULES, "tests/packs/rebuild.json"};

/* FLUSHALL a third of the way, then Redis restarted without its data two
 * thirds of the way: each time the engine notices within a batch, says so,
 * and writes back the windows, cool-downs, open cases and fences it holds, so
 * that every alert is the undisturbed replay's (deadline alerts included),
 * and none is missing. (The Redis counters, which the engine does not hold,
 * start again from the loss: not compared.) */
START_TEST(test_faults_state_lost) {
    const char *rules = packs[_i];
    bool cases = _i == 1;
    h_peers_t p;
    h_peers_start(&p);
    const char *log = h_path(cases ? "faults-lost-cases.log" : "faults-lost.log");
    unlink(log);
    pid_t eng =
        h_engine_start(config_rules(&p, cases ? "ft-lost-cases" : "ft-lost", true, 0, rules), log);
    int port = metrics_port(log);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(rules, EVENTS, &e), 0);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    stream_t s;
    stream_start(&s, prod, EVENTS, 40, 150, 0);

    wait_counted(&p, e.events / 3, 90000, "before FLUSHALL");
    size_t mark = file_size(log);
    redisReply *r = redisCommand(p.rc, "FLUSHALL");
    ck_assert_ptr_nonnull(r);
    freeReplyObject(r);
    assert_loss_told(log, mark, port, 1);
    /* Deadline cases were open then, and were written back. */
    if (cases)
        ck_assert_msg(!log_has_from(log, mark, "restored from memory", " 0 open cases"),
                      "no open case was written back");

    wait_counted(&p, e.events / 4, 90000, "after FLUSHALL");
    mark = file_size(log);
    h_redis_restart(&p); /* no persistence: the data is gone */
    assert_loss_told(log, mark, port, 2);

    long n = stream_join(&s);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n, e.events);
    assert_alerts(&p, &e, "state lost");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("faults_state_lost");
    TCase *tc = tcase_create("faults_state_lost");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_faults_state_lost, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(suite); }

/* Fault test: how soon a group processes again after an engine is SIGKILLed,
 * and that a SIGTERMed engine leaves the group at once. The engines run with
 * the default session timeout and heartbeat (nothing in kafka.properties).
 * Times are printed; the bounds asserted are loose (stretched by h_scale()),
 * yet below what the old defaults gave (librdkafka's 45 s session timeout).
 * The fixture: faults.h. */
#include "faults.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An ENGINE.json with librdkafka's and the engine's defaults; with a
 * group.instance.id when instance is not NULL. */
static const char *default_config(const h_peers_t *p, const char *group, const char *instance) {
    char text[1024], props[128] = "";
    if (instance)
        snprintf(props, sizeof(props), ", \"properties\": {\"group.instance.id\": \"%s\"}",
                 instance);
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"%s\"%s},\n"
             " \"redis\": {\"host\": \"127.0.0.1\", \"port\": %d},\n"
             " \"metrics_listen\": null, \"rules\": \"rules/packs/default.json\"}\n",
             p->mock.bootstraps, group, props, p->redis.port);
    return h_tmpfile(".json", text);
}

static void produce_one(h_peers_t *p, int32_t partition, int n) {
    rd_kafka_t *prod = h_producer(p->mock.bootstraps);
    char ev[512];
    snprintf(ev, sizeof(ev),
             "{\"event_id\":\"qr-%d\",\"type\":\"transaction\",\"ts\":\"2026-11-20T10:00:%02dZ\","
             "\"account\":\"62220000000000006%02d\",\"amount\":2000000,\"direction\":\"out\"}",
             n, n, n);
    ck_assert_int_eq(h_produce(prod, "events.transactions", partition, NULL, ev, strlen(ev)), 0);
    ck_assert_int_eq(rd_kafka_flush(prod, 10000), 0);
    rd_kafka_destroy(prod);
}

/* A SIGKILLed engine's partitions wait for its session to time out (6 s by
 * default now; 44.5 s before). A new engine in its place processes again
 * soon after. */
static void sigkill_and_restart(const char *instance) {
    h_peers_t p;
    h_peers_start(&p);
    const char *cfg = default_config(&p, "qr-kill", instance);
    pid_t a = h_engine_start(cfg, h_path("qr-kill-a.log"));
    produce_one(&p, 0, 1);
    wait_counted(&p, 1, 60000, "before the SIGKILL");
    ck_assert_int_eq(h_engine_stop(a, SIGKILL, 10000), 137);
    int64_t t0 = rw_monotonic_ms();
    pid_t b = h_engine_start(cfg, h_path("qr-kill-b.log"));
    produce_one(&p, 1, 2);
    wait_counted(&p, 2, 90000, "after the restart");
    int64_t ms = rw_monotonic_ms() - t0;
    printf("quick_return: processing again %.1f s after a SIGKILL and restart%s\n",
           (double)ms / 1000.0, instance ? " (static member)" : "");
    ck_assert_msg(ms < h_ms(35000), "processing resumed only after %.1f s", (double)ms / 1000.0);
    ck_assert_int_eq(h_engine_stop(b, SIGTERM, 30000), 0);
    h_peers_stop(&p);
}

START_TEST(test_faults_quick_return_after_sigkill) { sigkill_and_restart(NULL); }
END_TEST

/* With group.instance.id the restarted engine rejoins as the same static
 * member: a broker gives its partitions back without a rebalance (the mock
 * cluster treats it as a new member, so this checks that it is taken and
 * works, not how fast). */
START_TEST(test_faults_quick_return_static_member) { sigkill_and_restart("engine-a"); }
END_TEST

/* A SIGTERMed engine leaves the group as it stops: the other engine of the
 * group takes every partition without waiting for a session timeout. */
START_TEST(test_faults_quick_return_sigterm_leaves) {
    h_peers_t p;
    h_peers_start(&p);
    const char *cfg = default_config(&p, "qr-term", NULL);
    const char *log_a = h_path("qr-term-a.log"), *log_b = h_path("qr-term-b.log");
    pid_t a = h_engine_start(cfg, log_a);
    log_wait_t wa = {log_a, 0, "partitions assigned:", "events."};
    ck_assert_msg(h_wait(log_shows, &wa, 60000), "engine A got no partitions");
    pid_t b = h_engine_start(cfg, log_b);
    log_wait_t wb = {log_b, 0, "partitions assigned:", "events."};
    ck_assert_msg(h_wait(log_shows, &wb, 60000), "engine B got no partitions");
    size_t mark = file_size(log_b);
    ck_assert_int_eq(h_engine_stop(a, SIGTERM, 30000), 0);
    int64_t t0 = rw_monotonic_ms();
    log_wait_t all = {log_b, mark, "partitions assigned: 5 ", NULL};
    bool took = h_wait(log_shows, &all, 30000);
    int64_t ms = rw_monotonic_ms() - t0;
    printf("quick_return: the other engine had every partition %.1f s after a SIGTERM\n",
           (double)ms / 1000.0);
    ck_assert_msg(took, "engine B never took every partition");
    /* Without a LeaveGroup it would wait for the session timeout (6 s) and a
     * rebalance (the mock cluster waits 5 s more for members to rejoin). */
    ck_assert_msg(ms < h_ms(9000), "engine B took every partition only after %.1f s",
                  (double)ms / 1000.0);
    ck_assert_int_eq(h_engine_stop(b, SIGTERM, 30000), 0);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    Suite *s = h_suite_of("faults_quick_return", test_faults_quick_return_after_sigkill, 300);
    TCase *tc = tcase_create("sigterm_leaves");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_faults_quick_return_sigterm_leaves);
    suite_add_tcase(s, tc);
    tc = tcase_create("static_member");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_faults_quick_return_static_member);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(suite); }

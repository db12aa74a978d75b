/* Fault test: /healthz. An idle engine answers 200 "ok"; 503 naming the check
 * while every broker is down, while Redis is down, and while it holds no
 * partitions and is out of its group for longer than its session timeout;
 * 200 again once each is back. The fixture: faults.h. */
#include "faults.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* /healthz answers want, with a body that holds needle (when not NULL) and
 * not unwanted (when not NULL). */
typedef struct health_body {
    int port, want;
    const char *needle, *unwanted;
    char body[2048];
} health_body_t;

static bool health_says(void *arg) {
    health_body_t *h = arg;
    return http_get(h->port, "/healthz", h->body, sizeof(h->body)) == h->want &&
           (!h->needle || strstr(h->body, h->needle)) &&
           (!h->unwanted || !strstr(h->body, h->unwanted));
}

static void expect_health(int port, int want, const char *needle, const char *unwanted,
                          int timeout_ms, const char *what) {
    health_body_t h = {port, want, needle, unwanted, ""};
    ck_assert_msg(h_wait(health_says, &h, timeout_ms), "%s: /healthz is not %d with \"%s\": %s",
                  what, want, needle ? needle : "", h.body);
}

/* The engine of a test, idle and healthy, with its metrics port. */
static pid_t start(h_peers_t *p, const char *group, int *port) {
    const char *log = h_path(group);
    pid_t eng = h_engine_start(config(p, group, true, 0), log);
    *port = metrics_port(log);
    expect_health(*port, 200, "ok", NULL, 30000, "at start");
    return eng;
}

START_TEST(test_health_every_broker_down) {
    h_peers_t p;
    h_peers_start(&p);
    int port;
    pid_t eng = start(&p, "hl-kafka", &port);
    for (int b = 1; b <= 3; b++)
        ck_assert_int_eq(rd_kafka_mock_broker_set_down(p.mock.cluster, b), 0);
    expect_health(port, 503, "kafka: no broker reachable", NULL, 30000, "brokers down");
    ck_assert_double_eq(metric_sum(port, "riskwarn_healthy"), 0);
    for (int b = 1; b <= 3; b++)
        ck_assert_int_eq(rd_kafka_mock_broker_set_up(p.mock.cluster, b), 0);
    expect_health(port, 200, "ok", NULL, 60000, "brokers back");
    ck_assert_double_eq(metric_sum(port, "riskwarn_healthy"), 1);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_peers_stop(&p);
}
END_TEST

START_TEST(test_health_redis_down) {
    h_peers_t p;
    h_peers_start(&p);
    int port;
    pid_t eng = start(&p, "hl-redis", &port);
    h_redis_kill(&p);
    expect_health(port, 503, "redis: ", "kafka:", 30000, "redis-server killed");
    h_redis_restart(&p);
    expect_health(port, 200, "ok", NULL, 30000, "redis-server back");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_peers_stop(&p);
}
END_TEST

/* The group's coordinator goes down while the other brokers stay up: the
 * engine cannot heartbeat, loses its partitions after its session timeout
 * (6 s), and is unhealthy once that lasts another session timeout. */
START_TEST(test_health_no_partitions_out_of_group) {
    h_peers_t p;
    h_peers_start(&p);
    const char *group = "hl-group";
    for (int32_t i = 0; i < 4; i++)
        set_leader(&p, "events.transactions", i, 1 + i % 2);
    set_leader(&p, "events.service", 0, 2);
    ck_assert_int_eq(rd_kafka_mock_coordinator_set(p.mock.cluster, "group", group, 3), 0);
    int port;
    pid_t eng = start(&p, group, &port);
    ck_assert_int_eq(rd_kafka_mock_broker_set_down(p.mock.cluster, 3), 0);
    expect_health(port, 503, "partitions: no partitions", "kafka:", 60000, "coordinator down");
    ck_assert_int_eq(rd_kafka_mock_broker_set_up(p.mock.cluster, 3), 0);
    expect_health(port, 200, "ok", NULL, 60000, "coordinator back");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("faults_health");
    TCase *tc = tcase_create("health");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_health_every_broker_down);
    tcase_add_test(tc, test_health_redis_down);
    tcase_add_test(tc, test_health_no_partitions_out_of_group);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(suite); }

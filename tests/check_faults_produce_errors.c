/* Fault test: produce errors. The fixture and what every fault case checks: faults.h. */
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

static size_t error_stack(h_peers_t *p, int32_t broker) {
    size_t cnt = 0;
    ck_assert_int_eq(
        rd_kafka_mock_broker_error_stack_cnt(p->mock.cluster, broker, API_PRODUCE, &cnt), 0);
    return cnt;
}

typedef struct stacks {
    h_peers_t *p;
} stacks_t;

static bool stacks_empty(void *arg) {
    stacks_t *s = arg;
    return error_stack(s->p, 2) == 0 && error_stack(s->p, 3) == 0;
}

/* The engine's produce requests for alerts fail: retriable errors (not
 * leader, timed out, not enough replicas, a dropped connection), and then
 * errors that fail the delivery of the messages they carry.
 *
 * One produce request in flight per broker: the mock cluster answers the
 * requests of an idempotent producer with the errors pushed here whatever
 * their sequence numbers, and appends a later request after refusing earlier
 * ones of the same partition, which a broker never does (it refuses a
 * sequence that skips one). librdkafka then takes the refused ones as
 * written ("implicitly acked by subsequent batch success") and reports them
 * delivered: alerts the engine cannot know were lost. With several requests
 * in flight per partition (a loaded machine, alerts piling up), that lost
 * alerts here; with one, every error meets the only request in flight. */
START_TEST(test_faults_produce_errors) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    const char *group = "ft-produce";
    /* Only the engine produces to brokers 2 and 3: their errors are its. */
    place(&p, group, 1, 2, 3);
    char cfg[256], parts[3][256];
    snprintf(
        cfg, sizeof(cfg), "%s",
        config_props(&p, group, false, 0, RULES, "\"max.in.flight.requests.per.connection\": 1"));
    h_split_lines(EVENTS, 3, parts);
    const char *log = h_path("faults-produce.log");
    pid_t eng = h_engine_start(cfg, log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n0 = h_produce_events(prod, parts[0]);
    wait_counted(&p, n0, 90000, "before the errors");

    /* Retriable: librdkafka retries them itself. */
    for (int32_t b = 2; b <= 3; b++)
        ck_assert_int_eq(
            rd_kafka_mock_broker_push_request_error_rtts(
                p.mock.cluster, b, API_PRODUCE, 8, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 0,
                RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 0, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, 0,
                RD_KAFKA_RESP_ERR__TRANSPORT, 0, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 200,
                RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 0,
                RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, 0,
                RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 0),
            0);
    long n1 = h_produce_events(prod, parts[1]);
    stacks_t st = {&p};
    ck_assert_msg(h_wait(stacks_empty, &st, 60000),
                  "the engine's produce requests did not meet every error (%zu, %zu left)",
                  error_stack(&p, 2), error_stack(&p, 3));
    wait_counted(&p, n0 + n1, 90000, "after retriable errors");

    /* Not retriable by librdkafka: the deliveries fail, the engine produces again
     * (and says so: the log from before the errors can first be met on). */
    size_t mark = file_size(log);
    for (int32_t b = 2; b <= 3; b++)
        ck_assert_int_eq(
            rd_kafka_mock_broker_push_request_error_rtts(
                p.mock.cluster, b, API_PRODUCE, 4, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, 0,
                RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 0, RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS, 0,
                RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 0),
            0);
    long n2 = h_produce_events(prod, parts[2]);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n0 + n1 + n2, e.events);
    ck_assert_msg(h_wait(stacks_empty, &st, 60000),
                  "the engine's produce requests did not meet every error (%zu, %zu left)",
                  error_stack(&p, 2), error_stack(&p, 3));
    assert_outcome(&p, &e, n0 + n1 + n2, "produce errors");
    ck_assert_msg(log_has_from(log, mark, "alerts not acknowledged", NULL),
                  "failed deliveries were not produced again");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_expect_free(&e);
    unlink_parts(parts, 3);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    return h_suite_of("faults_produce_errors", test_faults_produce_errors, 300);
}

int main(void) { return h_main(suite); }

/* Fault test: SIGTERM while Redis is away. The engine retries with backoff
 * through its stop grace, then stops with exit code 1 and the batch not
 * committed; its log stays short (once 288,841 warnings in the 10 s grace:
 * retries did not wait while stopping). The fixture: faults.h. */
#include "faults.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long lines_after(const char *path, size_t from) {
    size_t len;
    rw_error_t err;
    rw_error_clear(&err);
    char *text = rw_file_read(path, &len, &err);
    ck_assert_msg(text != NULL, "%s", err.text);
    long n = 0;
    for (size_t i = from; i < len; i++)
        n += text[i] == '\n';
    free(text);
    return n;
}

START_TEST(test_faults_stop_redis_down) {
    h_peers_t p;
    h_peers_start(&p);
    const char *group = "ft-stop-redis";
    place(&p, group, 1, 2, 3);
    char parts[2][256];
    h_split_lines(EVENTS, 2, parts);
    const char *log = h_path("faults-stop-redis.log");
    pid_t eng = h_engine_start(config(&p, group, false, 0), log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n0 = h_produce_events(prod, parts[0]);
    wait_counted(&p, n0, 90000, "before Redis goes");

    h_redis_kill(&p);
    size_t mark = file_size(log);
    h_produce_events(prod, parts[1]);
    rd_kafka_flush(prod, 10000);
    log_wait_t failing = {log, mark, "retrying in", NULL};
    ck_assert_msg(h_wait(log_shows, &failing, 60000), "the engine did not notice Redis was gone");
    size_t stop_mark = file_size(log);
    /* The stop grace (10 s) passes with Redis away: exit 1, the batch not committed. */
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 60000), 1);
    long n = lines_after(log, stop_mark);
    printf("stop_redis_down: %ld log lines from SIGTERM to the exit\n", n);
    ck_assert_msg(n < 60, "%ld log lines in the stop grace", n);
    ck_assert(log_has_from(log, stop_mark, "stopping with a batch not done", NULL));

    rd_kafka_destroy(prod);
    h_redis_restart(&p);
    unlink_parts(parts, 2);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    return h_suite_of("faults_stop_redis_down", test_faults_stop_redis_down, 300);
}

int main(void) { return h_main(suite); }

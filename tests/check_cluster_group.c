/* Several engines over Redis Cluster: three engines of one consumer group, each with its own
 * group.instance.id, on the six-node cluster of tests/cluster.h, split the input partitions
 * and together give exactly the replay's results (alerts, counters, every message counted
 * once, and the windows, cases and cool-downs the same input leaves in one redis-server).
 * Mid-stream one of them is SIGKILLed and started again with the same group.instance.id:
 * it gets partitions again and the group ends as undisturbed.
 *
 * librdkafka's mock cluster ignores static membership: it treats the restarted engine as a
 * new member, so the group waits for the killed member's session to time out (6 s, the
 * engine's default session.timeout.ms) and rebalances. The time until the restarted engine
 * holds partitions again is printed; what is asserted is that it gets them back and that
 * nothing is lost or counted twice, not how fast a broker with KIP-345 would give them. */
#include "cluster.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS CL_EVENTS
#define ENGINES 3
#define PARTS 6
#define INPUT_PARTITIONS 5 /* events.transactions:4, events.service:1 (h_peers_start) */

/* The last assignment line of an engine's log ("partitions assigned: N (...)" or
 * "partitions revoked: ..."), copied into buf; false when there is none. */
static bool last_assignment(const char *log, char *buf, size_t len) {
    FILE *f = fopen(log, "r");
    char line[4096];
    bool found = false;
    while (f && fgets(line, sizeof(line), f)) {
        const char *at = strstr(line, "partitions ");
        if (!at ||
            (strncmp(at, "partitions assigned:", 20) && strncmp(at, "partitions revoked:", 19)))
            continue;
        snprintf(buf, len, "%s", at);
        buf[strcspn(buf, "\n")] = 0;
        found = true;
    }
    if (f)
        fclose(f);
    return found;
}

/* The messages an engine's log says it processed ("stopping: N messages"); -1: none. */
static long long processed(const char *log) {
    FILE *f = fopen(log, "r");
    char line[4096];
    long long n = -1;
    while (f && fgets(line, sizeof(line), f)) {
        const char *at = strstr(line, "stopping: ");
        long long k;
        if (at && sscanf(at, "stopping: %lld messages", &k) == 1)
            n = k;
    }
    if (f)
        fclose(f);
    return n;
}

typedef struct group {
    const char *logs[ENGINES];
} group_t;

/* For h_wait: every engine holds input partitions, and together every one. */
static bool group_settled(void *arg) {
    const group_t *g = arg;
    int total = 0;
    for (int i = 0; i < ENGINES; i++) {
        char a[4096];
        int n;
        if (!last_assignment(g->logs[i], a, sizeof(a)) ||
            sscanf(a, "partitions assigned: %d", &n) != 1 || n <= 0)
            return false;
        total += n;
    }
    return total == INPUT_PARTITIONS;
}

START_TEST(test_cluster_group_of_engines) {
    h_peers_t p;
    cluster_t c;
    h_expect_t e;
    rw_rcluster_t *rc = cl_begin(&p, &c, &e);
    char parts[PARTS][128];
    long total = cl_split_events(EVENTS, PARTS, parts), sent = 0;

    char cfg[ENGINES][128], logs[ENGINES][128];
    pid_t eng[ENGINES];
    group_t g;
    for (int i = 0; i < ENGINES; i++) {
        char id[32], name[64];
        snprintf(id, sizeof(id), "engine-%c", 'a' + i);
        snprintf(cfg[i], sizeof(cfg[i]), "%s",
                 cl_engine_config(p.mock.bootstraps, &c, "cluster-group", id));
        snprintf(name, sizeof(name), "group-%c.log", 'a' + i);
        snprintf(logs[i], sizeof(logs[i]), "%s", h_path(name));
        g.logs[i] = logs[i];
        eng[i] = h_engine_start(cfg[i], logs[i]);
    }
    ck_assert_msg(h_wait(group_settled, &g, 90000), "the three engines did not split the "
                                                    "partitions");
    for (int k = 0; k < 3; k++)
        cl_produce_part(&p, parts[k], &sent);
    cl_wait_counted(rc, sent, "three engines");

    /* Engine b is SIGKILLed mid-stream and started again as the same static member. */
    char before[4096], after[4096];
    ck_assert(last_assignment(logs[1], before, sizeof(before)));
    cl_produce_part(&p, parts[3], &sent);
    ck_assert_int_eq(h_engine_stop(eng[1], SIGKILL, 10000), 128 + SIGKILL);
    int64_t t0 = rw_monotonic_ms();
    snprintf(logs[1], sizeof(logs[1]), "%s", h_path("group-b-again.log"));
    eng[1] = h_engine_start(cfg[1], logs[1]);
    ck_assert_msg(h_wait(group_settled, &g, 90000), "engine b did not get partitions back");
    double back = (double)(rw_monotonic_ms() - t0) / 1000.0;
    ck_assert(last_assignment(logs[1], after, sizeof(after)));
    printf("cluster_group: engine b, SIGKILLed and started again with group.instance.id "
           "engine-b, held partitions again %.1f s later (the mock cluster ignores static "
           "membership: this is its session timeout and a rebalance)\n  before: %s\n  after:  "
           "%s\n",
           back, before, after);
    for (int k = 4; k < PARTS; k++)
        cl_produce_part(&p, parts[k], &sent);
    ck_assert_int_eq(sent, total);
    cl_wait_counted(rc, total, "at the end");
    for (int i = 0; i < ENGINES; i++)
        ck_assert_int_eq(h_engine_stop(eng[i], SIGTERM, 30000), 0);
    /* Each engine took a share. */
    for (int i = 0; i < ENGINES; i++)
        ck_assert_msg(processed(logs[i]) > 0, "%s processed nothing", logs[i]);

    cl_assert_outcome(&p, &c, rc, &e, total);

    h_expect_free(&e);
    rw_rcluster_destroy(rc);
    cl_stop(&c);
    h_peers_stop(&p);
}
END_TEST

static Suite *suite(void) {
    return h_suite_of("cluster_group", test_cluster_group_of_engines, 600);
}

int main(void) { return h_main(suite); }

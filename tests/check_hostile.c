/* Hostile input and hostile peers: the engine binary against librdkafka's mock
 * cluster and a real redis-server, fed what a careless or hostile sender would
 * send. No single message stops the engine or a partition (messages larger
 * than the producer may send, malformed or valid); an event from the far future
 * moves no clock, in run and replay alike; a SIGKILLed engine comes back
 * within its session timeout; the metrics endpoint answers with thousands of
 * idle connections open.
 *
 * One tcase a case: CK_RUN_CASE=future_timestamp runs one. */
#include "harness.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define RULES "rules/packs/default.json"

static size_t count_in(const h_msgs_t *m, const char *needle) {
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += m->m[i].value && strstr(m->m[i].value, needle) != NULL;
    return n;
}

/* ---- an event from the future ------------------------------------------------------------ */

/* 40 complaints opened, one transaction dated 2100, the 40 resolved the next
 * day, then a large transfer that alerts. Returns the path of the file. */
static const char *future_events(void) {
    static char text[64 * 1024];
    size_t o = 0;
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(
            text + o, sizeof(text) - o,
            "{\"event_id\":\"op-%d\",\"type\":\"complaint\",\"ts\":\"2026-11-16T18:"
            "%02d:00+08:00\",\"complaint_id\":\"c%d\",\"customer_id\":\"cust-%d\","
            "\"action\":\"opened\",\"severity\":\"general\",\"product\":\"p%d\","
            "\"channel\":\"Web\",\"branch\":\"b%d\"}\n",
            i, i, i, i, i, i);
    o += (size_t)snprintf(
        text + o, sizeof(text) - o,
        "{\"event_id\":\"tx-2100\",\"type\":\"transaction\",\"ts\":\"2100-01-01T00:"
        "00:00Z\",\"account\":\"6222000000000000001\",\"amount\":10,"
        "\"direction\":\"out\"}\n");
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(
            text + o, sizeof(text) - o,
            "{\"event_id\":\"rs-%d\",\"type\":\"complaint\",\"ts\":\"2026-11-17T06:"
            "%02d:00+08:00\",\"complaint_id\":\"c%d\",\"customer_id\":\"cust-%d\","
            "\"action\":\"resolved\",\"severity\":\"general\",\"product\":\"p%d\","
            "\"channel\":\"Web\",\"branch\":\"b%d\"}\n",
            i, i, i, i, i, i);
    snprintf(
        text + o, sizeof(text) - o,
        "{\"event_id\":\"tx-canary\",\"type\":\"transaction\",\"ts\":\"2026-11-17T07:00:00+08:"
        "00\",\"account\":\"6222000000000000002\",\"amount\":2000000,\"direction\":\"out\"}\n");
    return h_tmpfile(".jsonl", text);
}

/* Without the bound, the 2100 event passed every open case's deadlines: 240
 * deadline alerts in replay, 150 in run. With it, the event is a dead letter
 * and no case crosses a threshold; the transfer after it still alerts. */
START_TEST(test_hostile_future_timestamp) {
    char path[256];
    snprintf(path, sizeof(path), "%s", future_events());
    /* replay */
    static char out[1 << 20];
    const char *args[] = {"replay", "--rules", RULES, path, NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), args), 0);
    ck_assert_msg(strstr(out, "\"module\":\"deadline\"") == NULL, "replay: a deadline alert");
    ck_assert_ptr_nonnull(strstr(out, "future_timestamp"));
    ck_assert_ptr_nonnull(strstr(out, "\"event_id\":\"tx-canary\""));

    /* run: every event in one partition, so the 2100 event would move the
     * clock of the cases' own partition */
    h_peers_t p;
    h_peers_start(&p);
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(rw_mock_topic(&p.mock, "events.all:1", &err) == 0, "%s", err.text);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    ck_assert_int_eq(h_produce_lines(prod, path, "events.all"), 82);
    rd_kafka_flush(prod, 10000);
    rd_kafka_destroy(prod);
    const char *cfg = h_engine_config_topics(p.mock.bootstraps, p.redis.port, RULES, "future",
                                             "[\"events.all\"]");
    const char *log = h_path("future.log");
    pid_t eng = h_engine_start(cfg, log);
    h_progress_t prog = {p.rc, 82};
    ck_assert_msg(h_wait(h_all_counted, &prog, 60000), "not every message was counted");
    h_msgs_t alerts = {0}, dead = {0};
    h_consume_all(p.mock.bootstraps, "risk.alerts", 1, 1500, 20000, &alerts);
    h_consume_all(p.mock.bootstraps, "risk.deadletter", 1, 500, 20000, &dead);
    ck_assert_uint_eq(count_in(&alerts, "\"module\":\"deadline\""), 0);
    ck_assert_uint_eq(count_in(&alerts, "\"event_id\":\"tx-canary\""), 1);
    ck_assert_uint_eq(dead.n, 1);
    ck_assert_ptr_nonnull(dead.m[0].hdr[0]);
    ck_assert_msg(strncmp(dead.m[0].hdr[0], "future_timestamp", 16) == 0, "rw.error: %s",
                  dead.m[0].hdr[0]);
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_msgs_free(&alerts);
    h_msgs_free(&dead);
    h_peers_stop(&p);
}
END_TEST

/* ---- messages larger than Kafka takes ---------------------------------------------------- */

static char *filled(size_t len, const char *head, const char *tail) {
    char *v = malloc(len + 1);
    size_t h = strlen(head), t = strlen(tail);
    memcpy(v, head, h);
    memset(v + h, 'x', len - h - t);
    memcpy(v + len - t, tail, t);
    v[len] = 0;
    return v;
}

static const char *hdr(const h_msg_t *m, int i) { return m->hdr[i] ? m->hdr[i] : ""; }

/* A malformed message of 1,000,500 bytes (under max_event_bytes, over the
 * producer's message.max.bytes), a malformed one of 2 MB and a valid event of
 * 1.3 MB once held their batch for good: their dead letters were refused and
 * produced again forever. Now each dead letter carries a prefix, the size and
 * the digest; a valid event of 1,000,500 bytes alerts without its event body;
 * and events after them, on every partition, alert. */
START_TEST(test_hostile_messages_larger_than_kafka_takes) {
    h_peers_t p;
    h_peers_start(&p);
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", p.mock.bootstraps, err, sizeof(err));
    rd_kafka_conf_set(conf, "message.max.bytes", "4000000", err, sizeof(err));
    rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    ck_assert_msg(prod != NULL, "%s", err);
    const char *tx = "{\"type\":\"transaction\",\"ts\":\"2026-11-20T10:00:00Z\",\"amount\":2000000,"
                     "\"direction\":\"out\",";
    char head[512];
    struct {
        int32_t part;
        char *value;
        const char *error;
    } big[4];
    big[0].value = filled(1000500, "{\"event_id\":\"bad-1\",\"type\":", "");
    big[1].value = filled(2000000, "[\"not an event\",\"", "");
    snprintf(head, sizeof(head),
             "%s\"event_id\":\"big-1\",\"account\":\"6222000000000000031\",\"memo\":\"", tx);
    big[2].value = filled(1300000, head, "\"}");
    snprintf(head, sizeof(head),
             "%s\"event_id\":\"big-2\",\"account\":\"6222000000000000032\",\"memo\":\"", tx);
    big[3].value = filled(1000500, head, "\"}");
    big[0].error = "invalid JSON";
    big[1].error = big[2].error = "oversize"; /* over max_event_bytes (1 MiB) */
    big[3].error = NULL;                      /* valid and alerting */
    for (int i = 0; i < 4; i++) {
        big[i].part = i;
        ck_assert_int_eq(
            h_produce(prod, "events.transactions", i, NULL, big[i].value, strlen(big[i].value)), 0);
    }
    for (int i = 0; i < 4; i++) { /* after each of them, in its partition: a large transfer */
        char ev[512];
        snprintf(ev, sizeof(ev),
                 "%s\"event_id\":\"canary-%d\",\"account\":\"622200000000000004%d\"}", tx, i, i);
        ck_assert_int_eq(h_produce(prod, "events.transactions", i, NULL, ev, strlen(ev)), 0);
    }
    ck_assert_int_eq(rd_kafka_flush(prod, 30000), 0);
    rd_kafka_destroy(prod);

    const char *cfg = h_engine_config(p.mock.bootstraps, p.redis.port, RULES, "poison");
    pid_t eng = h_engine_start(cfg, h_path("poison.log"));
    h_progress_t prog = {p.rc, 8};
    ck_assert_msg(h_wait(h_all_counted, &prog, 60000), "not every message was counted");
    h_msgs_t alerts = {0}, dead = {0};
    h_consume_all(p.mock.bootstraps, "risk.alerts", 5, 1500, 30000, &alerts);
    h_consume_all(p.mock.bootstraps, "risk.deadletter", 3, 500, 30000, &dead);
    for (int i = 0; i < 4; i++) {
        char id[64];
        snprintf(id, sizeof(id), "\"event_id\":\"canary-%d\"", i);
        ck_assert_msg(count_in(&alerts, id) >= 1, "no alert for canary-%d", i);
    }
    /* The valid 1,000,500-byte event alerts; its body would not fit. */
    ck_assert_uint_ge(count_in(&alerts, "\"event_id\":\"big-2\""), 1);
    ck_assert_uint_ge(count_in(&alerts, "\"event\":{\"omitted\":\"larger than Kafka takes\""), 1);
    ck_assert_uint_eq(count_in(&alerts, "\"event_id\":\"big-1\""), 0);
    ck_assert_uint_eq(dead.n, 3);
    for (int i = 0; i < 3; i++) {
        const h_msg_t *d = NULL;
        char off[32];
        for (size_t k = 0; k < dead.n; k++)
            if (atoi(hdr(&dead.m[k], 2)) == big[i].part)
                d = &dead.m[k];
        ck_assert_msg(d != NULL, "no dead letter of partition %d", big[i].part);
        ck_assert_msg(strstr(hdr(d, 0), big[i].error) != NULL, "rw.error: %s", hdr(d, 0));
        ck_assert_str_eq(hdr(d, 1), "events.transactions");
        snprintf(off, sizeof(off), "%d", 0);
        ck_assert_str_eq(hdr(d, 3), off);
        size_t len = strlen(big[i].value);
        ck_assert_uint_eq(strtoull(hdr(d, 4), NULL, 10), len);
        uint8_t dg[32];
        char hex[65];
        rw_sha256(big[i].value, len, dg);
        rw_hex(dg, 32, hex);
        ck_assert_str_eq(hdr(d, 5), hex);
        ck_assert_uint_eq(strtoull(hdr(d, 6), NULL, 10), d->len);
        ck_assert_uint_le(d->len, 65536);
        ck_assert_uint_gt(d->len, 0);
        ck_assert_int_eq(memcmp(d->value, big[i].value, d->len), 0);
    }
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    for (int i = 0; i < 4; i++)
        free(big[i].value);
    h_msgs_free(&alerts);
    h_msgs_free(&dead);
    h_peers_stop(&p);
}
END_TEST

/* ---- the metrics endpoint under idle connections ----------------------------------------- */

static int fds_open(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own */
}

/* An idle TCP connection to port from 127.0.0.a (any address of 127/8 is this host). */
static int idle_connect(int a, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)a);
    dst.sin_addr.s_addr = htonl(0x7f000001u);
    dst.sin_port = htons((uint16_t)port);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
    return fd;
}

/* GET /healthz from 127.0.0.1. Returns the status, or -1. */
static int healthz(int port) {
    int fd = idle_connect(1, port);
    struct timeval tv = {5 * (getenv("RW_SANITIZED") ? 4 : 1), 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    const char req[] = "GET /healthz HTTP/1.0\r\n\r\n";
    int status = -1;
    if (write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1) {
        char buf[512];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n > 12) {
            buf[n] = 0;
            status = atoi(buf + 9); /* "HTTP/1.x NNN" */
        }
    }
    close(fd);
    return status;
}

typedef struct server_fds {
    int base, clients, most;
} server_fds_t;

/* The endpoint holds at most `most` connections (descriptors beyond the test's own). */
static bool server_holds_at_most(void *arg) {
    server_fds_t *s = arg;
    return fds_open() - s->base - s->clients <= s->most;
}

/* 2,000 idle connections from one address once starved /healthz and held a
 * descriptor each. Now one address gets RW_HTTP_PER_IP connections (the
 * rest are closed as they come), every address together RW_HTTP_CONNECTIONS,
 * an idle connection is closed after RW_HTTP_TIMEOUT_S, and /healthz from
 * another address answers. */
START_TEST(test_hostile_http_idle_connections) {
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    int each = 2000;
    if (rl.rlim_cur < 2 * (rlim_t)each + 400)
        each = (int)(rl.rlim_cur - 400) / 2;
    printf("http_idle_connections: %d idle connections a phase (open files limit %llu)\n", each,
           (unsigned long long)rl.rlim_cur);
    ck_assert_int_ge(each, 2 * RW_HTTP_CONNECTIONS);
    rw_metrics_t *m = rw_metrics_new();
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(rw_metrics_serve(m, "127.0.0.1:0", &err) == 0, "%s", err.text);
    int port = rw_metrics_port(m);
    ck_assert_int_eq(healthz(port), 200);
    server_fds_t s = {fds_open(), 0, 0};
    int *fds = malloc(sizeof(int) * (size_t)each * 2);

    /* One address: RW_HTTP_PER_IP connections kept; /healthz answers. */
    for (int i = 0; i < each; i++)
        fds[s.clients++] = idle_connect(2, port);
    s.most = RW_HTTP_PER_IP + 4;
    ck_assert_msg(h_wait(server_holds_at_most, &s, 10000), "%d connections held from one address",
                  fds_open() - s.base - s.clients);
    int64_t t0 = rw_monotonic_ms();
    ck_assert_int_eq(healthz(port), 200);
    printf("http_idle_connections: /healthz answered in %lld ms with %d idle connections open\n",
           (long long)(rw_monotonic_ms() - t0), s.clients);

    /* Idle ones are closed after RW_HTTP_TIMEOUT_S. */
    s.most = 4;
    ck_assert_msg(h_wait(server_holds_at_most, &s, (RW_HTTP_TIMEOUT_S + 20) * 1000),
                  "idle connections not closed: %d held", fds_open() - s.base - s.clients);

    /* Many addresses: at most RW_HTTP_CONNECTIONS held in all. */
    for (int i = 0; i < each; i++)
        fds[s.clients++] = idle_connect(3 + i % 100, port);
    s.most = RW_HTTP_CONNECTIONS + 4;
    ck_assert_msg(h_wait(server_holds_at_most, &s, 10000), "%d connections held",
                  fds_open() - s.base - s.clients);
    for (int i = 0; i < s.clients; i++)
        close(fds[i]);
    s.clients = 0;
    s.most = 4;
    ck_assert(h_wait(server_holds_at_most, &s, 20000));
    ck_assert_int_eq(healthz(port), 200);
    free(fds);
    rw_metrics_destroy(m);
}
END_TEST

static void add_case(Suite *s, const char *name, const TTest *test) {
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

static Suite *hostile_suite(void) {
    Suite *s = suite_create("hostile");
    add_case(s, "future_timestamp", test_hostile_future_timestamp);
    add_case(s, "messages_larger_than_kafka_takes", test_hostile_messages_larger_than_kafka_takes);
    add_case(s, "http_idle_connections", test_hostile_http_idle_connections);
    return s;
}

int main(void) { return h_main(hostile_suite); }

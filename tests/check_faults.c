/* Fault tests: the engine binary against librdkafka's mock cluster and a real
 * redis-server while a broker goes down, partition leaders move, produce
 * requests fail, Redis is killed or hangs, one engine of a group is killed, or
 * SIGTERM arrives with alerts in flight. Each case holds the engine to SPEC §8
 * against the undisturbed run of the same input (the in-memory replay):
 *   - every alert of the undisturbed run is published, and no other: the set of
 *     "level:alert_id" is the replay's (an alert read again is published again
 *     with the same alert_id: duplicates are allowed, other levels are not);
 *   - the Redis counters are the replay's, field by field;
 *   - rw:events:* counts every message exactly once.
 * Faults are timed by what the test observes (progress in Redis, the engine's
 * log and metrics, the mock's error stacks), never by fixed sleeps; only the
 * producer of the input is paced, so that faults land mid-stream.
 *
 * One tcase a case: CK_RUN_CASE=redis_down_30s runs one. */
#include "harness.h"

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

#define EVENTS "data/demo/events.jsonl"
/* Windows only: exact on several partitions when each entity keeps to one. */
#define RULES "tests/packs/windows.json"

/* Produce (ApiKey 0) in the Kafka protocol. */
#define API_PRODUCE 0

/* ---- input ------------------------------------------------------------------------------ */

static long count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[8192];
    long n = 0;
    while (fgets(line, sizeof(line), f))
        n += line[0] != '\n';
    fclose(f);
    return n;
}

/* Splits a JSON-lines file into parts files of about equal line counts, in order. */
static void split_lines(const char *path, int parts, char out[][128]) {
    long total = count_lines(path);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[8192];
    for (int i = 0; i < parts; i++) {
        snprintf(out[i], 128, "%s", h_tmpfile(".jsonl", ""));
        FILE *o = fopen(out[i], "w");
        ck_assert_ptr_nonnull(o);
        for (long k = 0; k < total / parts + (i == parts - 1 ? total % parts : 0); k++)
            if (fgets(line, sizeof(line), f))
                fputs(line, o);
        fclose(o);
    }
    fclose(f);
}

static void unlink_parts(char parts[][128], int n) {
    for (int i = 0; i < n; i++)
        unlink(parts[i]);
}

/* Produces files of events from a thread, chunk after chunk, with a pause
 * between chunks: the stream goes on while the test injects its faults. */
#define MAX_CHUNKS 64
typedef struct stream {
    rd_kafka_t *prod; /* borrowed */
    char chunks[MAX_CHUNKS][128];
    int n_chunks, pause_ms;
    atomic_int gate; /* when > 0: the chunk to wait at until it is set to 0 */
    atomic_long produced;
    pthread_t thread;
} stream_t;

static void *stream_main(void *arg) {
    stream_t *s = arg;
    for (int i = 0; i < s->n_chunks; i++) {
        for (int g; (g = atomic_load(&s->gate)) > 0 && i >= g;)
            usleep(20000);
        long n = h_produce_events(s->prod, s->chunks[i]);
        if (n > 0)
            atomic_fetch_add(&s->produced, n);
        if (s->pause_ms && i + 1 < s->n_chunks)
            usleep((useconds_t)s->pause_ms * 1000);
    }
    return NULL;
}

/* Starts producing path in n_chunks chunks, pause_ms apart; with gate > 0, it
 * waits before chunk `gate` until s->gate is set to 0. */
static void stream_start(stream_t *s, rd_kafka_t *prod, const char *path, int n_chunks,
                         int pause_ms, int gate) {
    ck_assert_int_le(n_chunks, MAX_CHUNKS);
    memset(s, 0, sizeof(*s));
    s->prod = prod;
    s->n_chunks = n_chunks;
    s->pause_ms = pause_ms;
    atomic_store(&s->gate, gate);
    split_lines(path, n_chunks, s->chunks);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, stream_main, s), 0);
}

/* Waits for the stream's end and every delivery. Returns the number produced. */
static long stream_join(stream_t *s) {
    pthread_join(s->thread, NULL);
    for (int i = 0; i < s->n_chunks; i++)
        unlink(s->chunks[i]);
    rd_kafka_flush(s->prod, 60000);
    ck_assert_msg(rd_kafka_outq_len(s->prod) == 0, "%d input messages not delivered",
                  rd_kafka_outq_len(s->prod));
    return atomic_load(&s->produced);
}

/* ---- the peers -------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int partitions;
} topics[] = {{"events.transactions", 4},
              {"events.service", 1},
              {"risk.alerts", 2},
              {"risk.alerts.high", 1},
              {"risk.deadletter", 1}};
#define N_TOPICS (sizeof(topics) / sizeof(topics[0]))

static void set_leader(h_peers_t *p, const char *topic, int32_t partition, int32_t broker) {
    ck_assert_int_eq(rd_kafka_mock_partition_set_leader(p->mock.cluster, topic, partition, broker),
                     0);
}

/* Input partitions on broker `in`, output partitions on brokers out1 and out2
 * (alternately), the group's coordinator on broker `in`. */
static void place(h_peers_t *p, const char *group, int32_t in, int32_t out1, int32_t out2) {
    for (int32_t i = 0; i < 4; i++)
        set_leader(p, "events.transactions", i, in);
    set_leader(p, "events.service", 0, in);
    set_leader(p, "risk.alerts", 0, out1);
    set_leader(p, "risk.alerts", 1, out2);
    set_leader(p, "risk.alerts.high", 0, out1);
    set_leader(p, "risk.deadletter", 0, out2);
    ck_assert_int_eq(rd_kafka_mock_coordinator_set(p->mock.cluster, "group", group, in), 0);
}

/* An ENGINE.json like h_engine_config's; with metrics, on a free port (the
 * engine logs it); Redis at redis_port, or the peers' when 0. Brokers are tried again at most a
 * second apart, so that a broker that is back is used soon. */
static const char *config(const h_peers_t *p, const char *group, bool metrics, int redis_port) {
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"%s\",\n"
             "   \"properties\": {\"session.timeout.ms\": 6000, \"heartbeat.interval.ms\": 500,\n"
             "                  \"reconnect.backoff.max.ms\": 1000}},\n"
             " \"redis\": {\"host\": \"127.0.0.1\", \"port\": %d},\n"
             " \"metrics_listen\": %s,\n"
             " \"rules\": \"%s\"}\n",
             p->mock.bootstraps, group, redis_port ? redis_port : p->redis.port,
             metrics ? "\"127.0.0.1:0\"" : "null", RULES);
    return h_tmpfile(".json", text);
}

/* ---- observing the engine --------------------------------------------------------------- */

static long long counted(redisContext *rc) { return h_hsum(rc, "rw:events:*"); }

typedef struct progress {
    redisContext *rc;
    long long at_least;
} progress_t;

static bool progressed(void *arg) {
    progress_t *p = arg;
    return counted(p->rc) >= p->at_least;
}

/* Waits until rw:events:* counts at least n messages. */
static void wait_counted(h_peers_t *p, long long n, int timeout_ms, const char *what) {
    progress_t pr = {p->rc, n};
    ck_assert_msg(h_wait(progressed, &pr, timeout_ms), "%s: %lld of %lld messages counted", what,
                  counted(p->rc), n);
}

/* Waits until the count stays the same for quiet_ms. Returns it. */
static long long wait_stalled(redisContext *rc, int quiet_ms, int timeout_ms) {
    int64_t deadline = rw_monotonic_ms() + timeout_ms;
    long long last = counted(rc);
    int64_t since = rw_monotonic_ms();
    while (rw_monotonic_ms() < deadline) {
        usleep(100000);
        long long now = counted(rc);
        if (now != last) {
            last = now;
            since = rw_monotonic_ms();
        } else if (rw_monotonic_ms() - since >= quiet_ms) {
            return now;
        }
    }
    ck_abort_msg("the engine never stalled (count %lld)", last);
    return last;
}

static size_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

/* True when a line of the log after byte `from` holds needle (and also2, when
 * not NULL). */
static bool log_has_from(const char *path, size_t from, const char *needle, const char *also2) {
    size_t len;
    rw_error_t err;
    rw_error_clear(&err);
    char *text = rw_file_read(path, &len, &err);
    bool found = false;
    for (char *line = text && from < len ? text + from : NULL; line && *line && !found;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = 0;
        found = strstr(line, needle) && (!also2 || strstr(line, also2));
        line = end ? end + 1 : NULL;
    }
    free(text);
    return found;
}

static bool log_has(const char *path, const char *needle) {
    return log_has_from(path, 0, needle, NULL);
}

typedef struct log_wait {
    const char *path;
    size_t from;
    const char *needle, *also2;
} log_wait_t;

static bool log_shows(void *arg) {
    log_wait_t *w = arg;
    return log_has_from(w->path, w->from, w->needle, w->also2);
}

/* The metrics port the engine logged ("metrics: http://127.0.0.1:PORT/metrics"). */
static int metrics_port(const char *log) {
    log_wait_t w = {log, 0, "metrics: http://", NULL};
    ck_assert_msg(h_wait(log_shows, &w, 10000), "the engine logged no metrics address");
    size_t len;
    rw_error_t err;
    rw_error_clear(&err);
    char *text = rw_file_read(log, &len, &err);
    const char *at = strstr(text, "metrics: http://") + strlen("metrics: http://");
    const char *colon = strchr(at, ':');
    int port = colon ? atoi(colon + 1) : 0;
    free(text);
    ck_assert_int_gt(port, 0);
    return port;
}

/* GET http://127.0.0.1:port/path. Returns the status (the body in out), or -1. */
static int http_get(int port, const char *path, char *out, size_t len) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t used = 0;
    ssize_t r;
    while (used + 1 < len && (r = read(fd, out + used, len - used - 1)) > 0)
        used += (size_t)r;
    close(fd);
    out[used] = 0;
    int status = -1;
    if (sscanf(out, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    char *body = strstr(out, "\r\n\r\n");
    if (body)
        memmove(out, body + 4, strlen(body + 4) + 1);
    return status;
}

/* The sum of a metric's samples (every label set), or -1 when unreachable. */
static double metric_sum(int port, const char *name) {
    static char text[1 << 18];
    if (http_get(port, "/metrics", text, sizeof(text)) != 200)
        return -1;
    double sum = 0;
    size_t nl = strlen(name);
    for (char *line = text; line && *line;) {
        char *end = strchr(line, '\n');
        if (strncmp(line, name, nl) == 0 && (line[nl] == '{' || line[nl] == ' ')) {
            char *v = line[nl] == '{' ? strchr(line, '}') : line + nl;
            if (v)
                sum += strtod(v + 1, NULL);
        }
        line = end ? end + 1 : NULL;
    }
    return sum;
}

typedef struct health {
    int port, want;
} health_t;

static bool health_is(void *arg) {
    health_t *h = arg;
    char body[1024];
    return http_get(h->port, "/healthz", body, sizeof(body)) == h->want;
}

typedef struct busy {
    int ports[2];
} busy_t;

/* Both engines counted events. */
static bool both_busy(void *arg) {
    busy_t *b = arg;
    return metric_sum(b->ports[0], "riskwarn_events_total") > 0 &&
           metric_sum(b->ports[1], "riskwarn_events_total") > 0;
}

/* ---- a Redis proxy that loses replies ---------------------------------------------------- */

/* Forwards TCP connections to a redis-server. When armed, the connection that
 * runs the engine's apply script (the one Lua script that moves fences and
 * adds counts, called by EVALSHA) gets no reply to it, nor anything after, as
 * if the network between them broke once the request was through: Redis
 * applies the batch, the engine sees a timeout. */
#define PROXY_CONNS 64
#define APPLY_NEEDLE "EVALSHA"
typedef struct proxy_conn {
    int cfd, sfd; /* -1: free */
    bool blackhole;
    char tail[sizeof(APPLY_NEEDLE)]; /* the end of the last request bytes */
    size_t tail_len;
} proxy_conn_t;

typedef struct proxy {
    int lfd, port, upstream;
    atomic_int armed; /* replies still to lose */
    atomic_int lost;  /* replies lost */
    atomic_int stop;
    proxy_conn_t conns[PROXY_CONNS];
    pthread_t thread;
} proxy_t;

static bool write_all(int fd, const char *buf, size_t len) {
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w <= 0)
            return false;
        buf += w;
        len -= (size_t)w;
    }
    return true;
}

static void proxy_close(proxy_conn_t *c) {
    close(c->cfd);
    close(c->sfd);
    c->cfd = c->sfd = -1;
}

/* Moves what one side sent to the other. Returns false when the pair is done. */
static bool proxy_pass(proxy_t *px, proxy_conn_t *c, bool from_client) {
    char buf[65536 + sizeof(c->tail)];
    size_t off = from_client ? c->tail_len : 0;
    if (from_client)
        memcpy(buf, c->tail, c->tail_len);
    ssize_t r = read(from_client ? c->cfd : c->sfd, buf + off, 65536);
    if (r <= 0)
        return false;
    size_t len = off + (size_t)r;
    if (!from_client)
        return c->blackhole || write_all(c->cfd, buf, len);
    if (!c->blackhole && memmem(buf, len, APPLY_NEEDLE, strlen(APPLY_NEEDLE))) {
        int armed = atomic_load(&px->armed);
        while (armed > 0 && !atomic_compare_exchange_weak(&px->armed, &armed, armed - 1))
            ;
        if (armed > 0) {
            c->blackhole = true;
            atomic_fetch_add(&px->lost, 1);
        }
    }
    c->tail_len = len < sizeof(c->tail) ? len : sizeof(c->tail);
    memcpy(c->tail, buf + len - c->tail_len, c->tail_len);
    return write_all(c->sfd, buf + off, (size_t)r);
}

static void *proxy_main(void *arg) {
    proxy_t *px = arg;
    while (!atomic_load(&px->stop)) {
        struct pollfd fds[1 + 2 * PROXY_CONNS];
        int idx[1 + 2 * PROXY_CONNS];
        nfds_t n = 0;
        fds[n++] = (struct pollfd){px->lfd, POLLIN, 0};
        for (int i = 0; i < PROXY_CONNS; i++)
            if (px->conns[i].cfd >= 0) {
                idx[n] = i;
                fds[n++] = (struct pollfd){px->conns[i].cfd, POLLIN, 0};
                idx[n] = i;
                fds[n++] = (struct pollfd){px->conns[i].sfd, POLLIN, 0};
            }
        if (poll(fds, n, 100) <= 0)
            continue;
        for (nfds_t k = 1; k < n; k++) {
            proxy_conn_t *c = &px->conns[idx[k]];
            if (!fds[k].revents || c->cfd < 0)
                continue;
            if (!proxy_pass(px, c, fds[k].fd == c->cfd))
                proxy_close(c);
        }
        if (fds[0].revents & POLLIN) {
            int cfd = accept(px->lfd, NULL, NULL);
            if (cfd < 0)
                continue;
            struct sockaddr_in a = {.sin_family = AF_INET,
                                    .sin_port = htons((uint16_t)px->upstream),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            int sfd = socket(AF_INET, SOCK_STREAM, 0);
            int i = 0;
            while (i < PROXY_CONNS && px->conns[i].cfd >= 0)
                i++;
            if (sfd < 0 || i == PROXY_CONNS || connect(sfd, (struct sockaddr *)&a, sizeof(a))) {
                close(cfd);
                if (sfd >= 0)
                    close(sfd);
                continue;
            }
            px->conns[i] = (proxy_conn_t){cfd, sfd, false, "", 0};
        }
    }
    for (int i = 0; i < PROXY_CONNS; i++)
        if (px->conns[i].cfd >= 0)
            proxy_close(&px->conns[i]);
    return NULL;
}

static void proxy_start(proxy_t *px, int upstream) {
    memset(px, 0, sizeof(*px));
    for (int i = 0; i < PROXY_CONNS; i++)
        px->conns[i].cfd = px->conns[i].sfd = -1;
    px->upstream = upstream;
    px->lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(px->lfd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    ck_assert_int_eq(bind(px->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(px->lfd, 16), 0);
    ck_assert_int_eq(getsockname(px->lfd, (struct sockaddr *)&a, &alen), 0);
    px->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&px->thread, NULL, proxy_main, px), 0);
}

static void proxy_stop(proxy_t *px) {
    atomic_store(&px->stop, 1);
    pthread_join(px->thread, NULL);
    close(px->lfd);
}

typedef struct lost_wait {
    proxy_t *px;
    int want;
} lost_wait_t;

static bool replies_lost(void *arg) {
    lost_wait_t *w = arg;
    return atomic_load(&w->px->lost) >= w->want;
}

/* ---- the outcome ------------------------------------------------------------------------ */

/* The expected level of an event ("" when the replay did not alert on it). */
static const char *expected_level(const h_expect_t *e, const char *event_id) {
    size_t n = strlen(event_id);
    for (size_t i = 0; i < e->n_event_levels; i++)
        if (strncmp(e->event_levels[i], event_id, n) == 0 && e->event_levels[i][n] == ':')
            return e->event_levels[i] + n + 1;
    return "";
}

/* Prints the published alerts whose "level:alert_id" is id. */
static void print_alerts_with(const h_msgs_t *alerts, const h_expect_t *e, const char *id) {
    const char *colon = strchr(id, ':');
    for (size_t i = 0; i < alerts->n; i++) {
        if (!strstr(alerts->m[i].value, colon + 1))
            continue;
        json_t *a = json_loadb(alerts->m[i].value, alerts->m[i].len, 0, NULL);
        const char *ev = json_string_value(json_object_get(a, "event_id"));
        fprintf(stderr, "  unexpected %s: event %s (replay: %s) partition %d offset %lld: %.300s\n",
                id, ev ? ev : "?", ev ? expected_level(e, ev) : "?", (int)alerts->m[i].partition,
                (long long)alerts->m[i].offset, alerts->m[i].value);
        json_decref(a);
    }
}

/* Every message counted once; the alerts, as a set, and the counters equal
 * the undisturbed run's. */
static void assert_outcome(h_peers_t *p, const h_expect_t *e, long long n, const char *what) {
    wait_counted(p, n, 120000, what);
    long long total = e->alerts[1] + e->alerts[2] + e->alerts[3];
    h_msgs_t alerts = {0};
    h_consume_all(p->mock.bootstraps, "risk.alerts", (size_t)total, 3000, 60000, &alerts);
    char **ids;
    size_t nids = h_alert_ids(&alerts, &ids);
    size_t missing = 0, extra = 0, i = 0, j = 0;
    while (i < e->n_alert_ids || j < nids) {
        int c = i == e->n_alert_ids ? 1 : j == nids ? -1 : strcmp(e->alert_ids[i], ids[j]);
        if (c < 0) {
            if (missing++ < 20)
                fprintf(stderr, "%s: missing alert %s\n", what, e->alert_ids[i]);
            i++;
        } else if (c > 0) {
            if (extra++ < 20)
                print_alerts_with(&alerts, e, ids[j]);
            j++;
        } else {
            i++, j++;
        }
    }
    ck_assert_msg(missing == 0 && extra == 0,
                  "%s: %zu expected alerts missing, %zu unexpected ones published (expected %zu "
                  "distinct, published %zu distinct in %zu messages; details on stderr)",
                  what, missing, extra, e->n_alert_ids, nids, alerts.n);
    ck_assert_int_ge(alerts.n, total);
    h_ids_free(ids, nids);
    h_msgs_free(&alerts);
    h_assert_counters(p->rc, e);
    ck_assert_int_eq(counted(p->rc), n);
}

/* ---- the cases -------------------------------------------------------------------------- */

/* Broker 1 (leader of half the input partitions, of an alert partition, of the
 * high-alert topic, and the group's coordinator) goes down between two parts
 * of the stream and comes back once the engine has stalled on it for longer
 * than its session timeout. */
START_TEST(test_faults_broker_down_and_up) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    rd_kafka_mock_cluster_t *mc = p.mock.cluster;
    const char *group = "ft-down";
    static const int32_t tx[4] = {1, 2, 3, 1};
    for (int32_t i = 0; i < 4; i++)
        set_leader(&p, "events.transactions", i, tx[i]);
    set_leader(&p, "events.service", 0, 1);
    set_leader(&p, "risk.alerts", 0, 1);
    set_leader(&p, "risk.alerts", 1, 2);
    set_leader(&p, "risk.alerts.high", 0, 1);
    set_leader(&p, "risk.deadletter", 0, 3);
    ck_assert_int_eq(rd_kafka_mock_coordinator_set(mc, "group", group, 1), 0);
    char cfg[128], parts[3][128];
    snprintf(cfg, sizeof(cfg), "%s", config(&p, group, false, 0));
    split_lines(EVENTS, 3, parts);
    const char *log = "/tmp/rwtest-faults-down.log";
    unlink(log);
    pid_t eng = h_engine_start(cfg, log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n0 = h_produce_events(prod, parts[0]);
    wait_counted(&p, n0, 90000, "before the outage");

    size_t mark = file_size(log);
    ck_assert_int_eq(rd_kafka_mock_broker_set_down(mc, 1), 0);
    stream_t s;
    stream_start(&s, prod, parts[1], 1, 0, 0);
    /* The engine's clients lost broker 1, and it does what it can without. */
    char b1[64];
    snprintf(b1, sizeof(b1), "%.*s/1: ", (int)strcspn(p.mock.bootstraps, ","), p.mock.bootstraps);
    log_wait_t w = {log, mark, b1, NULL};
    ck_assert_msg(h_wait(log_shows, &w, 30000), "the engine's log shows no failure of broker 1");
    /* Stalled longer than the session timeout: the coordinator drops the
     * engine from the group, which it rejoins when the broker is back. */
    long long stalled = wait_stalled(p.rc, 8000, 60000);
    long n1 = count_lines(parts[1]);
    ck_assert_msg(stalled < n0 + n1, "broker 1 down, yet all %lld messages were counted", stalled);

    ck_assert_int_eq(rd_kafka_mock_broker_set_up(mc, 1), 0);
    ck_assert_int_eq(stream_join(&s), n1);
    long n2 = h_produce_events(prod, parts[2]);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n0 + n1 + n2, e.events);
    assert_outcome(&p, &e, n0 + n1 + n2, "broker down and up");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_expect_free(&e);
    unlink_parts(parts, 3);
    h_peers_stop(&p);
}
END_TEST

/* Every partition's leader, input and output, moves to another broker six
 * times while the events stream in. */
START_TEST(test_faults_leader_changes) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "%s", config(&p, "ft-leaders", false, 0));
    const char *log = "/tmp/rwtest-faults-leaders.log";
    unlink(log);
    pid_t eng = h_engine_start(cfg, log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    stream_t s;
    stream_start(&s, prod, EVENTS, 40, 150, 0);
    const int rounds = 6;
    for (int r = 1; r <= rounds; r++) {
        wait_counted(&p, e.events * r / (rounds + 1), 90000, "between leader changes");
        for (size_t t = 0; t < N_TOPICS; t++)
            for (int32_t i = 0; i < topics[t].partitions; i++)
                set_leader(&p, topics[t].name, i, (i + r) % 3 + 1);
    }
    long n = stream_join(&s);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n, e.events);
    assert_outcome(&p, &e, n, "leader changes");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

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
 * errors that fail the delivery of the messages they carry. */
START_TEST(test_faults_produce_errors) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    const char *group = "ft-produce";
    /* Only the engine produces to brokers 2 and 3: their errors are its. */
    place(&p, group, 1, 2, 3);
    char cfg[128], parts[3][128];
    snprintf(cfg, sizeof(cfg), "%s", config(&p, group, false, 0));
    split_lines(EVENTS, 3, parts);
    const char *log = "/tmp/rwtest-faults-produce.log";
    unlink(log);
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

    /* Not retriable by librdkafka: the deliveries fail, the engine produces again. */
    for (int32_t b = 2; b <= 3; b++)
        ck_assert_int_eq(
            rd_kafka_mock_broker_push_request_error_rtts(
                p.mock.cluster, b, API_PRODUCE, 4, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, 0,
                RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 0, RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS, 0,
                RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 0),
            0);
    size_t mark = file_size(log);
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
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "%s", config(&p, "ft-rkill", false, 0));
    const char *log = "/tmp/rwtest-faults-rkill.log";
    unlink(log);
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
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_expect_free(&e);
    h_redis_persist_fini(&p);
    h_peers_stop(&p);
}
END_TEST

/* redis-server hangs for 30 s (SIGSTOP, SIGCONT): connections stay open and
 * commands time out. The engine pauses, says so on /healthz, and carries on
 * where it stopped. */
START_TEST(test_faults_redis_down_30s) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "%s", config(&p, "ft-rstop", true, 0));
    const char *log = "/tmp/rwtest-faults-rstop.log";
    unlink(log);
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

/* The reply to the engine's Redis write is lost twice (through a proxy that
 * forwards the write, then swallows the answer): Redis applied the batch, the
 * engine times out and tries again. The fences it reads then show the batch
 * applied: it publishes its alerts again and counts nothing twice. */
START_TEST(test_faults_redis_reply_lost) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    proxy_t px;
    proxy_start(&px, p.redis.port);
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "%s", config(&p, "ft-rlost", false, px.port));
    const char *log = "/tmp/rwtest-faults-rlost.log";
    unlink(log);
    pid_t eng = h_engine_start(cfg, log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    stream_t s;
    stream_start(&s, prod, EVENTS, 30, 150, 0);
    for (int k = 1; k <= 2; k++) {
        wait_counted(&p, e.events * k / 3, 90000, "before a lost reply");
        size_t mark = file_size(log);
        atomic_store(&px.armed, 1);
        lost_wait_t lw = {&px, k};
        ck_assert_msg(h_wait(replies_lost, &lw, 60000), "no Redis write went through the proxy");
        /* The engine times out, finds its batch applied, and goes on. */
        log_wait_t w = {log, mark, "read again", NULL};
        ck_assert_msg(h_wait(log_shows, &w, 30000),
                      "after a lost reply, the engine did not find its batch applied");
        ck_assert_msg(log_has_from(log, mark, "redis apply", "retrying in"),
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

/* Two engines share a group; once both have counted events, one is killed
 * (SIGKILL) mid-stream. The other takes its partitions after the session
 * timeout and reads its uncommitted messages again. */
START_TEST(test_faults_two_engines_one_killed) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "%s", config(&p, "ft-two", true, 0));
    const char *log_a = "/tmp/rwtest-faults-two-a.log", *log_b = "/tmp/rwtest-faults-two-b.log";
    unlink(log_a);
    unlink(log_b);
    pid_t a = h_engine_start(cfg, log_a);
    pid_t b = h_engine_start(cfg, log_b);
    busy_t busy = {{metrics_port(log_a), metrics_port(log_b)}};
    /* Both engines hold partitions before the stream starts. */
    log_wait_t wa = {log_a, 0, "partitions assigned:", "events."};
    log_wait_t wb = {log_b, 0, "partitions assigned:", "events."};
    ck_assert_msg(h_wait(log_shows, &wa, 60000) && h_wait(log_shows, &wb, 60000),
                  "the two engines did not both get partitions");
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    /* The last sixth of the stream waits for the kill. */
    stream_t s;
    stream_start(&s, prod, EVENTS, 60, 250, 50);
    ck_assert_msg(h_wait(both_busy, &busy, 60000), "the two engines did not both count events");
    ck_assert_int_eq(h_engine_stop(a, SIGKILL, 10000), 128 + SIGKILL);
    atomic_store(&s.gate, 0);
    long n = stream_join(&s);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n, e.events);
    assert_outcome(&p, &e, n, "two engines, one killed");
    ck_assert_int_eq(h_engine_stop(b, SIGTERM, 30000), 0);
    h_expect_free(&e);
    h_peers_stop(&p);
}
END_TEST

/* SIGTERM while the engine publishes a big part whose acknowledgements take a
 * second each (broker 2, the alerts' leader, answers slowly): it finishes the
 * batches in flight, commits and exits 0; a restart reads nothing again. */
START_TEST(test_faults_sigterm_with_alerts_in_flight) {
    h_peers_t p;
    h_peers_start(&p);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay(RULES, EVENTS, &e), 0);
    const char *group = "ft-term";
    place(&p, group, 1, 2, 2);
    ck_assert_int_eq(rd_kafka_mock_broker_set_rtt(p.mock.cluster, 2, 1000), 0);
    char cfg[128], parts[4][128];
    snprintf(cfg, sizeof(cfg), "%s", config(&p, group, false, 0));
    split_lines(EVENTS, 4, parts);
    const char *log = "/tmp/rwtest-faults-term.log", *log2 = "/tmp/rwtest-faults-term2.log";
    unlink(log);
    unlink(log2);
    pid_t eng = h_engine_start(cfg, log);
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    long n0 = h_produce_events(prod, parts[0]);
    wait_counted(&p, n0, 90000, "before the big part");
    long n1 = h_produce_events(prod, parts[1]) + h_produce_events(prod, parts[2]);
    wait_counted(&p, n0 + 1, 90000, "in the big part");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 60000), 0);
    /* Batches are counted in Redis before their alerts are acknowledged: the
     * engine says what it still had in flight when it stopped. */
    long long done = counted(p.rc);
    ck_assert_msg(done < n0 + n1 || log_has(log, "batches in flight"),
                  "the big part was over before SIGTERM (%lld counted, nothing in flight)", done);
    ck_assert_msg(log_has(log, "stopping:"), "no clean stop in the log");

    ck_assert_int_eq(rd_kafka_mock_broker_set_rtt(p.mock.cluster, 2, 0), 0);
    eng = h_engine_start(cfg, log2);
    long n3 = h_produce_events(prod, parts[3]);
    rd_kafka_destroy(prod);
    ck_assert_int_eq(n0 + n1 + n3, e.events);
    assert_outcome(&p, &e, n0 + n1 + n3, "SIGTERM with alerts in flight");
    /* What the stopped engine finished, it committed. */
    ck_assert_msg(!log_has(log2, "read again"), "messages finished before SIGTERM were read again");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    h_expect_free(&e);
    unlink_parts(parts, 4);
    h_peers_stop(&p);
}
END_TEST

static void add_case(Suite *s, const char *name, const TTest *test) {
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

static Suite *faults_suite(void) {
    Suite *s = suite_create("faults");
    add_case(s, "broker_down_and_up", test_faults_broker_down_and_up);
    add_case(s, "leader_changes", test_faults_leader_changes);
    add_case(s, "produce_errors", test_faults_produce_errors);
    add_case(s, "redis_killed_and_restarted", test_faults_redis_killed_and_restarted);
    add_case(s, "redis_down_30s", test_faults_redis_down_30s);
    add_case(s, "redis_reply_lost", test_faults_redis_reply_lost);
    add_case(s, "two_engines_one_killed", test_faults_two_engines_one_killed);
    add_case(s, "sigterm_with_alerts_in_flight", test_faults_sigterm_with_alerts_in_flight);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(faults_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

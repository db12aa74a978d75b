/* The fault tests' shared fixture: see faults.h. */
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

long count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[8192];
    long n = 0;
    while (fgets(line, sizeof(line), f))
        n += line[0] != '\n';
    fclose(f);
    return n;
}

void unlink_parts(char parts[][256], int n) {
    for (int i = 0; i < n; i++)
        unlink(parts[i]);
}

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

void stream_start(stream_t *s, rd_kafka_t *prod, const char *path, int n_chunks, int pause_ms,
                  int gate) {
    ck_assert_int_le(n_chunks, MAX_CHUNKS);
    memset(s, 0, sizeof(*s));
    s->prod = prod;
    s->n_chunks = n_chunks;
    s->pause_ms = pause_ms;
    atomic_store(&s->gate, gate);
    h_split_lines(path, n_chunks, s->chunks);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, stream_main, s), 0);
}

long stream_join(stream_t *s) {
    pthread_join(s->thread, NULL);
    for (int i = 0; i < s->n_chunks; i++)
        unlink(s->chunks[i]);
    rd_kafka_flush(s->prod, 60000);
    ck_assert_msg(rd_kafka_outq_len(s->prod) == 0, "%d input messages not delivered",
                  rd_kafka_outq_len(s->prod));
    return atomic_load(&s->produced);
}

void set_leader(h_peers_t *p, const char *topic, int32_t partition, int32_t broker) {
    ck_assert_int_eq(rd_kafka_mock_partition_set_leader(p->mock.cluster, topic, partition, broker),
                     0);
}

void place(h_peers_t *p, const char *group, int32_t in, int32_t out1, int32_t out2) {
    for (int32_t i = 0; i < 4; i++)
        set_leader(p, "events.transactions", i, in);
    set_leader(p, "events.service", 0, in);
    set_leader(p, "risk.alerts", 0, out1);
    set_leader(p, "risk.alerts", 1, out2);
    set_leader(p, "risk.alerts.high", 0, out1);
    set_leader(p, "risk.deadletter", 0, out2);
    ck_assert_int_eq(rd_kafka_mock_coordinator_set(p->mock.cluster, "group", group, in), 0);
}

const char *config(const h_peers_t *p, const char *group, bool metrics, int redis_port) {
    return config_rules(p, group, metrics, redis_port, RULES);
}

const char *config_rules(const h_peers_t *p, const char *group, bool metrics, int redis_port,
                         const char *rules) {
    return config_props(p, group, metrics, redis_port, rules, "");
}

const char *config_props(const h_peers_t *p, const char *group, bool metrics, int redis_port,
                         const char *rules, const char *props) {
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"%s\",\n"
             "   \"properties\": {\"session.timeout.ms\": 6000, \"heartbeat.interval.ms\": 500,\n"
             "                  \"reconnect.backoff.max.ms\": 1000%s%s}},\n"
             " \"redis\": {\"host\": \"127.0.0.1\", \"port\": %d},\n"
             " \"metrics_listen\": %s,\n"
             " \"rules\": \"%s\"}\n",
             p->mock.bootstraps, group, *props ? ", " : "", props,
             redis_port ? redis_port : p->redis.port, metrics ? "\"127.0.0.1:0\"" : "null", rules);
    return h_tmpfile(".json", text);
}

long long counted(redisContext *rc) { return h_hsum(rc, "{rw}:events:*"); }

bool progressed(void *arg) {
    progress_t *p = arg;
    return counted(p->rc) >= p->at_least;
}

void wait_counted(h_peers_t *p, long long n, int timeout_ms, const char *what) {
    progress_t pr = {p->rc, n};
    ck_assert_msg(h_wait(progressed, &pr, timeout_ms), "%s: %lld of %lld messages counted", what,
                  counted(p->rc), n);
}

long long wait_stalled(redisContext *rc, int quiet_ms, int timeout_ms) {
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

size_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

bool log_has_from(const char *path, size_t from, const char *needle, const char *also2) {
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

bool log_has(const char *path, const char *needle) { return log_has_from(path, 0, needle, NULL); }

bool log_shows(void *arg) {
    log_wait_t *w = arg;
    return log_has_from(w->path, w->from, w->needle, w->also2);
}

int metrics_port(const char *log) {
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

int http_get(int port, const char *path, char *out, size_t len) {
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

double metric_sum(int port, const char *name) {
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

bool health_is(void *arg) {
    health_t *h = arg;
    char body[1024];
    return http_get(h->port, "/healthz", body, sizeof(body)) == h->want;
}

bool both_busy(void *arg) {
    busy_t *b = arg;
    return metric_sum(b->ports[0], "riskwarn_events_total") > 0 &&
           metric_sum(b->ports[1], "riskwarn_events_total") > 0;
}

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

void proxy_start(proxy_t *px, int upstream) {
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

void proxy_stop(proxy_t *px) {
    atomic_store(&px->stop, 1);
    pthread_join(px->thread, NULL);
    close(px->lfd);
}

bool replies_lost(void *arg) {
    lost_wait_t *w = arg;
    return atomic_load(&w->px->lost) >= w->want;
}

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

void assert_outcome(h_peers_t *p, const h_expect_t *e, long long n, const char *what) {
    wait_counted(p, n, 120000, what);
    assert_alerts(p, e, what);
    h_assert_counters(p->rc, e);
    ck_assert_int_eq(counted(p->rc), n);
}

void assert_alerts(h_peers_t *p, const h_expect_t *e, const char *what) {
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
    ck_assert_int_ge((long long)alerts.n, total);
    h_ids_free(ids, nids);
    h_msgs_free(&alerts);
}

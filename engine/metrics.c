#include "metrics.h"

#include "util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct series {
    char *name, *labels;
    double value;
    bool gauge;
} series_t;

#define N_BUCKETS 12
static const double bucket_le[N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,   0.25,   0.5,   1,    2.5,   10};

typedef struct histogram {
    char *name;
    uint64_t counts[N_BUCKETS + 1]; /* the last: +Inf */
    double sum;
    uint64_t count;
} histogram_t;

struct rw_metrics {
    pthread_mutex_t lock;
    series_t *s;
    size_t n, cap;
    histogram_t *h;
    size_t nh;
    bool healthy;
    char why[256];
    struct MHD_Daemon *daemon;
    int port;
};

static const char *const help[][3] = {
    {"riskwarn_events_total", "counter", "Events processed, by type."},
    {"riskwarn_alerts_total", "counter", "Alerts published, by level."},
    {"riskwarn_rule_hits_total", "counter", "Times a rule reached a level."},
    {"riskwarn_deadletters_total", "counter", "Messages sent to the dead-letter topic."},
    {"riskwarn_suppressed_total", "counter", "Rule hits held back by a cool-down."},
    {"riskwarn_redis_errors_total", "counter", "Failed Redis reads or writes (retried)."},
    {"riskwarn_kafka_errors_total", "counter", "Failed or unacknowledged Kafka deliveries."},
    {"riskwarn_outputs_dropped_total", "counter",
     "Alerts and dead letters Kafka refused even at their smallest, by kind."},
    {"riskwarn_state_evictions_total", "counter",
     "Windows dropped from memory past state_max_entries (read back from Redis when touched)."},
    {"riskwarn_webhook_total", "counter", "Webhook deliveries, by result."},
    {"riskwarn_consumer_lag", "gauge", "Messages behind the end of each input partition."},
    {"riskwarn_ruleset_info", "gauge", "The loaded rulesets (1), live and shadow."},
    {"riskwarn_batch_seconds", "histogram", "Time to take one batch through the engine."},
    {"riskwarn_event_to_alert_seconds", "histogram",
     "From an event's Kafka timestamp to its alert being acknowledged."},
    {NULL, NULL, NULL}};

rw_metrics_t *rw_metrics_new(void) {
    rw_metrics_t *m = rw_calloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    m->healthy = true;
    return m;
}

void rw_metrics_destroy(rw_metrics_t *m) {
    if (!m)
        return;
    if (m->daemon)
        MHD_stop_daemon(m->daemon);
    for (size_t i = 0; i < m->n; i++) {
        free(m->s[i].name);
        free(m->s[i].labels);
    }
    free(m->s);
    for (size_t i = 0; i < m->nh; i++)
        free(m->h[i].name);
    free(m->h);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Called with the lock held. */
static series_t *find(rw_metrics_t *m, const char *name, const char *labels, bool gauge) {
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->s[i].name, name) == 0 && strcmp(m->s[i].labels, labels) == 0)
            return &m->s[i];
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->s = rw_realloc(m->s, m->cap * sizeof(*m->s));
    }
    series_t *s = &m->s[m->n++];
    s->name = rw_strdup(name);
    s->labels = rw_strdup(labels);
    s->value = 0;
    s->gauge = gauge;
    return s;
}

void rw_metrics_add(rw_metrics_t *m, const char *name, const char *labels, double by) {
    pthread_mutex_lock(&m->lock);
    find(m, name, labels, false)->value += by;
    pthread_mutex_unlock(&m->lock);
}

void rw_metrics_set(rw_metrics_t *m, const char *name, const char *labels, double value) {
    pthread_mutex_lock(&m->lock);
    find(m, name, labels, true)->value = value;
    pthread_mutex_unlock(&m->lock);
}

void rw_metrics_clear(rw_metrics_t *m, const char *name) {
    pthread_mutex_lock(&m->lock);
    size_t o = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->s[i].name, name) == 0) {
            free(m->s[i].name);
            free(m->s[i].labels);
            continue;
        }
        m->s[o++] = m->s[i];
    }
    m->n = o;
    pthread_mutex_unlock(&m->lock);
}

void rw_metrics_observe(rw_metrics_t *m, const char *name, double seconds) {
    pthread_mutex_lock(&m->lock);
    histogram_t *h = NULL;
    for (size_t i = 0; i < m->nh; i++)
        if (strcmp(m->h[i].name, name) == 0)
            h = &m->h[i];
    if (!h) {
        m->h = rw_realloc(m->h, (m->nh + 1) * sizeof(*m->h));
        h = &m->h[m->nh++];
        memset(h, 0, sizeof(*h));
        h->name = rw_strdup(name);
    }
    size_t b = 0;
    while (b < N_BUCKETS && seconds > bucket_le[b])
        b++;
    h->counts[b]++;
    h->sum += seconds;
    h->count++;
    pthread_mutex_unlock(&m->lock);
}

void rw_metrics_health(rw_metrics_t *m, bool healthy, const char *why) {
    pthread_mutex_lock(&m->lock);
    m->healthy = healthy;
    snprintf(m->why, sizeof(m->why), "%s", why ? why : "");
    pthread_mutex_unlock(&m->lock);
}

void rw_metrics_label(char *out, size_t len, const char *v) {
    size_t o = 0;
    for (; *v && o + 3 < len; v++) {
        if (*v == '\\' || *v == '"') {
            out[o++] = '\\';
            out[o++] = *v;
        } else if (*v == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *v;
        }
    }
    out[o] = 0;
}

static const char *const *help_of(const char *name) {
    for (size_t i = 0; help[i][0]; i++)
        if (strcmp(help[i][0], name) == 0)
            return help[i];
    return NULL;
}

static int series_cmp(const void *a, const void *b) {
    const series_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->labels, y->labels);
}

char *rw_metrics_text(rw_metrics_t *m) {
    rw_buf_t b;
    rw_buf_init(&b);
    pthread_mutex_lock(&m->lock);
    if (m->n > 1)
        qsort(m->s, m->n, sizeof(*m->s), series_cmp);
    const char *last = "";
    for (size_t i = 0; i < m->n; i++) {
        const series_t *s = &m->s[i];
        if (strcmp(s->name, last) != 0) {
            const char *const *h = help_of(s->name);
            if (h)
                rw_buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", s->name, h[2], s->name, h[1]);
            last = s->name;
        }
        if (s->labels[0])
            rw_buf_printf(&b, "%s{%s} %.17g\n", s->name, s->labels, s->value);
        else
            rw_buf_printf(&b, "%s %.17g\n", s->name, s->value);
    }
    for (size_t i = 0; i < m->nh; i++) {
        const histogram_t *h = &m->h[i];
        const char *const *hp = help_of(h->name);
        if (hp)
            rw_buf_printf(&b, "# HELP %s %s\n# TYPE %s histogram\n", h->name, hp[2], h->name);
        uint64_t cum = 0;
        for (size_t k = 0; k < N_BUCKETS; k++) {
            cum += h->counts[k];
            rw_buf_printf(&b, "%s_bucket{le=\"%g\"} %llu\n", h->name, bucket_le[k],
                          (unsigned long long)cum);
        }
        cum += h->counts[N_BUCKETS];
        rw_buf_printf(&b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", h->name,
                      (unsigned long long)cum, h->name, h->sum, h->name,
                      (unsigned long long)h->count);
    }
    rw_buf_printf(&b,
                  "# HELP riskwarn_up 1 while the engine runs; healthy is /healthz.\n"
                  "# TYPE riskwarn_up gauge\nriskwarn_up 1\nriskwarn_healthy %d\n",
                  m->healthy ? 1 : 0);
    pthread_mutex_unlock(&m->lock);
    rw_buf_cstr(&b);
    return b.data;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned code, const char *type,
                               char *body) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_size, void **state) {
    (void)version;
    (void)data;
    (void)data_size;
    (void)state;
    rw_metrics_t *m = cls;
    if (strcmp(method, "GET") != 0)
        return respond(c, 405, "text/plain", rw_strdup("GET only\n"));
    if (strcmp(url, "/metrics") == 0)
        return respond(c, 200, "text/plain; version=0.0.4", rw_metrics_text(m));
    if (strcmp(url, "/healthz") == 0) {
        pthread_mutex_lock(&m->lock);
        bool ok = m->healthy;
        char body[300];
        snprintf(body, sizeof(body), "%s%s%s\n", ok ? "ok" : "unhealthy", m->why[0] ? ": " : "",
                 m->why);
        pthread_mutex_unlock(&m->lock);
        return respond(c, ok ? 200 : 503, "text/plain", rw_strdup(body));
    }
    return respond(c, 404, "text/plain", rw_strdup("not found: try /metrics or /healthz\n"));
}

/* libmicrohttpd's own messages (a refused connection, a timeout) through the
 * engine's log, rate-limited: a flood of connections must not flood it. */
static void mhd_log(void *cls, const char *fmt, va_list ap) {
    static rw_ratelimit_t rl;
    char text[512];
    (void)cls;
    vsnprintf(text, sizeof(text), fmt, ap);
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = 0;
    rw_log_limited(&rl, RW_LOG_WARN, "metrics http: %s", text);
}

int rw_metrics_serve(rw_metrics_t *m, const char *listen, char *err, size_t errlen) {
    const char *colon = strrchr(listen, ':');
    char host[128];
    if (!colon || (size_t)(colon - listen) >= sizeof(host)) {
        snprintf(err, errlen, "metrics_listen: use HOST:PORT, not \"%s\"", listen);
        return -1;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (*end || port < 0 || port > 65535 || inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        snprintf(err, errlen, "metrics_listen: use an IPv4 address and a port, not \"%s\"", listen);
        return -1;
    }
    /* Bounded: epoll (no select() limit of 1,024 descriptors), at most
     * RW_HTTP_CONNECTIONS open and RW_HTTP_PER_IP from one address (more are
     * closed as they come), and a connection idle for RW_HTTP_TIMEOUT_S is
     * closed; so idle or half-open connections cannot starve /healthz. */
    m->daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, handle, m,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)RW_HTTP_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)RW_HTTP_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)RW_HTTP_TIMEOUT_S, MHD_OPTION_END);
    if (!m->daemon) {
        snprintf(err, errlen, "metrics_listen %s: cannot listen (port in use?)", listen);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    m->port = info ? info->port : (int)port;
    return 0;
}

int rw_metrics_port(const rw_metrics_t *m) { return m->port; }

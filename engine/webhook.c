#include "webhook.h"

#include "util.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DIGEST_NEWEST 10 /* alerts shown in full in a digest */
struct rw_webhook {
    rw_webhook_opts_t o;
    char *url, *token, *secret;
    rw_metrics_t *metrics;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char **q; /* ring of queued alerts */
    size_t head, n;
    unsigned long long lost;   /* dropped or failed since a digest last reported them */
    char *keep[DIGEST_NEWEST]; /* the newest alerts of a failed POST, for the next digest */
    size_t nkeep;
    rw_ratelimit_t drop_log; /* under lock */
    rw_ratelimit_t fail_log; /* the sender thread's */
    bool stop;
    int64_t stop_by; /* monotonic ms: give up on the queue after this */
};

static void count(rw_webhook_t *w, const char *result, size_t n) {
    if (!w->metrics || !n)
        return;
    char lab[64];
    snprintf(lab, sizeof(lab), "result=\"%s\"", result);
    rw_metrics_add(w->metrics, "riskwarn_webhook_total", lab, (double)n);
}

static size_t discard(char *p, size_t size, size_t n, void *arg) {
    (void)p;
    (void)arg;
    return size * n;
}

void rw_webhook_sign(const char *secret, long long ts, const char *body, size_t len, char *out) {
    rw_buf_t msg;
    rw_buf_init(&msg);
    rw_buf_printf(&msg, "%lld.", ts);
    rw_buf_append(&msg, body, len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg.data, msg.len, mac,
         &mlen);
    rw_buf_fini(&msg);
    memcpy(out, "sha256=", 8); /* with its NUL: rw_hex writes from out + 7 */
    rw_hex(mac, mlen, out + 7);
}

/* One POST. Returns true on a 2xx answer. */
static bool post(rw_webhook_t *w, CURL *c, const char *body, size_t len) {
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char line[600];
    if (w->token) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", w->token);
        h = curl_slist_append(h, line);
    }
    if (w->secret) {
        long long ts = (long long)(rw_now_ms() / 1000);
        char sig[80];
        rw_webhook_sign(w->secret, ts, body, len, sig);
        snprintf(line, sizeof(line), "X-Riskwarn-Timestamp: %lld", ts);
        h = curl_slist_append(h, line);
        snprintf(line, sizeof(line), "X-Riskwarn-Signature: %s", sig);
        h = curl_slist_append(h, line);
    }
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, w->url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)w->o.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)w->o.timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    bool ok = rc == CURLE_OK && status >= 200 && status <= 299;
    if (!ok && rc != CURLE_OK)
        rw_log_limited(&w->fail_log, RW_LOG_WARN, "webhook: %s", curl_easy_strerror(rc));
    else if (!ok)
        rw_log_limited(&w->fail_log, RW_LOG_WARN, "webhook: HTTP %ld", status);
    return ok;
}

/* Waits ms unless stopping past the deadline. */
static void pause_ms(rw_webhook_t *w, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    if (!w->stop)
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    pthread_mutex_unlock(&w->lock);
}

/* What one POST carries: its body, how many alerts it stands for, the lost ones
 * it reports, and the alerts it shows (owned: kept for the next digest if the
 * POST fails). */
typedef struct sending {
    rw_buf_t body;
    size_t n;
    unsigned long long lost;
    char *shown[DIGEST_NEWEST];
    size_t nshown;
} sending_t;

/* Under lock: takes what the next POST carries. One alert when few wait and none
 * was lost; otherwise a digest of every alert waiting, with the newest (of a
 * failed POST's and those waiting) in full and the count of those lost before. */
static void take(rw_webhook_t *w, sending_t *s) {
    rw_buf_reset(&s->body);
    s->lost = 0;
    if (w->n < (size_t)w->o.digest_after && !w->lost) {
        s->shown[0] = w->q[w->head];
        s->nshown = 1;
        rw_buf_puts(&s->body, s->shown[0]);
        w->q[w->head] = NULL;
        w->head = (w->head + 1) % w->o.queue_max;
        w->n--;
        s->n = 1;
        return;
    }
    size_t total = w->nkeep + w->n, shown = total < DIGEST_NEWEST ? total : DIGEST_NEWEST;
    s->n = w->n;
    s->lost = w->lost;
    s->nshown = 0;
    rw_buf_printf(&s->body, "{\"digest\":true,\"count\":%zu,\"dropped\":%llu,\"alerts\":[", s->n,
                  s->lost);
    for (size_t i = 0; i < total; i++) {
        char **slot = i < w->nkeep ? &w->keep[i] : &w->q[(w->head + i - w->nkeep) % w->o.queue_max];
        if (i >= total - shown) {
            rw_buf_puts(&s->body, s->nshown ? "," : "");
            rw_buf_puts(&s->body, *slot);
            s->shown[s->nshown++] = *slot;
        } else {
            free(*slot);
        }
        *slot = NULL;
    }
    rw_buf_puts(&s->body, "]}");
    w->head = (w->head + w->n) % w->o.queue_max;
    w->n = w->nkeep = 0;
    w->lost = 0;
}

/* After a POST: the alerts it showed are freed, or, when it failed, kept for
 * the next digest, which reports every alert it stood for as lost. */
static void sent(rw_webhook_t *w, sending_t *s, bool ok) {
    pthread_mutex_lock(&w->lock);
    if (!ok) {
        for (size_t i = 0; i < w->nkeep; i++)
            free(w->keep[i]);
        memcpy(w->keep, s->shown, s->nshown * sizeof(char *));
        w->nkeep = s->nshown;
        s->nshown = 0;
        w->lost += s->n + s->lost;
    }
    pthread_mutex_unlock(&w->lock);
    for (size_t i = 0; i < s->nshown; i++)
        free(s->shown[i]);
    s->nshown = 0;
}

static void *run(void *arg) {
    rw_webhook_t *w = arg;
    CURL *c = curl_easy_init();
    sending_t s;
    memset(&s, 0, sizeof(s));
    rw_buf_init(&s.body);
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (!w->n && !w->lost && !w->stop)
            pthread_cond_wait(&w->cond, &w->lock);
        if ((!w->n && !w->lost) || (w->stop && rw_monotonic_ms() > w->stop_by)) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        take(w, &s);
        pthread_mutex_unlock(&w->lock);
        bool ok = false,
             digest = s.body.data[0] == '{' && !strncmp(s.body.data, "{\"digest\":", 10);
        rw_backoff_t backoff = {200, 10000, 0, 0}; /* 200 ms doubling to 10 s, with jitter */
        for (int attempt = 0; c && attempt <= w->o.retries && !ok; attempt++) {
            if (attempt)
                pause_ms(w, rw_backoff_next(&backoff));
            ok = post(w, c, rw_buf_cstr(&s.body), s.body.len);
            if (w->stop && rw_monotonic_ms() > w->stop_by)
                break;
        }
        count(w, ok ? (digest ? "digested" : "sent") : "failed", s.n);
        if (ok && s.lost)
            rw_log(RW_LOG_WARN,
                   "webhook: sent a digest of %zu alerts; it reports %llu alerts lost "
                   "before it (dropped or failed)",
                   s.n, s.lost);
        sent(w, &s, ok);
        if (!ok)
            pause_ms(w, 1000); /* the next POST is a digest that reports them */
    }
    rw_buf_fini(&s.body);
    if (c)
        curl_easy_cleanup(c);
    return NULL;
}

static void curl_global_init_void(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

rw_webhook_t *rw_webhook_new(const rw_webhook_opts_t *o, rw_metrics_t *metrics, rw_error_t *err) {
    if (!o->url || (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)) {
        rw_error_fail(err, RW_ERR_INPUT, "webhook.url: use an http:// or https:// address");
        return NULL;
    }
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_global_init_void);
    rw_webhook_t *w = rw_calloc(1, sizeof(*w));
    w->o = *o;
    if (w->o.queue_max == 0)
        w->o.queue_max = 1000;
    if (w->o.timeout_ms <= 0)
        w->o.timeout_ms = 2000;
    if (w->o.digest_after < 2)
        w->o.digest_after = 10;
    w->url = rw_strdup(o->url);
    w->o.url = w->url;
    w->token = o->token ? rw_strdup(o->token) : NULL;
    w->secret = o->secret ? rw_strdup(o->secret) : NULL;
    w->o.token = w->token;
    w->o.secret = w->secret;
    w->metrics = metrics;
    w->q = rw_calloc(w->o.queue_max, sizeof(char *));
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        rw_error_fail(err, RW_ERR_FAIL, "webhook: cannot start its thread");
        free(w->q);
        free(w->url);
        free(w->token);
        free(w->secret);
        free(w);
        return NULL;
    }
    return w;
}

void rw_webhook_post(rw_webhook_t *w, int level, const char *json, size_t len) {
    if (!w || level < w->o.min_level)
        return;
    char *copy = rw_strndup(json, len);
    pthread_mutex_lock(&w->lock);
    if (w->n == w->o.queue_max) {
        /* Full: the oldest waiting alert gives way; the next digest reports it. */
        free(w->q[w->head]);
        w->q[w->head] = NULL;
        w->head = (w->head + 1) % w->o.queue_max;
        w->n--;
        w->lost++;
        count(w, "dropped", 1);
        rw_log_limited(&w->drop_log, RW_LOG_WARN,
                       "webhook: behind, %zu alerts waiting: dropped the oldest; the next digest "
                       "reports the alerts dropped",
                       w->o.queue_max);
    }
    w->q[(w->head + w->n) % w->o.queue_max] = copy;
    w->n++;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void rw_webhook_destroy(rw_webhook_t *w, int wait_ms) {
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    w->stop_by = rw_monotonic_ms() + wait_ms;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    if (w->n || w->lost)
        rw_log(RW_LOG_WARN, "webhook: stopping with %zu alerts not sent and %llu lost before", w->n,
               w->lost);
    count(w, "dropped", w->n);
    for (size_t i = 0; i < w->o.queue_max; i++)
        free(w->q[i]);
    for (size_t i = 0; i < w->nkeep; i++)
        free(w->keep[i]);
    free(w->q);
    free(w->url);
    free(w->token);
    free(w->secret);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}

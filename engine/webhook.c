#include "webhook.h"

#include "util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rw_webhook {
    rw_webhook_opts_t o;
    char *url;
    rw_metrics_t *metrics;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char **q; /* ring of queued alerts */
    size_t head, n;
    bool stop;
    int64_t stop_by; /* monotonic ms: give up on the queue after this */
};

static void count(rw_webhook_t *w, const char *result) {
    if (!w->metrics)
        return;
    char lab[64];
    snprintf(lab, sizeof(lab), "result=\"%s\"", result);
    rw_metrics_add(w->metrics, "riskwarn_webhook_total", lab, 1);
}

static size_t discard(char *p, size_t size, size_t n, void *arg) {
    (void)p;
    (void)arg;
    return size * n;
}

/* One POST. Returns true on a 2xx answer. */
static bool post(rw_webhook_t *w, CURL *c, const char *body) {
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, w->url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
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
    if (rc != CURLE_OK)
        rw_log(RW_LOG_WARN, "webhook: %s", curl_easy_strerror(rc));
    else if (status < 200 || status > 299)
        rw_log(RW_LOG_WARN, "webhook: HTTP %ld", status);
    return rc == CURLE_OK && status >= 200 && status <= 299;
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

static void *run(void *arg) {
    rw_webhook_t *w = arg;
    CURL *c = curl_easy_init();
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (!w->n && !w->stop)
            pthread_cond_wait(&w->cond, &w->lock);
        if (!w->n || (w->stop && rw_monotonic_ms() > w->stop_by)) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        char *body = w->q[w->head];
        w->q[w->head] = NULL;
        w->head = (w->head + 1) % w->o.queue_max;
        w->n--;
        pthread_mutex_unlock(&w->lock);
        bool ok = false;
        int backoff = 200;
        for (int attempt = 0; c && attempt <= w->o.retries && !ok; attempt++) {
            if (attempt) {
                pause_ms(w, backoff);
                backoff *= 2;
            }
            ok = post(w, c, body);
            if (w->stop && rw_monotonic_ms() > w->stop_by)
                break;
        }
        count(w, ok ? "sent" : "failed");
        free(body);
    }
    if (c)
        curl_easy_cleanup(c);
    return NULL;
}

static void curl_global_init_void(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

rw_webhook_t *rw_webhook_new(const rw_webhook_opts_t *o, rw_metrics_t *metrics, char *err,
                             size_t errlen) {
    if (!o->url || (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)) {
        snprintf(err, errlen, "webhook.url: use an http:// or https:// address");
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
    w->url = rw_strdup(o->url);
    w->o.url = w->url;
    w->metrics = metrics;
    w->q = rw_calloc(w->o.queue_max, sizeof(char *));
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        snprintf(err, errlen, "webhook: cannot start its thread");
        free(w->q);
        free(w->url);
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
        /* Full: the oldest waiting alert gives way. */
        free(w->q[w->head]);
        w->q[w->head] = NULL;
        w->head = (w->head + 1) % w->o.queue_max;
        w->n--;
        count(w, "dropped");
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
    for (size_t i = 0; i < w->o.queue_max; i++)
        free(w->q[i]);
    free(w->q);
    free(w->url);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}

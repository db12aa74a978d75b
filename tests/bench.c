/*
 * bench: how fast the engine goes compared with simply reading the topic.
 *
 * One run, everything in this process except redis-server:
 *   1. librdkafka's mock cluster (1 broker) and a redis-server on a free port;
 *   2. N synthetic transaction events (RW_BENCH_N, default 200000), generated
 *      deterministically, produced keyed by account to events.transactions;
 *   3. raw consume: a plain consumer group member reading all N with
 *      rd_kafka_consume_batch_queue (batch 512), doing nothing else; it reads
 *      the topic 5 times (seeking back) and the median pass is reported;
 *   4. the engine (rw_engine_run in a thread, stop_after = N) on a realistic
 *      ruleset of value / window_count / window_sum rules;
 *   5. the rates, their ratio, and the alerts produced.
 *
 * Both rates are measured the same way: from the end of the first batch to the
 * last message, so neither includes the consumer-group join (about 3 s on the
 * mock cluster) nor shutdown. For the engine, "a batch is done" is seen in the
 * Redis counters (rw:events:*), which the engine writes atomically per batch;
 * they are read every 5 ms. The engine's last batch, smaller than 512, waits
 * out its poll timeout (100 ms) before it is processed: that stays in its time.
 *
 * No assertion on speed. Exits nonzero only on a real error: a peer that does
 * not start, events lost by the cluster, the engine failing, or the engine not
 * counting exactly N events.
 */
#include "engine.h"
#include "harness.h"
#include "jarena.h"
#include "mock.h"
#include "proc.h"
#include "store.h"
#include "util.h"

#include <hiredis.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define TOPIC "events.transactions"
#define N_ACCOUNTS 5000
#define N_COUNTERPARTIES 20000
#define MEAN_GAP_MS 13000.0 /* 200000 events: about 30 days of event time */
#define BATCH 512
#define STALL_S 60.0 /* no progress for this long: a real error */
#define MOCK_PARTITION_BYTES (5 * 1024 * 1024)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process (every thread: engine, librdkafka, the mock broker). */
static double cpu_self_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds of another process, from /proc; -1 when unknown. */
static double cpu_pid_s(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- deterministic data ---------------------------------------------------------- */

static uint64_t rng_state = 0x7269736b7761726eULL; /* fixed seed */

static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unit(void) { /* [0, 1) */
    return (double)(rng_next() >> 11) / 9007199254740992.0;
}

static uint32_t rng_below(uint32_t n) { return (uint32_t)(rng_unit() * n); }

static double rng_normal(void) { /* Box-Muller */
    double u1 = rng_unit(), u2 = rng_unit();
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

typedef struct account {
    char number[20];  /* 19 digits, a bank card / account number */
    char country[3];  /* home country */
    int n_devices;    /* 1..3 phones or PCs */
    unsigned ip_base; /* its usual /24 */
} account_t;

typedef struct gen {
    account_t acc[N_ACCOUNTS];
    double cdf[N_ACCOUNTS]; /* skewed draw: weight 1/(rank+10) */
    int64_t ts_ms;
    long seq;
    /* A burst: one account suddenly making many quick outbound payments,
     * often from a new device and abroad (account takeover, mule activity). */
    int burst_acc, burst_left, burst_dev;
    const char *burst_country;
    /* Event-time dates seen, on the ruleset's +08:00 calendar. */
    char dates[512][16];
    int n_dates;
} gen_t;

static const char *const foreign[] = {"US", "GB", "SG", "HK", "JP", "MY", "TH", "AE", "RU", "NG"};

static void gen_init(gen_t *g) {
    memset(g, 0, sizeof(*g));
    double total = 0;
    for (int i = 0; i < N_ACCOUNTS; i++) {
        account_t *a = &g->acc[i];
        snprintf(a->number, sizeof(a->number), "622202%013llu",
                 (unsigned long long)(rng_next() % 10000000000000ULL));
        snprintf(a->country, sizeof(a->country), "%s",
                 rng_unit() < 0.97 ? "CN" : foreign[rng_below(10)]);
        a->n_devices = 1 + (int)rng_below(3);
        a->ip_base = (unsigned)rng_next() & 0xffffffu;
        total += 1.0 / (i + 10);
        g->cdf[i] = total;
    }
    for (int i = 0; i < N_ACCOUNTS; i++)
        g->cdf[i] /= total;
    g->ts_ms = rw_days_from_civil(2026, 11, 1) * 86400000LL - 8 * 3600000LL;
    g->burst_acc = -1;
}

static int pick_account(const gen_t *g) {
    double u = rng_unit();
    int lo = 0, hi = N_ACCOUNTS - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (g->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Writes the next event to buf; returns its length and the account (the key). */
static int gen_event(gen_t *g, char *buf, size_t len, const char **key) {
    g->ts_ms += 1 + (int64_t)(-log(1.0 - rng_unit()) * MEAN_GAP_MS);
    g->seq++;
    if (g->burst_left == 0 && rng_unit() < 0.0006) {
        g->burst_acc = (int)rng_below(N_ACCOUNTS);
        g->burst_left = 10 + (int)rng_below(50);
        g->burst_dev = 100 + (int)rng_below(900);
        g->burst_country = rng_unit() < 0.3 ? foreign[rng_below(10)] : NULL;
    }
    bool burst = g->burst_left > 0 && rng_unit() < 0.35;
    int ai = burst ? g->burst_acc : pick_account(g);
    const account_t *a = &g->acc[ai];
    const char *dir, *channel, *country = a->country;
    char device[24], ip[20];
    double amount;
    unsigned ipb = a->ip_base;
    if (burst) {
        g->burst_left--;
        dir = "out";
        channel = rng_unit() < 0.7 ? "mobile" : "online";
        amount = exp(log(9000.0) + 0.8 * rng_normal());
        snprintf(device, sizeof(device), "d-%05d-x%03d", ai, g->burst_dev);
        ipb = (unsigned)(g->burst_dev * 7919u) & 0xffffffu;
        if (g->burst_country)
            country = g->burst_country;
    } else {
        dir = rng_unit() < 0.6 ? "out" : "in";
        double u = rng_unit();
        channel = u < 0.45   ? "mobile"
                  : u < 0.70 ? "online"
                  : u < 0.85 ? "pos"
                  : u < 0.93 ? "atm"
                             : "branch";
        amount = exp(log(600.0) + 1.5 * rng_normal());
        if (strcmp(channel, "atm") == 0) {
            dir = "out";
            amount = 100.0 * (1 + rng_below(50));
            snprintf(device, sizeof(device), "atm-%04u", rng_below(800));
        } else if (strcmp(channel, "pos") == 0) {
            snprintf(device, sizeof(device), "pos-%05u", rng_below(20000));
        } else if (strcmp(channel, "branch") == 0) {
            snprintf(device, sizeof(device), "br-%03u", rng_below(120));
        } else {
            snprintf(device, sizeof(device), "d-%05d-%d", ai, 1 + (int)rng_below(a->n_devices));
        }
        if (rng_unit() < 0.01)
            country = foreign[rng_below(10)]; /* travelling */
    }
    snprintf(ip, sizeof(ip), "%u.%u.%u.%u", 10 + ((ipb >> 16) & 0x7f), (ipb >> 8) & 0xff,
             ipb & 0xff, 2 + rng_below(250));
    char ts[40], cp[20];
    rw_time_format(g->ts_ms, ts, sizeof(ts));
    snprintf(cp, sizeof(cp), "621700%013u", 1000003u * (1 + rng_below(N_COUNTERPARTIES)));
    int n = snprintf(buf, len,
                     "{\"event_id\":\"tx-%09ld\",\"type\":\"transaction\",\"ts\":\"%s\","
                     "\"account\":\"%s\",\"amount\":%.2f,\"currency\":\"CNY\","
                     "\"direction\":\"%s\",\"channel\":\"%s\",\"counterparty\":\"%s\","
                     "\"device_id\":\"%s\",\"ip\":\"%s\",\"geo\":{\"country\":\"%s\"}}",
                     g->seq, ts, a->number, amount, dir, channel, cp, device, ip, country);
    char date[16];
    rw_date_format(g->ts_ms, 8 * 60, date, sizeof(date));
    if ((g->n_dates == 0 || strcmp(g->dates[g->n_dates - 1], date) != 0) && g->n_dates < 512)
        snprintf(g->dates[g->n_dates++], sizeof(g->dates[0]), "%s", date);
    *key = a->number;
    return n;
}

static const char ruleset[] =
    "{\n"
    "  \"ruleset\": \"bench-retail\", \"version\": \"bench.1\",\n"
    "  \"calendar\": {\"utc_offset\": \"+08:00\", \"weekend\": [\"sat\", \"sun\"]},\n"
    "  \"masking\": {\"account\": \"6-4\", \"counterparty\": \"6-4\"},\n"
    "  \"rules\": [\n"
    "    {\"id\": \"large-outbound\", \"module\": \"value\",\n"
    "     \"match\": {\"type\": \"transaction\", \"direction\": \"out\"}, \"key\": \"account\",\n"
    "     \"params\": {\"field\": \"amount\"},\n"
    "     \"thresholds\": {\"low\": 50000, \"medium\": 200000, \"high\": 1000000}},\n"
    "    {\"id\": \"cross-border-outbound\", \"module\": \"value\",\n"
    "     \"match\": {\"type\": \"transaction\", \"direction\": \"out\",\n"
    "               \"geo.country\": {\"ne\": \"CN\"}}, \"key\": \"account\",\n"
    "     \"params\": {\"field\": \"amount\"},\n"
    "     \"thresholds\": {\"low\": 10000, \"medium\": 50000, \"high\": 200000}},\n"
    "    {\"id\": \"velocity-1h\", \"module\": \"window_count\",\n"
    "     \"match\": {\"type\": \"transaction\"}, \"key\": \"account\",\n"
    "     \"params\": {\"window\": \"1h\"},\n"
    "     \"thresholds\": {\"low\": 10, \"medium\": 20, \"high\": 50}},\n"
    "    {\"id\": \"outbound-sum-1d\", \"module\": \"window_sum\",\n"
    "     \"match\": {\"type\": \"transaction\", \"direction\": \"out\"}, \"key\": \"account\",\n"
    "     \"params\": {\"field\": \"amount\", \"window\": \"1d\"},\n"
    "     \"thresholds\": {\"low\": 200000, \"medium\": 1000000, \"high\": 5000000}},\n"
    "    {\"id\": \"inbound-sum-1d\", \"module\": \"window_sum\",\n"
    "     \"match\": {\"type\": \"transaction\", \"direction\": \"in\"}, \"key\": \"account\",\n"
    "     \"params\": {\"field\": \"amount\", \"window\": \"1d\"},\n"
    "     \"thresholds\": {\"low\": 300000, \"medium\": 1000000, \"high\": 5000000}},\n"
    "    {\"id\": \"device-velocity-10m\", \"module\": \"window_count\",\n"
    "     \"match\": {\"type\": \"transaction\", \"channel\": {\"in\": [\"mobile\", "
    "\"online\"]}},\n"
    "     \"key\": \"device_id\", \"params\": {\"window\": \"10m\"},\n"
    "     \"thresholds\": {\"low\": 5, \"medium\": 10, \"high\": 20}},\n"
    "    {\"id\": \"atm-withdrawals-1d\", \"module\": \"window_count\",\n"
    "     \"match\": {\"type\": \"transaction\", \"channel\": \"atm\"}, \"key\": \"account\",\n"
    "     \"params\": {\"window\": \"1d\"},\n"
    "     \"thresholds\": {\"low\": 4, \"medium\": 8, \"high\": 12}}\n"
    "  ]\n"
    "}\n";

/* ---- Kafka helpers --------------------------------------------------------------------- */

static rd_kafka_t *make_client(rd_kafka_type_t type, const char *brokers, const char *group) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int bad = rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err));
    if (type == RD_KAFKA_PRODUCER) {
        bad |= rd_kafka_conf_set(conf, "linger.ms", "20", err, sizeof(err));
        bad |= rd_kafka_conf_set(conf, "batch.num.messages", "10000", err, sizeof(err));
        bad |= rd_kafka_conf_set(conf, "queue.buffering.max.kbytes", "262144", err, sizeof(err));
    } else {
        /* What the engine sets, minus the offset store it needs and we do not. */
        bad |= rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
        bad |= rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
        bad |= rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err));
        bad |= rd_kafka_conf_set(conf, "enable.partition.eof", "false", err, sizeof(err));
    }
    if (bad) {
        fprintf(stderr, "bench: kafka config: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "bench: kafka client: %s\n", err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* Sums the high watermarks of a topic's partitions; -1 on error. With lo_max,
 * also reports the highest low watermark (0: nothing was dropped). */
static int64_t topic_count(rd_kafka_t *rk, const char *topic, int parts, int64_t *lo_max) {
    int64_t total = 0;
    if (lo_max)
        *lo_max = 0;
    for (int p = 0; p < parts; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
        if (err) {
            fprintf(stderr, "bench: watermarks of %s [%d]: %s\n", topic, p, rd_kafka_err2str(err));
            return -1;
        }
        total += hi;
        if (lo_max && lo > *lo_max)
            *lo_max = lo;
    }
    return total;
}

/* ---- phases ---------------------------------------------------------------------------- */

typedef struct rate {
    double join_s;   /* start to the end of the first batch */
    double steady_s; /* end of the first batch to the last message */
    long first;      /* messages in the first batch (not in the rate) */
    double cpu_s;    /* this process, over the whole phase */
    double redis_cpu_s;
    double thread_cpu_s; /* the engine thread alone */
} rate_t;

static double rate_of(const rate_t *r, long n) {
    return r->steady_s > 0 ? (double)(n - r->first) / r->steady_s : 0;
}

static int produce_all(gen_t *g, const char *brokers, long n, int parts, long long *bytes) {
    rd_kafka_t *p = make_client(RD_KAFKA_PRODUCER, brokers, NULL);
    if (!p)
        return -1;
    char buf[1024];
    *bytes = 0;
    for (long i = 0; i < n; i++) {
        const char *key;
        int len = gen_event(g, buf, sizeof(buf), &key);
        *bytes += len;
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(
                    p, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_VALUE(buf, (size_t)len), RD_KAFKA_V_KEY(key, strlen(key)),
                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(p, 10);
        if (err) {
            fprintf(stderr, "bench: produce: %s\n", rd_kafka_err2str(err));
            rd_kafka_destroy(p);
            return -1;
        }
        rd_kafka_poll(p, 0);
    }
    int rc = 0;
    if (rd_kafka_flush(p, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "bench: produce: %d messages not delivered\n", rd_kafka_outq_len(p));
        rc = -1;
    }
    int64_t lo_max = 0, have = rc ? -1 : topic_count(p, TOPIC, parts, &lo_max);
    if (!rc && (have != n || lo_max != 0)) {
        fprintf(stderr,
                "bench: the cluster holds %lld of %ld events (lowest offset kept %lld): the mock "
                "cluster keeps about %d MiB a partition; use more partitions\n",
                (long long)have, n, (long long)lo_max, MOCK_PARTITION_BYTES >> 20);
        rc = -1;
    }
    rd_kafka_destroy(p);
    return rc;
}

/* Reads n messages from the consumer queue. Fills the time from the end of the
 * first batch to the last message, and the size of that first batch. */
static int read_all(rd_kafka_queue_t *q, long n, double *t_first, double *t_end, long *first) {
    rd_kafka_message_t *msgs[BATCH];
    long got = 0;
    double t_progress = now_s();
    *t_first = 0;
    while (got < n) {
        /* Ask for no more than what is left: a batch that cannot fill waits out
         * the whole timeout, which would add 100 ms to a pass of a few hundred. */
        size_t want = n - got < BATCH ? (size_t)(n - got) : BATCH;
        ssize_t k = rd_kafka_consume_batch_queue(q, 100, msgs, want);
        double t = now_s();
        if (k < 0) {
            fprintf(stderr, "bench: consume: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
            return -1;
        }
        for (ssize_t i = 0; i < k; i++) {
            if (!msgs[i]->err)
                got++;
            else
                fprintf(stderr, "bench: consume: %s\n", rd_kafka_message_errstr(msgs[i]));
            rd_kafka_message_destroy(msgs[i]);
        }
        if (k > 0) {
            t_progress = t;
            if (*t_first == 0) {
                *t_first = t;
                *first = got;
            }
        } else if (t - t_progress > STALL_S) {
            fprintf(stderr, "bench: raw consumer stalled at %ld of %ld\n", got, n);
            return -1;
        }
    }
    *t_end = now_s();
    return 0;
}

#define RAW_PASSES 5

/* The raw rate: a group member reads the topic RAW_PASSES times (the first
 * after joining, the others after seeking back to the beginning); the pass
 * with the median rate is reported. One pass takes a fraction of a second,
 * so a single one would be noisy. */
static int raw_consume(const char *brokers, long n, rate_t *r, double rates[RAW_PASSES]) {
    memset(r, 0, sizeof(*r));
    rd_kafka_t *c = make_client(RD_KAFKA_CONSUMER, brokers, "rw-bench-raw");
    if (!c)
        return -1;
    rd_kafka_poll_set_consumer(c);
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(c);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, TOPIC, RD_KAFKA_PARTITION_UA);
    double cpu0 = cpu_self_s(), t0 = now_s();
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    int rc = 0;
    if (err) {
        fprintf(stderr, "bench: subscribe: %s\n", rd_kafka_err2str(err));
        rc = -1;
    }
    rate_t pass[RAW_PASSES];
    for (int p = 0; !rc && p < RAW_PASSES; p++) {
        memset(&pass[p], 0, sizeof(pass[p]));
        if (p > 0) {
            rd_kafka_topic_partition_list_t *a = NULL;
            rd_kafka_error_t *e = NULL;
            if ((err = rd_kafka_assignment(c, &a)) == 0) {
                for (int i = 0; i < a->cnt; i++)
                    a->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
                e = rd_kafka_seek_partitions(c, a, 10000);
            }
            if (err || e) {
                fprintf(stderr, "bench: seek: %s\n",
                        e ? rd_kafka_error_string(e) : rd_kafka_err2str(err));
                rc = -1;
            }
            if (e)
                rd_kafka_error_destroy(e);
            if (a)
                rd_kafka_topic_partition_list_destroy(a);
            if (rc)
                break;
        }
        double t_start = now_s(), t_first, t_end;
        if (read_all(q, n, &t_first, &t_end, &pass[p].first)) {
            rc = -1;
            break;
        }
        pass[p].join_s = t_first - (p == 0 ? t0 : t_start);
        pass[p].steady_s = t_end - t_first;
        rates[p] = rate_of(&pass[p], n);
    }
    if (!rc) {
        int best = 0; /* the median pass */
        for (int p = 0; p < RAW_PASSES; p++) {
            int below = 0, above = 0;
            for (int o = 0; o < RAW_PASSES; o++) {
                below += o != p && rates[o] < rates[p];
                above += o != p && rates[o] > rates[p];
            }
            if (below <= RAW_PASSES / 2 && above <= RAW_PASSES / 2)
                best = p;
        }
        *r = pass[best];
        r->join_s = pass[0].join_s;
    }
    r->cpu_s = cpu_self_s() - cpu0;
    rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return rc;
}

typedef struct engine_run {
    rw_config_t cfg;
    rw_engine_ctl_t ctl;
    atomic_int done;
    int rc;
    double cpu_s; /* the engine thread's own CPU time */
} engine_run_t;

static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *engine_thread(void *arg) {
    engine_run_t *e = arg;
    double c0 = thread_cpu_s();
    e->rc = rw_engine_run(&e->cfg, &e->ctl);
    e->cpu_s = thread_cpu_s() - c0;
    atomic_store(&e->done, 1);
    return NULL;
}

/* Events the engine finished: the sum of the rw:events:DATE hashes of the dates
 * the data spans (and today's, for dead letters). One pipelined round trip. */
static long long events_done(redisContext *c, const gen_t *g, const char *today) {
    for (int i = 0; i <= g->n_dates; i++)
        redisAppendCommand(c, "HVALS rw:events:%s", i < g->n_dates ? g->dates[i] : today);
    long long total = 0;
    for (int i = 0; i <= g->n_dates; i++) {
        redisReply *h;
        if (redisGetReply(c, (void **)&h) != REDIS_OK)
            return -1;
        for (size_t j = 0; h->type == REDIS_REPLY_ARRAY && j < h->elements; j++)
            total += atoll(h->element[j]->str);
        freeReplyObject(h);
    }
    return total;
}

static int engine_bench(const char *brokers, int redis_port, pid_t redis_pid, const char *rules,
                        const gen_t *g, long n, rate_t *r, double *total_s) {
    memset(r, 0, sizeof(*r));
    char err[256], today[16];
    rw_redis_opts_t o = {"127.0.0.1", redis_port, NULL, NULL, 0, "rw:", "bench", 5000};
    redisContext *c = rw_redis_connect(&o, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "bench: %s\n", err);
        return -1;
    }
    rw_date_format(rw_now_ms(), 8 * 60, today, sizeof(today));

    engine_run_t *e = rw_calloc(1, sizeof(*e));
    rw_config_init(&e->cfg);
    rw_config_set(&e->cfg.brokers, brokers);
    rw_config_set(&e->cfg.group_id, "rw-bench-engine");
    for (size_t i = 0; i < e->cfg.n_input_topics; i++)
        free(e->cfg.input_topics[i]);
    e->cfg.input_topics[0] = rw_strdup(TOPIC);
    e->cfg.n_input_topics = 1;
    rw_config_set(&e->cfg.redis_host, "127.0.0.1");
    e->cfg.redis_port = redis_port;
    rw_config_set(&e->cfg.rules, rules);
    e->cfg.stop_after = n;

    double cpu0 = cpu_self_s(), rcpu0 = cpu_pid_s(redis_pid);
    double t0 = now_s(), t_first = 0, t_last = 0, t_progress = t0;
    long long last = 0;
    int rc = 0;
    pthread_t th;
    if (pthread_create(&th, NULL, engine_thread, e) != 0) {
        fprintf(stderr, "bench: cannot start the engine thread\n");
        rc = -1;
        goto out;
    }
    /* Watch the counters every 5 ms: the first batch done, the last event done. */
    while (!atomic_load(&e->done)) {
        long long done = events_done(c, g, today);
        double t = now_s();
        if (done < 0) {
            fprintf(stderr, "bench: redis: %s\n", c->errstr);
            atomic_store(&e->ctl.stop, 1);
            rc = -1;
            break;
        }
        if (done > last) {
            last = done;
            t_progress = t;
            if (t_first == 0) {
                t_first = t;
                r->first = (long)done;
            }
            if (done >= n && t_last == 0)
                t_last = t;
        } else if (t - t_progress > STALL_S) {
            fprintf(stderr, "bench: the engine made no progress for %.0f s (%lld of %ld)\n",
                    STALL_S, last, n);
            atomic_store(&e->ctl.stop, 1);
            rc = -1;
            break;
        }
        usleep(5000);
    }
    pthread_join(th, NULL);
    *total_s = now_s() - t0;
    r->cpu_s = cpu_self_s() - cpu0;
    r->redis_cpu_s = cpu_pid_s(redis_pid) - rcpu0;
    r->thread_cpu_s = e->cpu_s;
    if (t_last == 0) /* the last batch landed between two looks */
        t_last = now_s();
    r->join_s = t_first - t0;
    r->steady_s = t_first > 0 ? t_last - t_first : 0;
    if (e->rc != RW_EXIT_OK) {
        fprintf(stderr, "bench: the engine exited with %d\n", e->rc);
        rc = -1;
    }
out:
    rw_config_fini(&e->cfg);
    free(e);
    redisFree(c);
    return rc;
}

/* Prints where redis-server spent its time, by command (INFO commandstats). */
static void redis_time(int port) {
    char err[256];
    rw_redis_opts_t o = {"127.0.0.1", port, NULL, NULL, 0, "rw:", "bench", 5000};
    redisContext *c = rw_redis_connect(&o, err, sizeof(err));
    redisReply *r = c ? redisCommand(c, "INFO commandstats") : NULL;
    if (r && r->type == REDIS_REPLY_STRING) {
        struct cmdstat {
            char name[32];
            long long calls, usec;
        } cmd[64];
        int k = 0;
        for (const char *p = strstr(r->str, "cmdstat_"); p && k < 64;
             p = strstr(p + 1, "cmdstat_")) {
            if (sscanf(p, "cmdstat_%31[^:]:calls=%lld,usec=%lld", cmd[k].name, &cmd[k].calls,
                       &cmd[k].usec) == 3)
                k++;
        }
        for (int i = 0; i < k; i++) /* by time, most first */
            for (int j = i + 1; j < k; j++)
                if (cmd[j].usec > cmd[i].usec) {
                    struct cmdstat t = cmd[i];
                    cmd[i] = cmd[j];
                    cmd[j] = t;
                }
        printf("redis time");
        for (int i = 0; i < k && i < 5; i++)
            printf("%s %s %.2f s / %lld calls", i ? "," : "", cmd[i].name,
                   (double)cmd[i].usec / 1e6, cmd[i].calls);
        printf(
            "\n           (eval is the engine's per-batch apply and includes the calls it makes; "
            "hvals is this bench watching the counters)\n");
    }
    if (r)
        freeReplyObject(r);
    if (c)
        redisFree(c);
}

/* ---- main ------------------------------------------------------------------------------ */

int main(void) {
    rw_jarena_install(); /* as bin/riskwarn does: events parsed into per-batch arenas */
    long n = 200000;
    const char *env = getenv("RW_BENCH_N");
    if (env && *env) {
        char *end;
        n = strtol(env, &end, 10);
        if (*end || n < 1000 || n > 100000000) {
            fprintf(stderr, "bench: RW_BENCH_N: a number from 1000 to 100000000\n");
            return 2;
        }
    }
    /* Partitions so each holds at most about 2 MiB (the mock keeps the last 5 MiB
     * of each; account keys are skewed, so leave room). */
    int parts = (int)((n * 260LL + (2LL << 20) - 1) / (2LL << 20));
    if (parts < 8)
        parts = 8;
    if (parts > 1000)
        parts = 1000;

    rw_log_level = RW_LOG_WARN;
    char err[512];
    rw_mock_t mock;
    rw_redis_server_t redis;
    memset(&redis, 0, sizeof(redis));
    int rc = 1;
    char rules[] = "/tmp/rw-bench-rules-XXXXXX.json";
    gen_t *g = rw_calloc(1, sizeof(*g));
    bool have_rules = false;

    if (rw_mock_start(&mock, 1, err, sizeof(err))) {
        fprintf(stderr, "bench: %s\n", err);
        free(g);
        return 1;
    }
    char topic_spec[64];
    snprintf(topic_spec, sizeof(topic_spec), "%s:%d", TOPIC, parts);
    const char *const topics[] = {topic_spec, "risk.alerts:1", "risk.alerts.high:1",
                                  "risk.deadletter:1"};
    for (size_t i = 0; i < 4; i++)
        if (rw_mock_topic(&mock, topics[i], err, sizeof(err))) {
            fprintf(stderr, "bench: %s\n", err);
            goto done;
        }
    if (rw_redis_server_start(&redis, NULL, 10000, err, sizeof(err))) {
        fprintf(stderr, "bench: %s\n", err);
        goto done;
    }
    int fd = mkstemps(rules, 5);
    if (fd < 0 || write(fd, ruleset, sizeof(ruleset) - 1) != (ssize_t)(sizeof(ruleset) - 1)) {
        fprintf(stderr, "bench: cannot write %s\n", rules);
        if (fd >= 0)
            close(fd);
        goto done;
    }
    close(fd);
    have_rules = true;

    printf("riskwarn bench: mock Kafka (1 broker, %s with %d partitions), redis-server :%d\n",
           TOPIC, parts, redis.port);
    fflush(stdout);

    gen_init(g);
    long long bytes;
    double t = now_s();
    if (produce_all(g, mock.bootstraps, n, parts, &bytes))
        goto done;
    printf("produced   %ld events, %lld bytes (%.0f bytes/event), %d event days, in %.2f s; "
           "all still in the cluster\n",
           n, bytes, (double)bytes / (double)n, g->n_dates, now_s() - t);
    fflush(stdout);

    rate_t raw, eng;
    double passes[RAW_PASSES];
    if (raw_consume(mock.bootstraps, n, &raw, passes))
        goto done;
    double raw_rate = rate_of(&raw, n);
    printf("raw        %10.0f events/s  (median of %d passes:", raw_rate, RAW_PASSES);
    for (int p = 0; p < RAW_PASSES; p++)
        printf(" %.0f", passes[p]);
    printf("; %ld events in %.3f s after a first batch of %ld; group join %.2f s)\n", n - raw.first,
           raw.steady_s, raw.first, raw.join_s);
    fflush(stdout);

    double eng_total;
    if (engine_bench(mock.bootstraps, redis.port, redis.pid, rules, g, n, &eng, &eng_total))
        goto done;
    double eng_rate = rate_of(&eng, n);
    printf("engine     %10.0f events/s  (%ld events in %.3f s after a first batch of %ld; "
           "group join %.2f s; start to return %.2f s)\n",
           eng_rate, n - eng.first, eng.steady_s, eng.first, eng.join_s, eng_total);
    printf("engine CPU %.2f s engine thread, %.2f s whole process (with librdkafka and the mock "
           "broker), %.2f s redis-server\n",
           eng.thread_cpu_s, eng.cpu_s, eng.redis_cpu_s);
    redis_time(redis.port);

    /* Verify: the engine counted every event exactly once. */
    rw_redis_opts_t ro = {"127.0.0.1", redis.port, NULL, NULL, 0, "rw:", "bench", 5000};
    redisContext *c = rw_redis_connect(&ro, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "bench: %s\n", err);
        goto done;
    }
    long long counted = h_hsum(c, "rw:events:*");
    long long dead = 0;
    redisReply *keys = redisCommand(c, "KEYS rw:events:*");
    for (size_t i = 0; keys && keys->type == REDIS_REPLY_ARRAY && i < keys->elements; i++)
        dead += h_hget(c, keys->element[i]->str, "deadletter");
    if (keys)
        freeReplyObject(keys);
    long long alerts_redis = h_hsum(c, "rw:alerts:*");
    redisFree(c);

    rd_kafka_t *q = make_client(RD_KAFKA_PRODUCER, mock.bootstraps, NULL);
    int64_t alerts = q ? topic_count(q, "risk.alerts", 1, NULL) : -1;
    int64_t high = q ? topic_count(q, "risk.alerts.high", 1, NULL) : -1;
    int64_t dl = q ? topic_count(q, "risk.deadletter", 1, NULL) : -1;
    if (q)
        rd_kafka_destroy(q);

    printf("alerts     %lld on risk.alerts (%.2f%% of events), %lld on risk.alerts.high, "
           "%lld dead letters; Redis counts %lld alerts\n",
           (long long)alerts, 100.0 * (double)alerts / (double)n, (long long)high, (long long)dl,
           alerts_redis);
    printf("result     N=%ld  raw=%.0f/s  engine=%.0f/s  engine/raw=%.3f  alerts=%lld\n", n,
           raw_rate, eng_rate, raw_rate > 0 ? eng_rate / raw_rate : 0, (long long)alerts);
    printf("           (rates: from the end of the first batch to the last event; group join "
           "and shutdown excluded for both)\n");
    if (counted != n || dead != 0 || alerts < 0) {
        fprintf(stderr, "bench: the engine counted %lld events (%lld dead letters), expected %ld\n",
                counted, dead, n);
        goto done;
    }
    rc = 0;
done:
    fflush(stdout);
    if (have_rules)
        unlink(rules);
    if (redis.pid > 0)
        rw_redis_server_stop(&redis);
    rw_mock_stop(&mock);
    free(g);
    return rc;
}

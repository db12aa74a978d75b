/*
 * bench: how fast the engine goes compared with reading and parsing the same
 * events, how it holds up on a hot key, under a steady load, and in a backtest.
 *
 * One run, everything in this process except redis-server and the replay:
 *   1. librdkafka's mock cluster (1 broker) and a redis-server on a free port;
 *      a fixed CPU loop timed on each core in turn, printed, and again at the end
 *      in the table: the cores of a virtual machine may run at different speeds,
 *      and change from minute to minute;
 *   2. N synthetic transaction events (RW_BENCH_N, default 200000), generated
 *      deterministically, produced keyed by account to events.transactions;
 *   3. raw consume: a plain consumer group member reading all N with
 *      rd_kafka_consume_batch_queue (batch 512), doing nothing else; it reads
 *      the topic 5 times (seeking back) and the median pass is reported;
 *   4. ceiling: the same, also parsing each message as the engine does
 *      (json_loadb with JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, then
 *      json_decref): what no engine can beat on this cluster;
 *   5. the engine (rw_engine_run in a thread, stop_after = N) on a realistic
 *      ruleset of value / window_count / window_sum rules: its rate and CPU;
 *      the process's resident memory before the phase and its peak during it
 *      (VmHWM, reset when the phase starts); redis-server CPU per event and
 *      where Redis spent it (INFO commandstats); the alerts; then a check that
 *      the engine counted every event exactly once;
 *   6. latency: the engine on a topic of its own (1 partition, below), on an
 *      empty Redis (flushed first: the engine phase's windows, written at 30
 *      days of event time a second, neither expire nor trim in that time, and
 *      a new engine reads each whole on its first touch, about 400,000 list
 *      elements over the phase's first 20,000 events: a restart over old
 *      state, which docs/performance.md measures apart), started and
 *      warmed up by one event whose high alert has reached the bench, then fed
 *      at half the rate of 5, in bursts every 2 ms (one produce call a burst,
 *      of events made before the clock starts: about 320 bytes of memory an
 *      event, 100 MB at 30,000 events/s for 10 s), for RW_BENCH_LAT_S seconds
 *      (default 10), while a reader of its alert topic matches each alert to
 *      its event by event_id (found in the alert's text, not parsed): an
 *      event's latency is its alert's arrival at the reader minus its burst's
 *      produce call (CLOCK_MONOTONIC; the producer's linger.ms is 1, which
 *      keeps a burst one message set: see latency_bench); p50 and p99,
 *      and of the part up to the engine's produce call of the alert (the
 *      alert's Kafka timestamp less the event's produce call, wall clock, ms);
 *      p99 of the events sent in the first second (the engine's state and
 *      caches still cold) and of those after it; CPU per event of the
 *      engine's thread and of this process meanwhile. RW_BENCH_LAT_DUMP=FILE
 *      writes every event's latency (lat_dump).
 *      RW_BENCH_ONLY=latency runs only this, at RW_BENCH_LAT_RATE events/s
 *      (default 30000, about half the engine rate on an idle machine), so that
 *      two builds can be compared quickly, one run after the other; with
 *      RW_BENCH_LAT_FLOOR=1 as well, the floor relay (floor_run) takes the
 *      engine's place: what the broker, Redis, the clients and the machine
 *      allow at that rate, whatever the engine (RW_BENCH_LAT_FLOOR_US=N: the
 *      relay also spends N us of CPU an event, as an engine evaluating would;
 *      RW_BENCH_LAT_FLOOR_PUSHES=N: it writes N RPUSHes an event, 2 by default;
 *      RW_BENCH_LAT_FLOOR_AHEAD_US=N: it keeps each batch's write in flight and
 *      spends N of those us on the next batch before reading the write's
 *      replies, as an engine evaluating ahead of the answer would);
 *   7. hot key: one window_count and one window_sum rule over 24 h keyed by
 *      account, on 100,000 small events all inside one 24 h window (produced
 *      in lz4 batches: the hot key's events all share one partition, and the
 *      mock keeps about 5 MiB of each; when even so it cannot keep them all,
 *      the largest N it keeps, for both cases), first spread over 10,000
 *      accounts, then all of one account; Redis is flushed before each run;
 *   8. replay: `riskwarn replay --rules rules/packs/default.json` over a file
 *      of at least 200,000 events (transactions with the pack's other event
 *      types mixed in), timed as a process (wall clock), RW_BENCH_REPLAY_RUNS
 *      times (default 3): the median run's rate, with every run's (the wall
 *      time of one run moved by up to a third from run to run here, most of
 *      it the kernel's time to give the state fresh memory);
 *      RW_BENCH_ONLY=replay runs only this;
 *   9. scaling: `riskwarn run` as processes (RW_BIN, or bin/riskwarn) on the
 *      same N events, first one engine, then two in one consumer group, each
 *      case in a new group with Redis flushed first and stopped (SIGTERM) once
 *      the counters hold all N; the cases alternate RW_BENCH_SCALE_RUNS times
 *      (default 1; odd, so that the median is one run's: of an even count it
 *      is the lower middle one) and the median rate of each is reported, with
 *      the ratio.
 *      Per case: CPU per event of the engine processes (and their engine
 *      threads), of redis-server and of this process (the mock broker); the
 *      partitions each engine was assigned and how often (more than once: the
 *      group rebalanced during the run, which is said, and the engines' logs are
 *      kept for a look at why); for the last run of
 *      each, Redis commands per event (INFO commandstats) and bytes in and out
 *      per event (INFO stats, total_net_*_bytes, less the bench's own counter
 *      reads, priced by 200 reads after the run), and Kafka bytes per event in
 *      (value and key of every input message) and out (every alert message).
 *      RW_BENCH_ONLY=scale runs only the production of the N events and this
 *      (RW_BENCH_ONLY=engine: the production, the consumer alone and the
 *      engine, 2. to 5.);
 *  10. a table of every figure beside its target, with the fixed loop's times.
 *
 * Every rate of a Kafka phase is measured the same way: from the end of the
 * first batch to the last message, so none includes the consumer-group join
 * (about 3 s on the mock cluster) nor shutdown. For the engine, "a batch is
 * done" is seen in the Redis counters ({rw}:events:*), which the engine writes
 * atomically per batch; they are read every 5 ms. The engine's last batch,
 * smaller than 512, waits out its poll timeout (100 ms) before it is
 * processed: that stays in its time.
 *
 * Where the mock cluster is not like Kafka, and what the bench does about it:
 *   - it leaves Nagle's algorithm on for the connections it accepts (a small
 *     response then waits for the client's delayed ACK, 40 ms): the bench
 *     turns it off (TCP_NODELAY) on the mock's listening socket, as brokers do;
 *   - it answers a fetch with nothing to return only after the whole
 *     fetch.wait.max.ms, even when data arrives meanwhile: in the latency
 *     phase the engine and the reader fetch with fetch.wait.max.ms=2 (5 costs
 *     an event up to 5 ms at each of the two fetches; 1 costs more CPU in
 *     empty fetches than it saves);
 *   - it returns at most one message set (one producer request's messages for
 *     the partition) per partition per fetch, and finds it by walking the
 *     partition's sets from the oldest it keeps (about 5 MiB) one by one: a
 *     consumer must make a round trip for every set produced, each costing a
 *     walk over every set kept. A paced phase makes one set per burst and
 *     partition, so the walk grows with the square of the partition count
 *     (more sets, each smaller, so more of them kept): at 4 partitions it was
 *     half of the mock broker's CPU, about 13 us an event at 20,000 events/s
 *     (perf), and the fetch round trip it lengthens is what lets the engine
 *     fall behind on a busy machine. A broker keeps an index and returns every
 *     set that fits the fetch. Hence the latency phase's 1 partition (each
 *     burst one set).
 *
 * Every engine run and the replay have a time budget (RW_BENCH_BUDGET_S,
 * default 60; the hot key's RW_BENCH_HOT_BUDGET_S, default 60). At the budget
 * the engine is asked to stop (it finishes the batch in hand) or the replay is
 * killed, and the rate is that of the events done so far; the line says so.
 *
 * No assertion on speed. Exits nonzero only on a real error: a peer that does
 * not start, events lost by the cluster, the engine or the replay failing, the
 * engine not counting exactly N events (or, stopped at its budget, more than N
 * or any dead letter), the replay not reading every event exactly once.
 */
#include "engine.h"
#include "harness.h"
#include "jarena.h"
#include "mock.h"
#include "proc.h"
#include "store.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <hiredis.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOPIC "events.transactions"
#define N_ACCOUNTS 5000
#define N_COUNTERPARTIES 20000
#define MEAN_GAP_MS 13000.0 /* 200000 events: about 30 days of event time */
#define BATCH 512
#define STALL_S 60.0 /* no progress for this long: a real error */
#define MOCK_PARTITION_BYTES (5 * 1024 * 1024)
#define RNG_SEED 0x7269736b7761726eULL
#define MAX_DATES 512
#define RAW_PASSES 5

#define LAT_TOPIC "events.latency"
#define LAT_ALERTS "risk.alerts.latency"
#define LAT_BURST_US 2000
#define LAT_PARTITIONS 1
#define LAT_FETCH_WAIT_MS "2"
#define WARMUP_S 30.0
#define WARM_UP_ACCOUNT "6222020000000000000" /* none of the generator's */

#define HOT_N 100000
#define HOT_ACCOUNTS 10000
#define HOT_PARTITIONS 8
#define HOT_SPAN_MS (23 * 3600000LL) /* every event inside one 24 h window */

#define REPLAY_PACK "rules/packs/default.json"
#define REPLAY_MIN_N 200000
#define REPLAY_RUNS_MAX 15

/* CPU seconds of this process (every thread: engine, librdkafka, the mock broker). */
static double cpu_self_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds of /proc/WHAT/stat (a process, or a thread: PID/task/TID); -1 when unknown. */
static double cpu_stat_s(const char *what) {
    char path[96], buf[1024];
    snprintf(path, sizeof(path), "/proc/%s/stat", what);
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

/* CPU seconds of another process (every thread); -1 when unknown. */
static double cpu_pid_s(pid_t pid) {
    char what[24];
    snprintf(what, sizeof(what), "%d", (int)pid);
    return cpu_stat_s(what);
}

static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A "kB" line of /proc/self/status (VmRSS, VmHWM), in MB; -1 when unknown. */
static double status_mb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t len = strlen(field);
    double mb = -1;
    while (f && mb < 0 && fgets(line, sizeof(line), f))
        if (strncmp(line, field, len) == 0 && line[len] == ':')
            mb = atof(line + len + 1) / 1024.0;
    if (f)
        fclose(f);
    return mb;
}

/* Resets VmHWM to the current resident size (Linux 4.0 and later). Returns 0 or -1. */
static int hwm_reset(void) {
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    int rc = fd >= 0 && write(fd, "5", 1) == 1 ? 0 : -1;
    if (fd >= 0)
        close(fd);
    return rc;
}

/* v with thousands separators, in one of 8 buffers used in turn (for one printf). */
static const char *num(long long v) {
    static char bufs[8][32];
    static int turn;
    char *b = bufs[turn++ % 8], digits[24];
    int n = snprintf(digits, sizeof(digits), "%lld", v < 0 ? -v : v), o = 0;
    if (v < 0)
        b[o++] = '-';
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            b[o++] = ',';
        b[o++] = digits[i];
    }
    b[o] = 0;
    return b;
}

/* A number from the environment, def when unset. Returns 0, or -1 (said) when bad. */
static int env_number(const char *name, double def, double lo, double hi, double *out) {
    const char *s = getenv(name);
    *out = def;
    if (!s || !*s)
        return 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "bench: %s: a number from %.0f to %.0f\n", name, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* Writes text to a new file made from template (ending in suffix_len characters
 * kept). Returns 0, or -1 (said). */
static int write_tmp(char *template, int suffix_len, const char *text) {
    size_t len = strlen(text);
    int fd = mkstemps(template, suffix_len);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
        fprintf(stderr, "bench: cannot write %s\n", template);
        if (fd >= 0) {
            close(fd);
            unlink(template);
        }
        return -1;
    }
    close(fd);
    return 0;
}

/* ---- deterministic data ---------------------------------------------------------- */

static uint64_t mix64(uint64_t z) { /* splitmix64's output function */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_state = RNG_SEED;

static uint64_t rng_next(void) { /* splitmix64 */
    return mix64(rng_state += 0x9e3779b97f4a7c15ULL);
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

/* Event-time dates seen, on the rulesets' +08:00 calendar: the engine counts
 * events per date ({rw}:events:DATE). */
typedef struct dates {
    char d[MAX_DATES][16];
    int n;
} dates_t;

static void dates_add(dates_t *ds, int64_t ts_ms) {
    char date[16];
    rw_date_format(ts_ms, 8 * 60, date, sizeof(date));
    if ((ds->n == 0 || strcmp(ds->d[ds->n - 1], date) != 0) && ds->n < MAX_DATES)
        snprintf(ds->d[ds->n++], sizeof(ds->d[0]), "%s", date);
}

typedef struct account {
    char number[20];  /* 19 digits, a bank card / account number */
    char country[3];  /* home country */
    int n_devices;    /* 1..3 phones or PCs */
    unsigned ip_base; /* its usual /24 */
} account_t;

#define MAX_OPEN 64

typedef struct gen {
    account_t acc[N_ACCOUNTS];
    double cdf[N_ACCOUNTS]; /* skewed draw: weight 1/(rank+10) */
    int64_t ts_ms;
    long seq;
    /* A burst: one account suddenly making many quick outbound payments,
     * often from a new device and abroad (account takeover, mule activity). */
    int burst_acc, burst_left, burst_dev;
    const char *burst_country;
    /* The replay's events: transactions name their customer ("cust-" and the
     * account's index), as the default pack's read-then-transfer correlates on
     * it; complaints opened and not answered yet. */
    bool with_customer;
    long complaint_seq;
    long open_id[MAX_OPEN];
    int open_cust[MAX_OPEN], n_open;
    dates_t dates;
} gen_t;

static const char *const foreign[] = {"US", "GB", "SG", "HK", "JP", "MY", "TH", "AE", "RU", "NG"};

/* Starts the generator over: the same events on every call. */
static void gen_init(gen_t *g) {
    memset(g, 0, sizeof(*g));
    rng_state = RNG_SEED;
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

/* Moves event time on to the next event's; returns that event's number. */
static long gen_tick(gen_t *g) {
    g->ts_ms += 1 + (int64_t)(-log(1.0 - rng_unit()) * MEAN_GAP_MS);
    dates_add(&g->dates, g->ts_ms);
    return ++g->seq;
}

/* Writes the next transaction to buf; returns its length and the account (the key). */
static int gen_event(gen_t *g, char *buf, size_t len, const char **key) {
    long seq = gen_tick(g);
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
        ipb = ((unsigned)g->burst_dev * 7919u) & 0xffffffu;
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
            snprintf(device, sizeof(device), "d-%05d-%d", ai,
                     1 + (int)rng_below((uint32_t)a->n_devices));
        }
        if (rng_unit() < 0.01)
            country = foreign[rng_below(10)]; /* travelling */
    }
    snprintf(ip, sizeof(ip), "%u.%u.%u.%u", 10 + ((ipb >> 16) & 0x7f), (ipb >> 8) & 0xff,
             ipb & 0xff, 2 + rng_below(250));
    char ts[40], cp[20], customer[40] = "";
    rw_time_format(g->ts_ms, ts, sizeof(ts));
    snprintf(cp, sizeof(cp), "621700%013u", 1000003u * (1 + rng_below(N_COUNTERPARTIES)));
    if (g->with_customer)
        snprintf(customer, sizeof(customer), "\"customer_id\":\"cust-%05d\",", ai);
    *key = a->number;
    return snprintf(buf, len,
                    "{\"event_id\":\"tx-%09ld\",\"type\":\"transaction\",\"ts\":\"%s\","
                    "\"account\":\"%s\",%s\"amount\":%.2f,\"currency\":\"CNY\","
                    "\"direction\":\"%s\",\"channel\":\"%s\",\"counterparty\":\"%s\","
                    "\"device_id\":\"%s\",\"ip\":\"%s\",\"geo\":{\"country\":\"%s\"}}",
                    seq, ts, a->number, customer, amount, dir, channel, cp, device, ip, country);
}

/* The event types of the replay file, for its summary. */
enum { EV_TRANSACTION, EV_SYSTEM, EV_LOGIN, EV_DATA_ACCESS, EV_COMPLAINT, EV_TYPES };
static const char *const ev_type_names[EV_TYPES] = {"transaction", "system", "login", "data_access",
                                                    "complaint"};

static const char *const services[] = {"core-banking", "mobile-gateway", "payments-switch",
                                       "card-auth",    "online-banking", "sms-gateway"};
static const char *const products[] = {"Credit card or prepaid card", "Debt collection", "Mortgage",
                                       "Checking or savings account", "Student loan"};
static const char *const branches[] = {"CA", "NY", "TX", "FL", "IL", "PA", "OH", "MI", "NV", "CT"};

/* A complaint's event: a new one opened, or the oldest open one answered. */
static int gen_complaint(gen_t *g, char *buf, size_t len, const char *ts, int cust) {
    if (g->n_open > 0 && (g->n_open == MAX_OPEN || rng_unit() < 0.5)) {
        long id = g->open_id[0];
        int who = g->open_cust[0];
        g->n_open--;
        memmove(g->open_id, g->open_id + 1, (size_t)g->n_open * sizeof(g->open_id[0]));
        memmove(g->open_cust, g->open_cust + 1, (size_t)g->n_open * sizeof(g->open_cust[0]));
        const char *action = rng_unit() < 0.6 ? "responded" : "resolved";
        return snprintf(buf, len,
                        "{\"event_id\":\"cf-%ld-%s\",\"type\":\"complaint\",\"ts\":\"%s\","
                        "\"complaint_id\":\"%ld\",\"customer_id\":\"cust-%05d\",\"action\":\"%s\"}",
                        id, action, ts, id, who, action);
    }
    long id = ++g->complaint_seq;
    g->open_id[g->n_open] = id;
    g->open_cust[g->n_open++] = cust;
    const char *severity = rng_unit() < 0.05 ? "urgent" : "general";
    const char *product = products[rng_below(5)], *branch = branches[rng_below(10)];
    return snprintf(buf, len,
                    "{\"event_id\":\"cf-%ld-opened\",\"type\":\"complaint\",\"ts\":\"%s\","
                    "\"complaint_id\":\"%ld\",\"customer_id\":\"cust-%05d\",\"action\":\"opened\","
                    "\"severity\":\"%s\",\"product\":\"%s\",\"channel\":\"Web\",\"branch\":\"%s\"}",
                    id, ts, id, cust, severity, product, branch);
}

/* The replay's next event: mostly transactions, with the default pack's other
 * event types mixed in. Returns its length; *type is its EV_ kind. */
static int gen_mixed(gen_t *g, char *buf, size_t len, int *type) {
    double u = rng_unit();
    if (u < 0.85) {
        const char *key;
        *type = EV_TRANSACTION;
        return gen_event(g, buf, len, &key);
    }
    long id = gen_tick(g);
    char ts[40];
    rw_time_format(g->ts_ms, ts, sizeof(ts));
    int cust = pick_account(g);
    if (u < 0.92) {
        double v = rng_unit();
        const char *status = v < 0.02 ? "error" : v < 0.03 ? "timeout" : "ok";
        const char *service = services[rng_below(6)];
        int latency = (int)exp(log(150.0) + 0.8 * rng_normal());
        *type = EV_SYSTEM;
        return snprintf(buf, len,
                        "{\"event_id\":\"sy-%09ld\",\"type\":\"system\",\"ts\":\"%s\","
                        "\"service\":\"%s\",\"status\":\"%s\",\"latency_ms\":%d}",
                        id, ts, service, status, latency);
    }
    if (u < 0.96) {
        const char *result = rng_unit() < 0.08 ? "fail" : "success";
        unsigned ip = (unsigned)rng_next() & 0xffffffu;
        *type = EV_LOGIN;
        return snprintf(buf, len,
                        "{\"event_id\":\"lg-%09ld\",\"type\":\"login\",\"ts\":\"%s\","
                        "\"customer_id\":\"cust-%05d\",\"result\":\"%s\",\"ip\":\"10.%u.%u.%u\","
                        "\"device_id\":\"d-%05d-1\"}",
                        id, ts, cust, result, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff, cust);
    }
    if (u < 0.99) {
        unsigned staff = rng_below(200);
        *type = EV_DATA_ACCESS;
        return snprintf(buf, len,
                        "{\"event_id\":\"da-%09ld\",\"type\":\"data_access\",\"ts\":\"%s\","
                        "\"staff_id\":\"staff-%04u\",\"customer_id\":\"cust-%05d\","
                        "\"fields\":[\"name\",\"phone\",\"balance\"],\"purpose\":\"service\"}",
                        id, ts, staff, cust);
    }
    *type = EV_COMPLAINT;
    return gen_complaint(g, buf, len, ts, cust);
}

/* The hot-key phase's events: only what its two rules read, every one inside
 * one 24 h window; all of one account, or spread over HOT_ACCOUNTS. The same
 * times and amounts in both cases. */
typedef struct hot_gen {
    long i, n;
    bool hot;
    char account[20];
    dates_t dates;
} hot_gen_t;

static int next_hot(void *arg, char *buf, size_t len, const char **key) {
    hot_gen_t *h = arg;
    long i = h->i++;
    int64_t ts_ms = rw_days_from_civil(2026, 11, 10) * 86400000LL - 8 * 3600000LL + 1800000 +
                    (int64_t)i * HOT_SPAN_MS / h->n;
    char ts[40];
    rw_time_format(ts_ms, ts, sizeof(ts));
    dates_add(&h->dates, ts_ms);
    snprintf(h->account, sizeof(h->account), "6222029%012ld",
             h->hot ? 0 : (i * 7919) % HOT_ACCOUNTS); /* 7919: every account in turn */
    *key = h->account;
    return snprintf(buf, len,
                    "{\"event_id\":\"hk-%06ld\",\"type\":\"transaction\",\"ts\":\"%s\","
                    "\"account\":\"%s\",\"amount\":%.2f}",
                    i, ts, h->account, 1 + (double)(mix64((uint64_t)i) % 1000000) / 100.0);
}

static int next_tx(void *arg, char *buf, size_t len, const char **key) {
    return gen_event(arg, buf, len, key);
}

/* ---- rulesets --------------------------------------------------------------------------- */

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

/* The hot-key phase: state only. Thresholds out of reach (at most 100,000
 * events of at most 10,000 each), so no alert is published in either case. */
static const char hot_ruleset[] =
    "{\n"
    "  \"ruleset\": \"bench-hot-key\", \"version\": \"bench.1\",\n"
    "  \"calendar\": {\"utc_offset\": \"+08:00\"},\n"
    "  \"rules\": [\n"
    "    {\"id\": \"count-24h\", \"module\": \"window_count\",\n"
    "     \"match\": {\"type\": \"transaction\"}, \"key\": \"account\",\n"
    "     \"params\": {\"window\": \"24h\"}, \"thresholds\": {\"low\": 1000000}},\n"
    "    {\"id\": \"sum-24h\", \"module\": \"window_sum\",\n"
    "     \"match\": {\"type\": \"transaction\"}, \"key\": \"account\",\n"
    "     \"params\": {\"field\": \"amount\", \"window\": \"24h\"},\n"
    "     \"thresholds\": {\"low\": 10000000000}}\n"
    "  ]\n"
    "}\n";

/* ---- Kafka helpers --------------------------------------------------------------------- */

/* A client; extra: more properties, name then value, NULL-terminated (may be NULL). */
static rd_kafka_t *make_client(rd_kafka_type_t type, const char *brokers, const char *group,
                               const char *const *extra) {
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
        bad |= rd_kafka_conf_set(conf, "queued.min.messages", "1000000", err, sizeof(err));
    }
    for (size_t i = 0; extra && extra[i]; i += 2)
        bad |= rd_kafka_conf_set(conf, extra[i], extra[i + 1], err, sizeof(err));
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

/* Creates a topic on the mock cluster. Returns 0, or -1 (said). */
static int make_topic(rw_mock_t *mock, const char *name, int parts) {
    char spec[128];
    rw_error_t err;
    rw_error_clear(&err);
    snprintf(spec, sizeof(spec), "%s:%d", name, parts);
    if (rw_mock_topic(mock, spec, &err)) {
        fprintf(stderr, "bench: %s\n", err.text);
        return -1;
    }
    return 0;
}

/* Kafka brokers turn Nagle's algorithm off on their connections (TCP_NODELAY);
 * the mock broker leaves it on, so that a small response can wait for the
 * client's delayed ACK, up to 40 ms on Linux: acknowledgements of alerts then
 * take 40 ms where a broker answers in well under 1 ms. Turns it off on the
 * mock's listening sockets (those of this process bound to a port of
 * bootstraps), which the connections they accept inherit. Returns how many. */
static int mock_nodelay(const char *bootstraps) {
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *de; d && (de = readdir(d));) {
        int fd = atoi(de->d_name), listening = 0, one = 1;
        struct sockaddr_in a;
        socklen_t len = sizeof(a), ll = sizeof(listening);
        char port[16];
        if (getsockname(fd, (struct sockaddr *)&a, &len) != 0 || a.sin_family != AF_INET ||
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) != 0 || !listening)
            continue;
        snprintf(port, sizeof(port), ":%d", ntohs(a.sin_port));
        for (const char *p = strstr(bootstraps, port); p; p = strstr(p + 1, port))
            if (p[strlen(port)] == 0 || p[strlen(port)] == ',') {
                n += setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0;
                break;
            }
    }
    if (d)
        closedir(d);
    return n;
}

/* Partitions for n events of about bytes each, so that each holds at most about
 * 2 MiB (the mock keeps the last 5 MiB of each; account keys are skewed, so
 * leave room). */
static int partitions_for(long n, int bytes) {
    long long parts = ((long long)n * bytes + (2LL << 20) - 1) / (2LL << 20);
    return parts < 8 ? 8 : parts > 1000 ? 1000 : (int)parts;
}

/* Sums the high watermarks of a topic's partitions; -1 on error. With lo_sum,
 * also sums the low watermarks (0: nothing was dropped). */
static int64_t topic_count(rd_kafka_t *rk, const char *topic, int parts, int64_t *lo_sum) {
    int64_t total = 0;
    if (lo_sum)
        *lo_sum = 0;
    for (int p = 0; p < parts; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
        if (err) {
            fprintf(stderr, "bench: watermarks of %s [%d]: %s\n", topic, p, rd_kafka_err2str(err));
            return -1;
        }
        total += hi;
        if (lo_sum)
            *lo_sum += lo;
    }
    return total;
}

/* Queues one message, waiting while the producer's queue is full. Returns 0 or -1 (said). */
static int produce_one(rd_kafka_t *p, const char *topic, const char *buf, int len,
                       const char *key) {
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_VALUE(RW_UNCONST(void *, buf), (size_t)len),
                                    RD_KAFKA_V_KEY(RW_UNCONST(void *, key), strlen(key)),
                                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(p, 10);
    if (err) {
        fprintf(stderr, "bench: produce to %s: %s\n", topic, rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_poll(p, 0);
    return 0;
}

typedef int (*next_fn)(void *arg, char *buf, size_t len, const char **key);

/* Produces n events made by next(arg) to topic, keyed as next() says, and waits
 * for their delivery; conf: more producer properties (may be NULL). Returns 0
 * when the cluster holds all n, 1 when it kept only *kept of them (the mock
 * keeps about 5 MiB a partition), -1 on error (said). */
static int produce_n(const char *brokers, const char *topic, int parts, long n, next_fn next,
                     void *arg, const char *const *conf, long long *bytes, long *kept) {
    rd_kafka_t *p = make_client(RD_KAFKA_PRODUCER, brokers, NULL, conf);
    if (!p)
        return -1;
    char buf[1024];
    int rc = 0;
    *bytes = 0;
    for (long i = 0; i < n && !rc; i++) {
        const char *key;
        int len = next(arg, buf, sizeof(buf), &key);
        *bytes += len;
        rc = produce_one(p, topic, buf, len, key);
    }
    if (!rc && rd_kafka_flush(p, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "bench: produce: %d messages not delivered\n", rd_kafka_outq_len(p));
        rc = -1;
    }
    int64_t lo = 0, hi = rc ? -1 : topic_count(p, topic, parts, &lo);
    if (!rc && hi < 0)
        rc = -1;
    *kept = rc ? 0 : (long)(hi - lo);
    if (!rc && (hi != n || lo != 0))
        rc = 1;
    rd_kafka_destroy(p);
    return rc;
}

/* ---- consuming ------------------------------------------------------------------------- */

typedef struct rate {
    long want;       /* events the phase was given */
    long n;          /* events done (fewer than want when stopped at the budget) */
    long first;      /* events in the first batch (not in the rate) */
    double join_s;   /* start to the end of the first batch */
    double steady_s; /* end of the first batch to the last event */
    double total_s;  /* start to return */
    double cpu_s;    /* this process, over the whole phase */
    double redis_cpu_s;
    double thread_cpu_s; /* the engine thread alone */
    bool stopped;        /* asked to stop at its time budget */
} rate_t;

static double rate_of(const rate_t *r) {
    return r->steady_s > 0 ? (double)(r->n - r->first) / r->steady_s : 0;
}

/* "" or "; stopped at the 60 s budget: 4,500 of 100,000 events" (static). */
static const char *budget_note(const rate_t *r, double budget_s) {
    static char note[128];
    note[0] = 0;
    if (r->stopped)
        snprintf(note, sizeof(note), "; stopped at the %.0f s budget: %s of %s events", budget_s,
                 num(r->n), num(r->want));
    return note;
}

/* Reads n messages from the consumer queue, parsing each with parse. Fills the
 * time from the end of the first batch to the last message, and the size of
 * that first batch. */
static int read_all(rd_kafka_queue_t *q, long n, bool parse, double *t_first, double *t_end,
                    long *first) {
    rd_kafka_message_t *msgs[BATCH];
    long got = 0, bad = 0;
    double t_progress = rw_monotonic_s();
    *t_first = 0;
    while (got < n) {
        /* Ask for no more than what is left: a batch that cannot fill waits out
         * the whole timeout, which would add 100 ms to a pass of a few hundred. */
        size_t want = n - got < BATCH ? (size_t)(n - got) : BATCH;
        ssize_t k = rd_kafka_consume_batch_queue(q, 100, msgs, want);
        double t = rw_monotonic_s();
        if (k < 0) {
            fprintf(stderr, "bench: consume: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
            return -1;
        }
        for (ssize_t i = 0; i < k; i++) {
            if (!msgs[i]->err) {
                got++;
                if (parse) {
                    json_error_t je;
                    json_t *ev = json_loadb(msgs[i]->payload, msgs[i]->len,
                                            JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
                    bad += ev == NULL;
                    json_decref(ev);
                }
            } else {
                fprintf(stderr, "bench: consume: %s\n", rd_kafka_message_errstr(msgs[i]));
            }
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
    *t_end = rw_monotonic_s();
    if (bad) {
        fprintf(stderr, "bench: %ld of %ld events are not JSON\n", bad, n);
        return -1;
    }
    return 0;
}

/* The index of the median of k values. */
static int median_of(const double *v, int k) {
    for (int p = 0; p < k; p++) {
        int below = 0, above = 0;
        for (int o = 0; o < k; o++) {
            below += o != p && v[o] < v[p];
            above += o != p && v[o] > v[p];
        }
        if (below <= k / 2 && above <= k / 2)
            return p;
    }
    return 0;
}

/* Points every assigned partition back at its beginning. Returns 0 or -1 (said). */
static int seek_beginning(rd_kafka_t *c) {
    rd_kafka_topic_partition_list_t *a = NULL;
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t err = rd_kafka_assignment(c, &a);
    if (!err) {
        for (int i = 0; i < a->cnt; i++)
            a->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        e = rd_kafka_seek_partitions(c, a, 10000);
    }
    if (err || e)
        fprintf(stderr, "bench: seek: %s\n", e ? rd_kafka_error_string(e) : rd_kafka_err2str(err));
    int rc = err || e ? -1 : 0;
    if (e)
        rd_kafka_error_destroy(e);
    if (a)
        rd_kafka_topic_partition_list_destroy(a);
    return rc;
}

/* The consumer alone, with parse the JSON parse too: a group member reads the
 * topic RAW_PASSES times (the first after joining, the others after seeking
 * back to the beginning); the pass with the median rate is reported. One pass
 * takes a fraction of a second, so a single one would be noisy. */
static int consume_bench(const char *brokers, long n, const char *group, bool parse, rate_t *r,
                         double rates[RAW_PASSES]) {
    memset(r, 0, sizeof(*r));
    rd_kafka_t *c = make_client(RD_KAFKA_CONSUMER, brokers, group, NULL);
    if (!c)
        return -1;
    rd_kafka_poll_set_consumer(c);
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(c);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, TOPIC, RD_KAFKA_PARTITION_UA);
    double cpu0 = cpu_self_s(), t0 = rw_monotonic_s();
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
        pass[p].want = pass[p].n = n;
        if (p > 0 && seek_beginning(c)) {
            rc = -1;
            break;
        }
        double t_start = rw_monotonic_s(), t_first, t_end;
        if (read_all(q, n, parse, &t_first, &t_end, &pass[p].first)) {
            rc = -1;
            break;
        }
        pass[p].join_s = t_first - (p == 0 ? t0 : t_start);
        pass[p].steady_s = t_end - t_first;
        rates[p] = rate_of(&pass[p]);
    }
    if (!rc) {
        *r = pass[median_of(rates, RAW_PASSES)];
        r->join_s = pass[0].join_s;
    }
    r->cpu_s = cpu_self_s() - cpu0;
    rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return rc;
}

/* ---- the engine ------------------------------------------------------------------------ */

/* The floor relay in the engine's place (floor_run): on, its CPU per event besides its own
 * work (RW_BENCH_LAT_FLOOR_US), and its RPUSHes an event (RW_BENCH_LAT_FLOOR_PUSHES). */
typedef struct relay_opts {
    bool on;
    double us;
    int pushes;
    double ahead_us; /* < 0: each batch's write waited for at once; else see floor_run */
} relay_opts_t;

typedef struct engine_opts {
    const char *group, *topic, *rules;
    const char *alert_topic;   /* NULL: the default (risk.alerts) */
    long stop_after;           /* 0: until asked to stop */
    const char *fetch_wait_ms; /* NULL: librdkafka's default */
    relay_opts_t relay;
} engine_opts_t;

typedef struct engine_run {
    rw_config_t cfg;
    rw_engine_ctl_t ctl;
    atomic_int done;
    int rc;
    double cpu_s; /* the engine thread's own CPU time */
    relay_opts_t relay;
    pthread_t th;
} engine_run_t;

static int floor_run(engine_run_t *e);
static redisContext *redis_open(int port);

static void *engine_thread(void *arg) {
    engine_run_t *e = arg;
    double c0 = thread_cpu_s();
    e->rc = e->relay.on ? floor_run(e) : rw_engine_run(&e->cfg, &e->ctl);
    e->cpu_s = thread_cpu_s() - c0;
    atomic_store(&e->done, 1);
    return NULL;
}

/* Starts rw_engine_run in a thread. Returns the run, or NULL (said). */
static engine_run_t *engine_start(const char *brokers, int redis_port, const engine_opts_t *o) {
    engine_run_t *e = rw_calloc(1, sizeof(*e));
    rw_config_init(&e->cfg);
    rw_config_set(&e->cfg.brokers, brokers);
    rw_config_set(&e->cfg.group_id, o->group);
    for (size_t i = 0; i < e->cfg.n_input_topics; i++)
        free(e->cfg.input_topics[i]);
    e->cfg.input_topics[0] = rw_strdup(o->topic);
    e->cfg.n_input_topics = 1;
    if (o->alert_topic)
        rw_config_set(&e->cfg.alert_topic, o->alert_topic);
    if (o->fetch_wait_ms)
        json_object_set_new(e->cfg.properties, "fetch.wait.max.ms", json_string(o->fetch_wait_ms));
    rw_config_set(&e->cfg.redis_host, "127.0.0.1");
    e->cfg.redis_port = redis_port;
    rw_config_set(&e->cfg.rules, o->rules);
    rw_config_set(&e->cfg.metrics_listen, "127.0.0.1:0"); /* any free port */
    e->cfg.stop_after = o->stop_after;
    e->relay = o->relay;
    if (pthread_create(&e->th, NULL, engine_thread, e) != 0) {
        fprintf(stderr, "bench: cannot start the engine thread\n");
        rw_config_fini(&e->cfg);
        free(e);
        return NULL;
    }
    return e;
}

/* text_member's pattern for the member name: its quoted name, a colon and a quote. */
#define MEMBER(name) "\"" name "\":\"", sizeof("\"" name "\":\"") - 1

/* The text of a string member of a JSON object's text, found by its pattern (pl bytes,
 * MEMBER): its first match, escapes not undone, enough for the bench's own events; *len
 * its bytes. NULL: none. */
static const char *text_member(const char *json, size_t n, const char *pat, size_t pl, int *len) {
    const char *f = json ? memmem(json, n, pat, pl) : NULL;
    const char *end = f ? memchr(f + pl, '"', n - (size_t)(f + pl - json)) : NULL;
    *len = end ? (int)(end - (f + pl)) : 0;
    return end ? f + pl : NULL;
}

/* The number of a bench event_id ("tx-" and digits, len bytes); -1 when it is not one. */
static long tx_seq(const char *id, size_t len) {
    if (len < 4 || memcmp(id, "tx-", 3) != 0)
        return -1;
    long seq = 0;
    for (size_t i = 3; i < len; i++) {
        if (id[i] < '0' || id[i] > '9')
            return -1;
        seq = seq * 10 + (id[i] - '0');
    }
    return seq;
}

/* The floor relay (RW_BENCH_LAT_FLOOR): the least any engine does on this apparatus, in
 * the engine's place, to show what the broker, Redis, the clients and the machine allow.
 * It consumes as the engine does (what has arrived, up to FLOOR_BATCH messages, or the
 * first within 100 ms and what came with it); writes each batch to Redis in one pipeline, two
 * RPUSHes an event (the engine's count in this phase; RW_BENCH_LAT_FLOOR_PUSHES) on lists of
 * the event's account,
 * and the events counter the bench watches; waits for the replies (with
 * RW_BENCH_LAT_FLOOR_AHEAD_US, at the next batch, after that much of its work); then produces a
 * small alert naming the event_id of one event in FLOOR_ALERT_EVERY (by the number in its id,
 * tx_seq; the engine alerts on about 4% of this phase's events) and of any event without
 * one (the warm-up), with linger.ms 0 as the engine's producer. No rules, no state read, no
 * offsets committed. */
#define FLOOR_ALERT_EVERY 25
#define FLOOR_BATCH 4096 /* the engine's batch_max */

/* A message's event_id as the relay's Redis step found it, for its alert step. */
typedef struct floor_id {
    const char *id; /* NULL: none */
    int len;
} floor_id_t;

/* Spends s seconds of this thread's CPU. */
static void spin_s(double s) {
    double t0 = thread_cpu_s();
    while (thread_cpu_s() - t0 < s)
        ;
}

/* Reads the *n replies of the relay's write in flight, and sets *n to 0: 0, or -1 when one
 * failed or is an error. */
static int floor_replies(redisContext *r, ssize_t *n) {
    int rc = 0;
    for (ssize_t i = 0; !rc && i < *n; i++) {
        redisReply *rep = NULL;
        bool ok = redisGetReply(r, (void **)&rep) == REDIS_OK;
        rc = ok && rep->type != REDIS_REPLY_ERROR ? 0 : -1;
        freeReplyObject(rep);
    }
    *n = 0;
    return rc;
}

static int floor_run(engine_run_t *e) {
    const char *cconf[] = {"fetch.wait.max.ms", LAT_FETCH_WAIT_MS, NULL};
    static const char *const pconf[] = {"linger.ms", "0", NULL};
    rd_kafka_t *c = make_client(RD_KAFKA_CONSUMER, e->cfg.brokers, e->cfg.group_id, cconf);
    rd_kafka_t *p = make_client(RD_KAFKA_PRODUCER, e->cfg.brokers, NULL, pconf);
    redisContext *r = redis_open(e->cfg.redis_port);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, e->cfg.input_topics[0], RD_KAFKA_PARTITION_UA);
    int rc = c && p && r && !rd_kafka_subscribe(c, l) ? 0 : -1;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_queue_t *q = c ? rd_kafka_queue_get_consumer(c) : NULL;
    rd_kafka_message_t **msgs = rw_calloc(FLOOR_BATCH, sizeof(*msgs));
    floor_id_t *ids = rw_calloc(FLOOR_BATCH, sizeof(*ids));
    char today[16];
    rw_date_format(rw_now_ms(), 8 * 60, today, sizeof(today));
    ssize_t in_flight = 0; /* replies of the write sent and not read yet */
    while (!rc && !atomic_load(&e->ctl.stop)) {
        ssize_t n = rd_kafka_consume_batch_queue(q, 0, msgs, FLOOR_BATCH);
        if (n == 0 && (msgs[0] = rd_kafka_consume_queue(q, 100))) {
            ssize_t more = rd_kafka_consume_batch_queue(q, 0, msgs + 1, FLOOR_BATCH - 1);
            n = 1 + (more > 0 ? more : 0);
        }
        rd_kafka_poll(p, 0);
        if (n <= 0)
            continue;
        /* An engine's own work, as CPU time spent an event (RW_BENCH_LAT_FLOOR_US); with
         * RW_BENCH_LAT_FLOOR_AHEAD_US, that much of it is spent before the previous batch's
         * write is waited for, the rest after. */
        bool ahead = e->relay.ahead_us >= 0;
        double before_us = !ahead                            ? 0
                           : e->relay.ahead_us < e->relay.us ? e->relay.ahead_us
                                                             : e->relay.us;
        spin_s((double)n * before_us / 1e6);
        rc = floor_replies(r, &in_flight);
        spin_s((double)n * (e->relay.us - before_us) / 1e6);
        for (ssize_t i = 0; i < n; i++) {
            int al = 0;
            floor_id_t *d = &ids[i];
            size_t len = msgs[i]->err ? 0 : msgs[i]->len;
            const char *acct = text_member(msgs[i]->payload, len, MEMBER("account"), &al);
            d->id = text_member(msgs[i]->payload, len, MEMBER("event_id"), &d->len);
            static const char *const list[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
            for (int k = 0; k < e->relay.pushes; k++)
                redisAppendCommand(r, "RPUSH {rw}:floor:%b:%s %b", acct ? acct : "", (size_t)al,
                                   list[k], d->id ? d->id : "", (size_t)d->len);
        }
        redisAppendCommand(r, "HINCRBY {rw}:events:%s floor %lld", today, (long long)n);
        in_flight = e->relay.pushes * n + 1;
        if (ahead) { /* sent now, its replies read at the next batch */
            for (int done = 0; !rc && !done;)
                rc = redisBufferWrite(r, &done) == REDIS_OK ? 0 : -1;
        } else {
            rc = floor_replies(r, &in_flight);
        }
        for (ssize_t i = 0; !rc && i < n; i++) {
            char alert[600];
            const floor_id_t *d = &ids[i];
            long seq = d->id ? tx_seq(d->id, (size_t)d->len) : -1;
            if (seq >= 0 && seq % FLOOR_ALERT_EVERY != 0)
                continue; /* alerts go to one numbered event in 25, and to every other one */
            int len = snprintf(alert, sizeof(alert),
                               "{\"alert_id\":\"floor\",\"level\":\"low\",\"event_id\":\"%.*s\"}",
                               d->len < 400 ? d->len : 400, d->id ? d->id : "");
            rc = produce_one(p, e->cfg.alert_topic, alert, len, "floor");
        }
        for (ssize_t i = 0; i < n; i++)
            rd_kafka_message_destroy(msgs[i]);
    }
    if (rc)
        fprintf(stderr, "bench: the floor relay failed (%s)\n",
                r && r->err ? r->errstr : "Kafka or a Redis reply");
    if (q)
        rd_kafka_queue_destroy(q);
    if (c) {
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
    }
    if (p) {
        rd_kafka_flush(p, 5000);
        rd_kafka_destroy(p);
    }
    if (r)
        redisFree(r);
    free(msgs);
    free(ids);
    return rc;
}

/* Waits for the engine to return (ask it first with ctl.stop unless it stops by
 * itself) and frees it. Returns 0, or -1 (said) when it failed. */
static int engine_join(engine_run_t *e, double *thread_cpu_s) {
    pthread_join(e->th, NULL);
    int rc = e->rc == RW_OK ? 0 : -1;
    if (rc)
        fprintf(stderr, "bench: the engine exited with %d\n", e->rc);
    if (thread_cpu_s)
        *thread_cpu_s = e->cpu_s;
    rw_config_fini(&e->cfg);
    free(e);
    return rc;
}

static redisContext *redis_open(int port) {
    rw_error_t err;
    rw_error_clear(&err);
    rw_redis_opts_t o = {"127.0.0.1", port, NULL, NULL, 0, "rw:", "bench", 5000, 0};
    redisContext *c = rw_store_redis_connect(&o, &err);
    if (!c)
        fprintf(stderr, "bench: %s\n", err.text);
    return c;
}

/* Empties Redis between phases that must not share state. Returns 0 or -1 (said). */
static int redis_flush(int port) {
    redisContext *c = redis_open(port);
    redisReply *r = c ? redisCommand(c, "FLUSHALL") : NULL;
    int rc = r && r->type == REDIS_REPLY_STATUS ? 0 : -1;
    if (rc)
        fprintf(stderr, "bench: redis FLUSHALL failed\n");
    if (r)
        freeReplyObject(r);
    if (c)
        redisFree(c);
    return rc;
}

/* Events the engine finished: the sum of the {rw}:events:DATE hashes of the dates
 * the data spans and of today's, for dead letters, unless the data spans today
 * too. One pipelined round trip. */
static long long events_done(redisContext *c, const dates_t *ds, const char *today) {
    int n = ds->n + 1;
    for (int i = 0; i < ds->n; i++)
        if (strcmp(ds->d[i], today) == 0)
            n = ds->n;
    for (int i = 0; i < n; i++)
        redisAppendCommand(c, "HVALS {rw}:events:%s", i < ds->n ? ds->d[i] : today);
    long long total = 0;
    for (int i = 0; i < n; i++) {
        redisReply *h;
        if (redisGetReply(c, (void **)&h) != REDIS_OK)
            return -1;
        for (size_t j = 0; h->type == REDIS_REPLY_ARRAY && j < h->elements; j++)
            total += atoll(h->element[j]->str);
        freeReplyObject(h);
    }
    return total;
}

/* The engine's progress, seen in its Redis counters. */
typedef struct watch {
    redisContext *c;
    const dates_t *dates;
    char today[16];
    long long base; /* counted before the phase */
    long done;      /* counted in the phase, at the last look */
    long first;     /* counted at the first look that saw any */
    double t0, t_first, t_progress, t_full;
} watch_t;

static int watch_open(watch_t *w, int redis_port, const dates_t *dates) {
    memset(w, 0, sizeof(*w));
    if (!(w->c = redis_open(redis_port)))
        return -1;
    w->dates = dates;
    rw_date_format(rw_now_ms(), 8 * 60, w->today, sizeof(w->today));
    w->base = events_done(w->c, dates, w->today);
    if (w->base < 0) {
        fprintf(stderr, "bench: redis: %s\n", w->c->errstr);
        redisFree(w->c);
        return -1;
    }
    w->t0 = w->t_progress = rw_monotonic_s();
    return 0;
}

/* One look: records when the first batch and the want-th event were done.
 * Returns 0, or -1 (said) when Redis fails. */
static int watch_look(watch_t *w, long want) {
    long long done = events_done(w->c, w->dates, w->today);
    double t = rw_monotonic_s();
    if (done < 0) {
        fprintf(stderr, "bench: redis: %s\n", w->c->errstr);
        return -1;
    }
    if (done - w->base > w->done) {
        w->done = (long)(done - w->base);
        w->t_progress = t;
        if (w->t_first == 0) {
            w->t_first = t;
            w->first = w->done;
        }
        if (want > 0 && w->done >= want && w->t_full == 0)
            w->t_full = t;
    }
    return 0;
}

/* The engine on one topic until stop_after events or the budget: its rate from
 * the counters, its CPU and redis-server's. */
static int engine_bench(const char *brokers, int redis_port, pid_t redis_pid,
                        const engine_opts_t *o, const dates_t *dates, double budget_s, rate_t *r) {
    memset(r, 0, sizeof(*r));
    r->want = o->stop_after;
    watch_t w;
    if (watch_open(&w, redis_port, dates))
        return -1;
    double cpu0 = cpu_self_s(), rcpu0 = cpu_pid_s(redis_pid);
    engine_run_t *e = engine_start(brokers, redis_port, o);
    int rc = e ? 0 : -1;
    /* Watch the counters every 5 ms: the first batch done, the last event done. */
    while (e && !atomic_load(&e->done)) {
        if (watch_look(&w, r->want)) {
            rc = -1;
            break;
        }
        double t = rw_monotonic_s();
        if (!r->stopped && t - w.t0 > budget_s) {
            r->stopped = true;
            atomic_store(&e->ctl.stop, 1);
        }
        if (t - w.t_progress > STALL_S) {
            fprintf(stderr, "bench: the engine made no progress for %.0f s (%s of %s)\n", STALL_S,
                    num(w.done), num(r->want));
            rc = -1;
            break;
        }
        usleep(5000);
    }
    if (e) {
        atomic_store(&e->ctl.stop, 1);
        if (engine_join(e, &r->thread_cpu_s))
            rc = -1;
    }
    r->total_s = rw_monotonic_s() - w.t0;
    r->cpu_s = cpu_self_s() - cpu0;
    r->redis_cpu_s = cpu_pid_s(redis_pid) - rcpu0;
    if (!rc && watch_look(&w, r->want)) /* the last batch landed between two looks */
        rc = -1;
    r->n = w.done;
    r->first = w.first;
    r->stopped = r->stopped && r->n < r->want;
    r->join_s = w.t_first > 0 ? w.t_first - w.t0 : 0;
    r->steady_s = w.t_first > 0 ? (w.t_full > 0 ? w.t_full : w.t_progress) - w.t_first : 0;
    redisFree(w.c);
    return rc;
}

/* Prints where redis-server spent its time, by command (INFO commandstats). */
static void redis_time(int port) {
    redisContext *c = redis_open(port);
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
            "\n           (eval or evalsha is the engine's per-batch apply and includes the calls "
            "it makes; hvals is this bench watching the counters)\n");
    }
    if (r)
        freeReplyObject(r);
    if (c)
        redisFree(c);
}

/* ---- the machine's cores ----------------------------------------------------------------- */

/* A fixed chain of dependent multiplications: the same work on any core of one machine. */
#define CORE_LOOP 200000000UL
#define CORES_MAX 8

typedef struct core_probe {
    int cpu;
    double cpu_s; /* the thread's CPU time for the loop; < 0: not measured */
} core_probe_t;

static void *core_probe_thread(void *arg) {
    core_probe_t *p = arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((size_t)p->cpu, &set);
    p->cpu_s = -1;
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
        return NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    uint64_t x = (uint64_t)p->cpu + 1;
    for (unsigned long i = 0; i < CORE_LOOP; i++)
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    p->cpu_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (x == 42) /* keeps the loop: x is never 42 in practice, and the compiler cannot know */
        p->cpu_s += 1e-9;
    return NULL;
}

/* The fixed loop's CPU time on each core in turn (up to CORES_MAX), into text: a virtual
 * machine's cores may run at different speeds, and at different times (docs/performance.md,
 * "Replay's page faults, and a machine of two unequal cores"). */
static void cores_probe(char *text, size_t size) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    size_t used = 0;
    text[0] = 0;
    for (int cpu = 0; cpu < n && cpu < CORES_MAX && used < size; cpu++) {
        core_probe_t p = {cpu, -1};
        pthread_t t;
        if (pthread_create(&t, NULL, core_probe_thread, &p) == 0)
            pthread_join(t, NULL);
        char took[32] = "not measured";
        if (p.cpu_s >= 0)
            snprintf(took, sizeof(took), "%.2f s", p.cpu_s);
        int w = snprintf(text + used, size - used, "%scpu %d %s", cpu ? ", " : "", cpu, took);
        used += w > 0 ? (size_t)w : 0;
    }
}

/* The load average (/proc/loadavg's first three fields), static. */
static const char *loadavg(void) {
    static char text[64];
    FILE *f = fopen("/proc/loadavg", "r");
    double a = 0, b = 0, c = 0;
    if (!f || fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3)
        snprintf(text, sizeof(text), "unknown");
    else
        snprintf(text, sizeof(text), "%.2f %.2f %.2f", a, b, c);
    if (f)
        fclose(f);
    return text;
}

/* ---- latency --------------------------------------------------------------------------- */

/* Reads the alert topic while events are paced, and matches each alert to its
 * event by event_id ("tx-" and the event's number). */
typedef struct alert_reader {
    rd_kafka_t *c;
    pthread_t th;
    bool running;
    atomic_int stop;
    atomic_long seen;       /* alert messages read */
    long base, cap;         /* numbers of the paced events: base .. base + cap - 1 */
    const double *t_sent;   /* each paced event's produce call (0: not sent yet) */
    const int64_t *ms_sent; /* the same in wall-clock ms, as Kafka timestamps are */
    double *lat;            /* each one's alert latency in s; < 0: none yet */
    double *eng; /* its alert's timestamp (the engine's produce call) less ms_sent, in s */
    long matched;
} alert_reader_t;

/* The number of the event an alert is about: its event_id, "tx-" and digits,
 * which the engine writes near the alert's start ("alert_id", "level", then
 * "event_id"); -1 when there is none. Reads no more of the alert than that, so
 * that the reader costs little beside the engine it measures. */
static long alert_event_seq(const void *payload, size_t len) {
    static const char field[] = "\"event_id\":\"";
    const char *p = payload, *f = memmem(p, len < 256 ? len : 256, field, sizeof(field) - 1);
    const char *id = f ? f + sizeof(field) - 1 : NULL;
    const char *q = id ? memchr(id, '"', len - (size_t)(id - p)) : NULL;
    return q ? tx_seq(id, (size_t)(q - id)) : -1;
}

static void *alert_reader_thread(void *arg) {
    alert_reader_t *a = arg;
    while (!atomic_load(&a->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(a->c, 5);
        if (!m)
            continue;
        double t = rw_monotonic_s();
        if (!m->err) {
            long seq = alert_event_seq(m->payload, m->len), i = seq - a->base;
            if (seq >= 0 && i >= 0 && i < a->cap && a->t_sent[i] > 0 && a->lat[i] < 0) {
                a->lat[i] = t - a->t_sent[i];
                a->eng[i] = (double)(rd_kafka_message_timestamp(m, NULL) - a->ms_sent[i]) / 1000.0;
                a->matched++;
            }
            atomic_fetch_add(&a->seen, 1);
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

/* Reads every partition of topic from its beginning, in a thread. Returns 0 or -1 (said). */
static int alert_reader_start(alert_reader_t *a, const char *brokers, const char *topic,
                              int parts) {
    static const char *const conf[] = {"fetch.wait.max.ms", LAT_FETCH_WAIT_MS, NULL};
    a->c = make_client(RD_KAFKA_CONSUMER, brokers, "rw-bench-latency-reader", conf);
    if (!a->c)
        return -1;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int i = 0; i < parts; i++)
        rd_kafka_topic_partition_list_add(l, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t err = rd_kafka_assign(a->c, l);
    rd_kafka_topic_partition_list_destroy(l);
    a->running = !err && pthread_create(&a->th, NULL, alert_reader_thread, a) == 0;
    if (!a->running)
        fprintf(stderr, "bench: cannot read %s\n", topic);
    return a->running ? 0 : -1;
}

static void alert_reader_stop(alert_reader_t *a) {
    if (a->running) {
        atomic_store(&a->stop, 1);
        pthread_join(a->th, NULL);
    }
    if (a->c) {
        rd_kafka_consumer_close(a->c);
        rd_kafka_destroy(a->c);
    }
}

/* The warm-up event: an account of its own and an amount that raises a high
 * alert, so that the engine's producer has found both alert topics (the first
 * message to a topic waits for its metadata) before the clock starts. */
static int warm_up_event(const gen_t *g, char *buf, size_t len) {
    char ts[40];
    rw_time_format(g->ts_ms, ts, sizeof(ts));
    return snprintf(buf, len,
                    "{\"event_id\":\"warm-up\",\"type\":\"transaction\",\"ts\":\"%s\","
                    "\"account\":\"%s\",\"amount\":2000000.00,\"currency\":\"CNY\","
                    "\"direction\":\"out\",\"channel\":\"branch\",\"counterparty\":"
                    "\"6217000000000000000\",\"device_id\":\"br-000\",\"ip\":\"10.0.0.2\","
                    "\"geo\":{\"country\":\"CN\"}}",
                    ts, WARM_UP_ACCOUNT);
}

typedef struct lat_result {
    bool ran;
    double rate; /* events/s offered */
    long sent, counted, alerts, matched;
    double p50_ms, p99_ms, max_ms;
    double eng_p50_ms, eng_p99_ms;    /* to the engine's produce call of the alert */
    double first_p99_ms, rest_p99_ms; /* of the events sent in the first second, and after it */
    double cpu_us, engine_cpu_us; /* per event: this process (engine, mock broker), its thread */
    double wall_s;                /* pacing and draining */
} lat_result_t;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* p50, p99 and max of the matched latencies (of), in ms (nearest rank). */
static void lat_percentiles(const double *lat, const double *of, long n, double *p50, double *p99,
                            double *max) {
    double *v = rw_malloc((size_t)(n > 0 ? n : 1) * sizeof(*v));
    long k = 0;
    for (long i = 0; i < n; i++)
        if (lat[i] >= 0)
            v[k++] = of[i] * 1000.0;
    qsort(v, (size_t)k, sizeof(*v), cmp_double);
    *p50 = k ? v[(long)ceil(0.50 * (double)k) - 1] : NAN;
    *p99 = k ? v[(long)ceil(0.99 * (double)k) - 1] : NAN;
    if (max)
        *max = k ? v[k - 1] : NAN;
    free(v);
}

/* p99 of the matched latencies of the events sent in [from, to) seconds after the first. */
static double lat_p99_between(const alert_reader_t *a, long n, double from, double to) {
    double *lat = rw_malloc((size_t)(n > 0 ? n : 1) * sizeof(*lat)), p50, p99;
    double t0 = n > 0 ? a->t_sent[0] : 0;
    for (long i = 0; i < n; i++)
        lat[i] = a->t_sent[i] - t0 >= from && a->t_sent[i] - t0 < to ? a->lat[i] : -1;
    lat_percentiles(lat, lat, n, &p50, &p99, NULL);
    free(lat);
    return p99;
}

/* RW_BENCH_LAT_DUMP=FILE: one line a paced event, "OFFSET SENT LATENCY ENGINE": its offset
 * in the latency topic (the warm-up event is offset 0), its produce call (CLOCK_MONOTONIC,
 * s), its alert's latency and the part up to the engine's produce call (ms; -1: no alert),
 * to set beside timings taken inside the engine. */
static void lat_dump(const alert_reader_t *a, long n) {
    const char *path = getenv("RW_BENCH_LAT_DUMP");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench: cannot write %s\n", path);
        return;
    }
    for (long i = 0; i < n; i++)
        fprintf(f, "%ld %.6f %.3f %.3f\n", i + 1, a->t_sent[i],
                a->lat[i] >= 0 ? a->lat[i] * 1e3 : -1, a->lat[i] >= 0 ? a->eng[i] * 1e3 : -1);
    fclose(f);
}

/* The paced events, made before the clock starts, so that at send time the
 * bench's producer only hands each one to librdkafka. */
typedef struct lat_events {
    char *text;       /* every event, end to end */
    size_t *off;      /* event i is text[off[i]] up to text[off[i + 1]] */
    const char **key; /* its account */
    long n;
} lat_events_t;

/* The next n events of g (about 300 bytes each). */
static void lat_events_make(lat_events_t *ev, gen_t *g, long n) {
    size_t cap = (size_t)n * 320 + 2048, len = 0;
    ev->text = rw_malloc(cap);
    ev->off = rw_malloc(((size_t)n + 1) * sizeof(*ev->off));
    ev->key = rw_malloc((size_t)(n > 0 ? n : 1) * sizeof(*ev->key));
    for (long i = 0; i < n; i++) {
        if (cap - len < 1024) {
            cap *= 2;
            ev->text = rw_realloc(ev->text, cap);
        }
        ev->off[i] = len;
        len += (size_t)gen_event(g, ev->text + len, cap - len, &ev->key[i]);
    }
    ev->off[n] = len;
    ev->n = n;
}

static void lat_events_free(lat_events_t *ev) {
    free(ev->text);
    free(ev->off);
    free(ev->key);
}

/* Hands events [first, last) to the producer in one call (not copied: they
 * stay in ev until the producer is flushed); each one's produce call time is
 * the call's. An event the producer's full queue refuses is produced again
 * once there is room. Returns 0 or -1 (said). */
static int lat_burst(rd_kafka_t *p, rd_kafka_topic_t *rkt, const lat_events_t *ev, long first,
                     long last, rd_kafka_message_t *m, double *t_sent, int64_t *ms_sent) {
    int n = (int)(last - first);
    for (int j = 0; j < n; j++) {
        long i = first + j;
        m[j] = (rd_kafka_message_t){.payload = ev->text + ev->off[i],
                                    .len = ev->off[i + 1] - ev->off[i],
                                    .key = RW_UNCONST(void *, ev->key[i]),
                                    .key_len = strlen(ev->key[i])};
    }
    double t = rw_monotonic_s();
    int64_t ms = rw_now_ms();
    for (long i = first; i < last; i++) {
        t_sent[i] = t;
        ms_sent[i] = ms;
    }
    if (rd_kafka_produce_batch(rkt, RD_KAFKA_PARTITION_UA, 0, m, n) == n)
        return 0;
    for (int j = 0; j < n; j++)
        if (m[j].err &&
            (m[j].err != RD_KAFKA_RESP_ERR__QUEUE_FULL ||
             produce_one(p, LAT_TOPIC, m[j].payload, (int)m[j].len, ev->key[first + j]))) {
            fprintf(stderr, "bench: produce to %s: %s\n", LAT_TOPIC, rd_kafka_err2str(m[j].err));
            return -1;
        }
    return 0;
}

/* Produces rate events/s for secs seconds: every LAT_BURST_US, the events due
 * by then, in one call. Returns 0 or -1 (said). */
static int lat_pace(rd_kafka_t *p, const lat_events_t *ev, const engine_run_t *e, double rate,
                    double secs, double *t_sent, int64_t *ms_sent, long *sent) {
    enum { BURST_MAX = 1024 };
    rd_kafka_message_t *m = rw_calloc(BURST_MAX, sizeof(*m));
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(p, LAT_TOPIC, NULL);
    int rc = rkt ? 0 : -1;
    double t0 = rw_monotonic_s();
    for (double t = t0; !rc && *sent < ev->n && t - t0 < secs; t = rw_monotonic_s()) {
        long due = (long)((t - t0) * rate) + 1;
        if (due > ev->n)
            due = ev->n;
        for (long n; !rc && *sent < due; *sent += n) {
            n = due - *sent < BURST_MAX ? due - *sent : BURST_MAX;
            rc = lat_burst(p, rkt, ev, *sent, *sent + n, m, t_sent, ms_sent);
        }
        rd_kafka_poll(p, 0);
        if (!rc && atomic_load(&e->done)) {
            fprintf(stderr, "bench: the engine stopped during the latency phase\n");
            rc = -1;
        }
        usleep(LAT_BURST_US);
    }
    if (!rc && rd_kafka_flush(p, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "bench: produce: %d messages not delivered\n", rd_kafka_outq_len(p));
        rc = -1;
    }
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    else
        fprintf(stderr, "bench: no topic handle for %s\n", LAT_TOPIC);
    free(m);
    return rc;
}

/* Waits until the engine counted want events, or made no progress for 10 s;
 * then until no alert came for 0.5 s (at most 5 s). Returns 0 or -1 (said). */
static int lat_drain(watch_t *w, long want, const alert_reader_t *a) {
    for (double t_start = rw_monotonic_s(); w->done < want;) {
        if (watch_look(w, 0))
            return -1;
        double t_last = w->t_progress > t_start ? w->t_progress : t_start;
        if (rw_monotonic_s() - t_last > 10.0)
            break;
        usleep(5000);
    }
    for (double t_idle = rw_monotonic_s(), t_end = t_idle + 5.0; rw_monotonic_s() < t_end;) {
        long seen = atomic_load(&a->seen);
        usleep(50000);
        if (atomic_load(&a->seen) != seen)
            t_idle = rw_monotonic_s();
        else if (rw_monotonic_s() - t_idle > 0.5)
            break;
    }
    return 0;
}

/* The engine on a topic of its own, warmed up, then fed rate events/s for secs
 * seconds; every alert's latency from its event's produce call to its arrival
 * at the reader. */
static int latency_bench(rw_mock_t *mock, int redis_port, const char *rules, gen_t *g, double rate,
                         double secs, relay_opts_t relay, lat_result_t *out) {
    /* 1 ms: a burst is one produce call, but with linger.ms 0 librdkafka sends its first
     * messages before the call has handed over the rest, and the mock broker returns one
     * message set per fetch: the engine then took a burst in two batches and two fetches
     * (200 to 380 batches of under 10 messages in a run, against 1; 11 at 0.1, which took
     * as long as 1: 3.4 ms from a burst's produce call to an idle engine's consume). */
    static const char *const producer_conf[] = {"linger.ms", "1", NULL};
    memset(out, 0, sizeof(*out));
    out->rate = rate;
    long cap = (long)(rate * secs) + 1;
    int parts = LAT_PARTITIONS;
    if (make_topic(mock, LAT_TOPIC, parts) || make_topic(mock, LAT_ALERTS, parts))
        return -1;
    alert_reader_t *a = rw_calloc(1, sizeof(*a));
    double *t_sent = rw_calloc((size_t)cap, sizeof(*t_sent));
    int64_t *ms_sent = rw_calloc((size_t)cap, sizeof(*ms_sent));
    a->lat = rw_malloc((size_t)cap * sizeof(*a->lat));
    a->eng = rw_calloc((size_t)cap, sizeof(*a->eng));
    for (long i = 0; i < cap; i++)
        a->lat[i] = -1;
    a->base = g->seq + 1;
    a->cap = cap;
    dates_add(&g->dates, g->ts_ms); /* the warm-up event's date: none yet when run alone */
    a->t_sent = t_sent;
    a->ms_sent = ms_sent;
    char warm_up[1024];
    int warm_up_len = warm_up_event(g, warm_up, sizeof(warm_up));
    lat_events_t ev;
    lat_events_make(&ev, g, cap);
    rd_kafka_t *p = make_client(RD_KAFKA_PRODUCER, mock->bootstraps, NULL, producer_conf);
    engine_opts_t o = {.group = "rw-bench-latency",
                       .topic = LAT_TOPIC,
                       .rules = rules,
                       .alert_topic = LAT_ALERTS,
                       .fetch_wait_ms = LAT_FETCH_WAIT_MS,
                       .relay = relay};
    engine_run_t *e = NULL;
    watch_t w = {0};
    int rc = p ? 0 : -1;
    if (!rc)
        rc = watch_open(&w, redis_port, &g->dates) ||
             alert_reader_start(a, mock->bootstraps, LAT_ALERTS, parts) ||
             !(e = engine_start(mock->bootstraps, redis_port, &o)) ||
             produce_one(p, LAT_TOPIC, warm_up, warm_up_len, WARM_UP_ACCOUNT);
    /* Warm-up: the engine has joined its group, done the event, its alert is here. */
    while (!rc && (w.done < 1 || atomic_load(&a->seen) < 1)) {
        if (watch_look(&w, 0) || atomic_load(&e->done) || rw_monotonic_s() - w.t0 > WARMUP_S) {
            fprintf(stderr, "bench: no alert for the warm-up event in %.0f s\n", WARMUP_S);
            rc = -1;
        }
        usleep(5000);
    }
    double c0 = cpu_self_s(), w0 = rw_monotonic_s(), ecpu = 0;
    if (!rc)
        rc = lat_pace(p, &ev, e, rate, secs, t_sent, ms_sent, &out->sent) ||
             lat_drain(&w, out->sent + 1, a);
    double c1 = cpu_self_s(), w1 = rw_monotonic_s();
    out->counted = w.done > 0 ? w.done - 1 : 0;
    if (e) {
        atomic_store(&e->ctl.stop, 1);
        if (engine_join(e, &ecpu))
            rc = -1;
    }
    double per = out->sent > 0 ? 1e6 / (double)out->sent : 0;
    out->cpu_us = (c1 - c0) * per;
    out->engine_cpu_us = ecpu * per;
    out->wall_s = w1 - w0;
    alert_reader_stop(a);
    int64_t alerts = rc ? -1 : topic_count(p, LAT_ALERTS, parts, NULL);
    if (alerts >= 0) {
        out->alerts = (long)alerts - 1; /* the warm-up's is not one of them */
        out->matched = a->matched;
        lat_percentiles(a->lat, a->lat, out->sent, &out->p50_ms, &out->p99_ms, &out->max_ms);
        lat_percentiles(a->lat, a->eng, out->sent, &out->eng_p50_ms, &out->eng_p99_ms, NULL);
        out->first_p99_ms = lat_p99_between(a, out->sent, 0, 1);
        out->rest_p99_ms = lat_p99_between(a, out->sent, 1, secs + 1);
        out->ran = true;
        lat_dump(a, out->sent);
    }
    if (w.c)
        redisFree(w.c);
    if (p)
        rd_kafka_destroy(p);
    free(a->lat);
    free(a->eng);
    free(a);
    free(t_sent);
    free(ms_sent);
    lat_events_free(&ev);
    return rc || alerts < 0 ? -1 : 0;
}

/* ---- replay ---------------------------------------------------------------------------- */

typedef struct replay_result {
    long n, done; /* events in the file; read when stopped at the budget */
    long types[EV_TYPES];
    long long bytes, events, dead, alerts[3];
    double wall_s;
    bool stopped;
} replay_result_t;

/* How far process pid has read path: the pos of its descriptor; -1 when unknown. */
static long long proc_read_pos(pid_t pid, const char *path) {
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    long long pos = -1;
    for (struct dirent *de; d && pos < 0 && (de = readdir(d));) {
        char link[320], target[512];
        snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
        ssize_t k = readlink(link, target, sizeof(target) - 1);
        if (k <= 0)
            continue;
        target[k] = 0;
        if (strcmp(target, path) != 0)
            continue;
        snprintf(link, sizeof(link), "/proc/%d/fdinfo/%s", (int)pid, de->d_name);
        FILE *f = fopen(link, "r");
        if (!f || fscanf(f, "pos: %lld", &pos) != 1)
            pos = -1;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return pos;
}

/* Reads the replay's summary line from its stderr. Returns 0 or -1. */
static int replay_summary(const char *log, replay_result_t *out) {
    FILE *f = fopen(log, "r");
    char line[1024];
    int rc = -1;
    while (f && rc && fgets(line, sizeof(line), f))
        if (sscanf(line,
                   "ruleset %*s version %*[^:]: %lld events, %lld dead letters, alerts: low "
                   "%lld, medium %lld, high %lld",
                   &out->events, &out->dead, &out->alerts[0], &out->alerts[1],
                   &out->alerts[2]) == 5)
            rc = 0;
    if (f)
        fclose(f);
    return rc;
}

/* Writes n mixed events to a new file (path: a template); ends[i] is where
 * event i ends in it. Returns 0, or -1 (said). */
static int replay_file(char *path, long n, long long *ends, replay_result_t *out) {
    int fd = mkstemps(path, 6);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "bench: cannot write %s\n", path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    gen_t *g = rw_calloc(1, sizeof(*g));
    gen_init(g);
    g->with_customer = true;
    char buf[1024];
    for (long i = 0; i < n; i++) {
        int type, len = gen_mixed(g, buf, sizeof(buf) - 1, &type);
        buf[len++] = '\n';
        fwrite(buf, 1, (size_t)len, f);
        out->bytes += len;
        ends[i] = out->bytes;
        out->types[type]++;
    }
    free(g);
    if (fclose(f) != 0) {
        fprintf(stderr, "bench: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

/* One `riskwarn replay` over the file at path (n events; ends[i] where event i
 * ends), timed from fork to exit; killed at the budget (then the events done
 * are those before its read position). Its summary goes to out. Returns 0 or
 * -1 (said). */
static int replay_once(const char *path, long n, const long long *ends, double budget_s,
                       replay_result_t *out) {
    char log[] = "/tmp/rw-bench-replay-XXXXXX.log";
    int log_fd = mkstemps(log, 4);
    if (log_fd < 0) {
        fprintf(stderr, "bench: cannot write %s\n", log);
        return -1;
    }
    fflush(NULL);
    double t0 = rw_monotonic_s();
    /* posix_spawn, not fork: a fork copies the page tables of this process, which holds
     * hundreds of megabytes by now (25 to 38 ms at 1.5 GB on this machine), in the run's
     * time. The alerts go to /dev/null, the messages to the log. */
    char bin[PATH_MAX], in[sizeof("/tmp/rw-bench-replay-XXXXXX.jsonl")];
    char replay[] = "replay", opt[] = "--rules", pack[] = REPLAY_PACK;
    snprintf(bin, sizeof(bin), "%s", h_bin());
    snprintf(in, sizeof(in), "%s", path);
    char *const argv[] = {bin, replay, opt, pack, in, NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid = -1;
    if (posix_spawn_file_actions_init(&fa) == 0) {
        if (posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) != 0 ||
            posix_spawn_file_actions_adddup2(&fa, log_fd, 2) != 0 ||
            posix_spawn(&pid, bin, &fa, NULL, argv, environ) != 0)
            pid = -1;
        posix_spawn_file_actions_destroy(&fa);
    }
    int status = 0, rc = 0;
    while (pid > 0 && waitpid(pid, &status, WNOHANG) == 0) {
        if (rw_monotonic_s() - t0 > budget_s) {
            long long pos = proc_read_pos(pid, path);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            out->stopped = true;
            for (long lo = 0, hi = n; lo < hi;) { /* events that end at or before pos */
                long mid = lo + (hi - lo) / 2;
                if (ends[mid] <= pos)
                    lo = out->done = mid + 1;
                else
                    hi = mid;
            }
            break;
        }
        usleep(2000);
    }
    out->wall_s = rw_monotonic_s() - t0;
    if (pid < 0) {
        fprintf(stderr, "bench: cannot start %s\n", h_bin());
        rc = -1;
    }
    if (!rc && !out->stopped) {
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || replay_summary(log, out)) {
            fprintf(stderr, "bench: %s replay failed (status %d; its messages in %s)\n", h_bin(),
                    status, log);
            rc = -1;
        } else if (out->events + out->dead != n || out->dead != 0) {
            fprintf(stderr, "bench: the replay read %lld events and %lld dead letters of %ld\n",
                    out->events, out->dead, n);
            rc = -1;
        }
        out->done = (long)out->events;
    }
    close(log_fd);
    if (!rc)
        unlink(log);
    return rc;
}

static double replay_rate(const replay_result_t *r) {
    return r->wall_s > 0 ? (double)r->done / r->wall_s : 0;
}

/* `riskwarn replay` runs times over one file of n generated events: out is
 * the run of the median rate (median_of), rates[] every run's, in order. One
 * run's wall time moved by up to a third from run to run on this machine, so
 * one run says little. Returns 0 or -1 (said). */
static int replay_bench(long n, double budget_s, int runs, replay_result_t *out, double *rates) {
    memset(out, 0, sizeof(*out));
    char path[] = "/tmp/rw-bench-replay-XXXXXX.jsonl";
    long long *ends = rw_malloc((size_t)n * sizeof(*ends));
    replay_result_t *each = rw_calloc((size_t)runs, sizeof(*each));
    int rc = replay_file(path, n, ends, out);
    for (int i = 0; !rc && i < runs; i++) {
        each[i] = *out; /* the file's figures */
        rc = replay_once(path, n, ends, budget_s, &each[i]);
        rates[i] = replay_rate(&each[i]);
    }
    if (!rc)
        *out = each[median_of(rates, runs)];
    out->n = n;
    unlink(path);
    free(each);
    free(ends);
    return rc;
}

/* ---- the run --------------------------------------------------------------------------- */

typedef struct bench {
    char cores_start[160], cores_end[160]; /* cores_probe() before the phases and after */
    rw_mock_t mock;
    rw_redis_server_t redis;
    char rules[64], hot_rules[64], hot_topic[32];
    bool have_rules, have_hot_rules;
    gen_t *g;
    long n;
    int parts;
    double budget_s, hot_budget_s, lat_s;
    /* The figures. */
    rate_t raw, ceiling, eng, spread, hot;
    long hot_n;
    double hot_bytes;
    double rss_before, rss_peak;
    bool hwm_was_reset;
    lat_result_t lat;
    replay_result_t replay;
    /* Scaling: one engine process, then two. */
    int scale_runs;
    int replay_runs; /* RW_BENCH_REPLAY_RUNS */
    bool scale_only, latency_only, engine_only, replay_only;
    double lat_rate;         /* RW_BENCH_ONLY=latency: events/s offered */
    relay_opts_t lat_floor;  /* RW_BENCH_LAT_FLOOR*: the floor relay in the engine's place */
    struct scale_run *scale; /* [2]: the last run of each case */
    double scale_rate[2];    /* median rates */
    int scale_rebalanced;    /* runs in which the group rebalanced */
} bench_t;

static int phase_produce(bench_t *b) {
    long long bytes;
    long kept;
    double t = rw_monotonic_s();
    int rc =
        produce_n(b->mock.bootstraps, TOPIC, b->parts, b->n, next_tx, b->g, NULL, &bytes, &kept);
    if (rc == 1)
        fprintf(stderr,
                "bench: the cluster holds %ld of %ld events: the mock cluster keeps about %d MiB "
                "a partition; use more partitions\n",
                kept, b->n, MOCK_PARTITION_BYTES >> 20);
    if (rc)
        return -1;
    printf("produced   %ld events, %lld bytes (%.0f bytes/event), %d event days, in %.2f s; "
           "all still in the cluster\n",
           b->n, bytes, (double)bytes / (double)b->n, b->g->dates.n, rw_monotonic_s() - t);
    fflush(stdout);
    return 0;
}

static void print_consume(const char *label, const char *what, const rate_t *r,
                          const double passes[RAW_PASSES]) {
    printf("%-10s %10.0f events/s  (%smedian of %d passes:", label, rate_of(r), what, RAW_PASSES);
    for (int p = 0; p < RAW_PASSES; p++)
        printf(" %.0f", passes[p]);
    printf("; %ld events in %.3f s after a first batch of %ld; group join %.2f s)\n",
           r->n - r->first, r->steady_s, r->first, r->join_s);
    fflush(stdout);
}

static int phase_consume(bench_t *b) {
    double passes[RAW_PASSES];
    if (consume_bench(b->mock.bootstraps, b->n, "rw-bench-raw", false, &b->raw, passes))
        return -1;
    print_consume("raw", "", &b->raw, passes);
    if (consume_bench(b->mock.bootstraps, b->n, "rw-bench-parse", true, &b->ceiling, passes))
        return -1;
    print_consume("ceiling", "consume + json_loadb + json_decref each; ", &b->ceiling, passes);
    return 0;
}

/* The engine on the N events, then a check that it counted each exactly once. */
static int phase_engine(bench_t *b) {
    engine_opts_t o = {
        .group = "rw-bench-engine", .topic = TOPIC, .rules = b->rules, .stop_after = b->n};
    b->rss_before = status_mb("VmRSS");
    b->hwm_was_reset = hwm_reset() == 0;
    rate_t *r = &b->eng;
    if (engine_bench(b->mock.bootstraps, b->redis.port, b->redis.pid, &o, &b->g->dates, b->budget_s,
                     r))
        return -1;
    b->rss_peak = status_mb("VmHWM");
    double eng_rate = rate_of(r), raw_rate = rate_of(&b->raw);
    printf("engine     %10.0f events/s  (%ld events in %.3f s after a first batch of %ld; "
           "group join %.2f s; start to return %.2f s%s)\n",
           eng_rate, r->n - r->first, r->steady_s, r->first, r->join_s, r->total_s,
           budget_note(r, b->budget_s));
    printf("engine CPU %.2f s engine thread, %.2f s whole process (with librdkafka and the mock "
           "broker), %.2f s redis-server\n",
           r->thread_cpu_s, r->cpu_s, r->redis_cpu_s);
    printf("memory     RSS %.1f MB before the engine phase, peak %.1f MB during it (+%.1f MB; "
           "VmHWM%s)\n",
           b->rss_before, b->rss_peak, b->rss_peak - b->rss_before,
           b->hwm_was_reset ? ", reset when the phase started"
                            : " since the process started: /proc/self/clear_refs refused");
    printf("redis CPU  %.2f us/event  (%.2f s of redis-server CPU over %s events; the bench's "
           "counter reads every 5 ms included)\n",
           r->n ? r->redis_cpu_s * 1e6 / (double)r->n : 0, r->redis_cpu_s, num(r->n));
    redis_time(b->redis.port);

    /* Verify: the engine counted every event exactly once. */
    redisContext *c = redis_open(b->redis.port);
    if (!c)
        return -1;
    long long counted = h_hsum(c, "{rw}:events:*");
    long long dead = 0;
    redisReply *keys = redisCommand(c, "KEYS {rw}:events:*");
    for (size_t i = 0; keys && keys->type == REDIS_REPLY_ARRAY && i < keys->elements; i++)
        dead += h_hget(c, keys->element[i]->str, "deadletter");
    if (keys)
        freeReplyObject(keys);
    long long alerts_redis = h_hsum(c, "{rw}:alerts:*");
    redisFree(c);

    rd_kafka_t *q = make_client(RD_KAFKA_PRODUCER, b->mock.bootstraps, NULL, NULL);
    int64_t alerts = q ? topic_count(q, "risk.alerts", 1, NULL) : -1;
    int64_t high = q ? topic_count(q, "risk.alerts.high", 1, NULL) : -1;
    int64_t dl = q ? topic_count(q, "risk.deadletter", 1, NULL) : -1;
    if (q)
        rd_kafka_destroy(q);

    printf("alerts     %lld on risk.alerts (%.2f%% of events), %lld on risk.alerts.high, "
           "%lld dead letters; Redis counts %lld alerts\n",
           (long long)alerts, 100.0 * (double)alerts / (double)(r->n ? r->n : 1), (long long)high,
           (long long)dl, alerts_redis);
    printf("result     N=%ld  raw=%.0f/s  engine=%.0f/s  engine/raw=%.3f  alerts=%lld\n", b->n,
           raw_rate, eng_rate, raw_rate > 0 ? eng_rate / raw_rate : 0, (long long)alerts);
    printf("           (rates: from the end of the first batch to the last event; group join "
           "and shutdown excluded for both)\n");
    fflush(stdout);
    bool ok = r->stopped ? counted == r->n && counted <= b->n : counted == b->n;
    if (!ok || dead != 0 || alerts < 0) {
        fprintf(stderr, "bench: the engine counted %lld events (%lld dead letters), expected %ld\n",
                counted, dead, r->stopped ? r->n : b->n);
        return -1;
    }
    return 0;
}

static int phase_latency(bench_t *b) {
    double rate = b->latency_only ? b->lat_rate : rate_of(&b->eng) / 2;
    if (rate < 1) {
        printf("latency    not measured: no engine rate to take half of\n");
        return 0;
    }
    lat_result_t *l = &b->lat;
    if (!b->latency_only && redis_flush(b->redis.port))
        return -1;
    if (latency_bench(&b->mock, b->redis.port, b->rules, b->g, rate, b->lat_s, b->lat_floor, l))
        return -1;
    printf("latency    p50 %.1f ms, p99 %.1f ms, max %.1f ms  (%s alerts matched to their events, "
           "of %s on %s; %s events paced at %s/s, %s, for %.0f s in bursts "
           "every %d ms to %s (%d partition%s), after a warm-up event; the engine counted %s of "
           "them; load average %s)\n",
           l->p50_ms, l->p99_ms, l->max_ms, num(l->matched), num(l->alerts), LAT_ALERTS,
           num(l->sent), num(llround(l->rate)),
           b->latency_only ? "RW_BENCH_LAT_RATE" : "half the engine rate", b->lat_s,
           LAT_BURST_US / 1000, LAT_TOPIC, LAT_PARTITIONS, LAT_PARTITIONS == 1 ? "" : "s",
           num(l->counted), loadavg());
    printf("           to the engine's produce call of the alert (its Kafka timestamp): p50 %.0f "
           "ms, p99 %.0f ms; the rest is the broker and the reader; p99 of the events sent in "
           "the first second %.1f ms, after it %.1f ms; CPU "
           "%.1f us/event in the engine's thread, %.1f us/event in this process (the engine, "
           "librdkafka, the mock broker, the bench's clients), over %.1f s\n",
           l->eng_p50_ms, l->eng_p99_ms, l->first_p99_ms, l->rest_p99_ms, l->engine_cpu_us,
           l->cpu_us, l->wall_s);
    if (b->lat_floor.on)
        printf("           (RW_BENCH_LAT_FLOOR: the floor relay ran in the engine's place, so "
               "\"the engine\" above is the relay: no rules, no state read, %d RPUSH%s an "
               "event (RW_BENCH_LAT_FLOOR_PUSHES), an alert for one event in %d, and %.1f us of "
               "CPU an event besides: RW_BENCH_LAT_FLOOR_US%s)\n",
               b->lat_floor.pushes, b->lat_floor.pushes == 1 ? "" : "es", FLOOR_ALERT_EVERY,
               b->lat_floor.us,
               b->lat_floor.ahead_us >= 0 ? ", some of it ahead of the write's replies: "
                                            "RW_BENCH_LAT_FLOOR_AHEAD_US"
                                          : "");
    printf("           (the engine and the alert reader fetch with fetch.wait.max.ms=%s, which "
           "librdkafka warns the engine's producer ignores: the mock broker holds an empty "
           "fetch for the whole wait even when data arrives, where a real one answers at once)\n",
           LAT_FETCH_WAIT_MS);
    fflush(stdout);
    return 0;
}

/* Produces the hot key's events; when one partition cannot keep N of them, the
 * largest N (less 10%) that it keeps, for both cases. */
static int produce_hot(bench_t *b, hot_gen_t *h, const char *const *conf) {
    char *topic = b->hot_topic;
    long n = HOT_N, kept;
    long long bytes;
    int rc = 1;
    for (int attempt = 1; rc == 1 && attempt <= 3; attempt++) {
        snprintf(topic, sizeof(b->hot_topic), "bench.hot.%d", attempt);
        memset(&h[1], 0, sizeof(h[1]));
        h[1].n = n;
        h[1].hot = true;
        rc = make_topic(&b->mock, topic, HOT_PARTITIONS);
        if (!rc)
            rc = produce_n(b->mock.bootstraps, topic, HOT_PARTITIONS, n, next_hot, &h[1], conf,
                           &bytes, &kept);
        if (rc == 1) {
            printf("hot key    one partition kept %s of %s events: trying %s\n", num(kept), num(n),
                   num(kept * 9 / 10));
            n = kept * 9 / 10;
        }
    }
    if (rc) {
        fprintf(stderr, "bench: cannot keep the hot key's events in one partition\n");
        return -1;
    }
    b->hot_n = n;
    b->hot_bytes = (double)bytes / (double)n;
    memset(&h[0], 0, sizeof(h[0]));
    h[0].n = n;
    if (make_topic(&b->mock, "bench.spread", HOT_PARTITIONS) ||
        produce_n(b->mock.bootstraps, "bench.spread", HOT_PARTITIONS, n, next_hot, &h[0], conf,
                  &bytes, &kept)) {
        fprintf(stderr, "bench: the spread case's events do not fit\n");
        return -1;
    }
    return 0;
}

static void print_hot_case(const char *label, const char *what, const rate_t *r, double budget_s) {
    printf("%-10s %10.0f events/s  (%s events %s; %s after a first batch of %s in %.3f s; group "
           "join %.2f s%s)\n",
           label, rate_of(r), num(r->want), what, num(r->n - r->first), num(r->first), r->steady_s,
           r->join_s, budget_note(r, budget_s));
}

static int phase_hot(bench_t *b) {
    /* lz4 batches: the hot key's events all go to one partition, of which the
     * mock keeps about 5 MiB; the consumer's decompression is the same in both
     * cases and small beside the rest. */
    static const char *const lz4[] = {"compression.codec", "lz4", NULL};
    hot_gen_t *h = rw_calloc(2, sizeof(*h)); /* spread, hot */
    int rc = produce_hot(b, h, lz4);
    engine_opts_t spread = {.group = "rw-bench-spread",
                            .topic = "bench.spread",
                            .rules = b->hot_rules,
                            .stop_after = b->hot_n};
    engine_opts_t hot = {.group = "rw-bench-hot",
                         .topic = b->hot_topic,
                         .rules = b->hot_rules,
                         .stop_after = b->hot_n};
    if (!rc)
        rc = redis_flush(b->redis.port) ||
             engine_bench(b->mock.bootstraps, b->redis.port, b->redis.pid, &spread, &h[0].dates,
                          b->budget_s, &b->spread);
    if (!rc) {
        print_hot_case("spread", "over 10,000 accounts", &b->spread, b->budget_s);
        fflush(stdout);
        rc = redis_flush(b->redis.port) ||
             engine_bench(b->mock.bootstraps, b->redis.port, b->redis.pid, &hot, &h[1].dates,
                          b->hot_budget_s, &b->hot);
    }
    if (!rc) {
        double s = rate_of(&b->spread);
        print_hot_case("hot key", "of one account", &b->hot, b->hot_budget_s);
        printf("hot/spread %.3g  (window_count + window_sum over 24 h keyed by account, no alert; "
               "N=%s events of %.0f bytes, all inside one 24 h window; lz4-compressed batches, "
               "as one partition of the mock keeps about 5 MiB)\n",
               s > 0 ? rate_of(&b->hot) / s : 0, num(b->hot_n), b->hot_bytes);
        fflush(stdout);
    }
    free(h);
    return rc ? -1 : 0;
}

static int phase_replay(bench_t *b) {
    replay_result_t *r = &b->replay;
    double rates[REPLAY_RUNS_MAX];
    int runs = b->replay_runs;
    if (replay_bench(b->n > REPLAY_MIN_N ? b->n : REPLAY_MIN_N, b->budget_s, runs, r, rates))
        return -1;
    printf("replay     %10.0f events/s  (%s replay --rules %s, whole process, %.2f s wall; the "
           "median of %d runs, RW_BENCH_REPLAY_RUNS:",
           replay_rate(r), h_bin(), REPLAY_PACK, r->wall_s, runs);
    for (int i = 0; i < runs; i++)
        printf(" %s", num(llround(rates[i])));
    printf("; %s events of %.0f bytes:", num(r->n), (double)r->bytes / (double)r->n);
    for (int t = 0; t < EV_TYPES; t++)
        printf("%s %s %s", t ? "," : "", num(r->types[t]), ev_type_names[t]);
    if (r->stopped)
        printf("; stopped at the %.0f s budget: about %s of %s events read", b->budget_s,
               num(r->done), num(r->n));
    else
        printf("; alerts: low %s, medium %s, high %s", num(r->alerts[0]), num(r->alerts[1]),
               num(r->alerts[2]));
    printf(")\n");
    fflush(stdout);
    return 0;
}

/* ---- scaling: engines as processes in one group ---------------------------------------- */

#define SCALE_MAX 2         /* engines in the larger case */
#define SCALE_CMDS 64       /* commands kept from INFO commandstats */
#define SCALE_ALERT_PARTS 8 /* alert topics: the mock keeps about 5 MiB a partition */
#define SCALE_CAL_LOOKS 200 /* looks at the counters to price the bench's own Redis traffic */

/* What redis-server has done so far (INFO stats commandstats). */
typedef struct redis_snap {
    long long net_in, net_out; /* total_net_input_bytes, total_net_output_bytes */
    int k;
    struct {
        char name[32];
        long long calls, usec;
    } cmd[SCALE_CMDS];
} redis_snap_t;

static int redis_snap(redisContext *c, redis_snap_t *s) {
    memset(s, 0, sizeof(*s));
    redisReply *r = redisCommand(c, "INFO stats commandstats");
    int rc = r && r->type == REDIS_REPLY_STRING ? 0 : -1;
    const char *in = rc ? NULL : strstr(r->str, "total_net_input_bytes:");
    const char *out = rc ? NULL : strstr(r->str, "total_net_output_bytes:");
    if (!in || !out) {
        fprintf(stderr, "bench: redis INFO stats commandstats failed\n");
        rc = -1;
    } else {
        s->net_in = atoll(strchr(in, ':') + 1);
        s->net_out = atoll(strchr(out, ':') + 1);
        for (const char *p = strstr(r->str, "cmdstat_"); p && s->k < SCALE_CMDS;
             p = strstr(p + 1, "cmdstat_"))
            s->k += sscanf(p, "cmdstat_%31[^:]:calls=%lld,usec=%lld", s->cmd[s->k].name,
                           &s->cmd[s->k].calls, &s->cmd[s->k].usec) == 3;
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

/* The calls (or usec) of one command in s; 0 when absent. */
static long long snap_of(const redis_snap_t *s, const char *name, bool usec) {
    for (int i = 0; i < s->k; i++)
        if (strcmp(s->cmd[i].name, name) == 0)
            return usec ? s->cmd[i].usec : s->cmd[i].calls;
    return 0;
}

/* Commands that are the bench's, not an engine's: watching counters, INFO, flushing. */
static bool bench_command(const char *name) {
    return strcmp(name, "hvals") == 0 || strcmp(name, "info") == 0 ||
           strcmp(name, "flushall") == 0 || strcmp(name, "keys") == 0 ||
           strcmp(name, "hgetall") == 0 || strcmp(name, "hget") == 0 ||
           strcmp(name, "select") == 0 || strcmp(name, "client|setname") == 0;
}

/* Commands the apply script runs inside EVALSHA: Redis counts them in
 * commandstats too, and their time is inside evalsha's. The engine sends none
 * of them itself (GET it sends too, for fences after an assignment, so GET
 * stays in the totals). */
static bool script_command(const char *name) {
    static const char *const inner[] = {"set", "hincrby", "expire", "hset", "hdel", "zrem"};
    for (size_t i = 0; i < sizeof(inner) / sizeof(inner[0]); i++)
        if (strcmp(name, inner[i]) == 0)
            return true;
    return false;
}

typedef struct scale_run {
    int engines;
    rate_t r;
    double proc_cpu_s[SCALE_MAX], thread_cpu_s[SCALE_MAX];
    int assigned[SCALE_MAX], last_parts[SCALE_MAX]; /* "partitions assigned" log lines */
    /* An engine was assigned partitions more than once: the group rebalanced during the run,
     * and its rate includes the pause. The engines' logs are then kept. */
    bool rebalanced;
    char logs[SCALE_MAX][64]; /* the engines' logs */
    /* Per event, the bench's own traffic taken out. */
    double net_in, net_out, calls, redis_usec;
    long long raw_in, raw_out, own_in, own_out; /* over the run: all, and the bench's own */
    redis_snap_t delta;                         /* engine commands: calls and usec over the run */
    long long alerts, alert_bytes, alert_msgs;
} scale_run_t;

/* Counts the messages of a topic and their bytes (value and key), reading every
 * partition from its beginning to its high watermark. Returns 0 or -1 (said). */
static int topic_bytes(const char *brokers, const char *topic, int parts, long long *msgs,
                       long long *bytes) {
    *msgs = *bytes = 0;
    rd_kafka_t *c = make_client(RD_KAFKA_CONSUMER, brokers, "rw-bench-sizes", NULL);
    if (!c)
        return -1;
    int64_t lo = 0, want = topic_count(c, topic, parts, &lo);
    if (want >= 0 && lo != 0) {
        fprintf(stderr,
                "bench: %s lost its first messages (the mock keeps about %d MiB a "
                "partition)\n",
                topic, MOCK_PARTITION_BYTES >> 20);
        want = -1;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t err = want < 0 ? RD_KAFKA_RESP_ERR__FAIL : rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    double t_progress = rw_monotonic_s();
    while (!err && *msgs < want && rw_monotonic_s() - t_progress < STALL_S) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m)
            continue;
        if (m->err) {
            fprintf(stderr, "bench: read %s: %s\n", topic, rd_kafka_message_errstr(m));
            err = m->err;
        } else {
            (*msgs)++;
            *bytes += (long long)(m->len + m->key_len);
            t_progress = rw_monotonic_s();
        }
        rd_kafka_message_destroy(m);
    }
    int rc = !err && *msgs == want ? 0 : -1;
    if (rc)
        fprintf(stderr, "bench: read %lld of %lld messages of %s\n", *msgs, (long long)want, topic);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return rc;
}

/* Reads an engine's log: how often it was assigned partitions, and how many the last time. */
static void log_assignments(const char *log, int *times, int *last) {
    FILE *f = fopen(log, "r");
    char line[1024];
    *times = *last = 0;
    while (f && fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, "partitions assigned: ");
        if (p) {
            (*times)++;
            *last = atoi(p + strlen("partitions assigned: "));
        }
    }
    if (f)
        fclose(f);
}

/* Starts `riskwarn run -c cfg`, its stderr to log. Returns its pid, or -1. */
static pid_t engine_process(const char *cfg, const char *log) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644), nul = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 2);
        if (nul >= 0)
            dup2(nul, 1);
        execl(h_bin(), h_bin(), "run", "-c", cfg, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Prices what watching the counters adds to redis-server's totals: per look,
 * and per pair of snapshots (the INFO itself). */
static int watch_price(watch_t *w, redis_snap_t *per_look, redis_snap_t *per_pair) {
    redis_snap_t s0, s1, s2;
    if (redis_snap(w->c, &s0) || redis_snap(w->c, &s1))
        return -1;
    for (int i = 0; i < SCALE_CAL_LOOKS; i++)
        if (watch_look(w, 0))
            return -1;
    if (redis_snap(w->c, &s2))
        return -1;
    memset(per_look, 0, sizeof(*per_look));
    memset(per_pair, 0, sizeof(*per_pair));
    per_pair->net_in = s1.net_in - s0.net_in;
    per_pair->net_out = s1.net_out - s0.net_out;
    per_look->net_in = (s2.net_in - s1.net_in - per_pair->net_in) / SCALE_CAL_LOOKS;
    per_look->net_out = (s2.net_out - s1.net_out - per_pair->net_out) / SCALE_CAL_LOOKS;
    return 0;
}

/* k engine processes in one new group on the bench's N events, Redis flushed
 * first, until the counters hold all N; then SIGTERM. run: which run (names
 * the group and the alert topics). */
static int scale_case(bench_t *b, int k, int run, scale_run_t *out) {
    memset(out, 0, sizeof(*out));
    out->engines = k;
    rate_t *r = &out->r;
    r->want = b->n;
    char alerts[64], high[64], dead[64], cfg[] = "/tmp/rw-bench-scale-XXXXXX.json";
    char(*logs)[64] = out->logs; /* kept in out for the run's line */
    char text[2048];
    snprintf(alerts, sizeof(alerts), "bench.scale.%d.alerts", run);
    snprintf(high, sizeof(high), "bench.scale.%d.high", run);
    snprintf(dead, sizeof(dead), "bench.scale.%d.deadletter", run);
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"rw-bench-scale-%d\",\n"
             "   \"input_topics\": [\"%s\"], \"alert_topic\": \"%s\",\n"
             "   \"high_alert_topic\": \"%s\", \"deadletter_topic\": \"%s\"},\n"
             " \"redis\": {\"host\": \"127.0.0.1\", \"port\": %d},\n"
             " \"metrics_listen\": null, \"rules\": \"%s\"}\n",
             b->mock.bootstraps, run, TOPIC, alerts, high, dead, b->redis.port, b->rules);
    if (make_topic(&b->mock, alerts, SCALE_ALERT_PARTS) ||
        make_topic(&b->mock, high, SCALE_ALERT_PARTS) || make_topic(&b->mock, dead, 1) ||
        redis_flush(b->redis.port) || write_tmp(cfg, 5, text))
        return -1;
    watch_t w;
    if (watch_open(&w, b->redis.port, &b->g->dates)) {
        unlink(cfg);
        return -1;
    }
    redis_snap_t s0 = {0}, s1 = {0}, per_look = {0}, per_pair = {0};
    int rc = redis_snap(w.c, &s0);
    double cpu0 = cpu_self_s(), rcpu0 = cpu_pid_s(b->redis.pid);
    pid_t pid[SCALE_MAX];
    int started = 0;
    for (; !rc && started < k; started++) {
        snprintf(logs[started], sizeof(logs[0]), "/tmp/rw-bench-scale-%d-%d.log", run, started);
        if ((pid[started] = engine_process(cfg, logs[started])) < 0) {
            fprintf(stderr, "bench: cannot start %s\n", h_bin());
            rc = -1;
            break;
        }
    }
    w.t0 = w.t_progress = rw_monotonic_s();
    long looks = 0;
    while (!rc && w.t_full == 0) {
        rc = watch_look(&w, r->want);
        looks++;
        for (int i = 0; !rc && i < started; i++)
            if (waitpid(pid[i], NULL, WNOHANG) != 0) {
                fprintf(stderr, "bench: engine %d exited early (its messages in %s)\n", i + 1,
                        logs[i]);
                pid[i] = -1;
                rc = -1;
            }
        double t = rw_monotonic_s();
        if (!rc && t - w.t0 > b->budget_s) {
            r->stopped = true;
            break;
        }
        if (!rc && t - w.t_progress > STALL_S) {
            fprintf(stderr, "bench: the engines made no progress for %.0f s (%s of %s)\n", STALL_S,
                    num(w.done), num(r->want));
            rc = -1;
        }
        if (!rc && w.t_full == 0)
            usleep(5000);
    }
    for (int i = 0; i < started; i++) { /* the engine thread is the main one */
        char task[64];
        snprintf(task, sizeof(task), "%d/task/%d", (int)pid[i], (int)pid[i]);
        out->thread_cpu_s[i] = pid[i] > 0 ? cpu_stat_s(task) : 0;
    }
    for (int i = 0; i < started; i++) {
        if (pid[i] <= 0)
            continue;
        struct rusage ru;
        int status = 0;
        kill(pid[i], SIGTERM);
        if (wait4(pid[i], &status, 0, &ru) == pid[i])
            out->proc_cpu_s[i] = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "bench: engine %d ended with status %d (its messages in %s)\n", i + 1,
                    status, logs[i]);
            rc = -1;
        }
        log_assignments(logs[i], &out->assigned[i], &out->last_parts[i]);
        out->rebalanced |= out->assigned[i] > 1;
    }
    r->cpu_s = cpu_self_s() - cpu0;
    r->redis_cpu_s = cpu_pid_s(b->redis.pid) - rcpu0;
    if (!rc &&
        (watch_look(&w, r->want) || redis_snap(w.c, &s1) || watch_price(&w, &per_look, &per_pair)))
        rc = -1;
    looks++;
    r->n = w.done;
    r->first = w.first;
    r->stopped = r->stopped && r->n < r->want;
    r->join_s = w.t_first > 0 ? w.t_first - w.t0 : 0;
    r->steady_s = w.t_first > 0 ? (w.t_full > 0 ? w.t_full : w.t_progress) - w.t_first : 0;
    if (!rc && (r->stopped ? r->n > r->want : r->n != r->want)) {
        fprintf(stderr, "bench: %d engines counted %ld events of %ld\n", k, r->n, r->want);
        rc = -1;
    }
    double n = r->n > 0 ? (double)r->n : 1;
    out->raw_in = s1.net_in - s0.net_in;
    out->raw_out = s1.net_out - s0.net_out;
    out->own_in = looks * per_look.net_in + per_pair.net_in;
    out->own_out = looks * per_look.net_out + per_pair.net_out;
    out->net_in = (double)(out->raw_in - out->own_in) / n;
    out->net_out = (double)(out->raw_out - out->own_out) / n;
    for (int i = 0; i < s1.k; i++) {
        if (bench_command(s1.cmd[i].name))
            continue;
        redis_snap_t *d = &out->delta;
        snprintf(d->cmd[d->k].name, sizeof(d->cmd[0].name), "%s", s1.cmd[i].name);
        d->cmd[d->k].calls = s1.cmd[i].calls - snap_of(&s0, s1.cmd[i].name, false);
        d->cmd[d->k].usec = s1.cmd[i].usec - snap_of(&s0, s1.cmd[i].name, true);
        if (!script_command(s1.cmd[i].name)) {
            out->calls += (double)d->cmd[d->k].calls / n;
            out->redis_usec += (double)d->cmd[d->k].usec / n;
        }
        d->k += d->cmd[d->k].calls > 0;
    }
    if (!rc) {
        long long m1 = 0, b1 = 0, m2 = 0, b2 = 0;
        rc = topic_bytes(b->mock.bootstraps, alerts, SCALE_ALERT_PARTS, &m1, &b1) ||
                     topic_bytes(b->mock.bootstraps, high, SCALE_ALERT_PARTS, &m2, &b2)
                 ? -1
                 : 0;
        out->alerts = m1;
        out->alert_msgs = m1 + m2;
        out->alert_bytes = b1 + b2;
    }
    for (int i = 0; !rc && !out->rebalanced && i < started; i++)
        unlink(logs[i]);
    redisFree(w.c);
    unlink(cfg);
    return rc;
}

static void print_scale_run(const scale_run_t *s, double budget_s) {
    const rate_t *r = &s->r;
    double n = r->n > 0 ? (double)r->n : 1, proc = 0, thread = 0;
    for (int i = 0; i < s->engines; i++)
        proc += s->proc_cpu_s[i], thread += s->thread_cpu_s[i];
    printf("%d engine%s  %10.0f events/s  (%s events in %.3f s after a first batch of %s; group "
           "join %.2f s%s; CPU per event: engine processes %.1f us (engine threads %.1f us), "
           "redis-server %.1f us, this process (mock broker) %.1f us; partitions:",
           s->engines, s->engines > 1 ? "s" : " ", rate_of(r), num(r->n - r->first), r->steady_s,
           num(r->first), r->join_s, budget_note(r, budget_s), proc * 1e6 / n, thread * 1e6 / n,
           r->redis_cpu_s * 1e6 / n, r->cpu_s * 1e6 / n);
    for (int i = 0; i < s->engines; i++)
        printf("%s %d (assigned %d time%s)", i ? "," : "", s->last_parts[i], s->assigned[i],
               s->assigned[i] == 1 ? "" : "s");
    printf(")\n");
    if (s->rebalanced) {
        printf("  rebalance: the group rebalanced during this run, and its rate includes the "
               "pause; the engines' logs are kept:");
        for (int i = 0; i < s->engines; i++)
            printf(" %s", s->logs[i]);
        printf("\n");
    }
    fflush(stdout);
}

/* Redis and Kafka traffic per event of one run. */
static void print_scale_traffic(const scale_run_t *s, double in_msgs, double in_bytes) {
    const redis_snap_t *d = &s->delta;
    double n = s->r.n > 0 ? (double)s->r.n : 1;
    printf("  redis    %.3f commands/event sent, %.2f us/event inside them, %.0f bytes in and "
           "%.0f bytes out per event (%d engine%s; of %s in and %s out, the bench's own counter "
           "reads, %s and %s, taken out); by command, per event and per call (* run inside "
           "evalsha, which includes their time):",
           s->calls, s->redis_usec, s->net_in, s->net_out, s->engines, s->engines > 1 ? "s" : "",
           num(s->raw_in), num(s->raw_out), num(s->own_in), num(s->own_out));
    for (int i = 0; i < d->k; i++)
        printf("%s %s%s %.4f %.1f us", i ? "," : "", d->cmd[i].name,
               script_command(d->cmd[i].name) ? "*" : "", (double)d->cmd[i].calls / n,
               d->cmd[i].calls ? (double)d->cmd[i].usec / (double)d->cmd[i].calls : 0);
    printf("\n  kafka    in %.0f bytes/event (value + key, %s messages); out %.3f alert messages "
           "per event (%s on the alert topic, the rest high ones copied to the high topic), "
           "%.0f bytes each, %.1f bytes/event\n",
           in_bytes / in_msgs, num((long long)in_msgs), (double)s->alert_msgs / n, num(s->alerts),
           s->alert_msgs ? (double)s->alert_bytes / (double)s->alert_msgs : 0,
           (double)s->alert_bytes / n);
    fflush(stdout);
}

/* One engine process, then SCALE_MAX in one group, on the same N events,
 * RW_BENCH_SCALE_RUNS times in turn; the median rate of each. */
static int phase_scale(bench_t *b) {
    long long in_msgs, in_bytes;
    if (topic_bytes(b->mock.bootstraps, TOPIC, b->parts, &in_msgs, &in_bytes))
        return -1;
    printf("scaling    engines as `riskwarn run` processes in one group, %d run%s of each case, "
           "load average %s at the start\n",
           b->scale_runs, b->scale_runs > 1 ? "s" : "", loadavg());
    double rates[2][16];
    for (int run = 0; run < b->scale_runs; run++)
        for (int c = 0; c < 2; c++) {
            scale_run_t *s = &b->scale[c];
            if (scale_case(b, c ? SCALE_MAX : 1, 2 * run + c, s))
                return -1;
            rates[c][run] = rate_of(&s->r);
            b->scale_rebalanced += s->rebalanced;
            print_scale_run(s, b->budget_s);
            if (run == b->scale_runs - 1)
                print_scale_traffic(s, (double)in_msgs, (double)in_bytes);
        }
    for (int c = 0; c < 2; c++)
        b->scale_rate[c] = rates[c][median_of(rates[c], b->scale_runs)];
    printf("scaling    %d engines %.0f events/s against 1 engine %.0f events/s: ratio %.2f "
           "(medians of %d run%s; load average %s at the end, on %ld cores%s)\n",
           SCALE_MAX, b->scale_rate[1], b->scale_rate[0],
           b->scale_rate[0] > 0 ? b->scale_rate[1] / b->scale_rate[0] : 0, b->scale_runs,
           b->scale_runs > 1 ? "s" : "", loadavg(), sysconf(_SC_NPROCESSORS_ONLN),
           b->scale_rebalanced ? "; a rebalance paused a run: see its line" : "");
    fflush(stdout);
    return 0;
}

/* One row of the table; the value is formatted. Pads by characters, not bytes. */
static void row(const char *figure, const char *target, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void row(const char *figure, const char *target, const char *fmt, ...) {
    char value[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    int extra = 0; /* UTF-8 continuation bytes take no column */
    for (const char *p = figure; *p; p++)
        extra += ((unsigned char)*p & 0xc0) == 0x80;
    printf("%-*s %-24s %s\n", 32 + extra, figure, value, target);
}

static void print_table(const bench_t *b) {
    double eng = rate_of(&b->eng), ceiling = rate_of(&b->ceiling), spread = rate_of(&b->spread);
    const char *budget = " (budget)";
    printf("\n");
    row("figure", "target", "value");
    row("engine events/s", ">= 150,000", "%s%s", num(llround(eng)), b->eng.stopped ? budget : "");
    row("raw consume/s", "", "%s", num(llround(rate_of(&b->raw))));
    row("ceiling (consume+parse)/s", "", "%s", num(llround(ceiling)));
    row("engine / ceiling", ">= 0.6", "%.3g", ceiling > 0 ? eng / ceiling : 0);
    row("spread keys events/s", "", "%s%s", num(llround(spread)), b->spread.stopped ? budget : "");
    row("hot key events/s", "", "%s%s", num(llround(rate_of(&b->hot))),
        b->hot.stopped ? budget : "");
    row("hot key / spread", ">= 0.5", "%.3g", spread > 0 ? rate_of(&b->hot) / spread : 0);
    row("replay events/s (default pack)", ">= 300,000", "%s%s",
        num(llround(replay_rate(&b->replay))), b->replay.stopped ? budget : "");
    if (b->lat.ran)
        row("latency p50 / p99 ms", "p99 <= 20", "%.1f / %.1f", b->lat.p50_ms, b->lat.p99_ms);
    else
        row("latency p50 / p99 ms", "p99 <= 20", "not measured");
    row("peak RSS MB (engine phase)", "", "%.0f (+%.0f)", b->rss_peak, b->rss_peak - b->rss_before);
    row("redis CPU µs/event", "<= 3.5 (a third of 10.5)", "%.1f",
        b->eng.n ? b->eng.redis_cpu_s * 1e6 / (double)b->eng.n : 0);
    row("1 engine process events/s", "", "%s", num(llround(b->scale_rate[0])));
    row("2 engine processes events/s", "", "%s", num(llround(b->scale_rate[1])));
    row("2 engines / 1", "", "%.2f%s",
        b->scale_rate[0] > 0 ? b->scale_rate[1] / b->scale_rate[0] : 0,
        b->scale_rebalanced ? " (a rebalance)" : "");
    row("fixed loop per core, start", "", "%s", b->cores_start);
    row("fixed loop per core, end", "", "%s", b->cores_end);
    if (b->eng.stopped || b->spread.stopped || b->hot.stopped || b->replay.stopped)
        printf("(budget): stopped at its time budget; the rate is that of the events done\n");
}

int main(void) {
    rw_jarena_install(); /* as bin/riskwarn does: events parsed into per-batch arenas */
    bench_t *b = rw_calloc(1, sizeof(*b));
    double n, runs, replay_runs, pushes;
    if (env_number("RW_BENCH_N", 200000, 1000, 100000000, &n) ||
        env_number("RW_BENCH_BUDGET_S", 60, 1, 3600, &b->budget_s) ||
        env_number("RW_BENCH_HOT_BUDGET_S", 60, 1, 3600, &b->hot_budget_s) ||
        env_number("RW_BENCH_LAT_S", 10, 1, 600, &b->lat_s) ||
        env_number("RW_BENCH_SCALE_RUNS", 1, 1, 15, &runs) ||
        env_number("RW_BENCH_REPLAY_RUNS", 3, 1, REPLAY_RUNS_MAX, &replay_runs) ||
        env_number("RW_BENCH_LAT_RATE", 30000, 1, 10000000, &b->lat_rate) ||
        env_number("RW_BENCH_LAT_FLOOR_US", 0, 0, 1000, &b->lat_floor.us) ||
        env_number("RW_BENCH_LAT_FLOOR_PUSHES", 2, 0, 8, &pushes) ||
        env_number("RW_BENCH_LAT_FLOOR_AHEAD_US", -1, -1, 1000, &b->lat_floor.ahead_us)) {
        free(b);
        return 2;
    }
    b->scale_runs = (int)runs;
    b->replay_runs = (int)replay_runs;
    const char *only = getenv("RW_BENCH_ONLY");
    if (only && *only && strcmp(only, "scale") != 0 && strcmp(only, "latency") != 0 &&
        strcmp(only, "engine") != 0 && strcmp(only, "replay") != 0) {
        fprintf(stderr,
                "bench: RW_BENCH_ONLY=%s: the parts that run alone are engine, scale, latency "
                "and replay\n",
                only);
        free(b);
        return 2;
    }
    b->scale_only = only && strcmp(only, "scale") == 0;
    b->latency_only = only && strcmp(only, "latency") == 0;
    b->engine_only = only && strcmp(only, "engine") == 0;
    b->replay_only = only && strcmp(only, "replay") == 0;
    const char *relay_env = getenv("RW_BENCH_LAT_FLOOR");
    b->lat_floor.on = relay_env && *relay_env && strcmp(relay_env, "0") != 0;
    b->lat_floor.pushes = (int)pushes;
    if (b->lat_floor.on && !b->latency_only) {
        fprintf(stderr, "bench: RW_BENCH_LAT_FLOOR goes with RW_BENCH_ONLY=latency: the floor "
                        "relay measures the apparatus, not the engine\n");
        free(b);
        return 2;
    }
    b->scale = rw_calloc(2, sizeof(*b->scale));
    b->n = (long)n;
    b->parts = partitions_for(b->n, 260);
    snprintf(b->rules, sizeof(b->rules), "/tmp/rw-bench-rules-XXXXXX.json");
    snprintf(b->hot_rules, sizeof(b->hot_rules), "/tmp/rw-bench-hot-XXXXXX.json");

    rw_log_level = RW_LOG_WARN;
    rw_error_t err;
    rw_error_clear(&err);
    int rc = 1;
    b->g = rw_calloc(1, sizeof(*b->g));
    if (rw_mock_start(&b->mock, 1, &err)) {
        fprintf(stderr, "bench: %s\n", err.text);
        free(b->g);
        free(b);
        return 1;
    }
    if (mock_nodelay(b->mock.bootstraps) < 1) {
        fprintf(stderr, "bench: cannot find the mock broker's listening socket\n");
        goto done;
    }
    if (make_topic(&b->mock, TOPIC, b->parts) || make_topic(&b->mock, "risk.alerts", 1) ||
        make_topic(&b->mock, "risk.alerts.high", 1) || make_topic(&b->mock, "risk.deadletter", 1))
        goto done;
    if (rw_proc_redis_start(&b->redis, NULL, 10000, &err)) {
        fprintf(stderr, "bench: %s\n", err.text);
        goto done;
    }
    b->have_rules = write_tmp(b->rules, 5, ruleset) == 0;
    b->have_hot_rules = b->have_rules && write_tmp(b->hot_rules, 5, hot_ruleset) == 0;
    if (!b->have_hot_rules)
        goto done;

    printf("riskwarn bench: mock Kafka (1 broker, %s with %d partitions), redis-server :%d\n",
           TOPIC, b->parts, b->redis.port);
    cores_probe(b->cores_start, sizeof(b->cores_start));
    printf("cores      a fixed loop of %lu multiplications took %s of CPU (the same on equal "
           "cores)\n",
           CORE_LOOP, b->cores_start);
    fflush(stdout);
    gen_init(b->g);
    if (b->scale_only) {
        if (phase_produce(b) || phase_scale(b))
            goto done;
    } else if (b->engine_only) {
        if (phase_produce(b) || phase_consume(b) || phase_engine(b))
            goto done;
    } else if (b->latency_only) {
        if (phase_latency(b))
            goto done;
    } else if (b->replay_only) {
        if (phase_replay(b))
            goto done;
    } else {
        if (phase_produce(b) || phase_consume(b) || phase_engine(b) || phase_latency(b) ||
            phase_hot(b) || phase_replay(b) || phase_scale(b))
            goto done;
        cores_probe(b->cores_end, sizeof(b->cores_end));
        print_table(b);
    }
    rc = 0;
done:
    fflush(stdout);
    if (b->have_rules)
        unlink(b->rules);
    if (b->have_hot_rules)
        unlink(b->hot_rules);
    if (b->redis.pid > 0)
        rw_proc_redis_stop(&b->redis);
    rw_mock_stop(&b->mock);
    free(b->scale);
    free(b->g);
    free(b);
    return rc;
}

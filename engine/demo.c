/* riskwarn demo: the embedded default. Starts an in-process Kafka cluster and a
 * redis-server on a free port, runs the engine on the default rule pack, streams
 * the sample events, shows alerts as they arrive and the day's counters, then
 * stops everything it started. */
#include "alert.h"
#include "commands.h"
#include "engine.h"
#include "kafka.h"
#include "log.h"
#include "mock.h"
#include "proc.h"
#include "pseudonym.h"
#include "rcluster.h"
#include "store.h"

#include <hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct demo {
    rw_config_t cfg;
    rw_engine_ctl_t ctl;
    int engine_rc;
    pthread_t engine;
} demo_t;

static void *engine_thread(void *arg) {
    demo_t *d = arg;
    d->engine_rc = rw_engine_run(&d->cfg, &d->ctl);
    return NULL;
}

/* Sums every field of every {rw}:events:* hash: messages the engine finished. */
static long long processed(redisContext *c) {
    long long total = 0;
    redisReply *keys = redisCommand(c, "KEYS {rw}:events:*");
    if (!keys || keys->type != REDIS_REPLY_ARRAY) {
        if (keys)
            freeReplyObject(keys);
        return -1;
    }
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *h = redisCommand(c, "HVALS %s", keys->element[i]->str);
        for (size_t j = 0; h && h->type == REDIS_REPLY_ARRAY && j < h->elements; j++)
            total += strtoll(h->element[j]->str, NULL, 10);
        if (h)
            freeReplyObject(h);
    }
    freeReplyObject(keys);
    return total;
}

static rd_kafka_t *tail_consumer(const char *brokers, const char *topic) {
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rw_kafka_conf_log(conf);
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "riskwarn-demo-tail", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!c) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    return c;
}

/* Loads the demo's watchlist into the Redis set the default pack reads. The pack looks up
 * counterparties, a masked field: the set holds their pseudonyms (pseudonym.h), as the
 * engine looks them up, never the numbers themselves. */
static long seed_watchlist(redisContext *c, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[512];
    long n = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        char ref[RW_PSEUDONYM_LEN + 1];
        rw_pseudonym(line, strlen(line), ref);
        redisReply *r = redisCommand(c, "SADD rw:list:counterparty-watchlist %s", ref);
        if (r) {
            n++;
            freeReplyObject(r);
        }
    }
    fclose(f);
    return n;
}

/* What an alert line says, printed before the feed. */
static const char legend[] =
    "\nHow to read an alert line:\n"
    "  LEVEL  TIME  EVENT-TYPE  EVENT-ID  key=FIELD:MASKED-VALUE  rule[level]=measure (level at "
    "threshold), ...\n"
    "  - the alert's LEVEL is the highest level any of its rules reached;\n"
    "  - rule[level]=measure (level at threshold): the rule measured this (an amount, a count or\n"
    "    sum over its window, hours past a deadline) and reached `level` because the measure\n"
    "    passed that level's threshold;\n"
    "  - TIME is the event's own time (event time, not the clock). A deadline alert fires when\n"
    "    the stream's event time passes its deadline: its TIME is that moment, and \"case "
    "opened\"\n"
    "    names the event that opened the case, days earlier;\n"
    "  - lines come as the engine publishes them: it reads the input partitions side by side,\n"
    "    so times of different accounts interleave; one account's (one partition's) are in order;\n"
    "  - accounts and other personal fields are masked.\n"
    "The feed shows the first alert of each rule at each level; the rest are counted.\n\n";

/* The live feed: an alert in full when it shows a rule at a level for the
 * first time, the others as a running count. */
typedef struct feed {
    bool quiet, tty;
    char **seen; /* "rule[level]" already shown */
    size_t n_seen;
    long long alerts, by_level[RW_LEVELS], shown;
    int64_t status_at; /* monotonic ms of the last count printed */
    rw_buf_t line;
} feed_t;

static void feed_init(feed_t *f, bool quiet) {
    memset(f, 0, sizeof(*f));
    f->quiet = quiet;
    f->tty = isatty(1);
    f->status_at = rw_monotonic_ms();
    rw_buf_init(&f->line);
}

/* Whether the alert shows a rule at a level not seen yet (and marks them seen). */
static bool feed_new(feed_t *f, json_t *a) {
    bool fresh = false;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(a, "rules"), i, r) {
        char pair[300];
        snprintf(pair, sizeof(pair), "%s[%s]", json_string_value(json_object_get(r, "id")) ?: "?",
                 json_string_value(json_object_get(r, "level")) ?: "?");
        size_t k = 0;
        while (k < f->n_seen && strcmp(f->seen[k], pair) != 0)
            k++;
        if (k < f->n_seen)
            continue;
        f->seen = rw_realloc(f->seen, (f->n_seen + 1) * sizeof(*f->seen));
        f->seen[f->n_seen++] = rw_strdup(pair);
        fresh = true;
    }
    return fresh;
}

static void feed_count(feed_t *f, bool final) {
    if (f->quiet)
        return;
    int64_t now = rw_monotonic_ms();
    if (!final && now - f->status_at < (f->tty ? 100 : 5000))
        return;
    f->status_at = now;
    printf("%s  ... %lld alerts so far (low %lld, medium %lld, high %lld), %lld shown above%s",
           f->tty ? "\r\033[K" : "", f->alerts, f->by_level[1], f->by_level[2], f->by_level[3],
           f->shown, f->tty && !final ? "" : "\n");
    fflush(stdout);
}

static void feed_alert(feed_t *f, const char *json, size_t len) {
    rw_buf_reset(&f->line);
    if (rw_alert_line(json, len, f->tty, &f->line) != 0)
        return;
    json_t *a = json_loadb(json, len, 0, NULL);
    int l = rw_level_parse(json_string_value(json_object_get(a, "level")) ?: "none");
    f->alerts++;
    if (l > 0)
        f->by_level[l]++;
    if (feed_new(f, a) && !f->quiet) {
        f->shown++;
        printf("%s%s\n", f->tty ? "\r\033[K" : "", rw_buf_cstr(&f->line));
        if (f->tty)
            f->status_at = 0; /* the count line follows at once */
    }
    json_decref(a);
    feed_count(f, false);
}

static void feed_end(feed_t *f, bool done) {
    if (!f->quiet && f->tty)
        printf("\r\033[K");
    printf("\n%lld alerts: low %lld, medium %lld, high %lld%s", f->alerts, f->by_level[1],
           f->by_level[2], f->by_level[3], done ? "" : " (stopped before the end)");
    if (!f->quiet)
        printf("; %lld shown above (the first of each rule at each level)", f->shown);
    printf("\n");
    for (size_t i = 0; i < f->n_seen; i++)
        free(f->seen[i]);
    free(f->seen);
    rw_buf_fini(&f->line);
}

enum { DEMO_EVENTS = RW_CLI_ID, DEMO_RULES, DEMO_QUIET };

const rw_cli_opt_t rw_demo_opts[] = {
    {DEMO_EVENTS, "events", "FILE", "the events to stream (data/demo/events.jsonl)"},
    {DEMO_RULES, "rules", "FILE", "the ruleset (rules/packs/default.json)"},
    {DEMO_QUIET, "quiet", NULL, "no live feed: only the totals and the tables"},
    {0, NULL, NULL, NULL}};

/* Streams the sample events and the malformed lines to the cluster at bootstraps
 * and says so; returns how many messages went out. */
static long demo_stream(const char *bootstraps, const char *events, const char *bad, bool quiet) {
    char err[512];
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    rw_kafka_conf_log(pc);
    rd_kafka_conf_set(pc, "bootstrap.servers", bootstraps, err, sizeof(err));
    rd_kafka_conf_set(pc, "linger.ms", "5", err, sizeof(err));
    rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
    long sent = 0, n1 = rw_mock_produce_file(prod, events, NULL),
         n2 = rw_mock_produce_file(prod, bad, NULL);
    if (n1 > 0)
        sent += n1;
    if (n2 > 0)
        sent += n2;
    rd_kafka_flush(prod, 10000);
    rd_kafka_destroy(prod);
    printf("streamed %ld messages (%ld events, %ld malformed for the dead-letter topic)\n", sent,
           n1, n2);
    if (!quiet)
        fputs(legend, stdout);
    fflush(stdout);
    return sent;
}

/* Feeds the alerts tail reads to f until every one of the sent messages is
 * counted and every alert shown (true), or a signal, the engine's failure or
 * two minutes stop it (false). */
static bool demo_watch(rd_kafka_t *tail, feed_t *f, const demo_t *d, redisContext *rc, long sent) {
    atomic_int *stop = rw_stop_flag();
    int64_t deadline = rw_monotonic_ms() + 120000;
    bool done = false;
    while (!atomic_load(stop) && rw_monotonic_ms() < deadline && d->engine_rc == 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(tail, 200);
        if (m) {
            if (!m->err)
                feed_alert(f, m->payload, m->len);
            rd_kafka_message_destroy(m);
            continue;
        }
        /* Idle: finished when every message is counted and every alert shown. */
        if (done)
            break;
        if (rc && processed(rc) >= sent) {
            int64_t lo, hi;
            if (rd_kafka_query_watermark_offsets(tail, "risk.alerts", 0, &lo, &hi, 2000) == 0 &&
                f->alerts >= hi - lo)
                done = true;
        }
    }
    return done;
}

int rw_cmd_demo(int argc, char **argv) {
    const char *events = "data/demo/events.jsonl", *bad = "data/demo/bad.jsonl";
    const char *watchlist = "data/demo/watchlist.txt";
    const char *rules = "rules/packs/default.json";
    bool quiet = false;
    rw_cli_t cli;
    rw_cli_init(&cli, "demo", rw_demo_opts);
    for (int o; (o = rw_cli_next(&cli, argc, argv)) != RW_CLI_END;) {
        if (o == RW_CLI_HELP)
            return rw_help("demo");
        else if (o == DEMO_EVENTS)
            events = cli.arg;
        else if (o == DEMO_RULES)
            rules = cli.arg;
        else if (o == DEMO_QUIET)
            quiet = true;
        else
            return rw_usage("demo");
    }
    if (optind < argc)
        return rw_usage("demo");
    if (access(events, R_OK) != 0 || access(rules, R_OK) != 0) {
        fprintf(stderr, "riskwarn demo: run it from the riskwarn directory (needs %s and %s)\n",
                events, rules);
        return RW_EXIT_USAGE;
    }
    rw_signals_install();
    rw_error_t e;
    rw_error_clear(&e);
    rw_mock_t mock;
    rw_redis_server_t redis;
    if (rw_mock_start(&mock, 3, &e)) {
        fprintf(stderr, "riskwarn demo: %s\n", e.text);
        return RW_EXIT_RUNTIME;
    }
    static const char *const topics[] = {"events.transactions:4", "events.service:1",
                                         "risk.alerts:1",         "risk.alerts.high:1",
                                         "risk.deadletter:1",     NULL};
    for (size_t i = 0; topics[i]; i++)
        rw_mock_topic(&mock, topics[i], &e);
    if (rw_proc_redis_start(&redis, NULL, 10000, &e)) {
        fprintf(stderr, "riskwarn demo: %s\n", e.text);
        rw_mock_stop(&mock);
        return RW_EXIT_RUNTIME;
    }
    rw_redis_opts_t ro = {"127.0.0.1", redis.port, NULL, NULL, 0, "rw:", "demo", 2000, 0};
    redisContext *rc = rw_store_redis_connect(&ro, &e);
    long listed = rc ? seed_watchlist(rc, watchlist) : 0;
    int metrics_port = rw_proc_free_port();
    printf("riskwarn demo\n  Kafka (in-process mock cluster): %s\n  Redis: 127.0.0.1:%d\n"
           "  metrics: http://127.0.0.1:%d/metrics and /healthz, while the demo runs\n"
           "  rules: %s\n  events: %s and %s\n  watchlist: %ld counterparties from %s in "
           "rw:list:counterparty-watchlist\n\n",
           mock.bootstraps, redis.port, metrics_port, rules, events, bad, listed, watchlist);
    fflush(stdout);

    demo_t d;
    memset(&d, 0, sizeof(d));
    rw_config_init(&d.cfg);
    rw_config_set(&d.cfg.brokers, mock.bootstraps);
    rw_config_set(&d.cfg.rules, rules);
    rw_config_set(&d.cfg.group_id, "riskwarn-demo");
    d.cfg.redis_port = redis.port;
    /* A port of its own: another engine on this machine may hold 9464. */
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", metrics_port);
    rw_config_set(&d.cfg.metrics_listen, metrics_port > 0 ? listen : NULL);
    if (!getenv("RW_LOG") && rw_log_level > RW_LOG_WARN)
        rw_log_level = RW_LOG_WARN; /* the alerts are the show; RW_LOG=info for more */
    pthread_create(&d.engine, NULL, engine_thread, &d);

    long sent = demo_stream(mock.bootstraps, events, bad, quiet);

    rd_kafka_t *tail = tail_consumer(mock.bootstraps, "risk.alerts");
    feed_t f;
    feed_init(&f, quiet);
    bool done = demo_watch(tail, &f, &d, rc, sent);
    feed_end(&f, done);
    if (rc) {
        printf("\nWhat dashboards read in Redis (riskwarn stats --date all):\n\n");
        rw_rcluster_t *sc = rw_store_redis_open(&ro, NULL, 0);
        rw_stats_print(sc, "rw:", "*", 25, stdout);
        rw_rcluster_destroy(sc);
        redisFree(rc);
    }
    atomic_store(&d.ctl.stop, 1);
    pthread_join(d.engine, NULL);
    rd_kafka_consumer_close(tail);
    rd_kafka_destroy(tail);
    rw_config_fini(&d.cfg);
    rw_proc_redis_stop(&redis);
    rw_mock_stop(&mock);
    printf("\nstopped the engine, redis-server and the Kafka cluster.\n");
    return done && d.engine_rc == 0 ? RW_EXIT_OK : RW_EXIT_RUNTIME;
}

/* riskwarn demo: the embedded default. Starts an in-process Kafka cluster and a
 * redis-server on a free port, runs the engine on the default rule pack, streams
 * the sample events, shows alerts as they arrive and the day's counters, then
 * stops everything it started. */
#include "commands.h"
#include "engine.h"
#include "format.h"
#include "mock.h"
#include "proc.h"
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

/* Sums every field of every rw:events:* hash: messages the engine finished. */
static long long processed(redisContext *c) {
    long long total = 0;
    redisReply *keys = redisCommand(c, "KEYS rw:events:*");
    if (!keys || keys->type != REDIS_REPLY_ARRAY) {
        if (keys)
            freeReplyObject(keys);
        return -1;
    }
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *h = redisCommand(c, "HVALS %s", keys->element[i]->str);
        for (size_t j = 0; h && h->type == REDIS_REPLY_ARRAY && j < h->elements; j++)
            total += atoll(h->element[j]->str);
        if (h)
            freeReplyObject(h);
    }
    freeReplyObject(keys);
    return total;
}

static rd_kafka_t *tail_consumer(const char *brokers, const char *topic) {
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
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

/* Loads the demo's watchlist into the Redis set the default pack reads. */
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
        redisReply *r = redisCommand(c, "SADD rw:list:counterparty-watchlist %s", line);
        if (r) {
            n++;
            freeReplyObject(r);
        }
    }
    fclose(f);
    return n;
}

enum { DEMO_EVENTS = RW_CLI_ID, DEMO_RULES, DEMO_QUIET };

const rw_cli_opt_t rw_demo_opts[] = {
    {DEMO_EVENTS, "events", "FILE", "the events to stream (data/demo/events.jsonl)"},
    {DEMO_RULES, "rules", "FILE", "the ruleset (rules/packs/default.json)"},
    {DEMO_QUIET, "quiet", NULL, "no live feed: only the totals and the tables"},
    {0, NULL, NULL, NULL}};

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
    atomic_int *stop = rw_stop_flag();
    char err[512];
    rw_mock_t mock;
    rw_redis_server_t redis;
    if (rw_mock_start(&mock, 3, err, sizeof(err))) {
        fprintf(stderr, "riskwarn demo: %s\n", err);
        return RW_EXIT_RUNTIME;
    }
    static const char *const topics[] = {"events.transactions:4", "events.service:1",
                                         "risk.alerts:1",         "risk.alerts.high:1",
                                         "risk.deadletter:1",     NULL};
    for (size_t i = 0; topics[i]; i++)
        rw_mock_topic(&mock, topics[i], err, sizeof(err));
    if (rw_redis_server_start(&redis, NULL, 10000, err, sizeof(err))) {
        fprintf(stderr, "riskwarn demo: %s\n", err);
        rw_mock_stop(&mock);
        return RW_EXIT_RUNTIME;
    }
    rw_redis_opts_t ro = {"127.0.0.1", redis.port, NULL, NULL, 0, "rw:", "demo", 2000};
    redisContext *rc = rw_redis_connect(&ro, err, sizeof(err));
    long listed = rc ? seed_watchlist(rc, watchlist) : 0;
    printf("riskwarn demo\n  Kafka (in-process mock cluster): %s\n  Redis: 127.0.0.1:%d\n"
           "  rules: %s\n  events: %s and %s\n  watchlist: %ld counterparties from %s in "
           "rw:list:counterparty-watchlist\n\n",
           mock.bootstraps, redis.port, rules, events, bad, listed, watchlist);
    fflush(stdout);

    demo_t d;
    memset(&d, 0, sizeof(d));
    rw_config_init(&d.cfg);
    rw_config_set(&d.cfg.brokers, mock.bootstraps);
    rw_config_set(&d.cfg.rules, rules);
    rw_config_set(&d.cfg.group_id, "riskwarn-demo");
    d.cfg.redis_port = redis.port;
    if (!getenv("RW_LOG") && rw_log_level > RW_LOG_WARN)
        rw_log_level = RW_LOG_WARN; /* the alerts are the show; RW_LOG=info for more */
    pthread_create(&d.engine, NULL, engine_thread, &d);

    /* Stream the sample events. */
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    rd_kafka_conf_set(pc, "bootstrap.servers", mock.bootstraps, err, sizeof(err));
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
    printf("streamed %ld messages (%ld events, %ld malformed for the dead-letter topic); "
           "alerts as they arrive:\n\n",
           sent, n1, n2);
    fflush(stdout);

    rd_kafka_t *tail = tail_consumer(mock.bootstraps, "risk.alerts");
    bool color = isatty(1);
    long long alerts = 0, by_level[4] = {0};
    int64_t deadline = rw_monotonic_ms() + 120000;
    bool done = false;
    rw_buf_t line;
    rw_buf_init(&line);
    while (!atomic_load(stop) && rw_monotonic_ms() < deadline && d.engine_rc == 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(tail, 200);
        if (m) {
            if (!m->err) {
                rw_buf_reset(&line);
                if (rw_alert_line(m->payload, m->len, color, &line) == 0) {
                    if (!quiet)
                        printf("%s\n", rw_buf_cstr(&line));
                    alerts++;
                    json_t *a = json_loadb(m->payload, m->len, 0, NULL);
                    int l =
                        rw_level_parse(json_string_value(json_object_get(a, "level")) ?: "none");
                    if (l > 0)
                        by_level[l]++;
                    json_decref(a);
                }
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        /* Idle: finished when every message is counted and every alert shown. */
        if (done)
            break;
        if (rc && processed(rc) >= sent) {
            int64_t lo, hi;
            if (rd_kafka_query_watermark_offsets(tail, "risk.alerts", 0, &lo, &hi, 2000) == 0 &&
                alerts >= hi - lo)
                done = true;
        }
    }
    rw_buf_fini(&line);
    printf("\n%lld alerts: low %lld, medium %lld, high %lld%s\n", alerts, by_level[1], by_level[2],
           by_level[3], done ? "" : " (stopped before the end)");
    if (rc) {
        printf("\nWhat dashboards read in Redis (riskwarn stats --date all):\n\n");
        rw_stats_print(rc, "rw:", "*", 25, stdout);
        redisFree(rc);
    }
    atomic_store(&d.ctl.stop, 1);
    pthread_join(d.engine, NULL);
    rd_kafka_consumer_close(tail);
    rd_kafka_destroy(tail);
    rw_config_fini(&d.cfg);
    rw_redis_server_stop(&redis);
    rw_mock_stop(&mock);
    printf("\nstopped the engine, redis-server and the Kafka cluster.\n");
    return done && d.engine_rc == 0 ? RW_EXIT_OK : RW_EXIT_RUNTIME;
}

/* riskwarn tail: follows the alert topic for people. */
#include "alert.h"
#include "commands.h"
#include "config.h"
#include "engine.h"
#include "ruleset.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The level of an alert's JSON text; RW_LEVEL_NONE when it has none. */
static int alert_level(const char *json, size_t len) {
    json_t *a = json_loadb(json, len, 0, NULL);
    const char *l = json_string_value(json_object_get(a, "level"));
    int level = l ? rw_level_parse(l) : -1;
    json_decref(a);
    return level < 0 ? RW_LEVEL_NONE : level;
}

/* Assigns every partition of topic, from the start or from the end. Returns
 * the partition count, or -1. */
static int assign_all(rd_kafka_t *c, const char *topic, bool from_beginning) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(c, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        fprintf(stderr, "riskwarn tail: %s: %s\n", topic,
                rd_kafka_err2str(err             ? err
                                 : md->topic_cnt ? md->topics[0].err
                                                 : err));
        if (md)
            rd_kafka_metadata_destroy(md);
        return -1;
    }
    int parts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int i = 0; i < parts; i++)
        rd_kafka_topic_partition_list_add(l, topic, i)->offset =
            from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    return parts;
}

enum {
    TAIL_BROKERS = RW_CLI_ID,
    TAIL_TOPIC,
    TAIL_LEVEL,
    TAIL_BEGIN,
    TAIL_JSON,
    TAIL_HIGH,
    TAIL_END
};

const rw_cli_opt_t rw_tail_opts[] = {
    {TAIL_BROKERS, "brokers", "LIST", "Kafka bootstrap servers, instead of the config's"},
    {'c', "config", "ENGINE.json", "brokers, topics and Kafka properties from an engine config"},
    {TAIL_TOPIC, "topic", "T", "the topic to follow (the config's alert topic, risk.alerts)"},
    {TAIL_HIGH, "high", NULL, "follow the high-alert topic (risk.alerts.high)"},
    {TAIL_LEVEL, "level", "L", "only alerts at level L or above: low, medium or high"},
    {TAIL_BEGIN, "from-beginning", NULL, "start at the oldest alert kept, not at the end"},
    {TAIL_JSON, "json", NULL, "print each alert's JSON as it is on the topic"},
    {TAIL_END, "until-end", NULL, "stop once every partition is read to its end"},
    {0, NULL, NULL, NULL}};

/* Prints the alerts at min_level or above that c reads from its parts partitions
 * until a signal stops it or, with until_end, every partition is read to its end. */
static void tail_follow(rd_kafka_t *c, int parts, int min_level, bool as_json, bool until_end) {
    rw_signals_install();
    atomic_int *stop = rw_stop_flag();
    bool color = !as_json && isatty(1);
    bool *eof = rw_calloc((size_t)parts, sizeof(bool)); /* partitions read to their end */
    rw_buf_t line;
    rw_buf_init(&line);
    while (!atomic_load(stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m)
            continue;
        if (m->partition >= 0 && m->partition < parts)
            eof[m->partition] = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            int done = 0;
            for (int i = 0; i < parts; i++)
                done += eof[i];
            if (until_end && done == parts)
                break;
            continue;
        }
        if (!m->err && alert_level(m->payload, m->len) >= min_level) {
            if (as_json) {
                fwrite(m->payload, 1, m->len, stdout);
                fputc('\n', stdout);
            } else {
                rw_buf_reset(&line);
                if (rw_alert_line(m->payload, m->len, color, &line) == 0)
                    printf("%s\n", rw_buf_cstr(&line));
            }
            fflush(stdout);
        }
        rd_kafka_message_destroy(m);
    }
    rw_buf_fini(&line);
    free(eof);
}

int rw_cmd_tail(int argc, char **argv) {
    const char *brokers = NULL, *cfg_path = NULL, *topic = NULL;
    int min_level = RW_LEVEL_LOW;
    bool from_beginning = false, as_json = false, high = false, until_end = false;
    rw_cli_t cli;
    rw_cli_init(&cli, "tail", rw_tail_opts);
    for (int o; (o = rw_cli_next(&cli, argc, argv)) != RW_CLI_END;) {
        if (o == RW_CLI_HELP)
            return rw_help("tail");
        else if (o == TAIL_BROKERS)
            brokers = cli.arg;
        else if (o == 'c')
            cfg_path = cli.arg;
        else if (o == TAIL_TOPIC)
            topic = cli.arg;
        else if (o == TAIL_LEVEL) {
            min_level = rw_level_parse(cli.arg);
            if (min_level <= RW_LEVEL_NONE) {
                rw_cli_refuse(&cli, "low, medium or high");
                return RW_EXIT_USAGE;
            }
        } else if (o == TAIL_BEGIN)
            from_beginning = true;
        else if (o == TAIL_JSON)
            as_json = true;
        else if (o == TAIL_HIGH)
            high = true;
        else if (o == TAIL_END)
            until_end = true;
        else
            return rw_usage("tail");
    }
    if (optind < argc)
        return rw_usage("tail");
    rw_config_t cfg;
    rw_config_init(&cfg);
    int rc = RW_EXIT_USAGE;
    rd_kafka_t *c = NULL;
    char err[512];
    rw_error_t cerr;
    rw_error_clear(&cerr);
    if (cfg_path && rw_config_load(&cfg, cfg_path, &cerr)) {
        rw_error_format(&cerr, err, sizeof(err));
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    if (brokers)
        rw_config_set(&cfg.brokers, brokers);
    if (!topic)
        topic = high ? cfg.high_alert_topic : cfg.alert_topic;
    rd_kafka_conf_t *conf = rw_kafka_conf_new(&cfg, &cerr);
    if (!conf) {
        fprintf(stderr, "riskwarn tail: %s\n", cerr.text);
        goto out;
    }
    rd_kafka_conf_set(conf, "group.id", "riskwarn-tail", NULL, 0);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", NULL, 0);
    c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!c) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "riskwarn tail: %s\n", err);
        goto out;
    }
    rd_kafka_poll_set_consumer(c);
    int parts = assign_all(c, topic, from_beginning);
    if (parts < 0) {
        rc = RW_EXIT_RUNTIME;
        goto out;
    }
    tail_follow(c, parts, min_level, as_json, until_end);
    rc = RW_EXIT_OK;
out:
    if (c) {
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
    }
    rw_config_fini(&cfg);
    return rc;
}

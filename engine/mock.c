#include "mock.h"

#include "kafka.h"
#include "log.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rw_mock_start(rw_mock_t *m, int brokers, rw_error_t *err) {
    memset(m, 0, sizeof(*m));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The cluster needs a handle to live in; a producer that never sends. */
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    rw_kafka_conf_log(conf);
    char e[512];
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (!m->rk) {
        rd_kafka_conf_destroy(conf);
        return rw_error_fail(err, RW_ERR_KAFKA, "%s", e);
    }
    m->cluster = rd_kafka_mock_cluster_new(m->rk, brokers > 0 ? brokers : 1);
    if (!m->cluster) {
        rd_kafka_destroy(m->rk);
        m->rk = NULL;
        return rw_error_fail(err, RW_ERR_KAFKA, "cannot start the mock Kafka cluster");
    }
    snprintf(m->bootstraps, sizeof(m->bootstraps), "%s",
             rd_kafka_mock_cluster_bootstraps(m->cluster));
    return 0;
}

int rw_mock_topic(rw_mock_t *m, const char *spec, rw_error_t *err) {
    char name[256];
    int parts = 1;
    const char *colon = strrchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (len == 0 || len >= sizeof(name))
        return rw_error_fail(err, RW_ERR_INPUT, "bad topic \"%s\" (use NAME or NAME:PARTITIONS)",
                             spec);
    memcpy(name, spec, len);
    name[len] = 0;
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p < 1 || p > 1000)
            return rw_error_fail(err, RW_ERR_INPUT, "bad partition count in \"%s\"", spec);
        parts = (int)p;
    }
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(m->cluster, name, parts, 1);
    if (e)
        return rw_error_fail(err, RW_ERR_KAFKA, "create topic %s: %s", name, rd_kafka_err2str(e));
    return 0;
}

/* The key that keeps one entity's events in one partition. */
static const char *entity_key(const json_t *ev) {
    static const char *const fields[] = {"account", "customer_id",  "staff_id",
                                         "service", "complaint_id", NULL};
    for (size_t i = 0; json_is_object(ev) && fields[i]; i++) {
        const char *v = json_string_value(json_object_get(ev, fields[i]));
        if (v)
            return v;
    }
    return NULL;
}

long rw_mock_produce_file(rd_kafka_t *p, const char *path, const char *topic) {
    return rw_mock_produce_file_at(p, path, topic, false);
}

/* The event's "ts" in ms; 0 (the producer's clock) when it has none. */
static int64_t event_ms(const json_t *ev) {
    const char *ts = json_string_value(json_object_get(ev, "ts"));
    int64_t ms = 0;
    return ts && rw_time_parse(ts, strlen(ts), &ms) == 0 && ms > 0 ? ms : 0;
}

/* Produces one line (the way rw_mock_produce_file says), waiting for room in
 * the queue. Returns librdkafka's error. */
static rd_kafka_resp_err_t line_produce(rd_kafka_t *p, char *line, size_t len, const char *topic,
                                        bool event_time) {
    json_t *ev = topic && !event_time ? NULL : json_loadb(line, len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *to = topic                                      ? topic
                     : type && strcmp(type, "transaction") == 0 ? "events.transactions"
                                                                : "events.service";
    const char *key = entity_key(ev);
    int32_t part = topic ? 0 : RD_KAFKA_PARTITION_UA;
    int64_t ts = event_time ? event_ms(ev) : 0;
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(
                p, RD_KAFKA_V_TOPIC(to), RD_KAFKA_V_PARTITION(part),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(line, len),
                RD_KAFKA_V_KEY(RW_UNCONST(void *, key), key ? strlen(key) : 0),
                RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(p, 100);
    json_decref(ev);
    return err;
}

long rw_mock_produce_file_at(rd_kafka_t *p, const char *path, const char *topic, bool event_time) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long n = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        if (line_produce(p, line, (size_t)len, topic, event_time)) {
            n = -1;
            break;
        }
        n++;
    }
    free(line);
    fclose(f);
    rd_kafka_flush(p, 10000);
    return n;
}

void rw_mock_stop(rw_mock_t *m) {
    if (m->cluster)
        rd_kafka_mock_cluster_destroy(m->cluster);
    if (m->rk)
        rd_kafka_destroy(m->rk);
    memset(m, 0, sizeof(*m));
}

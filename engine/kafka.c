#include "kafka.h"

#include "config.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The librdkafka properties a config may set, and the ones it may not with the
 * reason. One table: the README lists the same names. A property applies to
 * the clients named in its mask; `only` is the one value accepted for a
 * setting the engine owns (any other is refused with the reason). */
#define C RW_KAFKA_CONSUMER
#define M RW_KAFKA_MEMBER
#define P RW_KAFKA_PRODUCER
#define ALL (C | M | P)
#define OWNS_COMMIT                                                                                \
    "would break a guarantee: the engine commits a batch's offsets itself, once its state "        \
    "is stored and its alerts acknowledged"
static const rw_kafka_prop_t kafka_props[] = {
    /* connection and security */
    {"client.id", ALL, NULL, NULL},
    {"client.rack", ALL, NULL, NULL},
    {"broker.address.family", ALL, NULL, NULL},
    {"security.protocol", ALL, NULL, NULL},
    {"sasl.mechanisms", ALL, NULL, NULL},
    {"sasl.mechanism", ALL, NULL, NULL},
    {"sasl.username", ALL, NULL, NULL},
    {"sasl.password", ALL, NULL, NULL},
    {"sasl.oauthbearer.config", ALL, NULL, NULL},
    {"sasl.oauthbearer.method", ALL, NULL, NULL},
    {"sasl.oauthbearer.client.id", ALL, NULL, NULL},
    {"sasl.oauthbearer.client.secret", ALL, NULL, NULL},
    {"sasl.oauthbearer.token.endpoint.url", ALL, NULL, NULL},
    {"sasl.oauthbearer.scope", ALL, NULL, NULL},
    {"sasl.oauthbearer.extensions", ALL, NULL, NULL},
    {"sasl.kerberos.service.name", ALL, NULL, NULL},
    {"sasl.kerberos.principal", ALL, NULL, NULL},
    {"sasl.kerberos.keytab", ALL, NULL, NULL},
    {"sasl.kerberos.min.time.before.relogin", ALL, NULL, NULL},
    {"ssl.ca.location", ALL, NULL, NULL},
    {"ssl.ca.pem", ALL, NULL, NULL},
    {"ssl.certificate.location", ALL, NULL, NULL},
    {"ssl.certificate.pem", ALL, NULL, NULL},
    {"ssl.key.location", ALL, NULL, NULL},
    {"ssl.key.pem", ALL, NULL, NULL},
    {"ssl.key.password", ALL, NULL, NULL},
    {"ssl.keystore.location", ALL, NULL, NULL},
    {"ssl.keystore.password", ALL, NULL, NULL},
    {"ssl.crl.location", ALL, NULL, NULL},
    {"ssl.cipher.suites", ALL, NULL, NULL},
    {"ssl.curves.list", ALL, NULL, NULL},
    {"ssl.sigalgs.list", ALL, NULL, NULL},
    {"ssl.endpoint.identification.algorithm", ALL, NULL, NULL},
    {"enable.ssl.certificate.verification", ALL, NULL, NULL},
    /* timeouts, retries, metadata */
    {"socket.timeout.ms", ALL, NULL, NULL},
    {"socket.connection.setup.timeout.ms", ALL, NULL, NULL},
    {"socket.keepalive.enable", ALL, NULL, NULL},
    {"connections.max.idle.ms", ALL, NULL, NULL},
    {"reconnect.backoff.ms", ALL, NULL, NULL},
    {"reconnect.backoff.max.ms", ALL, NULL, NULL},
    {"retry.backoff.ms", ALL, NULL, NULL},
    {"request.timeout.ms", P, NULL, NULL},
    {"metadata.max.age.ms", ALL, NULL, NULL},
    {"topic.metadata.refresh.interval.ms", ALL, NULL, NULL},
    {"api.version.request.timeout.ms", ALL, NULL, NULL},
    {"statistics.interval.ms", ALL, NULL, NULL},
    {"debug", ALL, NULL, NULL},
    /* the consumer in the engine's group */
    {"auto.offset.reset", M, NULL, NULL},
    {"group.instance.id", M, NULL, NULL},
    {"session.timeout.ms", M, NULL, NULL},
    {"heartbeat.interval.ms", M, NULL, NULL},
    {"max.poll.interval.ms", M, NULL, NULL},
    {"partition.assignment.strategy", M, NULL, NULL},
    {"coordinator.query.interval.ms", M, NULL, NULL},
    {"enable.auto.commit", 0, "false", OWNS_COMMIT},
    {"enable.auto.offset.store", 0, "false", OWNS_COMMIT},
    /* consumers */
    {"isolation.level", C | M, NULL, NULL},
    {"fetch.min.bytes", C | M, NULL, NULL},
    {"fetch.max.bytes", C | M, NULL, NULL},
    {"fetch.wait.max.ms", C | M, NULL, NULL},
    {"fetch.error.backoff.ms", C | M, NULL, NULL},
    {"max.partition.fetch.bytes", C | M, NULL, NULL},
    {"queued.min.messages", C | M, NULL, NULL},
    {"queued.max.messages.kbytes", C | M, NULL, NULL},
    {"receive.message.max.bytes", ALL, NULL, NULL},
    {"check.crcs", C | M, NULL, NULL},
    /* the producer */
    {"acks", P, NULL, NULL},
    {"request.required.acks", P, NULL, NULL},
    {"enable.idempotence", P, NULL, NULL},
    {"enable.gapless.guarantee", P, NULL, NULL},
    {"max.in.flight.requests.per.connection", P, NULL, NULL},
    {"max.in.flight", P, NULL, NULL},
    {"message.max.bytes", P, NULL, NULL},
    {"message.timeout.ms", P, NULL, NULL},
    {"delivery.timeout.ms", P, NULL, NULL},
    {"message.send.max.retries", P, NULL, NULL},
    {"retries", P, NULL, NULL},
    {"compression.type", P, NULL, NULL},
    {"compression.codec", P, NULL, NULL},
    {"compression.level", P, NULL, NULL},
    {"linger.ms", P, NULL, NULL},
    {"queue.buffering.max.ms", P, NULL, NULL},
    {"batch.num.messages", P, NULL, NULL},
    {"batch.size", P, NULL, NULL},
    {"queue.buffering.max.messages", P, NULL, NULL},
    {"queue.buffering.max.kbytes", P, NULL, NULL},
    {"partitioner", P, NULL, NULL},
    {"sticky.partitioning.linger.ms", P, NULL, NULL},
    /* refused, and why */
    {"plugin.library.paths", 0, NULL, "it loads code"},
    {"ssl.engine.location", 0, NULL, "it loads code"},
    {"ssl.engine.id", 0, NULL, "it loads code"},
    {"ssl_engine_id", 0, NULL, "it loads code"},
    {"ssl.providers", 0, NULL, "it loads code"},
    {"sasl.kerberos.kinit.cmd", 0, NULL, "it runs a command"},
    {"bootstrap.servers", 0, NULL, "the engine sets it from kafka.brokers"},
    {"metadata.broker.list", 0, NULL, "the engine sets it from kafka.brokers"},
    {"group.id", 0, NULL, "the engine sets it from kafka.group_id"},
    {"auto.commit.interval.ms", 0, NULL,
     "it has no effect: the engine commits stored batches' offsets itself, at most every "
     "kafka.commit_interval_ms"},
    {"enable.partition.eof", 0, NULL, "the engine reads partitions' ends itself"},
    {"transactional.id", 0, NULL,
     "the engine does not use Kafka transactions: its state is fenced in Redis and its alerts "
     "carry stable ids"},
    {"enable.sasl.oauthbearer.unsecure.jwt", 0, NULL,
     "it would accept unsigned tokens (use sasl.oauthbearer.method=oidc)"},
    {NULL, 0, NULL, NULL},
};
#undef C
#undef M
#undef P
#undef ALL

const rw_kafka_prop_t *rw_kafka_props(void) { return kafka_props; }

static const rw_kafka_prop_t *kafka_prop(const char *name) {
    for (const rw_kafka_prop_t *p = kafka_props; p->name; p++)
        if (strcmp(name, p->name) == 0)
            return p;
    return NULL;
}

int rw_kafka_property_allowed(const char *name, rw_error_t *err) {
    const rw_kafka_prop_t *p = kafka_prop(name);
    if (p && p->why && !p->only)
        return rw_error_fail(err, RW_ERR_INPUT, "kafka.properties: \"%s\" is refused: %s", name,
                             p->why);
    if (p)
        return 0;
    return rw_error_fail(err, RW_ERR_INPUT,
                         "kafka.properties: \"%s\" is not on the allow-list (README, \"Kafka "
                         "properties\", lists every allowed one)",
                         name);
}

int rw_kafka_value_text(const json_t *v, char *out, size_t len) {
    if (json_is_string(v))
        snprintf(out, len, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, len, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, len, "%s", json_is_true(v) ? "true" : "false");
    else
        return -1;
    return 0;
}

int rw_kafka_property_check(const char *name, const json_t *value, rw_error_t *err) {
    int rc = rw_kafka_property_allowed(name, err);
    if (rc)
        return rc;
    char text[512];
    if (rw_kafka_value_text(value, text, sizeof(text)))
        return rw_error_fail(err, RW_ERR_INPUT,
                             "kafka.properties.%s: must be a string, number or boolean", name);
    const rw_kafka_prop_t *p = kafka_prop(name);
    if (p->only && strcasecmp(text, p->only) != 0)
        return rw_error_fail(err, RW_ERR_INPUT,
                             "kafka.properties.%s: only %s is accepted: any other value %s", name,
                             p->only, p->why);
    if ((!strcmp(name, "acks") || !strcmp(name, "request.required.acks")) && !strcmp(text, "0"))
        return rw_error_fail(err, RW_ERR_INPUT,
                             "kafka.properties.%s: 0 is refused: it would break a guarantee "
                             "(alerts are published at least once; with 0 a send counts as "
                             "delivered before any broker has it)",
                             name);
    if (!strcmp(name, "auto.offset.reset") && !strcasecmp(text, "error"))
        return rw_error_fail(err, RW_ERR_INPUT,
                             "kafka.properties.auto.offset.reset: \"error\" is refused: it would "
                             "stop a partition whose committed offset is gone (use earliest or "
                             "latest)");
    return 0;
}

int rw_kafka_property_applies(const char *name, int client) {
    const rw_kafka_prop_t *p = kafka_prop(name);
    return p && (p->clients & client) != 0;
}

rd_kafka_conf_t *rw_kafka_conf_for(const rw_config_t *cfg, int client, const char *const *defaults,
                                   rw_error_t *err) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rw_kafka_conf_log(conf);
    char e[512];
    if (rd_kafka_conf_set(conf, "bootstrap.servers", cfg->brokers, e, sizeof(e)) !=
        RD_KAFKA_CONF_OK)
        goto fail_kafka;
    for (size_t i = 0; defaults && defaults[i]; i += 2)
        if (rd_kafka_conf_set(conf, defaults[i], defaults[i + 1], e, sizeof(e)) != RD_KAFKA_CONF_OK)
            goto fail_kafka;
    const char *name;
    json_t *v;
    json_object_foreach(cfg->properties, name, v) {
        char val[512];
        if (rw_kafka_property_check(name, v, err))
            goto fail;
        bool take = client ? rw_kafka_property_applies(name, client)
                           : rw_kafka_property_applies(name, RW_KAFKA_CONSUMER) &&
                                 rw_kafka_property_applies(name, RW_KAFKA_PRODUCER);
        if (!take)
            continue;
        rw_kafka_value_text(v, val, sizeof(val));
        if (rd_kafka_conf_set(conf, name, val, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
            rw_error_fail(err, RW_ERR_INPUT, "kafka.properties.%s: %s", name, e);
            goto fail;
        }
    }
    return conf;
fail_kafka:
    rw_error_fail(err, RW_ERR_INPUT, "%s", e);
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_conf_t *rw_kafka_conf_new(const rw_config_t *cfg, rw_error_t *err) {
    return rw_kafka_conf_for(cfg, 0, NULL, err);
}

/* The group member's defaults, which kafka.properties may change. A SIGKILLed
 * engine's partitions wait for its session to time out: 6 s (the least a
 * broker accepts by default, group.min.session.timeout.ms; librdkafka's
 * default is 45 s), with a heartbeat every second, so that the group moves
 * them within 15 s. A new group starts at the oldest retained messages.
 * queued.min.messages: librdkafka 2.0 counts the messages of the engine's
 * whole queue against it, and once there are more it fetches again only a
 * second later, so a queue that holds less than a second of input reads a
 * backlog at about half speed; queued.max.messages.kbytes (64 MiB) still
 * bounds the queue. */
const char *const rw_kafka_member_defaults[] = {"session.timeout.ms",
                                                "6000",
                                                "heartbeat.interval.ms",
                                                "1000",
                                                "auto.offset.reset",
                                                "earliest",
                                                "queued.min.messages",
                                                "1000000",
                                                NULL};

void rw_kafka_log(const rd_kafka_t *rk, int level, const char *facility, const char *buf) {
    int l = level <= 3   ? RW_LOG_ERROR
            : level == 4 ? RW_LOG_WARN
            : level <= 6 ? RW_LOG_INFO
                         : RW_LOG_DEBUG;
    if (l > rw_log_level)
        return;
    const char *fields[] = {"facility", facility, "client", rk ? rd_kafka_name(rk) : "", NULL};
    char msg[2048];
    snprintf(msg, sizeof(msg), "kafka: %s", buf);
    rw_log_emit(l, fields, msg);
}

void rw_kafka_conf_log(rd_kafka_conf_t *conf) { rd_kafka_conf_set_log_cb(conf, rw_kafka_log); }

bool rw_kafka_cooperative(rd_kafka_t *rk) {
    const char *protocol = rd_kafka_rebalance_protocol(rk);
    return protocol && strcmp(protocol, "COOPERATIVE") == 0;
}

#include "config.h"

#include "engine.h"
#include "jpos.h"
#include "log.h"
#include "params.h"
#include "rekey.h"
#include "schema.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void rw_config_set(char **slot, const char *value) {
    free(*slot);
    *slot = value ? rw_strdup(value) : NULL;
}

void rw_config_init(rw_config_t *c) {
    memset(c, 0, sizeof(*c));
    rw_config_set(&c->brokers, "127.0.0.1:9092");
    rw_config_set(&c->group_id, "riskwarn");
    c->commit_interval_ms = 100;
    c->n_input_topics = 2;
    c->input_topics = rw_calloc(2, sizeof(char *));
    c->input_topics[0] = rw_strdup("events.transactions");
    c->input_topics[1] = rw_strdup("events.service");
    rw_config_set(&c->alert_topic, "risk.alerts");
    rw_config_set(&c->high_alert_topic, "risk.alerts.high");
    rw_config_set(&c->deadletter_topic, "risk.deadletter");
    rw_config_set(&c->control_topic, "risk.rules");
    rw_config_set(&c->audit_topic, "risk.audit");
    c->properties = json_object();
    rw_config_set(&c->redis_host, "127.0.0.1");
    c->redis_port = 6379;
    rw_config_set(&c->redis_key_prefix, "rw:");
    rw_config_set(&c->rules, "rules/packs/default.json");
    c->max_event_bytes = 1048576;
    c->max_future_ms = 300000;
    c->state_max_entries = 1000000;
    c->state_pretouch_mb = 48;
    c->state_fold_ms = 3000;
    rw_config_set(&c->metrics_listen, "127.0.0.1:9464");
    c->webhook_min_level = 3;
    c->webhook_timeout_ms = 2000;
    c->webhook_retries = 3;
    c->webhook_digest_after = 10;
    c->rules_max_rules = 500;
    c->rules_max_bytes = 1048576;
    c->rules_max_window_days = 90;
    c->rules_heartbeat_ms = 5000;
    c->batch_max = 4096;
    c->poll_ms = 100;
    c->redis_timeout_ms = 5000;
}

static void topics_free(rw_config_t *c) {
    for (size_t i = 0; i < c->n_input_topics; i++)
        free(c->input_topics[i]);
    free(c->input_topics);
    c->input_topics = NULL;
    c->n_input_topics = 0;
}

static void cluster_nodes_free(rw_config_t *c) {
    for (size_t i = 0; i < c->n_redis_cluster_nodes; i++)
        free(c->redis_cluster_nodes[i]);
    free(c->redis_cluster_nodes);
    c->redis_cluster_nodes = NULL;
    c->n_redis_cluster_nodes = 0;
}

void rw_config_fini(rw_config_t *c) {
    free(c->brokers);
    free(c->group_id);
    topics_free(c);
    free(c->alert_topic);
    free(c->high_alert_topic);
    free(c->deadletter_topic);
    free(c->control_topic);
    free(c->audit_topic);
    json_decref(c->properties);
    rw_schema_destroy(c->schema);
    rw_rekey_conf_destroy(c->rekey);
    free(c->pseudonym_key);
    free(c->redis_host);
    free(c->redis_unix_socket);
    free(c->redis_password);
    free(c->redis_key_prefix);
    cluster_nodes_free(c);
    free(c->rules);
    free(c->modules_dir);
    free(c->metrics_listen);
    free(c->webhook_url);
    free(c->webhook_token);
    free(c->webhook_secret);
    free(c->rules_keys_file);
    free(c->rules_signing_key_file);
    free(c->rules_key_id);
    memset(c, 0, sizeof(*c));
}

/* Whether s is "host:port"; fills port. */
static bool hostport_ok(const char *s, size_t len, long *port) {
    const char *colon = memrchr(s, ':', len);
    if (!colon || colon == s || (size_t)(colon - s) + 1 == len)
        return false;
    char *end;
    *port = strtol(colon + 1, &end, 10);
    return end == s + len && *port > 0 && *port <= 65535;
}

/* Sets the Redis Cluster seeds from a comma-separated list. */
static int cluster_nodes_set(rw_config_t *c, const char *list) {
    cluster_nodes_free(c);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        long port;
        if (len && !hostport_ok(p, len, &port))
            return RW_ERR_INPUT;
        if (len) {
            c->redis_cluster_nodes =
                rw_realloc(c->redis_cluster_nodes, (c->n_redis_cluster_nodes + 1) * sizeof(char *));
            c->redis_cluster_nodes[c->n_redis_cluster_nodes++] = rw_strndup(p, len);
        }
        p += len + (comma != NULL);
    }
    return c->n_redis_cluster_nodes ? 0 : RW_ERR_INPUT;
}

int rw_config_set_redis(rw_config_t *c, const char *hostport) {
    if (strchr(hostport, ','))
        return cluster_nodes_set(c, hostport);
    long port;
    if (!hostport_ok(hostport, strlen(hostport), &port))
        return RW_ERR_INPUT;
    const char *colon = strrchr(hostport, ':');
    cluster_nodes_free(c);
    free(c->redis_host);
    c->redis_host = rw_strndup(hostport, (size_t)(colon - hostport));
    rw_config_set(&c->redis_unix_socket, NULL); /* host:port wins over a socket */
    c->redis_port = (int)port;
    return 0;
}

/* ---- loading ------------------------------------------------------------------------ */

typedef struct {
    const char *path, *text;
    size_t len;
    rw_error_t *err;
} cctx_t;

static int __attribute__((format(printf, 4, 5)))
cerr(cctx_t *x, const char *pointer, bool key, const char *fmt, ...) {
    int line, col;
    rw_jpos_place(x->text, x->len, pointer, key, &line, &col);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return rw_error_set(x->err, x->path, line, col, "%s", msg);
}

static int get_str(cctx_t *x, json_t *obj, const char *pointer, const char *name, char **slot,
                   bool nullable) {
    json_t *v = json_object_get(obj, name);
    if (!v)
        return 0;
    char p[300];
    snprintf(p, sizeof(p), "%s/%s", pointer, name);
    if (nullable && json_is_null(v)) {
        rw_config_set(slot, NULL);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0)
        return cerr(x, p, false, "%s: must be a non-empty string%s", p + 1,
                    nullable ? " or null" : "");
    rw_config_set(slot, json_string_value(v));
    return 0;
}

/* Checks obj against a param table (engine/params.h): unknown keys (extra: the keys the
 * caller checks itself), wrong types, values out of bounds. Fills base with what obj gives.
 * what: the object's name in messages ("redis"; "" for the file itself). Returns 0, or
 * RW_ERR_INPUT with x->err filled by the first error. */
static int table_apply(cctx_t *x, const rw_param_t *table, const char *const *extra,
                       const json_t *obj, const char *pointer, const char *what, void *base) {
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_params_ctx_t pc = {x->text, x->len, x->path, &errs, NULL, what, what, extra};
    if (!what[0])
        pc.owner = "the engine configuration";
    size_t bad = rw_params_apply(&pc, table, obj, pointer, base);
    if (bad && x->err->code == 0)
        *x->err = errs.items[0];
    rw_errors_fini(&errs);
    return bad ? RW_ERR_INPUT : 0;
}

/* Moves a string the file gave (or null) from a table's struct into a setting. */
static void take_str(const json_t *obj, const char *name, char **from, char **slot) {
    if (!json_object_get(obj, name))
        return;
    free(*slot);
    *slot = *from;
    *from = NULL;
}

#define NONEMPTY .min = 1, .max = INFINITY /* a string's length */

/* The content of the file named by obj[file_key], without its final newline. */
static int read_secret(cctx_t *x, json_t *obj, const char *pointer, const char *file_key,
                       char **slot) {
    char p[300], name[300], *path = NULL;
    snprintf(p, sizeof(p), "%s/%s", pointer, file_key);
    if (get_str(x, obj, pointer, file_key, &path, 0))
        return RW_ERR_INPUT;
    snprintf(name, sizeof(name), "%s.%s", pointer + 1, file_key); /* "redis.password_file" */
    rw_error_t ferr;
    rw_error_clear(&ferr);
    size_t len;
    char *text = rw_file_read(path, &len, &ferr);
    int rc = text ? 0 : cerr(x, p, false, "%s: %s", name, ferr.text);
    while (text && len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = 0;
    if (text && (len == 0 || strlen(text) != len))
        rc = cerr(x, p, false, "%s: \"%s\" is empty or holds a NUL byte", name, path);
    if (rc == 0) {
        free(*slot);
        *slot = text;
        text = NULL;
    }
    free(text);
    free(path);
    return rc;
}

/* A secret given as NAME or as NAME_file: one of the two, never both. */
static int get_secret(cctx_t *x, json_t *obj, const char *pointer, const char *name, char **slot) {
    char file_key[64], p[300];
    snprintf(file_key, sizeof(file_key), "%s_file", name);
    json_t *f = json_object_get(obj, file_key), *plain = json_object_get(obj, name);
    if (!f || json_is_null(f))
        return get_str(x, obj, pointer, name, slot, 1);
    snprintf(p, sizeof(p), "%s/%s", pointer, file_key);
    if (plain && !json_is_null(plain))
        return cerr(x, p, true, "%s.%s: give %s or %s, not both", pointer + 1, file_key, name,
                    file_key);
    return read_secret(x, obj, pointer, file_key, slot);
}

static const char *prop_str(const json_t *props, const char *name) {
    return json_string_value(json_object_get(props, name));
}

/* SASL's mechanism and what it needs (security.protocol is sasl_plaintext or sasl_ssl). */
static int sasl_check(cctx_t *x, const json_t *props, bool ssl) {
    const char *mech = prop_str(props, "sasl.mechanisms");
    if (!mech)
        mech = prop_str(props, "sasl.mechanism");
    if (!mech)
        return cerr(x, "/kafka/properties", false,
                    "kafka.properties: SASL needs sasl.mechanisms (PLAIN, SCRAM-SHA-256, "
                    "SCRAM-SHA-512, GSSAPI or OAUTHBEARER)");
    bool userpass = !strcmp(mech, "PLAIN") || !strncmp(mech, "SCRAM-", 6);
    if (!userpass && strcmp(mech, "GSSAPI") != 0 && strcmp(mech, "OAUTHBEARER") != 0)
        return cerr(x, "/kafka/properties", false,
                    "kafka.properties: unknown SASL mechanism \"%s\"", mech);
    if (userpass && (!prop_str(props, "sasl.username") || !prop_str(props, "sasl.password")))
        return cerr(x, "/kafka/properties", false,
                    "kafka.properties: SASL %s needs sasl.username and sasl.password", mech);
    if (userpass && !ssl && !strcmp(mech, "PLAIN"))
        rw_log(RW_LOG_WARN, "kafka: SASL PLAIN over sasl_plaintext sends the password "
                            "unencrypted; use sasl_ssl");
    return 0;
}

/* SASL and TLS settings are checked at start-up, not at the first connection:
 * a protocol that exists, a mechanism with its credentials, certificate files
 * that can be read, and no ssl./sasl. setting that the protocol would ignore. */
static int security_check(cctx_t *x, const json_t *props) {
    const char *proto = prop_str(props, "security.protocol");
    char p[128];
    bool ssl = false, sasl = false;
    if (proto) {
        if (!strcasecmp(proto, "ssl"))
            ssl = true;
        else if (!strcasecmp(proto, "sasl_plaintext"))
            sasl = true;
        else if (!strcasecmp(proto, "sasl_ssl"))
            ssl = sasl = true;
        else if (strcasecmp(proto, "plaintext") != 0)
            return cerr(x, "/kafka/properties/security.protocol", false,
                        "kafka.properties.security.protocol: use plaintext, ssl, sasl_plaintext "
                        "or sasl_ssl");
    }
    const char *k;
    json_t *v;
    json_object_foreach(RW_UNCONST(json_t *, props), k, v) {
        snprintf(p, sizeof(p), "/kafka/properties/%s", k);
        if (!strncmp(k, "ssl.", 4) && !ssl &&
            strcmp(k, "ssl.endpoint.identification.algorithm") != 0)
            return cerr(x, p, true,
                        "kafka.properties.%s: security.protocol is %s, so TLS "
                        "settings would be ignored (use ssl or sasl_ssl)",
                        k, proto ? proto : "plaintext (the default)");
        if (!strncmp(k, "sasl.", 5) && !sasl)
            return cerr(x, p, true,
                        "kafka.properties.%s: security.protocol is %s, so SASL "
                        "settings would be ignored (use sasl_plaintext or sasl_ssl)",
                        k, proto ? proto : "plaintext (the default)");
        size_t kl = strlen(k);
        if (kl > 9 && !strcmp(k + kl - 9, ".location") && json_is_string(v) &&
            access(json_string_value(v), R_OK) != 0)
            return cerr(x, p, false, "kafka.properties.%s: cannot read \"%s\"", k,
                        json_string_value(v));
    }
    if (prop_str(props, "ssl.key.location") && !prop_str(props, "ssl.certificate.location"))
        return cerr(x, "/kafka/properties/ssl.key.location", true,
                    "kafka.properties: ssl.key.location needs ssl.certificate.location");
    return sasl ? sasl_check(x, props, ssl) : 0;
}

/* The producer is idempotent unless told otherwise, and idempotence needs
 * acks=all: said here rather than by librdkafka at the first connection. */
static int acks_check(cctx_t *x, const json_t *props) {
    char acks[64] = "all", idem[64] = "true";
    const json_t *a = json_object_get(props, "acks");
    if (!a)
        a = json_object_get(props, "request.required.acks");
    if (a)
        rw_kafka_value_text(a, acks, sizeof(acks));
    if (json_object_get(props, "enable.idempotence"))
        rw_kafka_value_text(json_object_get(props, "enable.idempotence"), idem, sizeof(idem));
    if (strcasecmp(idem, "true") == 0 && strcmp(acks, "all") != 0 && strcmp(acks, "-1") != 0)
        return cerr(x,
                    json_object_get(props, "acks") ? "/kafka/properties/acks"
                                                   : "/kafka/properties/request.required.acks",
                    false,
                    "kafka.properties: acks=%s needs enable.idempotence false (the engine's "
                    "producer is idempotent by default, which needs acks=all)",
                    acks);
    return 0;
}

/* "kafka": the keys a table checks; properties and sasl_password_file by hand. */
typedef struct kafka_file {
    char *brokers, *group_id, *alert_topic, *high_alert_topic, *deadletter_topic, *control_topic,
        *audit_topic;
    rw_strlist_t input_topics;
    int64_t commit_interval_ms;
} kafka_file_t;

#define KAFKA_STR(key, text)                                                                       \
    {                                                                                              \
        .type = RW_PARAM_STRING, .name = #key, NONEMPTY, .offset = offsetof(kafka_file_t, key),    \
        .desc = (text)                                                                             \
    }
static const rw_param_t kafka_table[] = {
    KAFKA_STR(brokers, "bootstrap servers, host:port,..."),
    KAFKA_STR(group_id, "the engines' consumer group"),
    {.type = RW_PARAM_STRING_LIST,
     .name = "input_topics",
     .min = 1,
     .max = INFINITY,
     .offset = offsetof(kafka_file_t, input_topics),
     .desc = "the topics events are read from"},
    KAFKA_STR(alert_topic, "every alert"),
    KAFKA_STR(high_alert_topic, "high alerts, for incident responders"),
    KAFKA_STR(deadletter_topic, "messages that are not events"),
    KAFKA_STR(control_topic, "rulesets pushed to the engines"),
    KAFKA_STR(audit_topic, "ruleset loads and refusals"),
    {.type = RW_PARAM_INTEGER,
     .name = "commit_interval_ms",
     .min = 0,
     .max = 300000,
     .offset = offsetof(kafka_file_t, commit_interval_ms),
     .desc = "the offsets of stored batches are committed at most this often; 0: every batch"},
    {0},
};

static int load_kafka_table(cctx_t *x, rw_config_t *c, json_t *k) {
    static const char *const extra[] = {"properties", "sasl_password_file", NULL};
    kafka_file_t f;
    memset(&f, 0, sizeof(f));
    f.commit_interval_ms = c->commit_interval_ms;
    int rc = table_apply(x, kafka_table, extra, k, "/kafka", "kafka", &f);
    const json_t *topics = json_object_get(k, "input_topics"), *t;
    size_t i;
    json_array_foreach(rc == 0 ? topics : NULL, i, t) {
        if (json_is_string(t) && json_string_length(t))
            continue;
        char p[64], *e = json_dumps(t, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(p, sizeof(p), "/kafka/input_topics/%zu", i);
        rc = cerr(x, p, false, "kafka.input_topics[%zu]: must be a topic name, not %s", i,
                  e ? e : "?");
        free(e);
        break;
    }
    if (rc == 0) {
        take_str(k, "brokers", &f.brokers, &c->brokers);
        take_str(k, "group_id", &f.group_id, &c->group_id);
        take_str(k, "alert_topic", &f.alert_topic, &c->alert_topic);
        take_str(k, "high_alert_topic", &f.high_alert_topic, &c->high_alert_topic);
        take_str(k, "deadletter_topic", &f.deadletter_topic, &c->deadletter_topic);
        take_str(k, "control_topic", &f.control_topic, &c->control_topic);
        take_str(k, "audit_topic", &f.audit_topic, &c->audit_topic);
        c->commit_interval_ms = (int)f.commit_interval_ms;
    }
    if (rc == 0 && f.input_topics.items) {
        topics_free(c);
        c->n_input_topics = f.input_topics.n;
        c->input_topics = rw_calloc(c->n_input_topics, sizeof(char *));
        for (i = 0; i < f.input_topics.n; i++)
            c->input_topics[i] = rw_strdup(f.input_topics.items[i]);
    }
    rw_params_fini(kafka_table, &f);
    return rc;
}

static int load_kafka(cctx_t *x, rw_config_t *c, json_t *k) {
    if (!json_is_object(k))
        return cerr(x, "/kafka", false, "kafka: must be an object");
    if (load_kafka_table(x, c, k))
        return RW_ERR_INPUT;
    json_t *props = json_object_get(k, "properties");
    if (props) {
        if (!json_is_object(props))
            return cerr(x, "/kafka/properties", false, "kafka.properties: must be an object");
        const char *name;
        json_t *v;
        json_object_foreach(props, name, v) {
            char p[300];
            rw_error_t why;
            rw_error_clear(&why);
            snprintf(p, sizeof(p), "/kafka/properties/%s", name);
            if (rw_kafka_property_allowed(name, &why))
                return cerr(x, p, true, "%s", why.text);
            if (rw_kafka_property_check(name, v, &why))
                return cerr(x, p, false, "%s", why.text);
        }
        if (acks_check(x, props))
            return RW_ERR_INPUT;
        json_decref(c->properties);
        c->properties = json_deep_copy(props);
    }
    /* sasl.password from a file: kafka.sasl_password_file. */
    json_t *spf = json_object_get(k, "sasl_password_file");
    if (spf && !json_is_null(spf)) {
        char *pw = NULL;
        if (json_object_get(c->properties, "sasl.password"))
            return cerr(x, "/kafka/sasl_password_file", true,
                        "kafka.sasl_password_file: give it or kafka.properties.sasl.password, "
                        "not both");
        const char *proto = prop_str(c->properties, "security.protocol");
        if (!proto || strncasecmp(proto, "sasl_", 5) != 0)
            return cerr(x, "/kafka/sasl_password_file", true,
                        "kafka.sasl_password_file: security.protocol is %s, so SASL settings "
                        "would be ignored (use sasl_plaintext or sasl_ssl)",
                        proto ? proto : "plaintext (the default)");
        if (read_secret(x, k, "/kafka", "sasl_password_file", &pw))
            return RW_ERR_INPUT;
        json_t *v = json_string(pw);
        free(pw);
        if (!v)
            return cerr(x, "/kafka/sasl_password_file", false,
                        "kafka.sasl_password_file: the password is not UTF-8");
        json_object_set_new(c->properties, "sasl.password", v);
    }
    return security_check(x, c->properties);
}

/* "cluster_nodes": a non-empty list of "host:port"; a cluster has database 0
 * only and no unix sockets; the key prefix becomes a hash tag. */
static int load_cluster_nodes(cctx_t *x, rw_config_t *c, json_t *r) {
    json_t *l = json_object_get(r, "cluster_nodes"), *v;
    const char *pfx = c->redis_key_prefix;
    if (strpbrk(pfx, "{}"))
        return cerr(x, "/redis/key_prefix", false,
                    "redis.key_prefix: must not hold '{' or '}' (the store makes it a hash tag)");
    if (!l || json_is_null(l))
        return 0;
    if (!json_is_array(l) || !json_array_size(l))
        return cerr(x, "/redis/cluster_nodes", false,
                    "redis.cluster_nodes: must be a non-empty list of \"host:port\"");
    cluster_nodes_free(c);
    size_t i;
    json_array_foreach(l, i, v) {
        long port;
        if (!json_is_string(v) ||
            !hostport_ok(json_string_value(v), json_string_length(v), &port)) {
            char p[64];
            snprintf(p, sizeof(p), "/redis/cluster_nodes/%zu", i);
            return cerr(x, p, false, "redis.cluster_nodes[%zu]: must be \"host:port\"", i);
        }
    }
    if (c->redis_db || c->redis_unix_socket)
        return cerr(x, "/redis/cluster_nodes", false,
                    "redis.cluster_nodes: a Redis Cluster has no db and no unix_socket");
    c->n_redis_cluster_nodes = json_array_size(l);
    c->redis_cluster_nodes = rw_calloc(c->n_redis_cluster_nodes, sizeof(char *));
    json_array_foreach(l, i, v) c->redis_cluster_nodes[i] = rw_strdup(json_string_value(v));
    return 0;
}

/* "redis": the keys a table checks; the password and cluster_nodes by hand. */
typedef struct redis_file {
    char *host, *unix_socket, *key_prefix;
    int64_t port, db;
} redis_file_t;

static const rw_param_t redis_table[] = {
    {.type = RW_PARAM_STRING,
     .name = "host",
     NONEMPTY,
     .offset = offsetof(redis_file_t, host),
     .desc = "Redis host"},
    {.type = RW_PARAM_INTEGER,
     .name = "port",
     .min = 1,
     .max = 65535,
     .offset = offsetof(redis_file_t, port),
     .desc = "Redis port"},
    {.type = RW_PARAM_STRING,
     .name = "unix_socket",
     .flags = RW_PARAM_NULLABLE,
     NONEMPTY,
     .offset = offsetof(redis_file_t, unix_socket),
     .desc = "a unix socket instead of host and port; null: TCP"},
    {.type = RW_PARAM_INTEGER,
     .name = "db",
     .min = 0,
     .max = 1023,
     .offset = offsetof(redis_file_t, db),
     .desc = "the database SELECTed on every connection"},
    {.type = RW_PARAM_STRING,
     .name = "key_prefix",
     NONEMPTY,
     .offset = offsetof(redis_file_t, key_prefix),
     .desc = "the prefix of every key the engine writes"},
    {0},
};

static int load_redis(cctx_t *x, rw_config_t *c, json_t *r) {
    static const char *const extra[] = {"password", "password_file", "cluster_nodes", NULL};
    if (!json_is_object(r))
        return cerr(x, "/redis", false, "redis: must be an object");
    redis_file_t f = {.port = c->redis_port, .db = c->redis_db};
    int rc = table_apply(x, redis_table, extra, r, "/redis", "redis", &f);
    if (rc == 0) {
        take_str(r, "host", &f.host, &c->redis_host);
        take_str(r, "unix_socket", &f.unix_socket, &c->redis_unix_socket);
        take_str(r, "key_prefix", &f.key_prefix, &c->redis_key_prefix);
        c->redis_port = (int)f.port;
        c->redis_db = (int)f.db;
    }
    rw_params_fini(redis_table, &f);
    if (rc || get_secret(x, r, "/redis", "password", &c->redis_password))
        return RW_ERR_INPUT;
    return load_cluster_nodes(x, c, r);
}

/* "webhook": the keys a table checks; the token and the secret by hand. */
typedef struct webhook_file {
    char *url;
    int min_level;
    int64_t timeout_ms, retries, digest_after;
} webhook_file_t;

static const rw_param_t webhook_table[] = {
    {.type = RW_PARAM_STRING,
     .name = "url",
     .flags = RW_PARAM_REQUIRED,
     NONEMPTY,
     .offset = offsetof(webhook_file_t, url),
     .desc = "an http:// or https:// address alerts are POSTed to"},
    {.type = RW_PARAM_LEVEL,
     .name = "min_level",
     .offset = offsetof(webhook_file_t, min_level),
     .desc = "the lowest level sent"},
    {.type = RW_PARAM_INTEGER,
     .name = "timeout_ms",
     .min = 50,
     .max = 60000,
     .offset = offsetof(webhook_file_t, timeout_ms),
     .desc = "per request"},
    {.type = RW_PARAM_INTEGER,
     .name = "retries",
     .min = 0,
     .max = 10,
     .offset = offsetof(webhook_file_t, retries),
     .desc = "after a failed request"},
    {.type = RW_PARAM_INTEGER,
     .name = "digest_after",
     .min = 2,
     .max = 1000,
     .offset = offsetof(webhook_file_t, digest_after),
     .desc = "alerts waiting at which the sender sends digests"},
    {0},
};

static int load_webhook(cctx_t *x, rw_config_t *c, json_t *w) {
    static const char *const extra[] = {"token", "token_file", "secret", "secret_file", NULL};
    if (json_is_null(w))
        return 0;
    if (!json_is_object(w))
        return cerr(x, "/webhook", false, "webhook: must be an object or null");
    webhook_file_t f = {.min_level = c->webhook_min_level,
                        .timeout_ms = c->webhook_timeout_ms,
                        .retries = c->webhook_retries,
                        .digest_after = c->webhook_digest_after};
    int rc = table_apply(x, webhook_table, extra, w, "/webhook", "webhook", &f);
    if (rc == 0 && strncmp(f.url, "http://", 7) != 0 && strncmp(f.url, "https://", 8) != 0)
        rc = cerr(x, "/webhook/url", false,
                  "webhook.url: use an http:// or https:// address, not \"%s\"", f.url);
    if (rc == 0) {
        take_str(w, "url", &f.url, &c->webhook_url);
        c->webhook_min_level = f.min_level;
        c->webhook_timeout_ms = (int)f.timeout_ms;
        c->webhook_retries = (int)f.retries;
        c->webhook_digest_after = (int)f.digest_after;
    }
    rw_params_fini(webhook_table, &f);
    if (rc || get_secret(x, w, "/webhook", "token", &c->webhook_token) ||
        get_secret(x, w, "/webhook", "secret", &c->webhook_secret))
        return RW_ERR_INPUT;
    return 0;
}

/* "rulesets": signed control messages and the limits of a ruleset. */
typedef struct rulesets_file {
    char *keys_file, *signing_key_file, *key_id;
    int64_t max_rules, max_bytes, max_window_days, heartbeat_ms;
} rulesets_file_t;

#define RULESETS_FILE(key, text)                                                                   \
    {                                                                                              \
        .type = RW_PARAM_STRING, .name = #key, .flags = RW_PARAM_NULLABLE, NONEMPTY,               \
        .offset = offsetof(rulesets_file_t, key), .desc = (text)                                   \
    }
#define RULESETS_INT(key, lo, hi, text)                                                            \
    {                                                                                              \
        .type = RW_PARAM_INTEGER, .name = #key, .min = (lo), .max = (hi),                          \
        .offset = offsetof(rulesets_file_t, key), .desc = (text)                                   \
    }
static const rw_param_t rulesets_table[] = {
    RULESETS_FILE(keys_file, "public keys of signed control messages; null: none accepted"),
    RULESETS_FILE(signing_key_file, "push and SIGHUP sign with it; null: SIGHUP is refused"),
    RULESETS_FILE(key_id, "its key id; null: found in the keys file"),
    RULESETS_INT(max_rules, 1, 100000, "rules a ruleset may hold"),
    RULESETS_INT(max_bytes, 1024, 64 * 1024 * 1024, "bytes a ruleset may take"),
    RULESETS_INT(max_window_days, 1, 3660, "the longest window or lookback, in days"),
    RULESETS_INT(heartbeat_ms, 100, 600000, "how often engines say which ruleset they run"),
    {0},
};

static int load_rulesets(cctx_t *x, rw_config_t *c, json_t *r) {
    if (!json_is_object(r))
        return cerr(x, "/rulesets", false, "rulesets: must be an object");
    rulesets_file_t f = {.max_rules = (int64_t)c->rules_max_rules,
                         .max_bytes = (int64_t)c->rules_max_bytes,
                         .max_window_days = c->rules_max_window_days,
                         .heartbeat_ms = c->rules_heartbeat_ms};
    int rc = table_apply(x, rulesets_table, NULL, r, "/rulesets", "rulesets", &f);
    if (rc == 0) {
        take_str(r, "keys_file", &f.keys_file, &c->rules_keys_file);
        take_str(r, "signing_key_file", &f.signing_key_file, &c->rules_signing_key_file);
        take_str(r, "key_id", &f.key_id, &c->rules_key_id);
        c->rules_max_rules = (size_t)f.max_rules;
        c->rules_max_bytes = (size_t)f.max_bytes;
        c->rules_max_window_days = f.max_window_days;
        c->rules_heartbeat_ms = (int)f.heartbeat_ms;
    }
    rw_params_fini(rulesets_table, &f);
    return rc;
}

static const char *const log_formats[] = {"text", "json", NULL};

static const rw_param_t log_table[] = {
    {.type = RW_PARAM_ENUM,
     .name = "format",
     .offset = 0,
     .desc = "log lines as text or as JSON records",
     .choices = log_formats},
    {0},
};

static int load_log(cctx_t *x, rw_config_t *c, json_t *l) {
    if (!json_is_object(l))
        return cerr(x, "/log", false, "log: must be an object");
    int format = -1;
    if (table_apply(x, log_table, NULL, l, "/log", "log", &format))
        return RW_ERR_INPUT;
    if (format >= 0)
        rw_log_format_parse(log_formats[format], &c->log_format);
    return 0;
}

/* ---- the environment ---------------------------------------------------------------- */

/* RISKWARN_* variables and the keys they set (README, "Settings from the environment").
 * A variable replaces the key and its *_file twin (drop), wherever the file set them. */
static const struct {
    const char *name, *pointer, *drop;
    bool integer;
} env_keys[] = {
    {"RISKWARN_KAFKA_BROKERS", "/kafka/brokers", NULL, false},
    {"RISKWARN_KAFKA_GROUP_ID", "/kafka/group_id", NULL, false},
    {"RISKWARN_KAFKA_GROUP_INSTANCE_ID", "/kafka/properties/group.instance.id", NULL, false},
    {"RISKWARN_KAFKA_CLIENT_ID", "/kafka/properties/client.id", NULL, false},
    {"RISKWARN_KAFKA_SASL_USERNAME", "/kafka/properties/sasl.username", NULL, false},
    {"RISKWARN_KAFKA_SASL_PASSWORD", "/kafka/properties/sasl.password", "/kafka/sasl_password_file",
     false},
    {"RISKWARN_KAFKA_SASL_PASSWORD_FILE", "/kafka/sasl_password_file",
     "/kafka/properties/sasl.password", false},
    {"RISKWARN_REDIS_HOST", "/redis/host", NULL, false},
    {"RISKWARN_REDIS_PORT", "/redis/port", NULL, true},
    {"RISKWARN_REDIS_DB", "/redis/db", NULL, true},
    {"RISKWARN_REDIS_PASSWORD", "/redis/password", "/redis/password_file", false},
    {"RISKWARN_REDIS_PASSWORD_FILE", "/redis/password_file", "/redis/password", false},
    {"RISKWARN_RULES", "/rules", NULL, false},
    {"RISKWARN_RULESETS_KEYS_FILE", "/rulesets/keys_file", NULL, false},
    {"RISKWARN_RULESETS_SIGNING_KEY_FILE", "/rulesets/signing_key_file", NULL, false},
    {"RISKWARN_METRICS_LISTEN", "/metrics_listen", NULL, false},
    {"RISKWARN_WEBHOOK_URL", "/webhook/url", NULL, false},
    {"RISKWARN_WEBHOOK_TOKEN", "/webhook/token", "/webhook/token_file", false},
    {"RISKWARN_WEBHOOK_TOKEN_FILE", "/webhook/token_file", "/webhook/token", false},
    {"RISKWARN_WEBHOOK_SECRET", "/webhook/secret", "/webhook/secret_file", false},
    {"RISKWARN_WEBHOOK_SECRET_FILE", "/webhook/secret_file", "/webhook/secret", false},
    {"RISKWARN_LOG_FORMAT", "/log/format", NULL, false},
    {"RISKWARN_PSEUDONYM_KEY", "/pseudonym/key", "/pseudonym/key_file", false},
    {"RISKWARN_PSEUDONYM_KEY_FILE", "/pseudonym/key_file", "/pseudonym/key", false},
};
#define N_ENV_KEYS (sizeof(env_keys) / sizeof(*env_keys))

/* The object that holds pointer's last key (made when missing), and that key. */
static json_t *env_parent(json_t *root, const char *pointer, const char **key, bool make) {
    char part[64];
    json_t *obj = root;
    const char *p = pointer + 1, *slash;
    while ((slash = strchr(p, '/')) != NULL) {
        snprintf(part, sizeof(part), "%.*s", (int)(slash - p), p);
        json_t *next = json_object_get(obj, part);
        if (!next || json_is_null(next)) {
            if (!make)
                return NULL;
            next = json_object();
            json_object_set_new(obj, part, next);
        }
        if (!json_is_object(next))
            return NULL; /* the file's wrong type is reported by the loader */
        obj = next;
        p = slash + 1;
    }
    *key = p;
    return obj;
}

extern char **environ;

static int env_apply(cctx_t *x, json_t *root) {
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "RISKWARN_", 9) != 0)
            continue;
        size_t nl = strcspn(*e, "=");
        size_t i = 0;
        while (i < N_ENV_KEYS &&
               (strlen(env_keys[i].name) != nl || strncmp(*e, env_keys[i].name, nl) != 0))
            i++;
        if (i == N_ENV_KEYS)
            return rw_error_set(x->err, "environment", 0, 0,
                                "%.*s: unknown variable (README lists the RISKWARN_* settings)",
                                (int)nl, *e);
        const char *v = (*e)[nl] ? *e + nl + 1 : "";
        json_t *val = NULL;
        if (env_keys[i].integer) {
            char *end;
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (*v && !*end && !errno)
                val = json_integer(n);
        } else if (*v) {
            val = json_string(v); /* NULL when not UTF-8 */
        }
        if (!val)
            return rw_error_set(x->err, "environment", 0, 0, "%s: must be %s", env_keys[i].name,
                                env_keys[i].integer ? "an integer" : "a non-empty UTF-8 string");
        const char *key;
        json_t *obj = env_parent(root, env_keys[i].pointer, &key, true);
        if (obj)
            json_object_set_new(obj, key, val);
        else
            json_decref(val);
        if (env_keys[i].drop && (obj = env_parent(root, env_keys[i].drop, &key, false)))
            json_object_del(obj, key);
    }
    return 0;
}

/* "pseudonym": {"key": TEXT} or {"key_file": PATH}, the secret of pseudonym.h: checked by
 * hand, as every secret is (its table is empty). */
static const rw_param_t pseudonym_table[] = {{0}};

static int load_pseudonym(cctx_t *x, rw_config_t *c, json_t *v) {
    static const char *const extra[] = {"key", "key_file", NULL};
    if (!v)
        return 0;
    if (!json_is_object(v))
        return cerr(x, "/pseudonym", false,
                    "pseudonym: must be an object: {\"key_file\": \"/path/to/secret\"}");
    char dummy = 0;
    if (table_apply(x, pseudonym_table, extra, v, "/pseudonym", "pseudonym", &dummy) ||
        get_secret(x, v, "/pseudonym", "key", &c->pseudonym_key))
        return RW_ERR_INPUT;
    if (c->pseudonym_key && strlen(c->pseudonym_key) < 16)
        return cerr(x, "/pseudonym", false,
                    "pseudonym: the key must be at least 16 bytes (32 random bytes are best)");
    return 0;
}

/* "schema": an object (schema.h), or null to check nothing. */
static int load_schema(cctx_t *x, rw_config_t *c, json_t *v) {
    if (!v)
        return 0;
    rw_schema_destroy(c->schema);
    c->schema = NULL;
    c->schema_off = json_is_null(v);
    if (c->schema_off)
        return 0;
    c->schema = rw_schema_parse(v, x->path, x->text, x->len, "/schema", x->err);
    return c->schema ? 0 : RW_ERR_INPUT;
}

const rw_schema_t *rw_config_schema(const rw_config_t *c) {
    return c->schema_off ? NULL : c->schema ? c->schema : rw_schema_default();
}

/* "rekey": input re-keyed by entity through internal topics (rekey.h), checked against
 * the input topics and the topics the engine writes. */
static int load_rekey(cctx_t *x, rw_config_t *c, json_t *v) {
    if (!v || json_is_null(v))
        return 0;
    const char *outputs[] = {c->alert_topic,   c->high_alert_topic, c->deadletter_topic,
                             c->control_topic, c->audit_topic,      NULL};
    static const char *const owned[] = {"enable.idempotence", "enable.gapless.guarantee", NULL};
    for (size_t i = 0; owned[i]; i++) {
        char text[16] = "", p[300];
        const json_t *pv = json_object_get(c->properties, owned[i]);
        if (pv && rw_kafka_value_text(pv, text, sizeof(text)) == 0 && strcmp(text, "true") != 0) {
            snprintf(p, sizeof(p), "/kafka/properties/%s", owned[i]);
            return cerr(x, p, false,
                        "kafka.properties.%s: must be true with \"rekey\" (the re-keyed copies "
                        "of an input partition must reach the internal topic in order)",
                        owned[i]);
        }
    }
    rw_rekey_conf_destroy(c->rekey);
    c->rekey =
        rw_rekey_conf_parse(v, x->path, x->text, x->len, (const char *const *)c->input_topics,
                            c->n_input_topics, outputs, x->err);
    return c->rekey ? 0 : RW_ERR_INPUT;
}

/* The file's own keys: the scalars a table checks; the sections by their loaders. */
typedef struct top_file {
    char *rules, *modules_dir, *metrics_listen;
    int64_t max_event_bytes, state_max_entries, state_pretouch_mb, state_fold_ms, max_future_ms;
} top_file_t;

static const rw_param_t top_table[] = {
    {.type = RW_PARAM_STRING,
     .name = "rules",
     NONEMPTY,
     .offset = offsetof(top_file_t, rules),
     .desc = "the ruleset file"},
    {.type = RW_PARAM_STRING,
     .name = "modules_dir",
     .flags = RW_PARAM_NULLABLE,
     NONEMPTY,
     .offset = offsetof(top_file_t, modules_dir),
     .desc = "the directory of external rule modules; null: none"},
    {.type = RW_PARAM_INTEGER,
     .name = "max_event_bytes",
     .min = 64,
     .max = 64 * 1024 * 1024,
     .offset = offsetof(top_file_t, max_event_bytes),
     .desc = "larger messages are dead letters"},
    {.type = RW_PARAM_INTEGER,
     .name = "state_max_entries",
     .min = 1000,
     .max = 1000000000,
     .offset = offsetof(top_file_t, state_max_entries),
     .desc = "windows, entries and cool-downs kept in memory; open cases held, apart"},
    {.type = RW_PARAM_INTEGER,
     .name = "state_pretouch_mb",
     .min = 0,
     .max = 1024,
     .offset = offsetof(top_file_t, state_pretouch_mb),
     .desc = "MiB of memory touched before the first batch, so that the state's first growth "
             "does not fault a page at a time; 0: none"},
    {.type = RW_PARAM_INTEGER,
     .name = "state_fold_ms",
     .min = 0,
     .max = 600000,
     .offset = offsetof(top_file_t, state_fold_ms),
     .desc = "windows the engine holds go to one journal list a partition each write, and "
             "into their own lists over this many ms; 0: their own lists each write"},
    {.type = RW_PARAM_INTEGER,
     .name = "max_future_ms",
     .min = 1000,
     .max = 366.0 * 86400000,
     .offset = offsetof(top_file_t, max_future_ms),
     .desc = "events further ahead of their partition's time are dead letters"},
    {.type = RW_PARAM_STRING,
     .name = "metrics_listen",
     .flags = RW_PARAM_NULLABLE,
     NONEMPTY,
     .offset = offsetof(top_file_t, metrics_listen),
     .desc = "host:port of /metrics and /healthz; null: off"},
    {0},
};

static int load_top(cctx_t *x, rw_config_t *c, json_t *root) {
    static const char *const extra[] = {"kafka",    "redis",     "webhook", "log", "schema",
                                        "rulesets", "pseudonym", "rekey",   NULL};
    top_file_t f = {.max_event_bytes = (int64_t)c->max_event_bytes,
                    .state_max_entries = (int64_t)c->state_max_entries,
                    .state_pretouch_mb = (int64_t)c->state_pretouch_mb,
                    .state_fold_ms = c->state_fold_ms,
                    .max_future_ms = c->max_future_ms};
    int rc = table_apply(x, top_table, extra, root, "", "", &f);
    if (rc == 0) {
        take_str(root, "rules", &f.rules, &c->rules);
        take_str(root, "modules_dir", &f.modules_dir, &c->modules_dir);
        take_str(root, "metrics_listen", &f.metrics_listen, &c->metrics_listen);
        c->max_event_bytes = (size_t)f.max_event_bytes;
        c->state_max_entries = (size_t)f.state_max_entries;
        c->state_pretouch_mb = (size_t)f.state_pretouch_mb;
        c->state_fold_ms = f.state_fold_ms;
        c->max_future_ms = f.max_future_ms;
    }
    rw_params_fini(top_table, &f);
    return rc;
}

int rw_config_load(rw_config_t *c, const char *path, rw_error_t *err) {
    size_t len;
    char *text = rw_file_read(path, &len, err);
    if (!text)
        return RW_ERR_IO;
    cctx_t x = {path, text, len, err};
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    int rc = RW_ERR_INPUT;
    if (!root) {
        rw_error_set(err, path, je.line, je.column, "%s", je.text);
        goto out;
    }
    if (!json_is_object(root)) {
        cerr(&x, "", false, "the engine configuration must be a JSON object");
        goto out;
    }
    if (env_apply(&x, root))
        goto out;
    if (load_top(&x, c, root) ||
        (json_object_get(root, "kafka") && load_kafka(&x, c, json_object_get(root, "kafka"))) ||
        (json_object_get(root, "redis") && load_redis(&x, c, json_object_get(root, "redis"))) ||
        (json_object_get(root, "webhook") &&
         load_webhook(&x, c, json_object_get(root, "webhook"))) ||
        (json_object_get(root, "log") && load_log(&x, c, json_object_get(root, "log"))) ||
        load_schema(&x, c, json_object_get(root, "schema")) ||
        (json_object_get(root, "rulesets") &&
         load_rulesets(&x, c, json_object_get(root, "rulesets"))) ||
        load_pseudonym(&x, c, json_object_get(root, "pseudonym")) ||
        load_rekey(&x, c, json_object_get(root, "rekey")))
        goto out;
    rc = 0;
out:
    json_decref(root);
    free(text);
    return rc;
}

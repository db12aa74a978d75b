/* Engine configuration (-c ENGINE.json), docs/reference.md §3. */
#ifndef RW_CONFIG_H
#define RW_CONFIG_H

#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rw_config {
    char *brokers;
    char *group_id;
    char **input_topics;
    size_t n_input_topics;
    char *alert_topic, *high_alert_topic, *deadletter_topic, *control_topic, *audit_topic;
    json_t *properties; /* owned: librdkafka properties, checked against the allow-list */

    char *redis_host;
    int redis_port;
    char *redis_unix_socket; /* NULL: TCP */
    char *redis_password;    /* NULL: no AUTH */
    int redis_db;
    char *redis_key_prefix;
    char **redis_cluster_nodes; /* "host:port" seeds of a Redis Cluster; none: one server */
    size_t n_redis_cluster_nodes;

    char *rules;
    char *modules_dir; /* NULL: none */
    size_t max_event_bytes;
    int64_t max_future_ms;    /* events further ahead of their partition's watermark: dead */
    size_t state_max_entries; /* windows, their entries and cool-downs kept in memory */
    char *metrics_listen;
    /* "webhook": high alerts POSTed to responders' paging tools; url NULL: off. */
    char *webhook_url;
    int webhook_min_level; /* RW_LEVEL_* (3: high) */
    int webhook_timeout_ms;
    int webhook_retries;
    int webhook_digest_after; /* alerts waiting at which the sender sends digests */
    char *webhook_token;      /* NULL: no Authorization: Bearer header */
    char *webhook_secret;     /* NULL: no signature header */
    int log_format;           /* RW_LOG_TEXT or RW_LOG_JSON */
    struct rw_schema *schema; /* owned; "schema" of the file, NULL: see rw_config_schema */
    char *pseudonym_key;      /* "pseudonym": {"key" | "key_file"}; NULL: the built-in key */
    bool schema_off;          /* "schema": null: events are not checked */
    struct rw_rekey_conf
        *rekey; /* owned; "rekey": input re-keyed by entity (rekey.h); NULL: none */
    /* "rulesets": the control path (README, "Changing rules without a restart"). */
    char *rules_keys_file;        /* public keys of signed control messages; NULL: none accepted */
    char *rules_signing_key_file; /* push and SIGHUP sign with it; NULL: SIGHUP is refused */
    char *rules_key_id;           /* its key id; NULL: found in the keys file */
    size_t rules_max_rules, rules_max_bytes;
    long long rules_max_window_days;
    int rules_heartbeat_ms; /* engines say which ruleset they run this often */

    /* Not in the file: set by flags, tests and the benchmark. */
    int batch_max;        /* messages a batch (512) */
    int poll_ms;          /* wait for a batch's first message (100) */
    long stop_after;      /* stop after this many messages; 0: never */
    int redis_timeout_ms; /* per Redis command (5000) */
} rw_config_t;

/* Fills cfg with the defaults of docs/reference.md §3. Free with rw_config_fini. */
void rw_config_init(rw_config_t *cfg);
void rw_config_fini(rw_config_t *cfg);
/* Reads a config file over the defaults, then the RISKWARN_* environment
 * variables over the file (README lists them; any other RISKWARN_* name is an
 * error), then the secrets named by *_file keys. Returns 0, or -1 with err
 * filled (file:line:col, or the variable's name). Unknown keys and wrong types
 * are errors. */
int rw_config_load(rw_config_t *cfg, const char *path, rw_error_t *err);
/* Parses "host:port" into the Redis settings, or "host:port,host:port,..."
 * (a comma anywhere) into Redis Cluster seeds. Returns 0 or -1. */
int rw_config_set_redis(rw_config_t *cfg, const char *hostport);
/* The event schema to check events with: the file's, the built-in one when the file
 * names none, or NULL when it turned checking off. Borrowed from cfg or static. */
const struct rw_schema *rw_config_schema(const rw_config_t *cfg);
/* Replaces a string setting. */
void rw_config_set(char **slot, const char *value);

/* The librdkafka properties a config may set (kafka.properties). Each applies
 * to the clients in its mask; a setting the engine owns is accepted with its
 * one value (`only`); a refused property has `why` and no `only`. */
#define RW_KAFKA_CONSUMER 1 /* consumers outside the group: control topic, tail */
#define RW_KAFKA_MEMBER 2   /* the engine's consumer in its group */
#define RW_KAFKA_PRODUCER 4
typedef struct rw_kafka_prop {
    const char *name;
    int clients;      /* RW_KAFKA_*: where it is applied; 0: nowhere (owned or refused) */
    const char *only; /* the one value accepted; NULL: any */
    const char *why;  /* why it is refused (or why only that value); NULL: allowed */
} rw_kafka_prop_t;
/* The table, ended by a NULL name (static storage). */
const rw_kafka_prop_t *rw_kafka_props(void);

/* Whether a librdkafka property may be set from the config. Properties that
 * load code, run commands or would break a guarantee are refused, naming
 * which. Returns 0, or -1 with why filled. */
int rw_kafka_property_allowed(const char *name, char *why, size_t len);
/* The same, and whether value may be given to it. Returns 0, or -1 with why
 * filled. */
int rw_kafka_property_check(const char *name, const json_t *value, char *why, size_t len);
/* Whether the property goes to a client of that kind (RW_KAFKA_*). */
int rw_kafka_property_applies(const char *name, int client);
/* A property's value as librdkafka text. Returns 0, or -1 for a value that is
 * not a string, number or boolean. */
int rw_kafka_value_text(const json_t *v, char *out, size_t len);

#endif

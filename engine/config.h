/* Engine configuration (-c ENGINE.json), docs/reference.md §3. */
#ifndef RW_CONFIG_H
#define RW_CONFIG_H

#include "kafka.h"
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
    json_t *properties;     /* owned: librdkafka properties, checked against the allow-list */
    int commit_interval_ms; /* stored offsets are committed at most this often; 0: every batch */

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
    size_t state_pretouch_mb; /* memory the engine thread touches before its first batch */
    int64_t state_fold_ms;    /* the journal's fold (rw_redis_opts_t.fold_ms); 0: off */
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
    int batch_max;        /* messages a batch (4096) */
    int poll_ms;          /* wait for a batch's first message (100) */
    long stop_after;      /* stop after this many messages; 0: never */
    int redis_timeout_ms; /* per Redis command (5000) */
} rw_config_t;

/* Fills cfg with the defaults of docs/reference.md §3. Free with rw_config_fini. */
void rw_config_init(rw_config_t *cfg);
void rw_config_fini(rw_config_t *cfg);
/* Reads a config file over the defaults, then the RISKWARN_* environment
 * variables over the file (README lists them; any other RISKWARN_* name is an
 * error), then the secrets named by *_file keys. Unknown keys and wrong types
 * are errors. Returns 0; RW_ERR_IO when the file cannot be read, or
 * RW_ERR_INPUT; err filled (file:line:col, or the variable's name). */
int rw_config_load(rw_config_t *cfg, const char *path, rw_error_t *err);
/* Parses "host:port" into the Redis settings, or "host:port,host:port,..."
 * (a comma anywhere) into Redis Cluster seeds. Returns 0, or RW_ERR_INPUT. */
int rw_config_set_redis(rw_config_t *cfg, const char *hostport);
/* The event schema to check events with: the file's, the built-in one when the file
 * names none, or NULL when it turned checking off. Borrowed from cfg or static. */
const struct rw_schema *rw_config_schema(const rw_config_t *cfg);
/* Replaces a string setting. */
void rw_config_set(char **slot, const char *value);

#endif

/* Kafka clients: the librdkafka properties a config may set, the configurations the engine's
 * clients are made from, and librdkafka's log lines routed to the engine's log. */
#ifndef RW_KAFKA_H
#define RW_KAFKA_H

#include "error.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>

struct rw_config;

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
 * which. Returns 0, or RW_ERR_INPUT with err filled. */
int rw_kafka_property_allowed(const char *name, rw_error_t *err);
/* The same, and whether value may be given to it. Returns 0, or RW_ERR_INPUT
 * with err filled. */
int rw_kafka_property_check(const char *name, const json_t *value, rw_error_t *err);
/* Whether the property goes to a client of that kind (RW_KAFKA_*). */
int rw_kafka_property_applies(const char *name, int client);
/* A property's value as librdkafka text. Returns 0, or -1 for a value that is
 * not a string, number or boolean. */
int rw_kafka_value_text(const json_t *v, char *out, size_t len);

/* A librdkafka configuration with bootstrap servers and the config's allowed
 * properties that every client takes (connection, security). Returns a new
 * conf (owned by the caller until handed to rd_kafka_new), or NULL with err
 * filled (RW_ERR_INPUT: a property refused here or by librdkafka). */
rd_kafka_conf_t *rw_kafka_conf_new(const struct rw_config *cfg, rw_error_t *err);
/* The same for one kind of client (RW_KAFKA_CONSUMER, _MEMBER or _PRODUCER):
 * bootstrap servers, then defaults (name, value pairs ended by NULL; may be
 * NULL), then the config's properties for that client, which win over the
 * defaults. */
rd_kafka_conf_t *rw_kafka_conf_for(const struct rw_config *cfg, int client,
                                   const char *const *defaults, rw_error_t *err);
/* The engine's defaults for its group member (name, value pairs ended by NULL). */
extern const char *const rw_kafka_member_defaults[];

/* For rd_kafka_conf_set_log_cb: a librdkafka log line (syslog level 0-7) becomes
 * a record of the engine's logger: 0-3 error, 4 warn, 5-6 info, 7 debug, with
 * the fields facility and client. */
void rw_kafka_log(const rd_kafka_t *rk, int level, const char *facility, const char *buf);
/* Routes conf's log lines to rw_kafka_log. */
void rw_kafka_conf_log(rd_kafka_conf_t *conf);

/* Whether rk's group rebalances cooperatively (incremental assign and
 * unassign) rather than eagerly. False also when librdkafka cannot say:
 * rd_kafka_rebalance_protocol() returns NULL on error (for a client in no
 * group, or once its group handler has terminated and takes no more
 * requests), which strcmp would crash on. */
bool rw_kafka_cooperative(rd_kafka_t *rk);

#endif

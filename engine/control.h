/* The ruleset control path, apart from Kafka: the keys that sign control
 * messages, signing and checking signatures, the order of ruleset versions,
 * and the limits a ruleset must keep (whether the engines of a group agree on
 * the ruleset they run: group.h). The engine (engine.c) and `riskwarn rules push`
 * (main.c) use it; README, "Changing rules without a restart", describes it. */
#ifndef RW_CONTROL_H
#define RW_CONTROL_H

#include "config.h"
#include "ruleset.h"
#include "util.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A control message is signed over "riskwarn-control-v1\n" ACTION "\n" KEY_ID
 * "\n" followed by its value, with Ed25519. Its headers carry the key id and
 * the signature (base64). */
#define RW_HDR_ACTION "rw.action"
#define RW_HDR_KEY_ID "rw.key-id"
#define RW_HDR_SIGNATURE "rw.signature"
#define RW_SIG_B64_MAX 96 /* a base64 Ed25519 signature (88) and its NUL fit */

/* ---- keys --------------------------------------------------------------------------- */

/* The public keys an engine accepts, by id, from the keys file:
 *   {"keys": [{"id": "2026-12", "public_key": "MCowBQYDK2VwAyEA..."}, ...]}
 * public_key: an Ed25519 public key as PEM text, or as the base64 line of its
 * PEM (DER SubjectPublicKeyInfo). Ids: 1-64 of A-Z a-z 0-9 . _ -, unique. */
typedef struct rw_keys rw_keys_t;
/* Returns new keys (free with rw_control_keys_destroy), or NULL with err filled
 * (file:line:col where known). */
rw_keys_t *rw_control_keys_load(const char *path, rw_error_t *err);
void rw_control_keys_destroy(rw_keys_t *k);
size_t rw_control_keys_count(const rw_keys_t *k);

/* A private key to sign with (an Ed25519 PEM file, as `openssl genpkey
 * -algorithm ed25519` writes it) and its key id. */
typedef struct rw_signer rw_signer_t;
/* Returns a new signer (free with rw_control_signer_destroy), or NULL with err filled.
 * key_id may be NULL: then rw_control_signer_identify must find it. */
rw_signer_t *rw_control_signer_load(const char *path, const char *key_id, rw_error_t *err);
void rw_control_signer_destroy(rw_signer_t *s);
/* The signer's key id; NULL when not known. Borrowed, valid until destroy. */
const char *rw_control_signer_key_id(const rw_signer_t *s);
/* Sets the signer's key id from the keys that hold its public key. Returns 0,
 * or -1 when none does. */
int rw_control_signer_identify(rw_signer_t *s, const rw_keys_t *keys);
/* Signs a control message; writes the base64 signature to sig (at least
 * RW_SIG_B64_MAX bytes). Returns 0 or -1. */
int rw_control_signer_sign(const rw_signer_t *s, const char *action, const void *value, size_t len,
                           char *sig, size_t siglen);

/* The signer of the config: rulesets.signing_key_file, with rulesets.key_id or
 * else the id under which rulesets.keys_file holds its public half. Returns a
 * new signer (free with rw_control_signer_destroy), or NULL with err filled (also when
 * the config names no signing key). */
rw_signer_t *rw_control_signer_from_config(const rw_config_t *cfg, rw_error_t *err);

/* Checks a control message's signature (key_id and sig from its headers, NULL
 * when missing). Returns 0 when key key_id signed action and value; else -1
 * with why filled ("unsigned", "unknown key id", "bad signature"). */
int rw_control_keys_verify(const rw_keys_t *k, const char *key_id, const char *sig,
                           const char *action, const void *value, size_t len, char *why,
                           size_t whylen);

/* The sha256 of the shadow candidate that the control topic of cfg leaves (the
 * last "shadow" push not promoted or dropped since, and signed by one of keys
 * when keys is not NULL), for promote and drop-shadow to name; read with a
 * consumer made from conf (taken: destroyed by this function). Returns 0 with
 * sha filled (65 bytes), RW_ERR_NOT_FOUND when there is none (err untouched), or another
 * negative code with err filled. */
int rw_control_shadow_find(const rw_config_t *cfg, rd_kafka_conf_t *conf, const rw_keys_t *keys,
                           char sha[65], rw_error_t *err);

/* Produces a control message to partition 0 of topic (every engine reads it):
 * the action, and with a signer its key id and signature, in headers; value
 * is copied. Returns librdkafka's error (queue full included). */
rd_kafka_resp_err_t rw_control_produce(rd_kafka_t *p, const char *topic, const char *action,
                                       const void *value, size_t len, const rw_signer_t *signer);

/* ---- versions and limits ------------------------------------------------------------ */

/* Orders two ruleset versions: <0, 0 or >0 as a is older than, the same as or
 * newer than b. Compared piece by piece from the left: runs of digits as
 * numbers (leading zeros ignored), every other byte by its value; a version
 * that is the start of a longer one is older. So 2026-11-27.2 < 2026-11-27.10
 * < 2026-11-28 and v9 < v10. */
int rw_control_version_cmp(const char *a, const char *b);

/* What a ruleset may hold, from any source (file, push, SIGHUP). */
typedef struct rw_ruleset_limits {
    size_t max_rules;      /* rules in one ruleset */
    size_t max_bytes;      /* the ruleset's text */
    int64_t max_window_ms; /* a rule's window */
} rw_ruleset_limits_t;
/* The limits of the config's "rulesets". */
rw_ruleset_limits_t rw_control_limits_of(const rw_config_t *cfg);
/* Loads a ruleset (rw_ruleset_load) within limits: text over max_bytes is not
 * parsed. Returns a new ruleset, or NULL with errs filled. */
rw_ruleset_t *rw_control_ruleset_load(const char *text, size_t len, const char *source,
                                      const rw_ruleset_limits_t *l, rw_errors_t *errs);
/* Adds an error to errs for each limit rs (loaded from len bytes, named
 * source) passes. Returns the number of errors added. */
size_t rw_control_limits_check(const rw_ruleset_t *rs, size_t len, const char *source,
                               const rw_ruleset_limits_t *l, rw_errors_t *errs);

#endif

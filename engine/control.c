#include "control.h"

#include "jpos.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- keys --------------------------------------------------------------------------- */

typedef struct key {
    char id[65];
    EVP_PKEY *pub;
} pubkey_t;

struct rw_keys {
    pubkey_t *v;
    size_t n;
};

struct rw_signer {
    EVP_PKEY *priv;
    char *key_id;
};

static bool key_id_ok(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return false;
    for (; *id; id++)
        if (!isalnum((unsigned char)*id) && !strchr("._-", *id))
            return false;
    return true;
}

/* Decodes base64 (no line breaks) into a new buffer. Returns NULL when not base64. */
static unsigned char *b64_decode(const char *in, size_t *out_len) {
    size_t n = strlen(in);
    if (n == 0 || n % 4)
        return NULL;
    unsigned char *out = rw_malloc(n / 4 * 3 + 1);
    int got = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (got < 0) {
        free(out);
        return NULL;
    }
    size_t pad = (in[n - 1] == '=' ? 1u : 0u) + (in[n - 2] == '=' ? 1u : 0u);
    *out_len = (size_t)got - pad;
    return out;
}

/* An Ed25519 public key from PEM text or the base64 of its DER form. */
static EVP_PKEY *pub_parse(const char *text) {
    EVP_PKEY *pk = NULL;
    if (strncmp(text, "-----BEGIN", 10) == 0) {
        BIO *b = BIO_new_mem_buf(text, -1);
        pk = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    } else {
        size_t len;
        unsigned char *der = b64_decode(text, &len);
        const unsigned char *p = der;
        pk = der ? d2i_PUBKEY(NULL, &p, (long)len) : NULL;
        free(der);
    }
    if (pk && EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    return pk;
}

static int keys_err(rw_error_t *err, const char *path, const char *text, size_t len,
                    const char *pointer, const char *what) {
    return rw_jpos_error(err, path, text, len, pointer, 0, "%s", what);
}

/* Reads one {"id", "public_key"} entry into k->v[k->n]. */
static int key_parse(rw_keys_t *k, json_t *e, size_t i, const char *path, const char *text,
                     size_t len, rw_error_t *err) {
    char p[64], msg[200];
    snprintf(p, sizeof(p), "/keys/%zu", i);
    const char *name;
    json_t *v;
    if (!json_is_object(e))
        return keys_err(err, path, text, len, p, "keys: each key is {\"id\", \"public_key\"}");
    json_object_foreach(e, name, v) {
        if (strcmp(name, "id") != 0 && strcmp(name, "public_key") != 0) {
            snprintf(msg, sizeof(msg), "keys[%zu]: unknown key \"%.40s\"", i, name);
            return keys_err(err, path, text, len, p, msg);
        }
    }
    const char *id = json_string_value(json_object_get(e, "id"));
    const char *pub = json_string_value(json_object_get(e, "public_key"));
    snprintf(p, sizeof(p), "/keys/%zu/id", i);
    if (!id || !key_id_ok(id)) {
        snprintf(msg, sizeof(msg), "keys[%zu].id: 1 to 64 of A-Z a-z 0-9 . _ -", i);
        return keys_err(err, path, text, len, p, msg);
    }
    for (size_t j = 0; j < k->n; j++)
        if (strcmp(k->v[j].id, id) == 0) {
            snprintf(msg, sizeof(msg), "keys[%zu].id: \"%s\" is given twice", i, id);
            return keys_err(err, path, text, len, p, msg);
        }
    snprintf(p, sizeof(p), "/keys/%zu/public_key", i);
    EVP_PKEY *pk = pub ? pub_parse(pub) : NULL;
    if (!pk) {
        snprintf(msg, sizeof(msg),
                 "keys[%zu].public_key: not an Ed25519 public key (PEM, or the base64 line of "
                 "`openssl pkey -pubout`)",
                 i);
        return keys_err(err, path, text, len, p, msg);
    }
    snprintf(k->v[k->n].id, sizeof(k->v[k->n].id), "%s", id);
    k->v[k->n++].pub = pk;
    return 0;
}

rw_keys_t *rw_control_keys_load(const char *path, rw_error_t *err) {
    size_t len;
    char *text = rw_file_read(path, &len, err);
    if (!text)
        return NULL;
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    rw_keys_t *k = rw_calloc(1, sizeof(*k));
    json_t *list = json_object_get(root, "keys");
    int rc = 0;
    if (!root) {
        rc = rw_error_set(err, path, je.line, je.column, "%s", je.text);
    } else if (!json_is_object(root) || json_object_size(root) != 1 || !json_is_array(list) ||
               json_array_size(list) == 0) {
        rc = keys_err(err, path, text, len, "",
                      "a keys file is {\"keys\": [{\"id\", \"public_key\"}, ...]} "
                      "with at least one key");
    } else {
        k->v = rw_calloc(json_array_size(list), sizeof(*k->v));
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) {
            if ((rc = key_parse(k, e, i, path, text, len, err)))
                break;
        }
    }
    json_decref(root);
    free(text);
    if (rc) {
        rw_control_keys_destroy(k);
        return NULL;
    }
    return k;
}

void rw_control_keys_destroy(rw_keys_t *k) {
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++)
        EVP_PKEY_free(k->v[i].pub);
    free(k->v);
    free(k);
}

size_t rw_control_keys_count(const rw_keys_t *k) { return k ? k->n : 0; }

rw_signer_t *rw_control_signer_load(const char *path, const char *key_id, rw_error_t *err) {
    if (key_id && !key_id_ok(key_id)) {
        rw_error_set(err, "", 0, 0, "key id \"%s\": 1 to 64 of A-Z a-z 0-9 . _ -", key_id);
        return NULL;
    }
    BIO *b = BIO_new_file(path, "r");
    if (!b) {
        rw_error_set(err, path, 0, 0, "cannot read the signing key");
        return NULL;
    }
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!pk || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pk);
        rw_error_set(err, path, 0, 0,
                     "not an Ed25519 private key in PEM (make one with `openssl genpkey "
                     "-algorithm ed25519 -out FILE`)");
        return NULL;
    }
    rw_signer_t *s = rw_calloc(1, sizeof(*s));
    s->priv = pk;
    s->key_id = key_id ? rw_strdup(key_id) : NULL;
    return s;
}

void rw_control_signer_destroy(rw_signer_t *s) {
    if (!s)
        return;
    EVP_PKEY_free(s->priv);
    free(s->key_id);
    free(s);
}

const char *rw_control_signer_key_id(const rw_signer_t *s) { return s->key_id; }

int rw_control_signer_identify(rw_signer_t *s, const rw_keys_t *keys) {
    for (size_t i = 0; keys && i < keys->n; i++)
        if (EVP_PKEY_eq(s->priv, keys->v[i].pub) == 1) {
            free(s->key_id);
            s->key_id = rw_strdup(keys->v[i].id);
            return 0;
        }
    return -1;
}

rw_signer_t *rw_control_signer_from_config(const rw_config_t *cfg, rw_error_t *err) {
    if (!cfg->rules_signing_key_file) {
        rw_error_set(err, "", 0, 0,
                     "no signing key: give --key FILE.pem (and --key-id ID), or "
                     "rulesets.signing_key_file in the config");
        return NULL;
    }
    rw_signer_t *s = rw_control_signer_load(cfg->rules_signing_key_file, cfg->rules_key_id, err);
    if (!s || s->key_id)
        return s;
    rw_keys_t *keys = cfg->rules_keys_file ? rw_control_keys_load(cfg->rules_keys_file, err) : NULL;
    int rc = keys ? rw_control_signer_identify(s, keys) : -1;
    rw_control_keys_destroy(keys);
    if (rc) {
        rw_error_set(err, cfg->rules_signing_key_file, 0, 0,
                     "which key id is this key? give --key-id or rulesets.key_id, or add its "
                     "public half to rulesets.keys_file");
        rw_control_signer_destroy(s);
        return NULL;
    }
    return s;
}

/* What is signed: the domain, the action, the key id, then the value. */
static void signed_text(rw_buf_t *b, const char *action, const char *key_id, const void *value,
                        size_t len) {
    rw_buf_init(b);
    rw_buf_printf(b, "riskwarn-control-v1\n%s\n%s\n", action, key_id);
    rw_buf_append(b, value, len);
}

int rw_control_signer_sign(const rw_signer_t *s, const char *action, const void *value, size_t len,
                           char *sig, size_t siglen) {
    if (!s->key_id || siglen < RW_SIG_B64_MAX)
        return -1;
    rw_buf_t b;
    signed_text(&b, action, s->key_id, value, len);
    unsigned char raw[64];
    size_t rawlen = sizeof(raw);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->priv) == 1 &&
             EVP_DigestSign(ctx, raw, &rawlen, (const unsigned char *)b.data, b.len) == 1;
    EVP_MD_CTX_free(ctx);
    rw_buf_fini(&b);
    if (!ok)
        return -1;
    EVP_EncodeBlock((unsigned char *)sig, raw, (int)rawlen);
    return 0;
}

int rw_control_keys_verify(const rw_keys_t *k, const char *key_id, const char *sig,
                           const char *action, const void *value, size_t len, char *why,
                           size_t whylen) {
    if (!k || k->n == 0) {
        snprintf(why, whylen,
                 "this engine has no rulesets.keys_file: it accepts no control "
                 "message");
        return -1;
    }
    if (!key_id || !sig) {
        snprintf(why, whylen,
                 "unsigned: control messages must be signed (riskwarn rules push "
                 "--key FILE)");
        return -1;
    }
    const pubkey_t *key = NULL;
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->v[i].id, key_id) == 0)
            key = &k->v[i];
    if (!key) {
        snprintf(why, whylen, "signed with key id \"%.64s\", which is not in rulesets.keys_file",
                 key_id);
        return -1;
    }
    size_t rawlen = 0;
    unsigned char *raw = b64_decode(sig, &rawlen);
    rw_buf_t b;
    signed_text(&b, action, key_id, value, len);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = raw && rawlen == 64 && ctx &&
             EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pub) == 1 &&
             EVP_DigestVerify(ctx, raw, rawlen, (const unsigned char *)b.data, b.len) == 1;
    EVP_MD_CTX_free(ctx);
    rw_buf_fini(&b);
    free(raw);
    if (!ok) {
        snprintf(why, whylen, "bad signature: key \"%s\" did not sign this %s message", key_id,
                 action);
        return -1;
    }
    return 0;
}

rd_kafka_resp_err_t rw_control_produce(rd_kafka_t *p, const char *topic, const char *action,
                                       const void *value, size_t len, const rw_signer_t *signer) {
    char sig[RW_SIG_B64_MAX];
    if (signer && rw_control_signer_sign(signer, action, value, len, sig, sizeof(sig)))
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    rd_kafka_headers_t *h = rd_kafka_headers_new(3);
    rd_kafka_header_add(h, RW_HDR_ACTION, -1, action, -1);
    if (signer) {
        rd_kafka_header_add(h, RW_HDR_KEY_ID, -1, signer->key_id, -1);
        rd_kafka_header_add(h, RW_HDR_SIGNATURE, -1, sig, -1);
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                RD_KAFKA_V_VALUE(RW_UNCONST(void *, value), len),
                                                RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
    if (err)
        rd_kafka_headers_destroy(h);
    return err;
}

/* Whether m is a "shadow" message that keys (when not NULL) accept. */
static bool shadow_signed(const rw_keys_t *keys, const rd_kafka_message_t *m,
                          rd_kafka_headers_t *h) {
    if (!keys)
        return true;
    const void *kv = NULL, *sv = NULL;
    size_t kl = 0, sl = 0;
    char key_id[80], sig[RW_SIG_B64_MAX + 8], why[300];
    if (rd_kafka_header_get_last(h, RW_HDR_KEY_ID, &kv, &kl) || !kv || kl >= sizeof(key_id) ||
        rd_kafka_header_get_last(h, RW_HDR_SIGNATURE, &sv, &sl) || !sv || sl >= sizeof(sig))
        return false;
    memcpy(key_id, kv, kl);
    key_id[kl] = 0;
    memcpy(sig, sv, sl);
    sig[sl] = 0;
    return rw_control_keys_verify(keys, key_id, sig, "shadow", m->payload ? m->payload : "", m->len,
                                  why, sizeof(why)) == 0;
}

int rw_control_shadow_find(const rw_config_t *cfg, rd_kafka_conf_t *conf, const rw_keys_t *keys,
                           char sha[65], rw_error_t *err) {
    char group[300], e[512];
    snprintf(group, sizeof(group), "%s.control-cli", cfg->group_id);
    rd_kafka_t *c = NULL;
    if (rd_kafka_conf_set(conf, "group.id", group, e, sizeof(e)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", e, sizeof(e)) != RD_KAFKA_CONF_OK ||
        !(c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e)))) {
        rd_kafka_conf_destroy(conf);
        return rw_error_fail(err, RW_ERR_KAFKA, "%s", e);
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, cfg->control_topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    int rc = RW_ERR_NOT_FOUND;
    int64_t deadline = rw_monotonic_ms() + 15000;
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m) {
            if (rw_monotonic_ms() < deadline)
                continue;
            rc = rw_error_fail(err, RW_ERR_TIMEOUT, "%s: not read to its end within 15 s",
                               cfg->control_topic);
            break;
        }
        bool eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
        if (m->err && !eof) {
            rc = rw_error_fail(err, RW_ERR_KAFKA, "%s: %s", cfg->control_topic,
                               rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            break;
        }
        rd_kafka_headers_t *h = NULL;
        const void *v = NULL;
        size_t vlen = 0;
        if (!eof && rd_kafka_message_headers(m, &h) == 0 &&
            rd_kafka_header_get_last(h, RW_HDR_ACTION, &v, &vlen) == 0) {
            if (vlen == 6 && memcmp(v, "shadow", 6) == 0 && shadow_signed(keys, m, h)) {
                uint8_t dig[32];
                rw_sha256(m->payload ? m->payload : "", m->len, dig);
                rw_hex(dig, 32, sha);
                rc = 0;
            } else if (rc == 0 && m->len == 64 && memcmp(m->payload, sha, 64) == 0 &&
                       ((vlen == 7 && memcmp(v, "promote", 7) == 0) ||
                        (vlen == 11 && memcmp(v, "drop-shadow", 11) == 0))) {
                rc = RW_ERR_NOT_FOUND;
            }
        }
        rd_kafka_message_destroy(m);
        if (eof)
            break;
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return rc;
}

/* ---- versions and limits ------------------------------------------------------------ */

int rw_control_version_cmp(const char *a, const char *b) {
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            while (*a == '0')
                a++;
            while (*b == '0')
                b++;
            size_t na = 0, nb = 0;
            while (isdigit((unsigned char)a[na]))
                na++;
            while (isdigit((unsigned char)b[nb]))
                nb++;
            if (na != nb)
                return na < nb ? -1 : 1;
            int c = memcmp(a, b, na);
            if (c)
                return c < 0 ? -1 : 1;
            a += na;
            b += nb;
            continue;
        }
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++;
        b++;
    }
    return *a ? 1 : *b ? -1 : 0;
}

rw_ruleset_limits_t rw_control_limits_of(const rw_config_t *cfg) {
    return (rw_ruleset_limits_t){cfg->rules_max_rules, cfg->rules_max_bytes,
                                 (int64_t)cfg->rules_max_window_days * 86400000};
}

rw_ruleset_t *rw_control_ruleset_load(const char *text, size_t len, const char *source,
                                      const rw_ruleset_limits_t *l, rw_errors_t *errs) {
    if (rw_control_limits_check(NULL, len, source, l, errs))
        return NULL;
    rw_ruleset_t *rs = rw_ruleset_load(text, len, source, errs);
    if (rs && rw_control_limits_check(rs, len, source, l, errs)) {
        rw_ruleset_destroy(rs);
        rs = NULL;
    }
    return rs;
}

size_t rw_control_limits_check(const rw_ruleset_t *rs, size_t len, const char *source,
                               const rw_ruleset_limits_t *l, rw_errors_t *errs) {
    size_t before = errs->n;
    rw_error_t err;
    if (l->max_bytes && len > l->max_bytes) {
        rw_error_clear(&err);
        rw_error_set(&err, source, 0, 0,
                     "the ruleset is %zu bytes, over the limit of %zu (rulesets.max_bytes)", len,
                     l->max_bytes);
        rw_errors_add(errs, &err);
    }
    if (rs && l->max_rules && rs->n_rules > l->max_rules) {
        rw_error_clear(&err);
        rw_error_set(&err, source, 0, 0,
                     "the ruleset has %zu rules, over the limit of %zu (rulesets.max_rules)",
                     rs->n_rules, l->max_rules);
        rw_errors_add(errs, &err);
    }
    for (size_t i = 0; rs && l->max_window_ms && i < rs->n_rules; i++)
        if (rs->rules[i].window_ms > l->max_window_ms) {
            rw_error_clear(&err);
            rw_error_set(&err, source, 0, 0,
                         "rule %s: its window of %lld s is over the limit of %lld s "
                         "(rulesets.max_window_days)",
                         rs->rules[i].id, (long long)rs->rules[i].window_ms / 1000,
                         (long long)l->max_window_ms / 1000);
            rw_errors_add(errs, &err);
        }
    return errs->n - before;
}

/* riskwarn check: an engine config, its ruleset and modules checked without
 * starting the engine (like nginx -t); with --connect, Kafka and Redis are
 * reached and described: topics and partitions, Redis version and mode, and
 * a peer that wants TLS or speaks another protocol is named as such. */
#include "commands.h"
#include "config.h"
#include "control.h"
#include "engine.h"
#include "plugin.h"
#include "probe.h"
#include "rekey.h"
#include "ruleset.h"
#include "store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* What a check found wrong, each as "what: why". */
typedef struct findings {
    rw_errors_t errs;
    const char *source; /* the config file, for errors without a place */
} findings_t;

static void bad(findings_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(findings_t *f, const char *fmt, ...) {
    rw_error_t e;
    rw_error_clear(&e);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.text, sizeof(e.text), fmt, ap);
    va_end(ap);
    snprintf(e.source, sizeof(e.source), "%s", f->source);
    e.code = RW_ERR_INPUT;
    rw_errors_add(&f->errs, &e);
}

/* metrics_listen is "IPV4:PORT" (rw_metrics_serve binds it at start-up). */
static void check_listen(findings_t *f, const char *listen) {
    const char *colon = strrchr(listen, ':');
    char host[64];
    struct in_addr a;
    long port = -1;
    if (colon && (size_t)(colon - listen) < sizeof(host)) {
        snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
        char *end;
        port = strtol(colon + 1, &end, 10);
        if (*end || colon[1] == 0 || inet_pton(AF_INET, host, &a) != 1)
            port = -1;
    }
    if (port < 0 || port > 65535)
        bad(f, "metrics_listen: use an IPv4 address and a port (0: any free one), not \"%s\"",
            listen);
}

/* The engine reads its input topics and writes the others: one topic in both
 * roles would feed the engine its own output. */
static void check_topics(findings_t *f, const rw_config_t *c) {
    const char *outs[] = {c->alert_topic, c->high_alert_topic, c->deadletter_topic,
                          c->control_topic, c->audit_topic};
    for (size_t i = 0; i < c->n_input_topics; i++)
        for (size_t o = 0; o < sizeof(outs) / sizeof(*outs); o++)
            if (strcmp(c->input_topics[i], outs[o]) == 0)
                bad(f, "kafka: \"%s\" is both an input topic and one the engine writes", outs[o]);
}

/* The control path: the keys file, the signing key, the ruleset within the limits. */
static void check_rulesets(findings_t *f, const rw_config_t *c, const rw_ruleset_t *rs) {
    rw_error_t e;
    rw_error_clear(&e);
    rw_keys_t *k = c->rules_keys_file ? rw_control_keys_load(c->rules_keys_file, &e) : NULL;
    if (k)
        printf("%s: %zu keys for signed control messages\n", c->rules_keys_file,
               rw_control_keys_count(k));
    else if (c->rules_keys_file)
        rw_errors_add(&f->errs, &e);
    else
        printf("rulesets.keys_file: none, so every ruleset pushed is refused\n");
    rw_control_keys_destroy(k);
    rw_error_clear(&e);
    rw_signer_t *s = c->rules_signing_key_file ? rw_control_signer_from_config(c, &e) : NULL;
    if (s)
        printf("%s: SIGHUP publishes the rules file signed with key %s\n",
               c->rules_signing_key_file, rw_control_signer_key_id(s));
    else if (c->rules_signing_key_file)
        rw_errors_add(&f->errs, &e);
    rw_control_signer_destroy(s);
    size_t len = 0;
    rw_error_clear(&e);
    char *text = rs ? rw_file_read(c->rules, &len, &e) : NULL;
    rw_ruleset_limits_t l = rw_control_limits_of(c);
    if (text)
        rw_control_limits_check(rs, len, c->rules, &l, &f->errs);
    free(text);
}

/* The files: config, modules, ruleset, Kafka properties. Returns the ruleset
 * (free with rw_ruleset_destroy) or NULL. */
static rw_ruleset_t *check_files(findings_t *f, const rw_config_t *c) {
    rw_error_t e;
    rw_error_clear(&e);
    if (c->modules_dir && rw_plugins_load_dir(c->modules_dir, &e))
        rw_errors_add(&f->errs, &e);
    rw_ruleset_t *rs = rw_ruleset_load_file(c->rules, &f->errs);
    if (rs)
        printf("%s: ruleset %s version %s, %zu rules, sha256 %s\n", c->rules, rs->name, rs->version,
               rs->n_rules, rs->sha256);
    check_rulesets(f, c, rs);
    rw_error_clear(&e);
    rd_kafka_conf_t *kc = rw_kafka_conf_new(c, &e);
    if (kc)
        rd_kafka_conf_destroy(kc);
    else
        bad(f, "kafka: %s", e.text);
    if (c->metrics_listen)
        check_listen(f, c->metrics_listen);
    check_topics(f, c);
    return rs;
}

/* ---- Kafka ------------------------------------------------------------------------- */

/* The errors librdkafka reported while trying: they name a TLS listener or a
 * refused login better than a timeout does. */
typedef struct kafka_errs {
    char text[3][512];
    int n;
} kafka_errs_t;

static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    kafka_errs_t *k = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || strstr(reason, "identical error"))
        return; /* says nothing the others do not */
    for (int i = 0; i < k->n; i++)
        if (strcmp(k->text[i], reason) == 0)
            return;
    if (k->n < 3)
        snprintf(k->text[k->n++], sizeof(k->text[0]), "%s", reason);
}

static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk, (void)level, (void)fac, (void)buf; /* the errors above say it once */
}

static int topic_partitions(const struct rd_kafka_metadata *md, const char *name) {
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, name) == 0)
            return md->topics[i].err ? -1 : md->topics[i].partition_cnt;
    return -1;
}

static void topic_line(findings_t *f, const struct rd_kafka_metadata *md, const char *name,
                       const char *role, bool needed) {
    int parts = topic_partitions(md, name);
    char what[32] = "missing";
    if (parts >= 0)
        snprintf(what, sizeof(what), "%d partition%s", parts, parts == 1 ? "" : "s");
    printf("  %-28s %-14s %s\n", name, what, role);
    if (parts < 0 && needed)
        bad(f, "kafka: topic \"%s\" (%s) does not exist: create it", name, role);
}

static int kafka_probe(const rw_config_t *c, char *why, size_t len);

static void check_kafka(findings_t *f, const rw_config_t *c, int timeout_ms) {
    char err[512];
    kafka_errs_t ke;
    memset(&ke, 0, sizeof(ke));
    rw_error_t cerr;
    rw_error_clear(&cerr);
    rd_kafka_conf_t *conf = rw_kafka_conf_new(c, &cerr);
    if (!conf)
        return; /* reported with the files */
    rd_kafka_conf_set_error_cb(conf, on_kafka_error);
    rd_kafka_conf_set_log_cb(conf, on_kafka_log);
    rd_kafka_conf_set_opaque(conf, &ke);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        bad(f, "kafka: %s", err);
        return;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    rd_kafka_poll(rk, 0); /* the error callbacks */
    if (kerr) {
        printf("kafka %s: not reached in %d ms: %s\n", c->brokers, timeout_ms,
               rd_kafka_err2str(kerr));
        for (int i = 0; i < ke.n; i++)
            printf("  %s\n", ke.text[i]);
        char why[256];
        if (kafka_probe(c, why, sizeof(why))) {
            printf("  %s\n", why);
            bad(f, "kafka %s: not reached: %s", c->brokers, why);
        } else {
            bad(f, "kafka %s: not reached: %s", c->brokers,
                ke.n ? ke.text[0] : rd_kafka_err2str(kerr));
        }
        rd_kafka_destroy(rk);
        return;
    }
    char *cluster = rd_kafka_clusterid(rk, 0);
    printf("kafka %s: %d broker%s, cluster id %s, %d topics\n", c->brokers, md->broker_cnt,
           md->broker_cnt == 1 ? "" : "s", cluster ? cluster : "(none)", md->topic_cnt);
    free(cluster);
    for (size_t i = 0; i < c->n_input_topics; i++)
        topic_line(f, md, c->input_topics[i], "input", true);
    topic_line(f, md, c->alert_topic, "alerts", true);
    topic_line(f, md, c->high_alert_topic, "high alerts", true);
    topic_line(f, md, c->deadletter_topic, "dead letters", true);
    topic_line(f, md, c->audit_topic, "audit records", true);
    /* Engines start without it; `rules push` is what writes it first. */
    topic_line(f, md, c->control_topic, "rulesets pushed (rules push)", false);
    for (size_t i = 0; c->rekey && i < c->rekey->n_routes; i++) {
        const rw_rekey_route_t *r = &c->rekey->routes[i];
        char role[400];
        snprintf(role, sizeof(role), "re-keyed input (rekey) of %s, by %s%s",
                 r->input ? r->input : "every input topic", r->fields[0],
                 r->n_fields > 1 ? ", ..." : "");
        topic_line(f, md, r->topic, role, true);
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
}

/* ---- Redis ------------------------------------------------------------------------- */

/* What the first bootstrap broker speaks when librdkafka could not talk to
 * it: Kafka (an ApiVersions request gets its answer), TLS, Redis or HTTP.
 * Fills why and returns 1 when that explains the failure (a TLS listener for a
 * plaintext config or the other way round, or not Kafka at all), else 0. */
static int kafka_probe(const rw_config_t *c, char *why, size_t len) {
    char host[256];
    const char *b = c->brokers, *sep = strstr(b, "://");
    b = sep ? sep + 3 : b;
    snprintf(host, sizeof(host), "%.*s", (int)strcspn(b, ","), b);
    char *colon = strrchr(host, ':');
    if (!colon)
        return 0;
    *colon = 0;
    int port = (int)strtol(colon + 1, NULL, 10);
    json_t *sp = json_object_get(c->properties, "security.protocol");
    const char *proto = json_string_value(sp) ? json_string_value(sp) : "plaintext";
    bool wants_tls = strcasecmp(proto, "ssl") == 0 || strcasecmp(proto, "sasl_ssl") == 0;
    /* ApiVersions v0, correlation id 7, client id "rw". */
    static const unsigned char api_versions[] = {0, 0, 0, 12, 0, 18, 0,   0,
                                                 0, 0, 0, 7,  0, 2,  'r', 'w'};
    unsigned char r[64];
    ssize_t n =
        rw_probe_send(host, port, api_versions, sizeof(api_versions), 1000, r, sizeof(r) - 1);
    if (n < 0)
        return 0; /* not reachable: librdkafka's error says so */
    if (n >= 8 && r[4] == 0 && r[5] == 0 && r[6] == 0 && r[7] == 7) {
        if (!wants_tls)
            return 0;
        snprintf(why, len,
                 "%.120s:%d speaks Kafka without TLS, but kafka.properties security.protocol is %s",
                 host, port, proto);
        return 1;
    }
    n = rw_probe_send(host, port, rw_tls_hello, RW_TLS_HELLO_LEN, 1000, r, sizeof(r) - 1);
    if (n >= 2 && (r[0] == 0x15 || r[0] == 0x16) && r[1] == 0x03) {
        if (wants_tls)
            return 0;
        snprintf(
            why, len,
            "%.120s:%d wants TLS: set kafka.properties \"security.protocol\" to ssl or sasl_ssl "
            "(it is %s)",
            host, port, proto);
        return 1;
    }
    n = rw_probe_send(host, port, "PING\r\n", 6, 1000, r, sizeof(r) - 1);
    if (n > 0 && (r[0] == '+' || r[0] == '-'))
        snprintf(why, len, "%.120s:%d is a Redis server, not a Kafka broker", host, port);
    else if (n >= 5 && memcmp(r, "HTTP/", 5) == 0)
        snprintf(why, len, "%.120s:%d is an HTTP server, not a Kafka broker", host, port);
    else
        snprintf(why, len, "%.120s:%d does not answer a Kafka request: not a Kafka broker", host,
                 port);
    return 1;
}

/* The value of "field:" in an INFO reply, into out ("" when absent). */
static void info_field(const char *info, const char *field, char *out, size_t len) {
    out[0] = 0;
    size_t fl = strlen(field);
    for (const char *l = info; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (strncmp(l, field, fl) == 0 && l[fl] == ':') {
            size_t n = strcspn(l + fl + 1, "\r\n");
            snprintf(out, len, "%.*s", (int)n, l + fl + 1);
            return;
        }
}

/* Why Redis did not answer: a TLS port accepts the connection and drops it at the first
 * command, which a probe tells apart from a port that is not reached at all. */
static void redis_unreached(findings_t *f, const rw_config_t *c, const char *host, int port,
                            const char *where, const char *err, int timeout_ms) {
    char why[256];
    rw_probe_verdict_t probed = c->redis_unix_socket
                                    ? RW_PROBE_REDIS
                                    : rw_probe_redis(host, port, timeout_ms, why, sizeof(why));
    if (probed) {
        printf("redis %s: %s\n", where, why);
        bad(f, "redis %s: %s%s", where, why,
            probed == RW_PROBE_TLS
                ? " (this build of hiredis has no TLS: reach a TLS Redis through a "
                  "local TLS proxy such as stunnel, README)"
                : "");
    } else {
        printf("redis %s: not reached\n", where);
        bad(f, "%s", err);
    }
}

static void check_redis(findings_t *f, const rw_config_t *c, int timeout_ms) {
    char err[512], where[300], host[256];
    int port = c->redis_port;
    snprintf(host, sizeof(host), "%s", c->redis_host);
    if (c->n_redis_cluster_nodes) { /* a Redis Cluster: its first seed */
        const char *seed = c->redis_cluster_nodes[0], *colon = strrchr(seed, ':');
        snprintf(host, sizeof(host), "%.*s", (int)(colon - seed), seed);
        port = (int)strtol(colon + 1, NULL, 10);
    }
    if (c->redis_unix_socket)
        snprintf(where, sizeof(where), "%s", c->redis_unix_socket);
    else
        snprintf(where, sizeof(where), "%s:%d", host, port);
    rw_redis_opts_t ro = {host,
                          port,
                          c->redis_unix_socket,
                          c->redis_password,
                          c->redis_db,
                          c->redis_key_prefix,
                          c->group_id,
                          timeout_ms,
                          0};
    rw_error_t cerr;
    rw_error_clear(&cerr);
    redisContext *rc = rw_store_redis_connect(&ro, &cerr);
    snprintf(err, sizeof(err), "%s", cerr.text);
    redisReply *r = rc ? redisCommand(rc, "INFO") : NULL;
    if (rc && !r)
        snprintf(err, sizeof(err), "redis %s: %s", where, rc->errstr);
    if (!r) {
        redis_unreached(f, c, host, port, where, err, timeout_ms);
    } else if (r->type != REDIS_REPLY_STRING) {
        bad(f, "redis %s: INFO: %s", where, r->str ? r->str : "not a text reply");
    } else {
        char version[64], cluster[16], role[32], mode[32];
        info_field(r->str, "redis_version", version, sizeof(version));
        info_field(r->str, "cluster_enabled", cluster, sizeof(cluster));
        info_field(r->str, "role", role, sizeof(role));
        info_field(r->str, "redis_mode", mode, sizeof(mode));
        bool clustered = strcmp(cluster, "1") == 0;
        printf("redis %s: Redis %s, %s, role %s, db %d, key prefix %s\n", where,
               version[0] ? version : "(version unknown)",
               clustered ? "cluster mode (CLUSTER INFO below)" : "standalone (not a cluster)",
               role[0] ? role : "unknown", c->redis_db, c->redis_key_prefix);
        if (strcmp(role, "slave") == 0 || strcmp(role, "replica") == 0)
            bad(f, "redis %s: a read-only replica: the engine writes its state; use the primary",
                where);
        if (clustered) {
            redisReply *ci = redisCommand(rc, "CLUSTER INFO");
            char state[32] = "", nodes[16] = "";
            if (ci && ci->type == REDIS_REPLY_STRING) {
                info_field(ci->str, "cluster_state", state, sizeof(state));
                info_field(ci->str, "cluster_known_nodes", nodes, sizeof(nodes));
            }
            printf("  cluster state %s, %s known nodes\n", state[0] ? state : "unknown",
                   nodes[0] ? nodes : "?");
            if (ci)
                freeReplyObject(ci);
        }
    }
    if (r)
        freeReplyObject(r);
    if (rc)
        redisFree(rc);
}

/* ---- the command ------------------------------------------------------------------- */

enum { CHECK_CONNECT = RW_CLI_ID, CHECK_TIMEOUT };

const rw_cli_opt_t rw_check_opts[] = {
    {'c', "config", "ENGINE.json", "the engine config to check (required)"},
    {CHECK_CONNECT, "connect", NULL,
     "also reach Kafka and Redis: topics and partitions, Redis version and mode, TLS"},
    {CHECK_TIMEOUT, "timeout", "SECONDS", "how long --connect waits for each peer, 1 to 300 (10)"},
    {0, NULL, NULL, NULL}};

int rw_cmd_check(int argc, char **argv) {
    const char *cfg_path = NULL;
    bool connect = false;
    long timeout = 10;
    rw_cli_t cli;
    rw_cli_init(&cli, "check", rw_check_opts);
    for (int o; (o = rw_cli_next(&cli, argc, argv)) != RW_CLI_END;) {
        if (o == RW_CLI_HELP)
            return rw_help("check");
        if (o == 'c')
            cfg_path = cli.arg;
        else if (o == CHECK_CONNECT)
            connect = true;
        else if (o != CHECK_TIMEOUT || rw_cli_long(&cli, 1, 300, &timeout))
            return o == CHECK_TIMEOUT ? RW_EXIT_USAGE : rw_usage("check");
    }
    if (!cfg_path || optind < argc)
        return rw_usage("check");
    findings_t f;
    rw_errors_init(&f.errs);
    f.source = cfg_path;
    rw_config_t cfg;
    rw_config_init(&cfg);
    rw_error_t e;
    rw_error_clear(&e);
    rw_ruleset_t *rs = NULL;
    if (rw_config_load(&cfg, cfg_path, &e)) {
        rw_errors_add(&f.errs, &e);
    } else {
        printf("%s: config read: group %s, brokers %s, %zu input topic%s\n", cfg_path, cfg.group_id,
               cfg.brokers, cfg.n_input_topics, cfg.n_input_topics == 1 ? "" : "s");
        rs = check_files(&f, &cfg);
        if (connect) {
            check_kafka(&f, &cfg, (int)timeout * 1000);
            check_redis(&f, &cfg, (int)timeout * 1000);
        }
    }
    int rc = f.errs.n ? RW_EXIT_USAGE : RW_EXIT_OK;
    fflush(stdout);
    if (f.errs.n) {
        rw_errors_print(&f.errs, stderr);
        fprintf(stderr, "%s: %zu error%s\n", cfg_path, f.errs.n, f.errs.n == 1 ? "" : "s");
    } else {
        printf("%s: ok%s\n", cfg_path, connect ? " (Kafka and Redis reached)" : "");
    }
    rw_ruleset_destroy(rs);
    rw_errors_fini(&f.errs);
    rw_config_fini(&cfg);
    rw_plugins_unload_all();
    return rc;
}

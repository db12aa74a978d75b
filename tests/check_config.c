/* Unit tests for engine/config.c: the engine configuration of docs/reference.md §3. */
#include "config.h"
#include "engine.h"

#include "harness.h"
#include "kafka.h"
#include "mock.h"
#include <librdkafka/rdkafka.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------------ */

/* Writes text to a temporary file, loads it over the defaults into cfg (initialised here),
 * removes the file. The file's path is left in path. Returns rw_config_load's result. */
static int load_text(const char *text, rw_config_t *cfg, rw_error_t *err, char path[64]) {
    snprintf(path, 64, "/tmp/rwconfig-XXXXXX.json");
    int fd = mkstemps(path, 5);
    ck_assert_int_ge(fd, 0);
    size_t len = strlen(text);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    rw_config_init(cfg);
    rw_error_clear(err);
    int rc = rw_config_load(cfg, path, err);
    unlink(path);
    return rc;
}

/* Loads text that must fail with an error containing what, at needle (+skip). */
static void expect_error(const char *text, const char *what, const char *needle, size_t skip) {
    rw_config_t cfg;
    rw_error_t err;
    char path[64];
    ck_assert_msg(load_text(text, &cfg, &err, path) == RW_ERR_INPUT, "accepted: %s", text);
    ck_assert_int_eq(err.code, RW_ERR_INPUT);
    ck_assert_str_eq(err.source, path);
    ck_assert_msg(strstr(err.text, what) != NULL, "error \"%s\" lacks \"%s\"", err.text, what);
    int line, col;
    h_pos_of(text, needle, 0, skip, &line, &col);
    ck_assert_msg(err.line == line && err.column == col, "error \"%s\" at %d:%d, want %d:%d",
                  err.text, err.line, err.column, line, col);
    char buf[1024], want[128];
    rw_error_format(&err, buf, sizeof(buf));
    snprintf(want, sizeof(want), "%s:%d:%d: ", path, line, col);
    ck_assert_int_eq(strncmp(buf, want, strlen(want)), 0);
    rw_config_fini(&cfg);
}

static void assert_defaults(const rw_config_t *c) {
    ck_assert_str_eq(c->brokers, "127.0.0.1:9092");
    ck_assert_str_eq(c->group_id, "riskwarn");
    ck_assert_uint_eq(c->n_input_topics, 2);
    ck_assert_str_eq(c->input_topics[0], "events.transactions");
    ck_assert_str_eq(c->input_topics[1], "events.service");
    ck_assert_str_eq(c->alert_topic, "risk.alerts");
    ck_assert_str_eq(c->high_alert_topic, "risk.alerts.high");
    ck_assert_str_eq(c->deadletter_topic, "risk.deadletter");
    ck_assert_str_eq(c->control_topic, "risk.rules");
    ck_assert_str_eq(c->audit_topic, "risk.audit");
    ck_assert(json_is_object(c->properties));
    ck_assert_uint_eq(json_object_size(c->properties), 0);
    ck_assert_str_eq(c->redis_host, "127.0.0.1");
    ck_assert_int_eq(c->redis_port, 6379);
    ck_assert_ptr_null(c->redis_unix_socket);
    ck_assert_ptr_null(c->redis_password);
    ck_assert_int_eq(c->redis_db, 0);
    ck_assert_str_eq(c->redis_key_prefix, "rw:");
    ck_assert_str_eq(c->rules, "rules/packs/default.json");
    ck_assert_ptr_null(c->modules_dir);
    ck_assert_uint_eq(c->max_event_bytes, 1048576);
    ck_assert_str_eq(c->metrics_listen, "127.0.0.1:9464");
}

/* ---- defaults and overrides ---------------------------------------------------------------- */

START_TEST(test_config_defaults) {
    rw_config_t c;
    rw_config_init(&c);
    assert_defaults(&c);
    ck_assert_int_gt(c.batch_max, 0);
    ck_assert_int_gt(c.poll_ms, 0);
    ck_assert_int_gt(c.redis_timeout_ms, 0);
    ck_assert_int_eq(c.stop_after, 0);
    rw_config_fini(&c);
}
END_TEST

START_TEST(test_config_empty_file_keeps_defaults) {
    rw_config_t c;
    rw_error_t err;
    char path[64];
    ck_assert_int_eq(load_text("{}", &c, &err, path), 0);
    ck_assert_int_eq(err.code, 0);
    assert_defaults(&c);
    rw_config_fini(&c);
    /* The defaults written out in full are the defaults. */
    const char *spec = "{\n"
                       "  \"kafka\": {\n"
                       "    \"brokers\": \"127.0.0.1:9092\",\n"
                       "    \"group_id\": \"riskwarn\",\n"
                       "    \"input_topics\": [\"events.transactions\", \"events.service\"],\n"
                       "    \"alert_topic\": \"risk.alerts\",\n"
                       "    \"high_alert_topic\": \"risk.alerts.high\",\n"
                       "    \"deadletter_topic\": \"risk.deadletter\",\n"
                       "    \"control_topic\": \"risk.rules\",\n"
                       "    \"audit_topic\": \"risk.audit\",\n"
                       "    \"properties\": {}\n"
                       "  },\n"
                       "  \"redis\": {\"host\": \"127.0.0.1\", \"port\": 6379, \"unix_socket\": "
                       "null,\n"
                       "            \"password\": null, \"db\": 0, \"key_prefix\": \"rw:\"},\n"
                       "  \"rules\": \"rules/packs/default.json\",\n"
                       "  \"modules_dir\": null,\n"
                       "  \"max_event_bytes\": 1048576,\n"
                       "  \"metrics_listen\": \"127.0.0.1:9464\"\n"
                       "}\n";
    ck_assert_msg(load_text(spec, &c, &err, path) == 0,
                  "docs/reference.md §3 example refused: %d:%d: %s", err.line, err.column,
                  err.text);
    assert_defaults(&c);
    rw_config_fini(&c);
}
END_TEST

START_TEST(test_config_overrides) {
    const char *text =
        "{\n"
        "  \"kafka\": {\n"
        "    \"brokers\": \"k1:9092,k2:9092\",\n"
        "    \"group_id\": \"g2\",\n"
        "    \"input_topics\": [\"a\", \"b\", \"c\"],\n"
        "    \"alert_topic\": \"al\",\n"
        "    \"high_alert_topic\": \"hi\",\n"
        "    \"deadletter_topic\": \"dl\",\n"
        "    \"control_topic\": \"ctl\",\n"
        "    \"audit_topic\": \"aud\",\n"
        "    \"properties\": {\"client.id\": \"rw-1\", \"security.protocol\": "
        "\"SASL_SSL\",\n"
        "                   \"sasl.mechanisms\": \"PLAIN\", \"sasl.username\": \"u\", "
        "\"sasl.password\": \"p\",\n"
        "                   \"socket.timeout.ms\": 30000, "
        "\"enable.ssl.certificate.verification\": true}\n"
        "  },\n"
        "  \"redis\": {\"host\": \"redis.local\", \"port\": 6380, \"unix_socket\": "
        "\"/run/redis.sock\",\n"
        "            \"password\": \"s3cret\", \"db\": 3, \"key_prefix\": \"bank:\"},\n"
        "  \"rules\": \"/etc/riskwarn/rules.json\",\n"
        "  \"modules_dir\": \"/usr/lib/riskwarn\",\n"
        "  \"max_event_bytes\": 65536,\n"
        "  \"metrics_listen\": \"0.0.0.0:9000\"\n"
        "}\n";
    rw_config_t c;
    rw_error_t err;
    char path[64];
    ck_assert_msg(load_text(text, &c, &err, path) == 0, "%d:%d: %s", err.line, err.column,
                  err.text);
    ck_assert_str_eq(c.brokers, "k1:9092,k2:9092");
    ck_assert_str_eq(c.group_id, "g2");
    ck_assert_uint_eq(c.n_input_topics, 3);
    ck_assert_str_eq(c.input_topics[2], "c");
    ck_assert_str_eq(c.alert_topic, "al");
    ck_assert_str_eq(c.high_alert_topic, "hi");
    ck_assert_str_eq(c.deadletter_topic, "dl");
    ck_assert_str_eq(c.control_topic, "ctl");
    ck_assert_str_eq(c.audit_topic, "aud");
    ck_assert_uint_eq(json_object_size(c.properties), 7);
    ck_assert_str_eq(json_string_value(json_object_get(c.properties, "client.id")), "rw-1");
    ck_assert_int_eq(json_integer_value(json_object_get(c.properties, "socket.timeout.ms")), 30000);
    ck_assert_str_eq(c.redis_host, "redis.local");
    ck_assert_int_eq(c.redis_port, 6380);
    ck_assert_str_eq(c.redis_unix_socket, "/run/redis.sock");
    ck_assert_str_eq(c.redis_password, "s3cret");
    ck_assert_int_eq(c.redis_db, 3);
    ck_assert_str_eq(c.redis_key_prefix, "bank:");
    ck_assert_str_eq(c.rules, "/etc/riskwarn/rules.json");
    ck_assert_str_eq(c.modules_dir, "/usr/lib/riskwarn");
    ck_assert_uint_eq(c.max_event_bytes, 65536);
    ck_assert_str_eq(c.metrics_listen, "0.0.0.0:9000");
    rw_config_fini(&c);
}
END_TEST

/* A section given in part keeps the defaults of the rest. */
START_TEST(test_config_partial_sections) {
    rw_config_t c;
    rw_error_t err;
    char path[64];
    ck_assert_int_eq(load_text("{\"redis\": {\"port\": 7000}, \"kafka\": {\"group_id\": \"x\"}}",
                               &c, &err, path),
                     0);
    ck_assert_int_eq(c.redis_port, 7000);
    ck_assert_str_eq(c.redis_host, "127.0.0.1");
    ck_assert_str_eq(c.redis_key_prefix, "rw:");
    ck_assert_str_eq(c.group_id, "x");
    ck_assert_str_eq(c.brokers, "127.0.0.1:9092");
    ck_assert_uint_eq(c.n_input_topics, 2);
    rw_config_fini(&c);
    /* null where null is allowed. */
    ck_assert_int_eq(load_text("{\"modules_dir\": null, \"redis\": {\"password\": null, "
                               "\"unix_socket\": null}}",
                               &c, &err, path),
                     0);
    ck_assert_ptr_null(c.modules_dir);
    ck_assert_ptr_null(c.redis_password);
    ck_assert_ptr_null(c.redis_unix_socket);
    rw_config_fini(&c);
}
END_TEST

/* ---- errors -------------------------------------------------------------------------------- */

START_TEST(test_config_unknown_keys) {
    expect_error("{\n  \"kafka\": {},\n  \"colour\": \"red\"\n}", "unknown key \"colour\"",
                 "\"colour\"", 0);
    expect_error("{\"kafka\": {\n    \"brokers\": \"b:1\",\n    \"topic\": \"x\"}}",
                 "unknown key \"kafka.topic\"", "\"topic\"", 0);
    expect_error("{\"redis\": {\"host\": \"h\",\n            \"pasword\": \"x\"}}",
                 "unknown key \"redis.pasword\"", "\"pasword\"", 0);
    /* docs/reference.md §3 spells redis.unix_socket; unixsocket is not it. */
    expect_error("{\"redis\": {\"unixsocket\": \"/tmp/s\"}}", "unknown key", "\"unixsocket\"", 0);
    expect_error("{\"max_event_byte\": 100}", "unknown key", "\"max_event_byte\"", 0);
}
END_TEST

/* The keys are checked against tables: each kind of error names the key, echoes the value and
 * points at it; a close misspelling gets a suggestion. */
START_TEST(test_config_table_messages) {
    expect_error("{\"redis\": {\"prot\": 1}}",
                 "unknown key \"redis.prot\" (did you mean \"port\"?)", "\"prot\"", 0);
    expect_error("{\"kafka\": {\"brokrs\": \"b:1\"}}",
                 "unknown key \"kafka.brokrs\" (did you mean \"brokers\"?)", "\"brokrs\"", 0);
    expect_error("{\"colour\": 1}",
                 "unknown key \"colour\" (the engine configuration takes rules, modules_dir",
                 "\"colour\"", 0);
    expect_error("{\"redis\": {\"port\": \"x\"}}", "redis.port: must be an integer, not \"x\"",
                 "\"x\"", 0);
    expect_error("{\"redis\": {\"port\": 0}}", "redis.port: 0 is out of bounds: from 1 to 65535",
                 "0}", 0);
    expect_error("{\"max_event_bytes\": 10}",
                 "max_event_bytes: 10 is out of bounds: from 64 to 67108864", "10}", 0);
    expect_error("{\"rules\": \"\"}", "rules: must not be empty, not \"\"", "\"\"}", 0);
    expect_error("{\"webhook\": {\"retries\": 1}}",
                 "webhook.url: required, a string (an http:// or https:// address", "{\"retries\"",
                 0);
    expect_error("{\"webhook\": {\"url\": \"http://h\", \"min_level\": \"hihg\"}}",
                 "webhook.min_level: \"hihg\" is not one of low, medium, high (did you mean "
                 "\"high\"?)",
                 "\"hihg\"", 0);
    expect_error("{\"webhook\": {\"url\": \"ftp://h\"}}",
                 "webhook.url: use an http:// or https:// address, not \"ftp://h\"", "\"ftp", 0);
    expect_error("{\"kafka\": {\"input_topics\": [\"a\", \"\"]}}",
                 "kafka.input_topics[1]: must be a topic name, not \"\"", "\"\"]", 0);
    expect_error("{\"metrics_listen\": 9464}", "metrics_listen: must be a string, not 9464", "9464",
                 0);
}
END_TEST

START_TEST(test_config_wrong_types) {
    expect_error("{\"kafka\": {\"brokers\": 9092}}", "brokers", "9092", 0);
    expect_error("{\"kafka\": {\"brokers\": \"\"}}", "brokers", "\"\"", 0);
    expect_error("{\"kafka\": {\"group_id\": null}}", "group_id", "null", 0);
    expect_error("{\"kafka\": {\"input_topics\": \"events\"}}", "input_topics", "\"events\"", 0);
    expect_error("{\"kafka\": {\"input_topics\": []}}", "input_topics", "[]", 0);
    expect_error("{\"kafka\": {\"input_topics\": [\"a\",\n  3]}}", "input_topics[1]", "3]", 0);
    expect_error("{\"kafka\": []}", "kafka: must be an object", "[]", 0);
    expect_error("{\"kafka\": {\"properties\": [\"client.id\"]}}", "kafka.properties",
                 "[\"client.id\"]", 0);
    expect_error("{\"redis\": \"localhost:6379\"}", "redis: must be an object",
                 "\"localhost:6379\"", 0);
    expect_error("{\"redis\": {\"port\": \"6379\"}}", "port", "\"6379\"", 0);
    expect_error("{\"redis\": {\"port\": 0}}", "port", "0}", 0);
    expect_error("{\"redis\": {\"port\": 65536}}", "port", "65536", 0);
    expect_error("{\"redis\": {\"port\": 6379.5}}", "port", "6379.5", 0);
    expect_error("{\"redis\": {\"db\": -1}}", "db", "-1", 0);
    expect_error("{\"redis\": {\"host\": null}}", "host", "null", 0);
    expect_error("{\"rules\": null}", "rules", "null", 0);
    expect_error("{\"rules\": [\"a.json\"]}", "rules", "[", 0);
    expect_error("{\"modules_dir\": 1}", "modules_dir", "1", 0);
    expect_error("{\"max_event_bytes\": \"1MB\"}", "max_event_bytes", "\"1MB\"", 0);
    expect_error("{\"max_event_bytes\": 10}", "max_event_bytes", "10", 0);
    expect_error("{\"max_event_bytes\": 1e6}", "max_event_bytes", "1e6", 0);
    expect_error("{\"max_event_bytes\": -1}", "max_event_bytes", "-1", 0);
    expect_error("[1]", "must be a JSON object", "[1]", 0);
}
END_TEST

START_TEST(test_config_json_errors) {
    rw_config_t c;
    rw_error_t err;
    char path[64];
    ck_assert_int_eq(load_text("{\n  \"rules\": \"a.json\",,\n}", &c, &err, path), RW_ERR_INPUT);
    ck_assert_str_eq(err.source, path);
    ck_assert_int_eq(err.line, 2);
    ck_assert_int_eq(err.column, 21); /* the second comma */
    rw_config_fini(&c);
    ck_assert_int_eq(load_text("{\"rules\": \"a\",\n \"rules\": \"b\"}", &c, &err, path),
                     RW_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.text, "duplicate"));
    ck_assert_int_eq(err.line, 2);
    rw_config_fini(&c);
    ck_assert_int_eq(load_text("", &c, &err, path), RW_ERR_INPUT);
    ck_assert_str_eq(err.source, path);
    rw_config_fini(&c);
}
END_TEST

START_TEST(test_config_missing_file) {
    rw_config_t c;
    rw_error_t err;
    rw_config_init(&c);
    rw_error_clear(&err);
    ck_assert_int_eq(rw_config_load(&c, "/nonexistent/riskwarn.json", &err), RW_ERR_IO);
    ck_assert_str_eq(err.source, "/nonexistent/riskwarn.json");
    assert_defaults(&c);
    rw_config_fini(&c);
}
END_TEST

/* ---- kafka.properties -------------------------------------------------------------------- */

/* rw_kafka_property_allowed and _check with their error's text in why ("" when none). */
static int prop_allowed(const char *name, char *why, size_t len) {
    rw_error_t e;
    rw_error_clear(&e);
    int rc = rw_kafka_property_allowed(name, &e);
    snprintf(why, len, "%s", e.text);
    ck_assert_int_eq(e.code, rc);
    return rc;
}

static int prop_check(const char *name, const json_t *value, char *why, size_t len) {
    rw_error_t e;
    rw_error_clear(&e);
    int rc = rw_kafka_property_check(name, value, &e);
    snprintf(why, len, "%s", e.text);
    ck_assert_int_eq(e.code, rc);
    return rc;
}

START_TEST(test_config_kafka_properties_allow_list) {
    char why[512];
    static const char *const ok[] = {"client.id",         "security.protocol", "sasl.mechanisms",
                                     "sasl.username",     "sasl.password",     "ssl.ca.location",
                                     "session.timeout.ms"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
        why[0] = 0;
        ck_assert_msg(prop_allowed(ok[i], why, sizeof(why)) == 0, "%s refused: %s", ok[i], why);
    }
    static const char *const refused[] = {"plugin.library.paths", "sasl.kerberos.kinit.cmd",
                                          "ssl.engine.location"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
        why[0] = 0;
        ck_assert_msg(prop_allowed(refused[i], why, sizeof(why)) == RW_ERR_INPUT, "%s allowed",
                      refused[i]);
        ck_assert_ptr_nonnull(strstr(why, refused[i]));
        ck_assert_ptr_nonnull(strstr(why, "refused"));
    }
    static const char *const unknown[] = {"foo.bar", "", "CLIENT.ID", "client.id "};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(*unknown); i++) {
        why[0] = 0;
        ck_assert_msg(prop_allowed(unknown[i], why, sizeof(why)) == RW_ERR_INPUT, "\"%s\" allowed",
                      unknown[i]);
        ck_assert_ptr_nonnull(strstr(why, "allow-list"));
    }
    /* Settings the engine owns are refused with the reason. */
    static const char *const owned[][2] = {{"group.id", "kafka.group_id"},
                                           {"bootstrap.servers", "kafka.brokers"},
                                           {"enable.partition.eof", "the engine"},
                                           {"transactional.id", "transactions"}};
    for (size_t i = 0; i < sizeof(owned) / sizeof(*owned); i++) {
        why[0] = 0;
        ck_assert_int_eq(prop_allowed(owned[i][0], why, sizeof(why)), RW_ERR_INPUT);
        ck_assert_msg(strstr(why, owned[i][1]) != NULL, "%s: %s", owned[i][0], why);
    }
}
END_TEST

/* What a Kafka user expects to set is accepted, each name is one this
 * librdkafka knows, and a refused property names why. */
START_TEST(test_config_kafka_properties_expected) {
    char why[512];
    static const char *const expected[] = {
        "auto.offset.reset",     "group.instance.id",  "isolation.level",
        "fetch.min.bytes",       "enable.idempotence", "acks",
        "compression.type",      "linger.ms",          "session.timeout.ms",
        "heartbeat.interval.ms", "message.timeout.ms", "request.timeout.ms",
        "sasl.mechanisms",       "ssl.ca.location"};
    for (size_t i = 0; i < sizeof(expected) / sizeof(*expected); i++) {
        why[0] = 0;
        ck_assert_msg(prop_allowed(expected[i], why, sizeof(why)) == 0, "%s refused: %s",
                      expected[i], why);
    }
    size_t n = 0, refused = 0;
    for (const rw_kafka_prop_t *p = rw_kafka_props(); p->name; p++, n++) {
        if (!p->why) { /* a name librdkafka knows (a bad value is another error) */
            rd_kafka_conf_t *conf = rd_kafka_conf_new();
            char e[256];
            ck_assert_msg(rd_kafka_conf_set(conf, p->name, "x", e, sizeof(e)) !=
                              RD_KAFKA_CONF_UNKNOWN,
                          "librdkafka does not know \"%s\"", p->name);
            rd_kafka_conf_destroy(conf);
        }
        if (p->why && !p->only) {
            refused++;
            ck_assert_int_eq(prop_allowed(p->name, why, sizeof(why)), RW_ERR_INPUT);
            ck_assert_ptr_nonnull(strstr(why, p->why));
        }
        /* Allowed ones go to some client; owned and refused ones to none. */
        ck_assert_int_eq(p->clients != 0, p->why == NULL);
    }
    ck_assert_uint_gt(n, 80);
    ck_assert_uint_gt(refused, 5);
    /* The README lists every one (tests run from the repository's top). */
    rw_error_t rerr;
    rw_error_clear(&rerr);
    size_t rlen;
    char *readme = rw_file_read("README.md", &rlen, &rerr);
    ck_assert_msg(readme != NULL, "README.md: %s", rerr.text);
    for (const rw_kafka_prop_t *p = rw_kafka_props(); p->name; p++) {
        char quoted[128];
        snprintf(quoted, sizeof(quoted), "`%s`", p->name);
        ck_assert_msg(strstr(readme, quoted) || !strcmp(p->name, "ssl_engine_id"),
                      "README.md does not list %s", quoted);
    }
    free(readme);
    /* Value checks: the engine's own settings take their one value only. */
    json_t *f = json_false(), *t = json_true(), *zero = json_integer(0), *one = json_string("1"),
           *err = json_string("error"), *latest = json_string("latest");
    ck_assert_int_eq(prop_check("enable.auto.commit", f, why, sizeof(why)), 0);
    ck_assert_int_eq(prop_check("enable.auto.commit", t, why, sizeof(why)), RW_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(why, "would break a guarantee"));
    ck_assert_int_eq(prop_check("acks", zero, why, sizeof(why)), RW_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(why, "at least once"));
    ck_assert_int_eq(prop_check("acks", one, why, sizeof(why)), 0);
    ck_assert_int_eq(prop_check("auto.offset.reset", err, why, sizeof(why)), RW_ERR_INPUT);
    ck_assert_int_eq(prop_check("auto.offset.reset", latest, why, sizeof(why)), 0);
    json_decref(f);
    json_decref(t);
    json_decref(zero);
    json_decref(one);
    json_decref(err);
    json_decref(latest);
    /* Which client takes which. */
    ck_assert(rw_kafka_property_applies("group.instance.id", RW_KAFKA_MEMBER));
    ck_assert(!rw_kafka_property_applies("group.instance.id", RW_KAFKA_CONSUMER));
    ck_assert(!rw_kafka_property_applies("group.instance.id", RW_KAFKA_PRODUCER));
    ck_assert(rw_kafka_property_applies("acks", RW_KAFKA_PRODUCER));
    ck_assert(!rw_kafka_property_applies("acks", RW_KAFKA_MEMBER));
    ck_assert(rw_kafka_property_applies("isolation.level", RW_KAFKA_CONSUMER));
    ck_assert(!rw_kafka_property_applies("enable.auto.commit", RW_KAFKA_MEMBER));
}
END_TEST

/* The engine's defaults yield to the file; each property reaches only the
 * clients it is for. */
START_TEST(test_config_kafka_properties_reach_their_clients) {
    rw_config_t c;
    rw_error_t err;
    char path[64];
    ck_assert_int_eq(load_text("{\"kafka\": {\"properties\": {\"linger.ms\": 50, "
                               "\"group.instance.id\": \"engine-a\", \"isolation.level\": "
                               "\"read_uncommitted\", \"client.id\": \"rw-a\"}}}",
                               &c, &err, path),
                     0);
    static const char *const defaults[] = {"linger.ms", "5", "session.timeout.ms", "6000", NULL};
    char v[128];
    size_t len;
    rw_error_t e;
    rw_error_clear(&e);
    rd_kafka_conf_t *prod = rw_kafka_conf_for(&c, RW_KAFKA_PRODUCER, defaults, &e);
    rd_kafka_conf_t *member = rw_kafka_conf_for(&c, RW_KAFKA_MEMBER, defaults, &e);
    rd_kafka_conf_t *common = rw_kafka_conf_new(&c, &e);
    ck_assert(prod && member && common);
    len = sizeof(v);
    ck_assert_int_eq(rd_kafka_conf_get(prod, "linger.ms", v, &len), RD_KAFKA_CONF_OK);
    ck_assert_str_eq(v, "50"); /* the file's, not the default */
    len = sizeof(v);
    ck_assert_int_eq(rd_kafka_conf_get(member, "group.instance.id", v, &len), RD_KAFKA_CONF_OK);
    ck_assert_str_eq(v, "engine-a");
    len = sizeof(v);
    v[0] = 0;
    ck_assert_msg(rd_kafka_conf_get(prod, "group.instance.id", v, &len) != RD_KAFKA_CONF_OK ||
                      v[0] == 0,
                  "the producer got group.instance.id %s", v); /* unset */
    len = sizeof(v);
    ck_assert_int_eq(rd_kafka_conf_get(member, "isolation.level", v, &len), RD_KAFKA_CONF_OK);
    ck_assert_str_eq(v, "read_uncommitted");
    len = sizeof(v);
    ck_assert_int_eq(rd_kafka_conf_get(common, "client.id", v, &len), RD_KAFKA_CONF_OK);
    ck_assert_str_eq(v, "rw-a");
    len = sizeof(v);
    ck_assert_int_eq(rd_kafka_conf_get(common, "isolation.level", v, &len), RD_KAFKA_CONF_OK);
    ck_assert_str_eq(v, "read_committed"); /* librdkafka's default: consumers only */
    rd_kafka_conf_destroy(prod);
    rd_kafka_conf_destroy(member);
    rd_kafka_conf_destroy(common);
    rw_config_fini(&c);
}
END_TEST

/* The group member's queue holds more than a second of input by default (librdkafka 2.0
 * fetches again only a second after it is full), and the file's value wins. */
START_TEST(test_config_kafka_member_queue) {
    rw_config_t c;
    rw_error_t err;
    char path[64], v[64];
    size_t len = sizeof(v);
    ck_assert_int_eq(load_text("{}", &c, &err, path), 0);
    rd_kafka_conf_t *member =
        rw_kafka_conf_for(&c, RW_KAFKA_MEMBER, rw_kafka_member_defaults, &err);
    ck_assert_ptr_nonnull(member);
    ck_assert_int_eq(rd_kafka_conf_get(member, "queued.min.messages", v, &len), RD_KAFKA_CONF_OK);
    ck_assert_str_eq(v, "1000000");
    len = sizeof(v);
    ck_assert_int_eq(rd_kafka_conf_get(member, "session.timeout.ms", v, &len), RD_KAFKA_CONF_OK);
    ck_assert_str_eq(v, "6000");
    rd_kafka_conf_destroy(member);
    rw_config_fini(&c);
    ck_assert_int_eq(
        load_text("{\"kafka\": {\"properties\": {\"queued.min.messages\": 5000}}}", &c, &err, path),
        0);
    member = rw_kafka_conf_for(&c, RW_KAFKA_MEMBER, rw_kafka_member_defaults, &err);
    ck_assert_ptr_nonnull(member);
    len = sizeof(v);
    ck_assert_int_eq(rd_kafka_conf_get(member, "queued.min.messages", v, &len), RD_KAFKA_CONF_OK);
    ck_assert_str_eq(v, "5000");
    rd_kafka_conf_destroy(member);
    rw_config_fini(&c);
}
END_TEST

START_TEST(test_config_kafka_properties_in_file) {
    expect_error("{\"kafka\": {\"properties\": {\"client.id\": \"x\",\n"
                 "   \"plugin.library.paths\": \"/tmp/evil.so\"}}}",
                 "\"plugin.library.paths\" is refused", "\"plugin.library.paths\"", 0);
    expect_error("{\"kafka\": {\"properties\": {\n"
                 "   \"sasl.kerberos.kinit.cmd\": \"touch /tmp/pwned\"}}}",
                 "\"sasl.kerberos.kinit.cmd\" is refused", "\"sasl.kerberos.kinit.cmd\"", 0);
    expect_error("{\"kafka\": {\"properties\": {\"foo.bar\": \"1\"}}}",
                 "\"foo.bar\" is not on the allow-list", "\"foo.bar\"", 0);
    expect_error("{\"kafka\": {\"properties\": {\"client.id\": {\"x\": 1}}}}",
                 "kafka.properties.client.id", "{\"x\"", 0);
    expect_error("{\"kafka\": {\"properties\": {\"client.id\": null}}}",
                 "kafka.properties.client.id", "null", 0);
    expect_error("{\"kafka\": {\"properties\": {\n   \"enable.auto.commit\": true}}}",
                 "only false is accepted", "true", 0);
    expect_error("{\"kafka\": {\"properties\": {\"acks\": 1}}}", "enable.idempotence false", "1}",
                 0);
    expect_error("{\"kafka\": {\"properties\": {\"group.id\": \"g\"}}}", "kafka.group_id",
                 "\"group.id\"", 0);
    rw_config_t c;
    rw_error_t err;
    char path[64];
    ck_assert_int_eq(load_text("{\"kafka\": {\"properties\": {\"acks\": 1, "
                               "\"enable.idempotence\": false, \"enable.auto.commit\": false, "
                               "\"auto.offset.reset\": \"latest\"}}, \"max_future_ms\": 60000}",
                               &c, &err, path),
                     0);
    ck_assert_int_eq(c.max_future_ms, 60000);
    rw_config_fini(&c);
    expect_error("{\"max_future_ms\": 10}", "max_future_ms", "10", 0);
    ck_assert_int_eq(
        load_text("{\"kafka\": {\"properties\": {\"client.id\": \"rw\"}}}", &c, &err, path), 0);
    ck_assert_str_eq(json_string_value(json_object_get(c.properties, "client.id")), "rw");
    rw_config_fini(&c);
}
END_TEST

/* SASL and TLS settings are checked when the file loads. */
START_TEST(test_config_kafka_security_checked) {
    expect_error("{\"kafka\": {\"properties\": {\"security.protocol\": \"tls\"}}}",
                 "use plaintext, ssl, sasl_plaintext or sasl_ssl", "\"tls\"", 0);
    expect_error("{\"kafka\": {\"properties\": {\"sasl.username\": \"u\"}}}",
                 "SASL settings would be ignored", "\"sasl.username\"", 0);
    expect_error("{\"kafka\": {\"properties\": {\"ssl.ca.pem\": \"x\"}}}",
                 "TLS settings would be ignored", "\"ssl.ca.pem\"", 0);
    expect_error("{\"kafka\": {\"properties\": {\"security.protocol\": \"sasl_ssl\"}}}",
                 "SASL needs sasl.mechanisms", "{\"security", 0);
    expect_error("{\"kafka\": {\"properties\": {\"security.protocol\": \"sasl_ssl\",\n"
                 "   \"sasl.mechanisms\": \"SCRAM-SHA-512\", \"sasl.username\": \"u\"}}}",
                 "SCRAM-SHA-512 needs sasl.username and sasl.password", "{\"security", 0);
    expect_error("{\"kafka\": {\"properties\": {\"security.protocol\": \"sasl_ssl\",\n"
                 "   \"sasl.mechanisms\": \"MAGIC\"}}}",
                 "unknown SASL mechanism", "{\"security", 0);
    expect_error("{\"kafka\": {\"properties\": {\"security.protocol\": \"ssl\",\n"
                 "   \"ssl.ca.location\": \"/nonexistent/ca.pem\"}}}",
                 "cannot read \"/nonexistent/ca.pem\"", "\"/nonexistent", 0);
    expect_error("{\"kafka\": {\"properties\": {\"security.protocol\": \"ssl\",\n"
                 "   \"ssl.key.location\": \"/dev/null\"}}}",
                 "ssl.key.location needs ssl.certificate.location", "\"ssl.key.location\"", 0);
    rw_config_t c;
    rw_error_t err;
    char path[64];
    ck_assert_int_eq(
        load_text("{\"kafka\": {\"properties\": {\"security.protocol\": \"sasl_ssl\",\n"
                  "   \"sasl.mechanisms\": \"SCRAM-SHA-256\", \"sasl.username\": \"u\",\n"
                  "   \"sasl.password\": \"p\", \"ssl.ca.location\": \"/dev/null\"}}}",
                  &c, &err, path),
        0);
    rw_config_fini(&c);
}
END_TEST

/* ---- rw_config_set_redis ------------------------------------------------------------------ */

START_TEST(test_config_set_redis) {
    rw_config_t c;
    rw_config_init(&c);
    ck_assert_int_eq(rw_config_set_redis(&c, "redis.local:6380"), 0);
    ck_assert_str_eq(c.redis_host, "redis.local");
    ck_assert_int_eq(c.redis_port, 6380);
    ck_assert_int_eq(rw_config_set_redis(&c, "10.0.0.1:1"), 0);
    ck_assert_str_eq(c.redis_host, "10.0.0.1");
    ck_assert_int_eq(c.redis_port, 1);
    ck_assert_int_eq(rw_config_set_redis(&c, "h:65535"), 0);
    ck_assert_int_eq(c.redis_port, 65535);
    static const char *const bad[] = {
        "localhost", "localhost:", ":6379",   "h:0", "h:65536",
        "h:-1",      "h:63a9",     "h:6379 ", "",    "h:99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        ck_assert_msg(rw_config_set_redis(&c, bad[i]) == RW_ERR_INPUT, "\"%s\" accepted", bad[i]);
        ck_assert_str_eq(c.redis_host, "h");
        ck_assert_int_eq(c.redis_port, 65535);
    }
    rw_config_fini(&c);
}
END_TEST

/* --redis HOST:PORT overrides the file (docs/reference.md §2), also a unix_socket set there (which
 * would otherwise win over host and port). */
START_TEST(test_config_set_redis_overrides_unix_socket) {
    rw_config_t c;
    rw_error_t err;
    char path[64];
    ck_assert_int_eq(
        load_text("{\"redis\": {\"unix_socket\": \"/run/redis.sock\"}}", &c, &err, path), 0);
    ck_assert_str_eq(c.redis_unix_socket, "/run/redis.sock");
    ck_assert_int_eq(rw_config_set_redis(&c, "10.1.2.3:6390"), 0);
    ck_assert_str_eq(c.redis_host, "10.1.2.3");
    ck_assert_int_eq(c.redis_port, 6390);
    ck_assert_msg(c.redis_unix_socket == NULL,
                  "unix_socket \"%s\" still set: the store would ignore --redis",
                  c.redis_unix_socket);
    rw_config_fini(&c);
}
END_TEST

START_TEST(test_config_set_string) {
    char *s = NULL;
    rw_config_set(&s, "a");
    ck_assert_str_eq(s, "a");
    rw_config_set(&s, "bb");
    ck_assert_str_eq(s, "bb");
    rw_config_set(&s, NULL);
    ck_assert_ptr_null(s);
}
END_TEST

/* ---- secrets from files, settings from the environment ------------------------------------ */

/* Writes text to a new temporary file; returns its path (static, one at a time per slot). */
static const char *secret_file(int slot, const char *text) {
    static char paths[4][64];
    snprintf(paths[slot], sizeof(paths[slot]), "/tmp/rwsecret-XXXXXX");
    int fd = mkstemp(paths[slot]);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return paths[slot];
}

START_TEST(test_config_secret_files) {
    const char *redis = secret_file(0, "r3dis-pass\n");
    const char *sasl = secret_file(1, "sasl-pass\r\n");
    const char *token = secret_file(2, "tok");
    const char *secret = secret_file(3, "hmac key\n\n");
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"redis\": {\"password_file\": \"%s\"},\n"
             " \"kafka\": {\"sasl_password_file\": \"%s\", \"properties\": {\n"
             "   \"security.protocol\": \"sasl_ssl\", \"sasl.mechanisms\": \"SCRAM-SHA-512\",\n"
             "   \"sasl.username\": \"rw\"}},\n"
             " \"webhook\": {\"url\": \"https://pager.example/hook\", \"token_file\": \"%s\",\n"
             "             \"secret_file\": \"%s\", \"digest_after\": 50}}",
             redis, sasl, token, secret);
    rw_config_t c;
    rw_error_t err;
    char path[64];
    ck_assert_msg(load_text(text, &c, &err, path) == 0, "%s", err.text);
    ck_assert_str_eq(c.redis_password, "r3dis-pass");
    ck_assert_str_eq(json_string_value(json_object_get(c.properties, "sasl.password")),
                     "sasl-pass");
    ck_assert_str_eq(c.webhook_token, "tok");
    ck_assert_str_eq(c.webhook_secret, "hmac key");
    ck_assert_int_eq(c.webhook_digest_after, 50);
    rw_config_fini(&c);

    /* One of the two forms; a file that cannot be read, or is empty. */
    snprintf(text, sizeof(text), "{\"redis\": {\"password\": \"x\",\n \"password_file\": \"%s\"}}",
             redis);
    expect_error(text, "give password or password_file, not both", "\"password_file\"", 0);
    expect_error("{\"redis\": {\"password_file\": \"/nonexistent/pw\"}}",
                 "redis.password_file: ", "\"/nonexistent/pw\"", 0);
    snprintf(text, sizeof(text),
             "{\"webhook\": {\"url\": \"http://h/\",\n \"secret_file\": \"%s\"}}",
             secret_file(0, "\n"));
    expect_error(text, "is empty", "\"/tmp/rwsecret", 0);
    snprintf(
        text, sizeof(text),
        "{\"kafka\": {\"properties\": {\"security.protocol\": \"sasl_ssl\", "
        "\"sasl.mechanisms\": \"PLAIN\", \"sasl.username\": \"u\", \"sasl.password\": \"p\"},\n"
        " \"sasl_password_file\": \"%s\"}}",
        sasl);
    expect_error(text, "not both", "\"sasl_password_file\"", 0);
    /* A SASL password from a file is a SASL setting: the protocol must use it. */
    snprintf(text, sizeof(text), "{\"kafka\": {\"sasl_password_file\": \"%s\"}}", sasl);
    expect_error(text, "SASL settings would be ignored", "\"sasl_password_file\"", 0);
    expect_error("{\"webhook\": {\"url\": \"http://h/\", \"digest_after\": 1}}", "digest_after",
                 "1}", 0);
    for (int i = 0; i < 4; i++)
        unlink(secret_file(i, ""));
    unlink(redis);
}
END_TEST

START_TEST(test_config_environment) {
    const char *pw = secret_file(0, "from-file\n");
    setenv("RISKWARN_REDIS_HOST", "redis.internal", 1);
    setenv("RISKWARN_REDIS_PORT", "6390", 1);
    setenv("RISKWARN_REDIS_PASSWORD_FILE", pw, 1);
    setenv("RISKWARN_KAFKA_BROKERS", "k1:9093", 1);
    setenv("RISKWARN_KAFKA_GROUP_INSTANCE_ID", "riskwarn-0", 1);
    setenv("RISKWARN_WEBHOOK_SECRET", "env-secret", 1);
    setenv("RISKWARN_LOG_FORMAT", "json", 1);
    rw_config_t c;
    rw_error_t err;
    char path[64];
    /* The environment wins over the file, and a variable for a secret replaces both forms. */
    ck_assert_msg(
        load_text("{\"redis\": {\"host\": \"h\", \"port\": 1, \"password\": \"inline\"},\n"
                  " \"kafka\": {\"brokers\": \"b:1\"},\n"
                  " \"webhook\": {\"url\": \"http://h/\", \"secret_file\": \"/nope\"}}",
                  &c, &err, path) == 0,
        "%s", err.text);
    ck_assert_str_eq(c.redis_host, "redis.internal");
    ck_assert_int_eq(c.redis_port, 6390);
    ck_assert_str_eq(c.redis_password, "from-file");
    ck_assert_str_eq(c.brokers, "k1:9093");
    ck_assert_str_eq(json_string_value(json_object_get(c.properties, "group.instance.id")),
                     "riskwarn-0");
    ck_assert_str_eq(c.webhook_secret, "env-secret");
    ck_assert_int_eq(c.log_format, RW_LOG_JSON);
    rw_config_fini(&c);
    const char *names[] = {"RISKWARN_REDIS_HOST", "RISKWARN_REDIS_PASSWORD_FILE",
                           "RISKWARN_KAFKA_BROKERS", "RISKWARN_KAFKA_GROUP_INSTANCE_ID",
                           "RISKWARN_WEBHOOK_SECRET"};
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
        unsetenv(names[i]);
    /* Values are checked like the file's. */
    setenv("RISKWARN_REDIS_PORT", "63x", 1);
    ck_assert_int_eq(load_text("{}", &c, &err, path), RW_ERR_INPUT);
    ck_assert_str_eq(err.source, "environment");
    ck_assert_ptr_nonnull(strstr(err.text, "RISKWARN_REDIS_PORT: must be an integer"));
    rw_config_fini(&c);
    setenv("RISKWARN_REDIS_PORT", "70000", 1);
    ck_assert_int_eq(load_text("{}", &c, &err, path), RW_ERR_INPUT);
    ck_assert_msg(strstr(err.text, "redis.port: 70000 is out of bounds: from 1 to 65535"), "%s",
                  err.text);
    rw_config_fini(&c);
    unsetenv("RISKWARN_REDIS_PORT");
    setenv("RISKWARN_LOG_FORMAT", "xml", 1);
    ck_assert_int_eq(load_text("{}", &c, &err, path), RW_ERR_INPUT);
    ck_assert_msg(strstr(err.text, "log.format: \"xml\" is not one of text, json") != NULL, "%s",
                  err.text);
    rw_config_fini(&c);
    unsetenv("RISKWARN_LOG_FORMAT");
    /* A misspelt variable is an error, as a misspelt key is. */
    setenv("RISKWARN_REDIS_PASWORD", "x", 1);
    ck_assert_int_eq(load_text("{}", &c, &err, path), RW_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.text, "RISKWARN_REDIS_PASWORD: unknown variable"));
    rw_config_fini(&c);
    unsetenv("RISKWARN_REDIS_PASWORD");
    setenv("RISKWARN_RULES", "", 1);
    ck_assert_int_eq(load_text("{}", &c, &err, path), RW_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.text, "RISKWARN_RULES: must be a non-empty"));
    rw_config_fini(&c);
    unsetenv("RISKWARN_RULES");
    ck_assert_int_eq(load_text("{}", &c, &err, path), 0);
    assert_defaults(&c);
    rw_config_fini(&c);
    unlink(pw);
}
END_TEST

/* Whether a group rebalances cooperatively: false, without crashing, where
 * librdkafka names no protocol (rd_kafka_rebalance_protocol() is NULL for a
 * client in no group, as once a closing consumer's group has terminated);
 * false for an eager member; true for a cooperative one once it is in its
 * group. */
static bool assigned(void *arg) {
    rd_kafka_t *c = arg;
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 50);
    if (m)
        rd_kafka_message_destroy(m);
    rd_kafka_topic_partition_list_t *a = NULL;
    bool yes = !rd_kafka_assignment(c, &a) && a && a->cnt > 0;
    if (a)
        rd_kafka_topic_partition_list_destroy(a);
    return yes;
}

static rd_kafka_t *member(const char *brokers, const char *group, const char *strategy) {
    char e[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    ck_assert(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, e, sizeof(e)) ==
                  RD_KAFKA_CONF_OK &&
              rd_kafka_conf_set(conf, "group.id", group, e, sizeof(e)) == RD_KAFKA_CONF_OK &&
              rd_kafka_conf_set(conf, "partition.assignment.strategy", strategy, e, sizeof(e)) ==
                  RD_KAFKA_CONF_OK);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e));
    ck_assert_msg(c, "%s", e);
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, "coop", RD_KAFKA_PARTITION_UA);
    ck_assert_int_eq(rd_kafka_subscribe(c, t), 0);
    rd_kafka_topic_partition_list_destroy(t);
    ck_assert_msg(h_wait(assigned, c, 60000), "%s got no partitions", strategy);
    return c;
}

START_TEST(test_config_kafka_cooperative) {
    rw_mock_t mock;
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_int_eq(rw_mock_start(&mock, 1, &err), 0);
    ck_assert_int_eq(rw_mock_topic(&mock, "coop:2", &err), 0);
    rd_kafka_t *p = h_producer(mock.bootstraps);
    ck_assert_ptr_null(rd_kafka_rebalance_protocol(p));
    ck_assert(!rw_kafka_cooperative(p));
    rd_kafka_destroy(p);
    rd_kafka_t *eager = member(mock.bootstraps, "coop-eager", "range");
    ck_assert(!rw_kafka_cooperative(eager));
    rd_kafka_t *coop = member(mock.bootstraps, "coop-coop", "cooperative-sticky");
    ck_assert(rw_kafka_cooperative(coop));
    rd_kafka_consumer_close(eager);
    rd_kafka_destroy(eager);
    rd_kafka_consumer_close(coop);
    rd_kafka_destroy(coop);
    rw_mock_stop(&mock);
}
END_TEST

START_TEST(test_config_log) {
    rw_config_t c;
    rw_error_t err;
    char path[64];
    ck_assert_int_eq(load_text("{}", &c, &err, path), 0);
    ck_assert_int_eq(c.log_format, RW_LOG_TEXT);
    rw_config_fini(&c);
    ck_assert_int_eq(load_text("{\"log\": {\"format\": \"json\"}}", &c, &err, path), 0);
    ck_assert_int_eq(c.log_format, RW_LOG_JSON);
    rw_config_fini(&c);
    expect_error("{\"log\": {\"format\": \"xml\"}}", "log.format: \"xml\" is not one of text, json",
                 "\"xml\"", 0);
    expect_error("{\"log\": {\"format\": \"jsno\"}}", "(did you mean \"json\"?)", "\"jsno\"", 0);
    expect_error("{\"log\": {\"level\": \"debug\"}}", "unknown key \"log.level\"", "\"level\"", 0);
    expect_error("{\"log\": \"json\"}", "log: must be an object", "\"json\"", 0);
}
END_TEST

static Suite *config_suite(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_config_defaults);
    tcase_add_test(tc, test_config_empty_file_keeps_defaults);
    tcase_add_test(tc, test_config_overrides);
    tcase_add_test(tc, test_config_partial_sections);
    tcase_add_test(tc, test_config_unknown_keys);
    tcase_add_test(tc, test_config_wrong_types);
    tcase_add_test(tc, test_config_table_messages);
    tcase_add_test(tc, test_config_json_errors);
    tcase_add_test(tc, test_config_missing_file);
    tcase_add_test(tc, test_config_kafka_properties_allow_list);
    tcase_add_test(tc, test_config_kafka_properties_expected);
    tcase_add_test(tc, test_config_kafka_properties_reach_their_clients);
    tcase_add_test(tc, test_config_kafka_properties_in_file);
    tcase_add_test(tc, test_config_kafka_member_queue);
    tcase_add_test(tc, test_config_kafka_security_checked);
    tcase_add_test(tc, test_config_set_redis);
    tcase_add_test(tc, test_config_set_redis_overrides_unix_socket);
    tcase_add_test(tc, test_config_set_string);
    tcase_add_test(tc, test_config_secret_files);
    tcase_add_test(tc, test_config_environment);
    tcase_add_test(tc, test_config_log);
    suite_add_tcase(s, tc);
    TCase *group = tcase_create("kafka_group"); /* joins groups on the mock cluster */
    tcase_set_timeout(group, 120);
    tcase_add_test(group, test_config_kafka_cooperative);
    suite_add_tcase(s, group);
    return s;
}

int main(void) { return h_main(config_suite); }

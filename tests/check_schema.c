/* Unit tests for engine/schema.c, the event schema: its parse errors point at the bad key or
 * value; each kind of bad field is named with its value; a batch dead-letters what breaks the
 * schema; the built-in schema passes every event the default pack is meant for and stops the
 * events that slipped past the rules before (an empty, long, NUL-holding or object key; an
 * amount sent as a string or below zero); `replay --config` checks events as `run` does. */
#include "harness.h"
#include "schema.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

/* Parses text's "schema" member; returns the schema, or NULL with err filled. */
static rw_schema_t *parse(const char *text, rw_error_t *err) {
    json_t *root = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(root);
    rw_error_clear(err);
    rw_schema_t *s = rw_schema_parse(json_object_get(root, "schema"), "t.json", text, strlen(text),
                                     "/schema", err);
    json_decref(root);
    return s;
}

static void expect_parse_error(const char *text, const char *what, int line, int col) {
    rw_error_t err;
    rw_schema_t *s = parse(text, &err);
    ck_assert_msg(s == NULL, "accepted: %s", text);
    ck_assert_msg(strstr(err.text, what) != NULL, "error \"%s\" lacks \"%s\"", err.text, what);
    ck_assert_msg(err.line == line && err.column == col, "\"%s\" at %d:%d, want %d:%d", err.text,
                  err.line, err.column, line, col);
    ck_assert_str_eq(err.source, "t.json");
}

START_TEST(test_schema_parse_errors_point_at_the_value) {
    expect_parse_error("{\"schema\": {\"tx\": {\"amount\": {\"type\": \"numbr\"}}}}", "\"numbr\"",
                       1, 39);
    expect_parse_error("{\"schema\": {\"tx\": {\"amount\": {\"minimum\": 0}}}}",
                       "unknown key \"minimum\"", 1, 31);
    expect_parse_error("{\"schema\": {\"tx\": {\"amount\": {\"type\": \"number\", \"min\": 5, "
                       "\"max\": 1}}}}",
                       "min 5 is above max 1", 1, 30);
    expect_parse_error("{\"schema\": {\"tx\": {\"n\": {\"type\": \"number\", \"enum\": [\"a\"]}}}}",
                       "enum is for strings", 1, 25);
    expect_parse_error("{\"schema\": {\"tx\": {\"s\": {\"type\": \"string\", \"min\": 1}}}}",
                       "min and max are for numbers", 1, 25);
    expect_parse_error("{\"schema\": {\"tx\": {\"a..b\": \"string\"}}}", "bad field path \"a..b\"",
                       1, 20);
    expect_parse_error("{\"schema\": {\"tx\": [1]}}", "tx: must be an object", 1, 19);
    expect_parse_error("{\"schema\": {\"tx\": {\"s\": 5}}}", "a type name or an object", 1, 25);
    expect_parse_error("{\"schema\": []}", "must be an object", 1, 12);
}
END_TEST

/* The reason a schema gives for one event ("" when it passes). */
static const char *why_of(const rw_schema_t *s, const char *event) {
    static char why[256];
    json_t *ev = json_loads(event, JSON_ALLOW_NUL, NULL);
    ck_assert_msg(ev != NULL, "%s", event);
    why[0] = 0;
    int rc =
        rw_schema_check(s, ev, json_string_value(json_object_get(ev, "type")), why, sizeof(why));
    json_decref(ev);
    ck_assert_int_eq(rc != 0, why[0] != 0);
    return why;
}

#define TX "{\"event_id\": \"e\", \"type\": \"transaction\", \"ts\": \"2026-11-27T00:00:00Z\", "

START_TEST(test_schema_default_stops_what_slipped_past) {
    const rw_schema_t *s = rw_schema_default();
    static const char *const cases[][2] = {
        {TX "\"account\": \"A1\", \"amount\": 10, \"direction\": \"out\"}", ""},
        {TX "\"account\": \"\", \"amount\": 10, \"direction\": \"out\"}",
         "schema: transaction.account: shorter than 1 bytes, got \"\""},
        {TX "\"account\": \"A\\u0000B\", \"amount\": 10, \"direction\": \"out\"}",
         "schema: transaction.account: holds a control character or NUL, got \"A?B\""},
        {TX "\"account\": {\"id\": 1}, \"amount\": 10, \"direction\": \"out\"}",
         "schema: transaction.account: must be a string, got an object"},
        {TX "\"amount\": 10, \"direction\": \"out\"}", "schema: transaction.account: missing"},
        {TX "\"account\": \"A1\", \"amount\": \"1500000\", \"direction\": \"out\"}",
         "schema: transaction.amount: must be a number, got \"1500000\""},
        {TX "\"account\": \"A1\", \"amount\": -10000000, \"direction\": \"out\"}",
         "schema: transaction.amount: below the minimum 0, got -10000000"},
        {TX "\"account\": \"A1\", \"amount\": 10, \"direction\": \"sideways\"}",
         "schema: transaction.direction: not one of the allowed values, got \"sideways\""},
        {TX "\"account\": \"A1\", \"amount\": 10, \"direction\": \"out\", \"counterparty\": 7}",
         "schema: transaction.counterparty: must be a string, got 7"},
        {TX "\"account\": \"A1\", \"amount\": 10, \"direction\": \"out\", \"counterparty\": null}",
         ""},
        {"{\"type\": \"login\", \"customer_id\": \"C1\", \"result\": \"maybe\"}",
         "schema: login.result: not one of the allowed values, got \"maybe\""},
        {"{\"type\": \"system\", \"service\": \"pay\", \"status\": \"ok\", \"latency_ms\": -1}",
         "schema: system.latency_ms: below the minimum 0, got -1"},
        {"{\"type\": \"anything_else\", \"amount\": \"x\"}", ""},
        {NULL, NULL}};
    for (size_t i = 0; cases[i][0]; i++)
        ck_assert_msg(strcmp(why_of(s, cases[i][0]), cases[i][1]) == 0,
                      "%s\n  gave \"%s\"\n  want \"%s\"", cases[i][0], why_of(s, cases[i][0]),
                      cases[i][1]);
    /* A key of 256 bytes, shortened when echoed. */
    char ev[600], acct[257];
    memset(acct, 'A', 256);
    acct[256] = 0;
    snprintf(ev, sizeof(ev), TX "\"account\": \"%s\", \"amount\": 1, \"direction\": \"in\"}", acct);
    ck_assert_str_eq(why_of(s, ev), "schema: transaction.account: longer than 64 bytes, got "
                                    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...\"");
}
END_TEST

START_TEST(test_schema_nested_paths_star_and_integers) {
    rw_error_t err;
    rw_schema_t *s = parse("{\"schema\": {\"*\": {\"geo.country\": {\"type\": \"string\", "
                           "\"max_length\": 2, \"required\": false}},\n"
                           " \"order\": {\"qty\": {\"type\": \"integer\", \"min\": 1, \"max\": 9}, "
                           "\"ok\": \"boolean\", \"tags\": \"array\", \"ctrl\": {\"type\": "
                           "\"string\", \"printable\": false}}}}",
                           &err);
    ck_assert_msg(s != NULL, "%s", err.text);
    ck_assert_uint_eq(rw_schema_n_types(s), 2);
    ck_assert_str_eq(why_of(s, "{\"type\": \"x\", \"geo\": {\"country\": \"CNX\"}}"),
                     "schema: x.geo.country: longer than 2 bytes, got \"CNX\"");
    ck_assert_str_eq(why_of(s, "{\"type\": \"x\", \"geo\": 5}"), "");
    const char *ok = "{\"type\": \"order\", \"qty\": 3, \"ok\": true, \"tags\": [], \"ctrl\": "
                     "\"a\\tb\"}";
    ck_assert_str_eq(why_of(s, ok), "");
    ck_assert_str_eq(why_of(s, "{\"type\": \"order\", \"qty\": 2.5, \"ok\": true, \"tags\": [], "
                               "\"ctrl\": \"\"}"),
                     "schema: order.qty: must be an integer, got 2.5");
    ck_assert_str_eq(why_of(s, "{\"type\": \"order\", \"qty\": 10, \"ok\": true, \"tags\": [], "
                               "\"ctrl\": \"\"}"),
                     "schema: order.qty: above the maximum 9, got 10");
    ck_assert_str_eq(why_of(s, "{\"type\": \"order\", \"qty\": 1, \"ok\": 1, \"tags\": [], "
                               "\"ctrl\": \"\"}"),
                     "schema: order.ok: must be a boolean, got 1");
    rw_schema_destroy(s);
}
END_TEST

/* In a batch: the event is a dead letter with the schema's reason; no schema, no check. */
START_TEST(test_schema_batch_dead_letters) {
    const char *ev = TX "\"account\": \"A1\", \"amount\": \"900000\", \"direction\": \"out\"}";
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load_file("rules/packs/default.json", &errs);
    ck_assert_ptr_nonnull(rs);
    for (int with = 0; with < 2; with++) {
        rw_batch_t *b = rw_batch_new(1048576, RW_STATE_MEMORY);
        b->schema = with ? rw_schema_default() : NULL;
        rw_batch_reset(b, rs);
        rw_msg_t m = {"events", 0, 0, ev, strlen(ev), 0, 0, NULL, 0};
        rw_batch_add(b, &m);
        if (with)
            ck_assert_str_eq(b->items[0].error,
                             "schema: transaction.amount: must be a number, got \"900000\"");
        else
            ck_assert_str_eq(b->items[0].error, "");
        rw_batch_destroy(b);
    }
    rw_ruleset_destroy(rs);
    rw_errors_fini(&errs);
}
END_TEST

/* Every demo event passes the built-in schema: it is what the default pack reads. */
START_TEST(test_schema_default_passes_demo_events) {
    FILE *f = fopen("data/demo/events.jsonl", "r");
    ck_assert_ptr_nonnull(f);
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        ck_assert_msg(why_of(rw_schema_default(), line)[0] == 0, "%s: %s", line,
                      why_of(rw_schema_default(), line));
        n++;
    }
    fclose(f);
    ck_assert_int_gt(n, 1000);
}
END_TEST

/* replay checks events as run does: the built-in schema, a config's, or none. */
START_TEST(test_schema_replay_config) {
    const char *events = h_tmpfile(
        ".jsonl", TX "\"account\": \"A1\", \"amount\": \"900000\", \"direction\": \"out\"}\n" TX
                     "\"account\": \"A1\", \"amount\": 2000000, \"direction\": \"out\"}\n");
    char out[8192];
    const char *a1[] = {"replay", "--rules", "rules/packs/default.json", events, NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), a1), 0);
    ck_assert_msg(
        strstr(out, "line 1: dead letter: schema: transaction.amount: must be a number") != NULL,
        "%s", out);
    ck_assert_msg(strstr(out, "1 events, 1 dead letters") != NULL, "%s", out);
    const char *off = h_tmpfile(".json", "{\"schema\": null}");
    const char *a2[] = {"replay", "--rules", "rules/packs/default.json", "--config", off,
                        events,   NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), a2), 0);
    ck_assert_msg(strstr(out, "2 events, 0 dead letters") != NULL, "%s", out);
    const char *bad =
        h_tmpfile(".json", "{\"schema\": {\"transaction\": {\"amount\": \"nmber\"}}}");
    const char *a3[] = {"replay", "--rules", "rules/packs/default.json", "--config", bad,
                        events,   NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), a3), 2);
    ck_assert_msg(strstr(out, ":1:39: schema: type must be one of") != NULL, "%s", out);
}
END_TEST

static Suite *schema_suite(void) {
    Suite *s = suite_create("schema");
    TCase *tc = tcase_create("schema");
    tcase_add_test(tc, test_schema_parse_errors_point_at_the_value);
    tcase_add_test(tc, test_schema_default_stops_what_slipped_past);
    tcase_add_test(tc, test_schema_nested_paths_star_and_integers);
    tcase_add_test(tc, test_schema_batch_dead_letters);
    tcase_add_test(tc, test_schema_default_passes_demo_events);
    tcase_add_test(tc, test_schema_replay_config);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(schema_suite); }

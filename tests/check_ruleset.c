/* Unit tests for engine/ruleset.c and match.c: loading and checking rulesets, thresholds, match,
 * masking. */
#include "match.h"
#include "ruleset.h"

#include "harness.h"
#include "pseudonym.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SRC "t.json"

/* ---- helpers ------------------------------------------------------------------------------ */

static rw_ruleset_t *load(const char *text, rw_errors_t *errs) {
    rw_errors_init(errs);
    return rw_ruleset_load(text, strlen(text), SRC, errs);
}

/* Loads text that must be valid; fails the test with every error otherwise. */
static rw_ruleset_t *load_ok(const char *text) {
    rw_errors_t errs;
    rw_ruleset_t *rs = load(text, &errs);
    if (!rs) {
        char all[4096] = "", line[1024];
        for (size_t i = 0; i < errs.n; i++) {
            rw_error_format(&errs.items[i], line, sizeof(line));
            strncat(all, line, sizeof(all) - strlen(all) - 2);
            strncat(all, "\n", sizeof(all) - strlen(all) - 1);
        }
        ck_abort_msg("ruleset refused:\n%s", all);
    }
    ck_assert_uint_eq(errs.n, 0);
    rw_errors_fini(&errs);
    return rs;
}

/* The error whose text contains what; aborts listing every error when there is none. */
static const rw_error_t *find_err(const rw_errors_t *errs, const char *what) {
    for (size_t i = 0; i < errs->n; i++)
        if (strstr(errs->items[i].text, what))
            return &errs->items[i];
    char all[4096] = "", line[1024];
    for (size_t i = 0; i < errs->n; i++) {
        rw_error_format(&errs->items[i], line, sizeof(line));
        strncat(all, line, sizeof(all) - strlen(all) - 2);
        strncat(all, "\n", sizeof(all) - strlen(all) - 1);
    }
    ck_abort_msg("no error containing \"%s\"; got %zu:\n%s", what, errs->n, all);
    return NULL;
}

/* Asserts that errs has an error containing what, located at the nth needle (+skip). */
static void assert_err_at(const rw_errors_t *errs, const char *text, const char *what,
                          const char *needle, int nth, size_t skip) {
    const rw_error_t *e = find_err(errs, what);
    int line, col;
    h_pos_of(text, needle, nth, skip, &line, &col);
    ck_assert_str_eq(e->source, SRC);
    ck_assert_int_eq(e->code, RW_ERR_INPUT);
    ck_assert_msg(e->line == line && e->column == col,
                  "error \"%s\" at %d:%d, want %d:%d (at \"%s\")", e->text, e->line, e->column,
                  line, col, needle);
}

/* Loads text that must fail with exactly one error containing what, at needle (+skip). */
static void expect_one_error(const char *text, const char *what, const char *needle, size_t skip) {
    rw_errors_t errs;
    rw_ruleset_t *rs = load(text, &errs);
    ck_assert_ptr_null(rs);
    if (errs.n != 1)
        find_err(&errs, "\x01 (listing every error)");
    assert_err_at(&errs, text, what, needle, 0, skip);
    rw_errors_fini(&errs);
}

/* A ruleset around the given rules array text. */
static char *wrap_rules(const char *rules) {
    size_t n = strlen(rules) + 128;
    char *t = malloc(n);
    ck_assert_ptr_nonnull(t);
    snprintf(t, n, "{\"ruleset\": \"t\", \"version\": \"1\",\n \"rules\": [\n%s\n ]}\n", rules);
    return t;
}

/* ---- loading the default pack -------------------------------------------------------------- */

START_TEST(test_ruleset_loads_default_pack) {
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load_file("rules/packs/default.json", &errs);
    ck_assert_msg(rs != NULL, "default pack refused (%zu errors)", errs.n);
    ck_assert_uint_eq(errs.n, 0);
    /* The loaded ruleset says what the file says. */
    json_t *j = json_load_file("rules/packs/default.json", 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(rs->name, json_string_value(json_object_get(j, "ruleset")));
    ck_assert_str_eq(rs->version, json_string_value(json_object_get(j, "version")));
    json_t *cal = json_object_get(j, "calendar");
    ck_assert_int_eq(rs->calendar.utc_offset_min, 480);
    ck_assert_uint_eq(rs->calendar.weekend, (1 << 5) | (1 << 6));
    ck_assert_uint_eq(rs->calendar.n_holidays, json_array_size(json_object_get(cal, "holidays")));
    ck_assert_uint_eq(rs->calendar.n_workdays, json_array_size(json_object_get(cal, "workdays")));
    ck_assert_int_eq(rs->calendar.workdays[rs->calendar.n_workdays - 1],
                     rw_days_from_civil(2026, 10, 10));
    ck_assert_uint_eq(rs->n_masks, 5);
    json_t *rules = json_object_get(j, "rules");
    json_t *cards = json_object_get(j, "scorecards");
    ck_assert_uint_eq(rs->n_scorecards, json_array_size(cards));
    ck_assert_uint_eq(rs->n_rules, json_array_size(rules) + json_array_size(cards));
    int64_t pack_cd = 0;
    ck_assert_int_eq(rw_duration_parse(json_string_value(json_object_get(j, "cooldown")), &pack_cd),
                     0);
    for (size_t i = 0; i < json_array_size(rules); i++) {
        json_t *r = json_array_get(rules, i);
        ck_assert_str_eq(rs->rules[i].id, json_string_value(json_object_get(r, "id")));
        ck_assert_str_eq(rs->rules[i].module->name,
                         json_string_value(json_object_get(r, "module")));
        /* Every rule has a cool-down: its own, or the pack's. */
        int64_t cd = pack_cd;
        json_t *rcd = json_object_get(r, "cooldown");
        if (rcd)
            ck_assert_int_eq(rw_duration_parse(json_string_value(rcd), &cd), 0);
        ck_assert_int_gt(cd, 0);
        ck_assert_int_eq(rs->rules[i].cooldown_ms, cd);
    }
    for (size_t i = 0; i < json_array_size(cards); i++)
        ck_assert_str_eq(rs->rules[json_array_size(rules) + i].id,
                         json_string_value(json_object_get(json_array_get(cards, i), "id")));
    json_decref(j);
    rw_ruleset_destroy(rs);
    rw_errors_fini(&errs);
}
END_TEST

START_TEST(test_ruleset_load_file_missing) {
    rw_errors_t errs;
    rw_errors_init(&errs);
    ck_assert_ptr_null(rw_ruleset_load_file("tests/no-such-ruleset.json", &errs));
    ck_assert_uint_eq(errs.n, 1);
    ck_assert_str_eq(errs.items[0].source, "tests/no-such-ruleset.json");
    rw_errors_fini(&errs);
}
END_TEST

START_TEST(test_ruleset_cooldown_default_and_override) {
    rw_ruleset_t *rs = load_ok("{\"ruleset\": \"t\", \"version\": \"1\", \"cooldown\": \"10m\",\n"
                               " \"rules\": [\n"
                               "  {\"id\": \"a\", \"module\": \"value\", \"params\": {\"field\": "
                               "\"x\"}, \"thresholds\": {\"low\": 1}},\n"
                               "  {\"id\": \"b\", \"module\": \"value\", \"params\": {\"field\": "
                               "\"x\"}, \"thresholds\": {\"low\": 1}, \"cooldown\": \"30s\"}\n"
                               " ]}");
    ck_assert_int_eq(rs->rules[0].cooldown_ms, 600000);
    ck_assert_int_eq(rs->rules[1].cooldown_ms, 30000);
    ck_assert_ptr_null(rs->rules[0].key);
    rw_ruleset_destroy(rs);
}
END_TEST

/* ---- errors, one kind at a time, with their place ----------------------------------------- */

START_TEST(test_ruleset_error_unknown_module) {
    char *t = wrap_rules("  {\"id\": \"r1\", \"module\": \"nosuch\", \"params\": {},\n"
                         "   \"thresholds\": {\"low\": 1}}");
    expect_one_error(t, "unknown module \"nosuch\"", "\"nosuch\"", 0);
    free(t);
}
END_TEST

START_TEST(test_ruleset_error_unknown_param) {
    char *t = wrap_rules("  {\"id\": \"r1\", \"module\": \"value\",\n"
                         "   \"params\": {\"field\": \"amount\", \"fild\": 1},\n"
                         "   \"thresholds\": {\"low\": 1}}");
    expect_one_error(t, "unknown param \"fild\"", "\"fild\"", 0);
    free(t);
}
END_TEST

START_TEST(test_ruleset_error_missing_param) {
    /* params given without the required one: at the params object. */
    char *t = wrap_rules("  {\"id\": \"r1\", \"module\": \"value\",\n"
                         "   \"params\": {},\n"
                         "   \"thresholds\": {\"low\": 1}}");
    expect_one_error(t, "field: required", "{}", 0);
    free(t);
    /* no params at all: at the rule. */
    t = wrap_rules("  {\"id\": \"r1\", \"module\": \"window_count\",\n"
                   "   \"thresholds\": {\"low\": 1}}");
    expect_one_error(t, "window: required", "{\"id\"", 0);
    free(t);
    /* window_sum needs both. */
    t = wrap_rules("  {\"id\": \"r1\", \"module\": \"window_sum\",\n"
                   "   \"params\": {\"field\": \"amount\"},\n"
                   "   \"thresholds\": {\"low\": 1}}");
    expect_one_error(t, "window: required", "{\"field\"", 0);
    free(t);
}
END_TEST

START_TEST(test_ruleset_error_bad_duration) {
    static const char *const bad[] = {"\"1y\"", "\"0s\"", "\"-1h\"", "\"\"", "60", "\"1 h\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char rule[300];
        snprintf(rule, sizeof(rule),
                 "  {\"id\": \"r1\", \"module\": \"window_count\",\n"
                 "   \"params\": {\"window\": %s},\n"
                 "   \"thresholds\": {\"low\": 1}}",
                 bad[i]);
        char *t = wrap_rules(rule);
        expect_one_error(t, "window: bad duration", "\"window\": ", strlen("\"window\": "));
        free(t);
    }
    /* A bad cooldown, per rule and ruleset-wide. */
    char *t =
        wrap_rules("  {\"id\": \"r1\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
                   "   \"cooldown\": \"soon\", \"thresholds\": {\"low\": 1}}");
    expect_one_error(t, "cooldown: bad duration", "\"soon\"", 0);
    free(t);
    const char *top = "{\"ruleset\": \"t\", \"version\": \"1\",\n \"cooldown\": \"5\",\n"
                      " \"rules\": []}";
    expect_one_error(top, "cooldown: bad duration", "\"5\"", 0);
}
END_TEST

START_TEST(test_ruleset_error_equal_thresholds) {
    char *t =
        wrap_rules("  {\"id\": \"r1\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
                   "   \"thresholds\": {\"low\": 5, \"medium\": 5, \"high\": 9}}");
    expect_one_error(t, "thresholds.medium equals thresholds.low",
                     "\"medium\": ", strlen("\"medium\": "));
    free(t);
    /* Equal across a missing level. */
    t = wrap_rules("  {\"id\": \"r1\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
                   "   \"thresholds\": {\"low\": 5, \"high\": 5.0}}");
    expect_one_error(t, "thresholds.high equals thresholds.low", "5.0", 0);
    free(t);
}
END_TEST

START_TEST(test_ruleset_error_unordered_thresholds) {
    char *t =
        wrap_rules("  {\"id\": \"r1\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
                   "   \"thresholds\": {\"low\": 1, \"medium\": 5, \"high\": 3}}");
    expect_one_error(t, "not ordered", "\"high\": ", strlen("\"high\": "));
    free(t);
    t = wrap_rules("  {\"id\": \"r1\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
                   "   \"thresholds\": {\"low\": 9, \"medium\": 5, \"high\": 7}}");
    expect_one_error(t, "not ordered", "\"high\": ", strlen("\"high\": "));
    free(t);
}
END_TEST

START_TEST(test_ruleset_error_no_thresholds) {
    char *t =
        wrap_rules("  {\"id\": \"r1\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
                   "   \"thresholds\": {}}");
    expect_one_error(t, "give at least one of low, medium, high", "{}", 0);
    free(t);
    t = wrap_rules("  {\"id\": \"r1\", \"module\": \"value\", \"params\": {\"field\": \"x\"}}");
    expect_one_error(t, "missing \"thresholds\"", "{\"id\"", 0);
    free(t);
    t = wrap_rules("  {\"id\": \"r1\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
                   "   \"thresholds\": {\"low\": \"10\"}}");
    expect_one_error(t, "thresholds.low: must be a number", "\"10\"", 0);
    free(t);
    t = wrap_rules("  {\"id\": \"r1\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
                   "   \"thresholds\": {\"low\": 1, \"critical\": 2}}");
    expect_one_error(t, "unknown key \"critical\"", "\"critical\"", 0);
    free(t);
}
END_TEST

START_TEST(test_ruleset_error_duplicate_rule_id) {
    char *t = wrap_rules("  {\"id\": \"same\", \"module\": \"value\", \"params\": {\"field\": "
                         "\"x\"}, \"thresholds\": {\"low\": 1}},\n"
                         "  {\"id\": \"other\", \"module\": \"value\", \"params\": {\"field\": "
                         "\"x\"}, \"thresholds\": {\"low\": 1}},\n"
                         "  {\"id\": \"same\", \"module\": \"value\", \"params\": {\"field\": "
                         "\"x\"}, \"thresholds\": {\"low\": 1}}");
    rw_errors_t errs;
    ck_assert_ptr_null(load(t, &errs));
    ck_assert_uint_eq(errs.n, 1);
    assert_err_at(&errs, t, "duplicate rule id (first at rules[0])", "\"same\"", 1, 0);
    rw_errors_fini(&errs);
    free(t);
}
END_TEST

START_TEST(test_ruleset_error_bad_match_operator) {
    char *t =
        wrap_rules("  {\"id\": \"r1\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
                   "   \"match\": {\"amount\": {\"gtt\": 5}},\n"
                   "   \"thresholds\": {\"low\": 1}}");
    expect_one_error(t, "unknown operator \"gtt\"", "\"gtt\"", 0);
    free(t);
    t = wrap_rules("  {\"id\": \"r1\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
                   "   \"match\": {\"amount\": {\"gt\": [5]}},\n"
                   "   \"thresholds\": {\"low\": 1}}");
    expect_one_error(t, "must be a number or a string", "[5]", 0);
    free(t);
    t = wrap_rules("  {\"id\": \"r1\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
                   "   \"match\": {\"ip\": {\"exists\": 1}},\n"
                   "   \"thresholds\": {\"low\": 1}}");
    expect_one_error(t, "exists: must be true or false", "1}}", 0);
    free(t);
    t = wrap_rules("  {\"id\": \"r1\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
                   "   \"match\": {\"a..b\": 1},\n"
                   "   \"thresholds\": {\"low\": 1}}");
    expect_one_error(t, "bad field path", "\"a..b\"", 0);
    free(t);
}
END_TEST

START_TEST(test_ruleset_error_in_not_a_list) {
    char *t =
        wrap_rules("  {\"id\": \"r1\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
                   "   \"match\": {\"status\": {\"in\": \"error\"}},\n"
                   "   \"thresholds\": {\"low\": 1}}");
    expect_one_error(t, "in: must be a list", "\"error\"", 0);
    free(t);
}
END_TEST

START_TEST(test_ruleset_error_unknown_calendar_day) {
    const char *t = "{\"ruleset\": \"t\", \"version\": \"1\",\n"
                    " \"calendar\": {\"weekend\": [\"sat\", \"sunday\"]},\n"
                    " \"rules\": []}";
    expect_one_error(t, "calendar.weekend[1]: unknown day", "\"sunday\"", 0);
}
END_TEST

START_TEST(test_ruleset_error_bad_holiday_date) {
    static const char *const bad[] = {"2026-02-30", "2026-13-01", "2026-10-1", "10/01/2026",
                                      "2026-10-01x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char t[400];
        snprintf(t, sizeof(t),
                 "{\"ruleset\": \"t\", \"version\": \"1\",\n"
                 " \"calendar\": {\"holidays\": [\"2026-10-01\", \"%s\"]},\n"
                 " \"rules\": []}",
                 bad[i]);
        char needle[40];
        snprintf(needle, sizeof(needle), "\"%s\"", bad[i]);
        expect_one_error(t, "calendar.holidays[1]: not a date", needle, 0);
    }
    const char *t = "{\"ruleset\": \"t\", \"version\": \"1\",\n"
                    " \"calendar\": {\"workdays\": [20261010]},\n"
                    " \"rules\": []}";
    expect_one_error(t, "calendar.workdays[0]: not a date", "20261010", 0);
    t = "{\"ruleset\": \"t\", \"version\": \"1\",\n"
        " \"calendar\": {\"utc_offset\": \"+8\"},\n"
        " \"rules\": []}";
    expect_one_error(t, "calendar.utc_offset", "\"+8\"", 0);
}
END_TEST

START_TEST(test_ruleset_error_bad_masking_spec) {
    static const char *const bad[] = {"\"6:4\"", "\"6-\"", "\"-4\"",   "\"a-b\"", "\"6-4-2\"",
                                      "64",      "\"\"",   "\"6--4\"", "\"65-4\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char t[400];
        snprintf(t, sizeof(t),
                 "{\"ruleset\": \"t\", \"version\": \"1\",\n"
                 " \"masking\": {\"phone\": \"3-4\", \"account\": %s},\n"
                 " \"rules\": []}",
                 bad[i]);
        expect_one_error(t, "masking.account: bad masking spec",
                         "\"account\": ", strlen("\"account\": "));
    }
}
END_TEST

START_TEST(test_ruleset_error_unknown_top_level_key) {
    const char *t = "{\"ruleset\": \"t\", \"version\": \"1\",\n"
                    "  \"rulez\": [],\n"
                    " \"rules\": []}";
    expect_one_error(t, "unknown key \"rulez\"", "\"rulez\"", 0);
}
END_TEST

START_TEST(test_ruleset_error_unknown_rule_key) {
    char *t =
        wrap_rules("  {\"id\": \"r1\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
                   "   \"thresholds\": {\"low\": 1}, \"windw\": \"1h\"}");
    expect_one_error(t, "unknown key \"windw\"", "\"windw\"", 0);
    free(t);
}
END_TEST

START_TEST(test_ruleset_error_json_syntax) {
    const char *t = "{\"ruleset\": \"t\",\n"
                    " \"version\": \"1\",,\n"
                    " \"rules\": []}";
    rw_errors_t errs;
    ck_assert_ptr_null(load(t, &errs));
    ck_assert_uint_eq(errs.n, 1);
    ck_assert_str_eq(errs.items[0].source, SRC);
    ck_assert_int_eq(errs.items[0].line, 2);
    ck_assert_int_eq(errs.items[0].column, 17); /* the second comma */
    rw_errors_fini(&errs);

    /* Duplicate keys are refused too, with their line. */
    t = "{\"ruleset\": \"t\", \"version\": \"1\",\n"
        " \"rules\": [],\n"
        " \"version\": \"2\"}";
    ck_assert_ptr_null(load(t, &errs));
    ck_assert_uint_eq(errs.n, 1);
    ck_assert_ptr_nonnull(strstr(errs.items[0].text, "duplicate"));
    ck_assert_int_eq(errs.items[0].line, 3);
    rw_errors_fini(&errs);

    /* Truncated text. */
    t = "{\"ruleset\": \"t\", \"version\": \"1\",\n \"rules\": [";
    ck_assert_ptr_null(load(t, &errs));
    ck_assert_uint_eq(errs.n, 1);
    ck_assert_int_eq(errs.items[0].line, 2);
    rw_errors_fini(&errs);
}
END_TEST

START_TEST(test_ruleset_error_not_an_object) {
    rw_errors_t errs;
    ck_assert_ptr_null(load("[1, 2]", &errs));
    ck_assert_uint_eq(errs.n, 1);
    ck_assert_int_eq(errs.items[0].line, 1);
    ck_assert_int_eq(errs.items[0].column, 1);
    rw_errors_fini(&errs);
    const char *t = "{\"ruleset\": \"\", \"version\": 2, \"rules\": {}}";
    ck_assert_ptr_null(load(t, &errs));
    ck_assert_uint_eq(errs.n, 3);
    assert_err_at(&errs, t, "\"ruleset\" (the ruleset's name)", "\"\"", 0, 0);
    assert_err_at(&errs, t, "\"version\" must be", "2,", 0, 0);
    assert_err_at(&errs, t, "\"rules\" must be a list", "{}", 0, 0);
    rw_errors_fini(&errs);
}
END_TEST

/* One load reports every error of a file, each at its place. */
START_TEST(test_ruleset_reports_all_errors) {
    const char *t =
        "{\"ruleset\": \"t\", \"version\": \"1\", \"colour\": \"red\",\n"            /* 1 */
        " \"calendar\": {\"utc_offset\": \"+08:00\", \"weekend\": [\"caturday\"],\n" /* 2 */
        "              \"holidays\": [\"2026-02-30\"]},\n"                           /* 3 */
        " \"masking\": {\"account\": \"six-four\"},\n"                               /* 4 */
        " \"rules\": [\n"                                                            /* 5 */
        "  {\"id\": \"a\", \"module\": \"nosuch\", \"thresholds\": {\"low\": 1}},\n" /* 6 */
        "  {\"id\": \"b\", \"module\": \"value\", \"params\": {\"feild\": \"x\"},\n" /* 7 */
        "   \"thresholds\": {\"low\": 3, \"medium\": 3}},\n"                         /* 8 */
        "  {\"id\": \"c\", \"module\": \"window_count\", \"params\": {\"window\": \"1y\"},\n"
        "   \"match\": {\"status\": {\"in\": \"error\"}, \"amount\": {\"between\": [1, 2]}},\n"
        "   \"thresholds\": {\"low\": 1, \"medium\": 9, \"high\": 5}},\n"
        "  {\"id\": \"a\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
        "   \"thresholds\": {}, \"severity\": \"high\"}\n"
        " ]}\n";
    rw_errors_t errs;
    ck_assert_ptr_null(load(t, &errs));
    assert_err_at(&errs, t, "unknown key \"colour\"", "\"colour\"", 0, 0);
    assert_err_at(&errs, t, "unknown day", "\"caturday\"", 0, 0);
    assert_err_at(&errs, t, "holidays[0]: not a date", "\"2026-02-30\"", 0, 0);
    assert_err_at(&errs, t, "masking.account", "\"six-four\"", 0, 0);
    assert_err_at(&errs, t, "unknown module \"nosuch\"", "\"nosuch\"", 0, 0);
    assert_err_at(&errs, t, "unknown param \"feild\"", "\"feild\"", 0, 0);
    assert_err_at(&errs, t, "thresholds.medium equals", "3}", 0, 0);
    assert_err_at(&errs, t, "window: bad duration", "\"1y\"", 0, 0);
    assert_err_at(&errs, t, "in: must be a list", "\"error\"", 0, 0);
    assert_err_at(&errs, t, "unknown operator \"between\"", "\"between\"", 0, 0);
    assert_err_at(&errs, t, "not ordered", "5}", 0, 0);
    assert_err_at(&errs, t, "duplicate rule id", "\"a\"", 1, 0);
    assert_err_at(&errs, t, "give at least one", "{}", 0, 0);
    assert_err_at(&errs, t, "unknown key \"severity\"", "\"severity\"", 0, 0);
    ck_assert_uint_eq(errs.n, 14);
    rw_errors_fini(&errs);
}
END_TEST

/* Errors add to a list that already holds some; the return is NULL only for this load. */
START_TEST(test_ruleset_errors_accumulate) {
    rw_errors_t errs;
    rw_errors_init(&errs);
    const char *bad = "{\"ruleset\": \"t\", \"version\": \"1\", \"x\": 1, \"rules\": []}";
    const char *good = "{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": []}";
    ck_assert_ptr_null(rw_ruleset_load(bad, strlen(bad), SRC, &errs));
    ck_assert_uint_eq(errs.n, 1);
    rw_ruleset_t *rs = rw_ruleset_load(good, strlen(good), SRC, &errs);
    ck_assert_ptr_nonnull(rs);
    ck_assert_uint_eq(errs.n, 1);
    rw_ruleset_destroy(rs);
    ck_assert_ptr_null(rw_ruleset_load(bad, strlen(bad), SRC, &errs));
    ck_assert_uint_eq(errs.n, 2);
    rw_errors_fini(&errs);
}
END_TEST

/* ---- thresholds -------------------------------------------------------------------------- */

static rw_ruleset_t *value_rule(const char *thresholds) {
    char rule[400];
    snprintf(rule, sizeof(rule),
             "  {\"id\": \"r\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
             "   \"thresholds\": %s}",
             thresholds);
    char *t = wrap_rules(rule);
    rw_ruleset_t *rs = load_ok(t);
    free(t);
    return rs;
}

#define ASSERT_LEVEL(r, x, want)                                                                   \
    do {                                                                                           \
        int l_ = rw_rule_level((r), (x));                                                          \
        ck_assert_msg(l_ == (want), "measure %g: level %s, want %s", (double)(x),                  \
                      rw_level_name(l_), rw_level_name(want));                                     \
    } while (0)

START_TEST(test_ruleset_thresholds_ascending) {
    rw_ruleset_t *rs = value_rule("{\"low\": 10, \"medium\": 20, \"high\": 50}");
    const rw_rule_t *r = &rs->rules[0];
    ck_assert(!r->descending);
    ASSERT_LEVEL(r, -1e9, RW_LEVEL_NONE);
    ASSERT_LEVEL(r, 0, RW_LEVEL_NONE);
    ASSERT_LEVEL(r, 9.999, RW_LEVEL_NONE);
    ASSERT_LEVEL(r, 10, RW_LEVEL_LOW);
    ASSERT_LEVEL(r, 10.001, RW_LEVEL_LOW);
    ASSERT_LEVEL(r, 19.999, RW_LEVEL_LOW);
    ASSERT_LEVEL(r, 20, RW_LEVEL_MEDIUM);
    ASSERT_LEVEL(r, 20.001, RW_LEVEL_MEDIUM);
    ASSERT_LEVEL(r, 49.999, RW_LEVEL_MEDIUM);
    ASSERT_LEVEL(r, 50, RW_LEVEL_HIGH);
    ASSERT_LEVEL(r, 50.001, RW_LEVEL_HIGH);
    ASSERT_LEVEL(r, 1e12, RW_LEVEL_HIGH);
    rw_ruleset_destroy(rs);
}
END_TEST

START_TEST(test_ruleset_thresholds_descending) {
    rw_ruleset_t *rs = value_rule("{\"low\": 0.9, \"medium\": 0.8, \"high\": 0.5}");
    const rw_rule_t *r = &rs->rules[0];
    ck_assert(r->descending);
    ASSERT_LEVEL(r, 1.0, RW_LEVEL_NONE);
    ASSERT_LEVEL(r, 0.9001, RW_LEVEL_NONE);
    ASSERT_LEVEL(r, 0.9, RW_LEVEL_LOW);
    ASSERT_LEVEL(r, 0.8999, RW_LEVEL_LOW);
    ASSERT_LEVEL(r, 0.8001, RW_LEVEL_LOW);
    ASSERT_LEVEL(r, 0.8, RW_LEVEL_MEDIUM);
    ASSERT_LEVEL(r, 0.7999, RW_LEVEL_MEDIUM);
    ASSERT_LEVEL(r, 0.5001, RW_LEVEL_MEDIUM);
    ASSERT_LEVEL(r, 0.5, RW_LEVEL_HIGH);
    ASSERT_LEVEL(r, 0.4999, RW_LEVEL_HIGH);
    ASSERT_LEVEL(r, -3, RW_LEVEL_HIGH);
    rw_ruleset_destroy(rs);
}
END_TEST

START_TEST(test_ruleset_thresholds_missing_levels) {
    rw_ruleset_t *rs = value_rule("{\"medium\": 1, \"high\": 3}");
    const rw_rule_t *r = &rs->rules[0];
    ck_assert(!r->has[RW_LEVEL_LOW]);
    ASSERT_LEVEL(r, 0.999, RW_LEVEL_NONE);
    ASSERT_LEVEL(r, 1, RW_LEVEL_MEDIUM);
    ASSERT_LEVEL(r, 2.999, RW_LEVEL_MEDIUM);
    ASSERT_LEVEL(r, 3, RW_LEVEL_HIGH);
    rw_ruleset_destroy(rs);

    rs = value_rule("{\"low\": 100, \"high\": 1000}");
    r = &rs->rules[0];
    ASSERT_LEVEL(r, 99, RW_LEVEL_NONE);
    ASSERT_LEVEL(r, 100, RW_LEVEL_LOW);
    ASSERT_LEVEL(r, 999.99, RW_LEVEL_LOW);
    ASSERT_LEVEL(r, 1000, RW_LEVEL_HIGH);
    rw_ruleset_destroy(rs);

    rs = value_rule("{\"high\": 7}");
    r = &rs->rules[0];
    ASSERT_LEVEL(r, 6.999, RW_LEVEL_NONE);
    ASSERT_LEVEL(r, 7, RW_LEVEL_HIGH);
    rw_ruleset_destroy(rs);

    /* Descending with a gap. */
    rs = value_rule("{\"low\": 0.95, \"high\": 0.6}");
    r = &rs->rules[0];
    ck_assert(r->descending);
    ASSERT_LEVEL(r, 0.96, RW_LEVEL_NONE);
    ASSERT_LEVEL(r, 0.95, RW_LEVEL_LOW);
    ASSERT_LEVEL(r, 0.61, RW_LEVEL_LOW);
    ASSERT_LEVEL(r, 0.6, RW_LEVEL_HIGH);
    rw_ruleset_destroy(rs);
}
END_TEST

START_TEST(test_ruleset_thresholds_kept_as_written) {
    rw_ruleset_t *rs = value_rule("{\"low\": 10, \"high\": 50.5}");
    char *s = json_dumps(rs->rules[0].thresholds, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(s, "{\"high\":50.5,\"low\":10}");
    free(s);
    rw_ruleset_destroy(rs);
}
END_TEST

START_TEST(test_ruleset_level_names) {
    ck_assert_str_eq(rw_level_name(RW_LEVEL_NONE), "none");
    ck_assert_str_eq(rw_level_name(RW_LEVEL_LOW), "low");
    ck_assert_str_eq(rw_level_name(RW_LEVEL_MEDIUM), "medium");
    ck_assert_str_eq(rw_level_name(RW_LEVEL_HIGH), "high");
    ck_assert_str_eq(rw_level_name(7), "none");
    ck_assert_int_eq(rw_level_parse("high"), RW_LEVEL_HIGH);
    ck_assert_int_eq(rw_level_parse("low"), RW_LEVEL_LOW);
    ck_assert_int_eq(rw_level_parse("none"), -1);
    ck_assert_int_eq(rw_level_parse("HIGH"), -1);
}
END_TEST

/* ---- match ------------------------------------------------------------------------------ */

/* Whether event (JSON text) matches the match object (JSON text). */
static bool matches(const char *match, const char *event) {
    char rule[1024];
    snprintf(rule, sizeof(rule),
             "  {\"id\": \"r\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
             "   \"match\": %s, \"thresholds\": {\"low\": 1}}",
             match);
    char *t = wrap_rules(rule);
    rw_ruleset_t *rs = load_ok(t);
    free(t);
    json_error_t je;
    json_t *ev = json_loads(event, 0, &je);
    ck_assert_msg(ev != NULL, "test bug: bad event %s: %s", event, je.text);
    bool r = rw_match_eval(&rs->rules[0].match, ev);
    json_decref(ev);
    rw_ruleset_destroy(rs);
    return r;
}

#define ASSERT_MATCH(m, e) ck_assert_msg(matches((m), (e)), "%s should match %s", (m), (e))
#define ASSERT_NO_MATCH(m, e) ck_assert_msg(!matches((m), (e)), "%s should not match %s", (m), (e))

START_TEST(test_ruleset_match_equality) {
    ASSERT_MATCH("{\"type\": \"transaction\"}", "{\"type\": \"transaction\"}");
    ASSERT_NO_MATCH("{\"type\": \"transaction\"}", "{\"type\": \"login\"}");
    ASSERT_NO_MATCH("{\"type\": \"transaction\"}", "{\"type\": \"Transaction\"}");
    /* Numbers compare by value: 1 == 1.0 both ways. */
    ASSERT_MATCH("{\"amount\": 1}", "{\"amount\": 1.0}");
    ASSERT_MATCH("{\"amount\": 1.0}", "{\"amount\": 1}");
    ASSERT_MATCH("{\"amount\": 250000}", "{\"amount\": 2.5e5}");
    ASSERT_NO_MATCH("{\"amount\": 1}", "{\"amount\": 1.5}");
    ASSERT_NO_MATCH("{\"amount\": 1}", "{\"amount\": \"1\"}");
    ASSERT_NO_MATCH("{\"amount\": \"1\"}", "{\"amount\": 1}");
    ASSERT_MATCH("{\"flag\": true}", "{\"flag\": true}");
    ASSERT_NO_MATCH("{\"flag\": true}", "{\"flag\": 1}");
    ASSERT_NO_MATCH("{\"flag\": false}", "{\"flag\": null}");
    ASSERT_MATCH("{\"x\": null}", "{\"x\": null}");
    ASSERT_NO_MATCH("{\"x\": null}", "{}");
    /* Every condition must hold; an empty match holds for every event. */
    ASSERT_MATCH("{\"type\": \"transaction\", \"direction\": \"out\"}",
                 "{\"type\": \"transaction\", \"direction\": \"out\"}");
    ASSERT_NO_MATCH("{\"type\": \"transaction\", \"direction\": \"out\"}",
                    "{\"type\": \"transaction\", \"direction\": \"in\"}");
    ASSERT_MATCH("{}", "{\"type\": \"anything\"}");
}
END_TEST

START_TEST(test_ruleset_match_ne) {
    ASSERT_MATCH("{\"direction\": {\"ne\": \"in\"}}", "{\"direction\": \"out\"}");
    ASSERT_NO_MATCH("{\"direction\": {\"ne\": \"in\"}}", "{\"direction\": \"in\"}");
    ASSERT_NO_MATCH("{\"amount\": {\"ne\": 1}}", "{\"amount\": 1.0}");
    ASSERT_MATCH("{\"amount\": {\"ne\": 1}}", "{\"amount\": \"1\"}");
    ASSERT_MATCH("{\"x\": {\"ne\": null}}", "{\"x\": 0}");
}
END_TEST

START_TEST(test_ruleset_match_in) {
    const char *m = "{\"status\": {\"in\": [\"error\", \"timeout\"]}}";
    ASSERT_MATCH(m, "{\"status\": \"error\"}");
    ASSERT_MATCH(m, "{\"status\": \"timeout\"}");
    ASSERT_NO_MATCH(m, "{\"status\": \"ok\"}");
    ASSERT_NO_MATCH(m, "{\"status\": [\"error\"]}");
    ASSERT_MATCH("{\"code\": {\"in\": [1, 2, 3]}}", "{\"code\": 2.0}");
    ASSERT_NO_MATCH("{\"code\": {\"in\": [1, 2, 3]}}", "{\"code\": \"2\"}");
    ASSERT_MATCH("{\"code\": {\"in\": [\"a\", 7, null]}}", "{\"code\": null}");
    ASSERT_NO_MATCH("{\"code\": {\"in\": []}}", "{\"code\": 1}");
}
END_TEST

START_TEST(test_ruleset_match_order_numbers) {
    ASSERT_NO_MATCH("{\"amount\": {\"gt\": 100}}", "{\"amount\": 100}");
    ASSERT_MATCH("{\"amount\": {\"gt\": 100}}", "{\"amount\": 100.5}");
    ASSERT_MATCH("{\"amount\": {\"gt\": 100}}", "{\"amount\": 101}");
    ASSERT_NO_MATCH("{\"amount\": {\"gt\": 100}}", "{\"amount\": 99}");
    ASSERT_MATCH("{\"amount\": {\"gte\": 100}}", "{\"amount\": 100}");
    ASSERT_MATCH("{\"amount\": {\"gte\": 100}}", "{\"amount\": 100.0}");
    ASSERT_NO_MATCH("{\"amount\": {\"gte\": 100}}", "{\"amount\": 99.999}");
    ASSERT_MATCH("{\"amount\": {\"lt\": 100}}", "{\"amount\": 99.999}");
    ASSERT_NO_MATCH("{\"amount\": {\"lt\": 100}}", "{\"amount\": 100}");
    ASSERT_MATCH("{\"amount\": {\"lte\": 100}}", "{\"amount\": 100}");
    ASSERT_NO_MATCH("{\"amount\": {\"lte\": 100}}", "{\"amount\": 100.001}");
    ASSERT_MATCH("{\"amount\": {\"lt\": 0}}", "{\"amount\": -0.5}");
    /* A range: both operators on one field. */
    const char *range = "{\"amount\": {\"gte\": 10, \"lt\": 20}}";
    ASSERT_MATCH(range, "{\"amount\": 10}");
    ASSERT_MATCH(range, "{\"amount\": 19.99}");
    ASSERT_NO_MATCH(range, "{\"amount\": 20}");
    ASSERT_NO_MATCH(range, "{\"amount\": 9}");
    /* A number against a string does not compare: no match either way. */
    ASSERT_NO_MATCH("{\"amount\": {\"gt\": 100}}", "{\"amount\": \"200\"}");
    ASSERT_NO_MATCH("{\"amount\": {\"lt\": 100}}", "{\"amount\": \"50\"}");
    ASSERT_NO_MATCH("{\"amount\": {\"gt\": 100}}", "{\"amount\": true}");
    ASSERT_NO_MATCH("{\"amount\": {\"gt\": 100}}", "{\"amount\": null}");
}
END_TEST

START_TEST(test_ruleset_match_order_strings) {
    ASSERT_MATCH("{\"name\": {\"gt\": \"b\"}}", "{\"name\": \"c\"}");
    ASSERT_MATCH("{\"name\": {\"gt\": \"b\"}}", "{\"name\": \"ba\"}");
    ASSERT_NO_MATCH("{\"name\": {\"gt\": \"b\"}}", "{\"name\": \"b\"}");
    ASSERT_NO_MATCH("{\"name\": {\"gt\": \"b\"}}", "{\"name\": \"a\"}");
    ASSERT_MATCH("{\"name\": {\"gte\": \"b\"}}", "{\"name\": \"b\"}");
    ASSERT_MATCH("{\"name\": {\"lte\": \"b\"}}", "{\"name\": \"b\"}");
    ASSERT_MATCH("{\"name\": {\"lt\": \"b\"}}", "{\"name\": \"a\"}");
    ASSERT_NO_MATCH("{\"name\": {\"lt\": \"b\"}}", "{\"name\": 1}");
    /* RFC 3339 UTC times compare as strings. */
    ASSERT_MATCH("{\"opened\": {\"lt\": \"2026-11-27T00:00:00Z\"}}",
                 "{\"opened\": \"2026-11-26T23:59:59Z\"}");
}
END_TEST

START_TEST(test_ruleset_match_exists) {
    ASSERT_MATCH("{\"ip\": {\"exists\": true}}", "{\"ip\": \"10.0.0.1\"}");
    ASSERT_MATCH("{\"ip\": {\"exists\": true}}", "{\"ip\": null}");
    ASSERT_NO_MATCH("{\"ip\": {\"exists\": true}}", "{\"device\": 1}");
    ASSERT_MATCH("{\"ip\": {\"exists\": false}}", "{\"device\": 1}");
    ASSERT_NO_MATCH("{\"ip\": {\"exists\": false}}", "{\"ip\": \"10.0.0.1\"}");
    ASSERT_NO_MATCH("{\"ip\": {\"exists\": false}}", "{\"ip\": null}");
}
END_TEST

/* A missing field fails every condition but exists: false. */
START_TEST(test_ruleset_match_missing_field) {
    static const char *const conds[] = {"{\"f\": \"x\"}",
                                        "{\"f\": null}",
                                        "{\"f\": {\"ne\": \"x\"}}",
                                        "{\"f\": {\"ne\": null}}",
                                        "{\"f\": {\"in\": [null, \"x\"]}}",
                                        "{\"f\": {\"gt\": 0}}",
                                        "{\"f\": {\"gte\": 0}}",
                                        "{\"f\": {\"lt\": 0}}",
                                        "{\"f\": {\"lte\": 0}}",
                                        "{\"f\": {\"gt\": \"\"}}",
                                        "{\"f\": {\"exists\": true}}"};
    for (size_t i = 0; i < sizeof(conds) / sizeof(*conds); i++) {
        ASSERT_NO_MATCH(conds[i], "{\"g\": 1}");
        ASSERT_NO_MATCH(conds[i], "{\"g\": {\"f\": 1}}");
    }
    ASSERT_MATCH("{\"f\": {\"exists\": false}}", "{\"g\": 1}");
}
END_TEST

START_TEST(test_ruleset_match_nested_paths) {
    ASSERT_MATCH("{\"geo.country\": \"CN\"}", "{\"geo\": {\"country\": \"CN\"}}");
    ASSERT_NO_MATCH("{\"geo.country\": \"CN\"}", "{\"geo\": {\"country\": \"US\"}}");
    ASSERT_NO_MATCH("{\"geo.country\": \"CN\"}", "{\"geo\": \"CN\"}");
    ASSERT_NO_MATCH("{\"geo.country\": \"CN\"}", "{\"country\": \"CN\"}");
    ASSERT_NO_MATCH("{\"geo.country\": \"CN\"}", "{\"geo\": [{\"country\": \"CN\"}]}");
    ASSERT_MATCH("{\"geo.country\": {\"exists\": false}}", "{\"geo\": \"CN\"}");
    ASSERT_MATCH("{\"geo.country\": {\"in\": [\"CN\", \"HK\"]}}",
                 "{\"geo\": {\"country\": \"HK\"}}");
    ASSERT_MATCH("{\"a.b.c\": {\"gte\": 3}}", "{\"a\": {\"b\": {\"c\": 3}}}");
    ASSERT_NO_MATCH("{\"a.b.c\": {\"gte\": 3}}", "{\"a\": {\"b\": null}}");
}
END_TEST

/* ---- masking ------------------------------------------------------------------------------ */

static char *mask_str(const rw_mask_t *m, const char *value) {
    size_t len = strlen(value);
    char *out = malloc(len * 4 + 2);
    ck_assert_ptr_nonnull(out);
    size_t n = rw_mask_apply(m, value, len, out, len * 4 + 2);
    ck_assert_uint_eq(n, strlen(out));
    return out;
}

#define ASSERT_MASK(m, in, want)                                                                   \
    do {                                                                                           \
        char *o_ = mask_str((m), (in));                                                            \
        ck_assert_msg(strcmp(o_, (want)) == 0, "mask(\"%s\") = \"%s\", want \"%s\"", (in), o_,     \
                      (want));                                                                     \
        free(o_);                                                                                  \
    } while (0)

START_TEST(test_ruleset_mask_spec_example) {
    const rw_mask_t m64 = {"account", 6, 4};
    ASSERT_MASK(&m64, "6222020200112233445", "622202*********3445");
    ASSERT_MASK(&m64, "12345678901", "123456*8901");
    /* No character between the kept parts: the whole value is "*". */
    ASSERT_MASK(&m64, "1234567890", "*");
    ASSERT_MASK(&m64, "123", "*");
    ASSERT_MASK(&m64, "", "*");
    const rw_mask_t m34 = {"phone", 3, 4};
    ASSERT_MASK(&m34, "13812345678", "138****5678");
    ASSERT_MASK(&m34, "1234567", "*");
    ASSERT_MASK(&m34, "12345678", "123*5678");
    const rw_mask_t m00 = {"secret", 0, 0};
    ASSERT_MASK(&m00, "abc", "***");
    /* No mask: copied unchanged. */
    ASSERT_MASK(NULL, "6222020200112233445", "6222020200112233445");
}
END_TEST

START_TEST(test_ruleset_mask_utf8_characters) {
    const rw_mask_t m11 = {"name", 1, 1};
    ASSERT_MASK(&m11, "张三丰", "张*丰");
    ASSERT_MASK(&m11, "张三", "*");
    ASSERT_MASK(&m11, "欧阳娜娜", "欧**娜");
    const rw_mask_t m64 = {"account", 6, 4};
    /* 12 characters, 2 of them three bytes long: 2 characters masked. */
    ASSERT_MASK(&m64, "账户6222020200", "账户6222**0200");
    ASSERT_MASK(&m64, "é123456789€", "é12345*789€");
}
END_TEST

START_TEST(test_ruleset_mask_small_buffer) {
    const rw_mask_t m64 = {"account", 6, 4};
    const char *v = "6222020200112233445";
    char out[8];
    size_t n = rw_mask_apply(&m64, v, strlen(v), out, sizeof(out));
    ck_assert_uint_eq(n, 19);
    ck_assert_str_eq(out, "622202*");
}
END_TEST

static json_t *jparse(const char *s) {
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    ck_assert_msg(j != NULL, "test bug: %s: %s", s, je.text);
    return j;
}

static void assert_masked_event(const rw_ruleset_t *rs, const char *in, const char *want) {
    json_t *ev = jparse(in);
    json_t *exp = jparse(want);
    char *before = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *m = rw_ruleset_mask_event(rs, ev);
    char *got = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    char *wants = json_dumps(exp, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_msg(json_equal(m, exp), "masked %s\n  got  %s\n  want %s", in, got, wants);
    /* The input is left alone. */
    char *after = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    free(got);
    free(wants);
    json_decref(m);
    json_decref(ev);
    json_decref(exp);
}

START_TEST(test_ruleset_mask_event_nested) {
    rw_ruleset_t *rs = load_ok("{\"ruleset\": \"t\", \"version\": \"1\",\n"
                               " \"masking\": {\"account\": \"6-4\", \"phone\": \"3-4\"},\n"
                               " \"rules\": []}");
    /* The default masks stay: counterparty is masked although not listed. */
    ck_assert_uint_eq(rs->n_masks, 5);
    assert_masked_event(rs,
                        "{\"event_id\": \"e1\", \"account\": \"6222020200112233445\", "
                        "\"amount\": 250000, \"payer\": {\"account\": \"6222020200112233446\", "
                        "\"phone\": \"13812345678\", \"bank\": {\"account\": \"ABCDEFGHIJKL\"}}, "
                        "\"legs\": [{\"account\": \"6222020200112233447\"}, {\"other\": 1}], "
                        "\"counterparty\": \"6222020200112233448\"}",
                        "{\"event_id\": \"e1\", \"account\": \"622202*********3445\", "
                        "\"amount\": 250000, \"payer\": {\"account\": \"622202*********3446\", "
                        "\"phone\": \"138****5678\", \"bank\": {\"account\": \"ABCDEF**IJKL\"}}, "
                        "\"legs\": [{\"account\": \"622202*********3447\"}, {\"other\": 1}], "
                        "\"counterparty\": \"622202*********3448\"}");
    rw_ruleset_destroy(rs);
}
END_TEST

/* A masked field's pseudonym computed in one cache of an event is kept beside it (refs) and
 * given by the next cache of it without being computed again. */
START_TEST(test_ruleset_pseudonyms_kept_between_caches) {
    rw_ruleset_t *rs = load_ok("{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": [{\"id\": "
                               "\"r\", \"module\": \"value\", \"key\": \"account\", \"params\": "
                               "{\"field\": \"amount\"}, \"thresholds\": {\"low\": 1}}]}");
    const rw_field_t *k = rs->rules[0].key;
    ck_assert(k->pseudonym && k->slot >= 0);
    json_t *e1 = json_loads("{\"account\": \"6222020200112233445\"}", 0, NULL);
    json_t *e2 = json_loads("{\"account\": \"6222020200112233446\"}", 0, NULL);
    char ref1[RW_PSEUDONYM_LEN + 1], ref2[RW_PSEUDONYM_LEN + 1], buf[RW_RECORD_MAX];
    rw_pseudonym("6222020200112233445", 19, ref1);
    rw_pseudonym("6222020200112233446", 19, ref2);
    rw_field_refs_t refs;
    memset(&refs, 0, sizeof(refs));
    rw_field_cache_begin(e1, NULL, &refs);
    ck_assert_int_eq(rw_field_text(e1, k, buf, sizeof(buf)), RW_PSEUDONYM_LEN);
    ck_assert_str_eq(buf, ref1);
    rw_field_cache_end();
    ck_assert_uint_eq(refs.n, 1);
    /* Kept: what the next cache gives (here, to show it, for another event). */
    rw_field_cache_begin(e2, NULL, &refs);
    ck_assert_int_eq(rw_field_text(e2, k, buf, sizeof(buf)), RW_PSEUDONYM_LEN);
    ck_assert_str_eq(buf, ref1);
    rw_field_cache_end();
    ck_assert_uint_eq(refs.n, 1);
    rw_field_cache_begin(e2, NULL, NULL);
    ck_assert_int_eq(rw_field_text(e2, k, buf, sizeof(buf)), RW_PSEUDONYM_LEN);
    ck_assert_str_eq(buf, ref2);
    rw_field_cache_end();
    json_decref(e1);
    json_decref(e2);
    rw_ruleset_destroy(rs);
}
END_TEST

/* Numbers are masked as their text; other non-strings become "*" (null stays null). */
START_TEST(test_ruleset_mask_event_non_strings) {
    rw_ruleset_t *rs = load_ok("{\"ruleset\": \"t\", \"version\": \"1\",\n"
                               " \"masking\": {\"account\": \"6-4\"},\n"
                               " \"rules\": []}");
    assert_masked_event(rs, "{\"account\": 6222020200112233445}",
                        "{\"account\": \"622202*********3445\"}");
    assert_masked_event(rs, "{\"account\": 1234567890.5}", "{\"account\": \"123456**90.5\"}");
    assert_masked_event(rs, "{\"account\": 12345}", "{\"account\": \"*\"}");
    assert_masked_event(rs, "{\"account\": null}", "{\"account\": null}");
    assert_masked_event(rs, "{\"account\": true}", "{\"account\": \"*\"}");
    assert_masked_event(rs, "{\"account\": {\"no\": \"6222020200112233445\"}}",
                        "{\"account\": \"*\"}");
    assert_masked_event(rs, "{\"account\": [\"6222020200112233445\"]}", "{\"account\": \"*\"}");
    rw_ruleset_destroy(rs);
}
END_TEST

/* Without "masking", the ruleset masks the core fields of docs/reference.md §4 by default. */
START_TEST(test_ruleset_mask_default_without_masking) {
    rw_ruleset_t *rs = load_ok("{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": []}");
    static const char *const six_four[] = {"account", "counterparty", "id_number", "card_number"};
    for (size_t i = 0; i < sizeof(six_four) / sizeof(*six_four); i++) {
        const rw_mask_t *m = rw_ruleset_mask_for(rs, six_four[i]);
        ck_assert_msg(m != NULL, "%s not masked by default", six_four[i]);
        ck_assert_int_eq(m->keep_first, 6);
        ck_assert_int_eq(m->keep_last, 4);
    }
    const rw_mask_t *p = rw_ruleset_mask_for(rs, "phone");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->keep_first, 3);
    ck_assert_int_eq(p->keep_last, 4);
    ck_assert_ptr_null(rw_ruleset_mask_for(rs, "amount"));
    assert_masked_event(rs,
                        "{\"account\": \"6222020200112233445\", \"id_number\": "
                        "\"110101199001011234\", \"x\": {\"card_number\": \"4111111111111111\"}, "
                        "\"phone\": \"13812345678\"}",
                        "{\"account\": \"622202*********3445\", \"id_number\": "
                        "\"110101********1234\", \"x\": {\"card_number\": \"411111******1111\"}, "
                        "\"phone\": \"138****5678\"}");
    rw_ruleset_destroy(rs);
}
END_TEST

START_TEST(test_ruleset_field_get_and_number) {
    rw_ruleset_t *rs = load_ok("{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": [\n"
                               "  {\"id\": \"r\", \"module\": \"value\", \"key\": \"geo.city\",\n"
                               "   \"params\": {\"field\": \"a.b\"}, \"thresholds\": {\"low\": 1}}"
                               "]}");
    const rw_field_t *key = rs->rules[0].key;
    ck_assert_str_eq(key->path, "geo.city");
    ck_assert_uint_eq(key->n_parts, 2);
    json_t *ev = jparse("{\"geo\": {\"city\": \"SH\"}, \"a\": {\"b\": 2.5}}");
    const json_t *v = rw_field_get(ev, key);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(v), "SH");
    double x = 0;
    ck_assert_int_eq(rw_field_number(ev, key, &x), -1);
    json_decref(ev);
    rw_ruleset_destroy(rs);
}
END_TEST

/* ---- composite keys ------------------------------------------------------------------------ */

#define KEYED(k)                                                                                   \
    "  {\"id\": \"r\", \"module\": \"window_count\", \"key\": " k ",\n"                            \
    "   \"params\": {\"window\": \"1h\"}, \"thresholds\": {\"low\": 1}}"

START_TEST(test_ruleset_composite_key_errors) {
    static const struct {
        const char *key, *what;
    } cases[] = {
        {"5", "key: must be a field name, or a list of 1 to 8 field names"},
        {"[]", "key: must be a field name, or a list of 1 to 8"},
        {"[\"a\", 5]", "key: [1]: must be a field name"},
        {"[\"a\", \"b\", \"a\"]", "key: [2]: \"a\" is already a part of the key"},
        {"[\"a\", \"b..c\"]", "key: [1]: bad field path \"b..c\""},
        {"[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]", "list of 1 to 8"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char rules[512];
        snprintf(rules, sizeof(rules), KEYED("%s"), cases[i].key);
        char *t = wrap_rules(rules);
        expect_one_error(t, cases[i].what, "\"key\": ", 7);
        free(t);
    }
}
END_TEST

/* An event is planned by the rules whose match or feed its type may pass: those asking for its
 * "type", those asking for none, and those fed by events of its type. */
#define TYPED_RULE(id, match)                                                                      \
    "{\"id\": \"" id "\", \"module\": \"value\", \"match\": " match ", \"key\": \"account\", "     \
    "\"params\": {\"field\": \"amount\"}, \"thresholds\": {\"low\": 1}}"
#define TYPED_SEQ                                                                                  \
    "{\"id\": \"seq\", \"module\": \"sequence\", \"match\": {\"type\": \"t\"}, \"key\": "          \
    "\"account\", \"params\": {\"first\": {\"type\": \"v\"}, \"within\": \"1h\", "                 \
    "\"correlate_first\": \"c\", \"correlate\": \"c\"}, \"thresholds\": {\"low\": 1}}"
START_TEST(test_ruleset_rules_by_event_type) {
    static const char text[] = "{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": [" /**/
        TYPED_RULE("t", "{\"type\": \"t\", \"x\": 1}") ", "                            /**/
        TYPED_RULE("any", "{\"x\": 1}") ", "                                           /**/
        TYPED_RULE("u", "{\"type\": \"u\"}") ", " TYPED_SEQ ", "                       /**/
        TYPED_RULE("u-or-t", "{\"type\": {\"in\": [\"u\", \"t\"]}}") "]}";
    rw_ruleset_t *rs = load_ok(text);
    static const struct {
        const char *type;
        uint32_t rules[5];
        size_t n;
    } cases[] = {
        {"t", {0, 1, 3, 4}, 4},
        {"u", {1, 2, 4}, 3},
        {"v", {1, 3, 4}, 3}, /* the sequence's first events feed its window */
        {"w", {1, 4}, 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        size_t n;
        const uint32_t *r = rw_ruleset_rules_for(rs, cases[i].type, &n);
        ck_assert_uint_eq(n, cases[i].n);
        for (size_t k = 0; k < n; k++)
            ck_assert_uint_eq(r[k], cases[i].rules[k]);
    }
    rw_ruleset_destroy(rs);
}
END_TEST

START_TEST(test_ruleset_composite_key_text_and_state) {
    char *t = wrap_rules(KEYED("[\"account\", \"geo.city\"]") ",\n" KEYED("\"account+geo.city\""));
    char *second = strstr(strstr(t, "\"id\": \"r\"") + 1, "\"id\": \"r\"");
    second[7] = 's'; /* the second rule's id: "s" */
    rw_ruleset_t *rs = load_ok(t);
    free(t);
    const rw_field_t *k = rs->rules[0].key;
    ck_assert_uint_eq(k->n_subs, 2);
    ck_assert_str_eq(k->path, "account+geo.city");
    /* The same key path text as a field name is another window state. */
    ck_assert_uint_eq(rs->rules[1].key->n_subs, 0);
    ck_assert_str_ne(strchr(rs->rules[0].state_id, '~'), strchr(rs->rules[1].state_id, '~'));
    char buf[RW_RECORD_MAX];
    json_t *ev = json_loads(
        "{\"account\": \"6222020200112233445\", \"geo\": {\"city\": \"a|b\\\\c\"}}", 0, NULL);
    /* Kept: the masked part as its pseudonym; shown: the value, masked. */
    char ref[RW_PSEUDONYM_LEN + 1], want[80];
    rw_pseudonym("6222020200112233445", 19, ref);
    snprintf(want, sizeof(want), "%s|a\\|b\\\\c", ref);
    ck_assert_int_eq(rw_field_text(ev, k, buf, sizeof(buf)), RW_PSEUDONYM_LEN + 8);
    ck_assert_str_eq(buf, want);
    ck_assert_int_eq(rw_field_plain_text(ev, k, buf, sizeof(buf)), 27);
    ck_assert_str_eq(buf, "6222020200112233445|a\\|b\\\\c");
    char *m = rw_key_mask(rs, k, buf);
    ck_assert_str_eq(m, "622202*********3445|a\\|b\\\\c");
    free(m);
    json_decref(ev);
    /* A missing part: no key, and the part is what is missing. */
    ev = json_loads("{\"account\": \"1\"}", 0, NULL);
    rw_field_skip_take(NULL);
    ck_assert_int_eq(rw_field_text(ev, k, buf, sizeof(buf)), -1);
    const rw_field_t *why = NULL;
    ck_assert_int_eq(rw_field_skip_take(&why), 1 /* RW_SKIP_MISSING */);
    ck_assert_str_eq(why->path, "geo.city");
    json_decref(ev);
    /* Too long for a key's buffer. */
    ev = json_loads("{\"account\": \"1\", \"geo\": {\"city\": \"||||||||||\"}}", 0, NULL);
    ck_assert_int_eq(rw_field_text(ev, k, buf, 12), -1);
    json_decref(ev);
    rw_ruleset_destroy(rs);
}
END_TEST

/* ---- messages: the bad value, and "did you mean" ------------------------------------------- */

START_TEST(test_ruleset_messages_echo_and_suggest) {
    const char *text =
        "{\"ruleset\": \"t\", \"version\": \"1\", \"cooldwn\": \"10m\",\n"
        " \"calendar\": {\"weekend\": [\"sat\", \"snu\"], \"utc_offset\": \"+8\",\n"
        "              \"holidays\": [\"2026-02-30\"]},\n"
        " \"masking\": {\"phone\": \"3\"},\n"
        " \"rules\": [\n"
        "  {\"id\": \"a\", \"module\": \"windw_count\", \"params\": {\"window\": \"1h\"},\n"
        "   \"thresholds\": {\"low\": 1}},\n"
        "  {\"id\": \"b\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
        "   \"match\": {\"type\": \"transacton\", \"amount\": {\"gtee\": 5}},\n"
        "   \"thresholds\": {\"lo\": 1, \"high\": \"ten\"}, \"cooldown\": \"ten minutes\",\n"
        "   \"kee\": \"account\"},\n"
        "  {\"id\": \"c d\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
        "   \"match\": {\"type\": \"CASH_OUT\"}, \"thresholds\": {\"low\": 1}},\n"
        "  {\"id\": \"e\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
        "   \"match\": {\"type\": \"CASH_OUT\"}, \"thresholds\": {\"low\": 1}},\n"
        "  {\"id\": \"f\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
        "   \"match\": {\"type\": \"CASH_OTU\"}, \"thresholds\": {\"low\": 1}},\n"
        "  {\"id\": \"g\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
        "   \"match\": {\"type\": {\"eq\": \"logni\"}}, \"thresholds\": {\"low\": 1}},\n"
        "  {\"id\": \"h\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
        "   \"match\": {\"type\": \"TRANSFER\"}, \"thresholds\": {\"low\": 1}}\n"
        " ]}\n";
    rw_errors_t errs;
    ck_assert_ptr_null(load(text, &errs));
    assert_err_at(&errs, text, "ruleset: unknown key \"cooldwn\" (did you mean \"cooldown\"?)",
                  "\"cooldwn\"", 0, 0);
    assert_err_at(&errs, text, "calendar.weekend[1]: unknown day \"snu\" (did you mean \"sun\"?)",
                  "\"snu\"", 0, 0);
    assert_err_at(&errs, text, "calendar.utc_offset: bad offset \"+8\"", "\"+8\"", 0, 0);
    assert_err_at(&errs, text, "calendar.holidays[0]: not a date \"YYYY-MM-DD\": \"2026-02-30\"",
                  "\"2026-02-30\"", 0, 0);
    assert_err_at(&errs, text, "masking.phone: bad masking spec \"3\"", "\"3\"", 0, 0);
    assert_err_at(&errs, text,
                  "rule \"a\": unknown module \"windw_count\" (did you mean \"window_count\"?); "
                  "the modules are value, window_count,",
                  "\"windw_count\"", 0, 0);
    assert_err_at(&errs, text,
                  "rule \"b\": match.type: unknown event type \"transacton\" (did you mean "
                  "\"transaction\"?)",
                  "\"transacton\"", 0, 0);
    assert_err_at(&errs, text,
                  "rule \"b\": match.amount: unknown operator \"gtee\" (did you mean \"gte\"?)",
                  "\"gtee\"", 0, 0);
    assert_err_at(&errs, text, "rule \"b\": thresholds: unknown key \"lo\" (did you mean \"low\"?)",
                  "\"lo\"", 0, 0);
    assert_err_at(&errs, text, "rule \"b\": thresholds.high: must be a number, not \"ten\"",
                  "\"ten\"", 0, 0);
    assert_err_at(&errs, text, "rule \"b\": cooldown: bad duration \"ten minutes\"",
                  "\"ten minutes\"", 0, 0);
    assert_err_at(&errs, text, "rule \"b\": unknown key \"kee\" (did you mean \"key\"?)", "\"kee\"",
                  0, 0);
    assert_err_at(&errs, text, "rule \"c d\": id may hold only letters, digits, - _ . (not \" \")",
                  "\"c d\"", 0, 0);
    /* Of two close types, the one fewer rules use is the misspelling. */
    assert_err_at(&errs, text,
                  "rule \"f\": match.type: unknown event type \"CASH_OTU\" (did you mean "
                  "\"CASH_OUT\"?)",
                  "\"CASH_OTU\"", 0, 0);
    for (size_t i = 0; i < errs.n; i++) {
        ck_assert_msg(strstr(errs.items[i].text, "CASH_OUT\" (") == NULL, "%s", errs.items[i].text);
        ck_assert_msg(strstr(errs.items[i].text, "logni") == NULL, "%s", errs.items[i].text);
        ck_assert_msg(strstr(errs.items[i].text, "TRANSFER") == NULL, "%s", errs.items[i].text);
    }
    ck_assert_uint_eq(errs.n, 14);
    rw_errors_fini(&errs);
}
END_TEST

/* ---- scorecards ----------------------------------------------------------------------------- */

START_TEST(test_ruleset_scorecard_errors) {
    const char *text =
        "{\"ruleset\": \"t\", \"version\": \"1\",\n"
        " \"rules\": [\n"
        "  {\"id\": \"big\", \"module\": \"value\", \"params\": {\"field\": \"x\"},\n"
        "   \"thresholds\": {\"low\": 1}},\n"
        "  {\"id\": \"late\", \"module\": \"deadline\", \"params\": {\"open\": {\"a\": 1}, "
        "\"close\": {\"a\": 2}, \"correlate\": \"c\", \"unit\": \"hours\"},\n"
        "   \"thresholds\": {\"low\": 1}}],\n"
        " \"scorecards\": [\n"
        "  {\"id\": \"s1\", \"parts\": [{\"rule\": \"bgi\"}, {\"rule\": \"late\"},\n"
        "    {\"rule\": \"big\", \"of\": \"levels\"}, {\"rule\": \"big\", \"weight\": \"2\"},\n"
        "    {\"rule\": \"big\", \"wieght\": 2}],\n"
        "   \"thresholds\": {\"low\": 1}},\n"
        "  {\"id\": \"big\", \"parts\": [], \"all_of\": 1}]}\n";
    rw_errors_t errs;
    ck_assert_ptr_null(load(text, &errs));
    assert_err_at(&errs, text,
                  "scorecard \"s1\": parts[0].rule: no rule \"bgi\" in the ruleset (did you mean "
                  "\"big\"?)",
                  "\"bgi\"", 0, 0);
    assert_err_at(&errs, text, "scorecard \"s1\": parts[1].rule: \"late\" tracks cases", "\"late\"",
                  1, 0);
    assert_err_at(&errs, text,
                  "scorecard \"s1\": parts[2].of: must be \"level\" or \"measure\", not \"levels\"",
                  "\"levels\"", 0, 0);
    assert_err_at(&errs, text, "scorecard \"s1\": parts[3].weight: must be a number, not \"2\"",
                  "\"2\"", 0, 0);
    assert_err_at(&errs, text,
                  "scorecard \"s1\": parts[4]: unknown key \"wieght\" (did you mean \"weight\"?)",
                  "\"wieght\"", 0, 0);
    assert_err_at(&errs, text, "scorecard \"big\": parts must be a list of 1 to 64 rules", "[]", 0,
                  0);
    assert_err_at(&errs, text, "scorecard \"big\": all_of must be true or false", "1}]}", 0, 0);
    assert_err_at(&errs, text, "scorecard \"big\": missing \"thresholds\"", "{\"id\": \"big\", \"p",
                  0, 0);
    assert_err_at(&errs, text, "scorecard \"big\": the id of rules[0] too", "\"big\", \"p", 0, 0);
    ck_assert_uint_eq(errs.n, 9);
    rw_errors_fini(&errs);
}
END_TEST

START_TEST(test_ruleset_composite_correlate_errors) {
    char *t = wrap_rules(
        "  {\"id\": \"s\", \"module\": \"sequence\", \"params\": {\"first\": {\"a\": 1},\n"
        "   \"correlate_first\": [\"x\", \"y\"], \"correlate\": \"x\", \"within\": \"1h\"},\n"
        "   \"thresholds\": {\"low\": 1}}");
    expect_one_error(t, "rule \"s\": the keys that feed and read the window have 2 and 1 parts",
                     "\"params\": ", 10);
    free(t);
    t = wrap_rules(
        "  {\"id\": \"d\", \"module\": \"deadline\", \"params\": {\"open\": {\"a\": 1},\n"
        "   \"close\": {\"a\": 2}, \"correlate\": 5}, \"thresholds\": {\"low\": 1}}");
    expect_one_error(t, "correlate: must be a field path, or a list of them", "5}", 0);
    free(t);
    t = wrap_rules(
        "  {\"id\": \"d\", \"module\": \"deadline\", \"params\": {\"open\": {\"a\": 1},\n"
        "   \"close\": {\"a\": 2}, \"correlate\": [\"k\", \"k\"]},\n"
        "   \"thresholds\": {\"low\": 1}}");
    expect_one_error(t, "correlate: [1]: \"k\" is already a part of the key", "[\"k\"", 0);
    free(t);
}
END_TEST

static Suite *ruleset_suite(void) {
    Suite *s = suite_create("ruleset");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, test_ruleset_loads_default_pack);
    tcase_add_test(tc, test_ruleset_load_file_missing);
    tcase_add_test(tc, test_ruleset_cooldown_default_and_override);
    tcase_add_test(tc, test_ruleset_error_unknown_module);
    tcase_add_test(tc, test_ruleset_error_unknown_param);
    tcase_add_test(tc, test_ruleset_error_missing_param);
    tcase_add_test(tc, test_ruleset_error_bad_duration);
    tcase_add_test(tc, test_ruleset_error_equal_thresholds);
    tcase_add_test(tc, test_ruleset_error_unordered_thresholds);
    tcase_add_test(tc, test_ruleset_error_no_thresholds);
    tcase_add_test(tc, test_ruleset_error_duplicate_rule_id);
    tcase_add_test(tc, test_ruleset_error_bad_match_operator);
    tcase_add_test(tc, test_ruleset_error_in_not_a_list);
    tcase_add_test(tc, test_ruleset_error_unknown_calendar_day);
    tcase_add_test(tc, test_ruleset_error_bad_holiday_date);
    tcase_add_test(tc, test_ruleset_error_bad_masking_spec);
    tcase_add_test(tc, test_ruleset_error_unknown_top_level_key);
    tcase_add_test(tc, test_ruleset_error_unknown_rule_key);
    tcase_add_test(tc, test_ruleset_error_json_syntax);
    tcase_add_test(tc, test_ruleset_error_not_an_object);
    tcase_add_test(tc, test_ruleset_reports_all_errors);
    tcase_add_test(tc, test_ruleset_errors_accumulate);
    suite_add_tcase(s, tc);

    tc = tcase_create("levels");
    tcase_add_test(tc, test_ruleset_thresholds_ascending);
    tcase_add_test(tc, test_ruleset_thresholds_descending);
    tcase_add_test(tc, test_ruleset_thresholds_missing_levels);
    tcase_add_test(tc, test_ruleset_thresholds_kept_as_written);
    tcase_add_test(tc, test_ruleset_level_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("match");
    tcase_add_test(tc, test_ruleset_match_equality);
    tcase_add_test(tc, test_ruleset_match_ne);
    tcase_add_test(tc, test_ruleset_match_in);
    tcase_add_test(tc, test_ruleset_match_order_numbers);
    tcase_add_test(tc, test_ruleset_match_order_strings);
    tcase_add_test(tc, test_ruleset_match_exists);
    tcase_add_test(tc, test_ruleset_match_missing_field);
    tcase_add_test(tc, test_ruleset_match_nested_paths);
    tcase_add_test(tc, test_ruleset_field_get_and_number);
    suite_add_tcase(s, tc);

    tc = tcase_create("masking");
    tcase_add_test(tc, test_ruleset_mask_spec_example);
    tcase_add_test(tc, test_ruleset_mask_utf8_characters);
    tcase_add_test(tc, test_ruleset_mask_small_buffer);
    tcase_add_test(tc, test_ruleset_mask_event_nested);
    tcase_add_test(tc, test_ruleset_mask_event_non_strings);
    tcase_add_test(tc, test_ruleset_mask_default_without_masking);
    tcase_add_test(tc, test_ruleset_composite_key_errors);
    tcase_add_test(tc, test_ruleset_composite_key_text_and_state);
    tcase_add_test(tc, test_ruleset_rules_by_event_type);
    tcase_add_test(tc, test_ruleset_pseudonyms_kept_between_caches);
    tcase_add_test(tc, test_ruleset_messages_echo_and_suggest);
    tcase_add_test(tc, test_ruleset_scorecard_errors);
    tcase_add_test(tc, test_ruleset_composite_correlate_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(ruleset_suite); }

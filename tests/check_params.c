/* Unit tests for engine/params.c: module param tables. A test module with a param of every
 * type is registered in-process; rulesets using it check each kind of error (unknown, missing,
 * wrong type, out of bounds, init's own) at its file:line:col with the bad value echoed, and
 * the state the engine fills. Tables themselves are checked, printed and shown by `riskwarn
 * help MODULE`. */
#include "harness.h"
#include "params.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SRC "p.json"

/* ---- the test module ----------------------------------------------------------------------- */

typedef struct {
    double num;
    int64_t integer;
    bool flag;
    const char *str;
    int64_t dur_ms;
    int choice;
    int level;
    rw_strlist_t list;
    const rw_field_t *field;
    const rw_match_t *match;
    double pos;
    int64_t win_ms;
    const rw_expr_t *expr;
} all_state_t;

static const char *const greek[] = {"alpha", "beta", "gamma", NULL};

static const rw_param_t all_params[] = {
    {.type = RW_PARAM_NUMBER,
     .name = "num",
     .def = "2.5",
     .min = 0,
     .max = 100,
     .offset = offsetof(all_state_t, num),
     .desc = "a number"},
    {.type = RW_PARAM_INTEGER,
     .name = "integer",
     .def = "7",
     .min = 1,
     .max = 10,
     .offset = offsetof(all_state_t, integer),
     .desc = "an integer"},
    {.type = RW_PARAM_BOOL,
     .name = "flag",
     .def = "true",
     .offset = offsetof(all_state_t, flag),
     .desc = "a flag"},
    {.type = RW_PARAM_STRING,
     .name = "str",
     .def = "abc",
     .min = 1,
     .max = 5,
     .offset = offsetof(all_state_t, str),
     .desc = "a short string"},
    {.type = RW_PARAM_DURATION,
     .name = "dur",
     .def = "1h",
     .min = 1000,
     .max = 86400000,
     .offset = offsetof(all_state_t, dur_ms),
     .desc = "a duration"},
    {.type = RW_PARAM_ENUM,
     .name = "choice",
     .def = "beta",
     .offset = offsetof(all_state_t, choice),
     .desc = "a letter",
     .choices = greek},
    {.type = RW_PARAM_LEVEL,
     .name = "level",
     .def = "medium",
     .offset = offsetof(all_state_t, level),
     .desc = "a level"},
    {.type = RW_PARAM_STRING_LIST,
     .name = "list",
     .min = 1,
     .max = 3,
     .offset = offsetof(all_state_t, list),
     .desc = "a few strings"},
    {.type = RW_PARAM_FIELD,
     .name = "field",
     .flags = RW_PARAM_REQUIRED,
     .offset = offsetof(all_state_t, field),
     .desc = "a field"},
    {.type = RW_PARAM_MATCH,
     .name = "match",
     .offset = offsetof(all_state_t, match),
     .desc = "a condition"},
    {.type = RW_PARAM_NUMBER,
     .name = "pos",
     .def = "1",
     .flags = RW_PARAM_MIN_EXCLUSIVE,
     .min = 0,
     .max = INFINITY,
     .offset = offsetof(all_state_t, pos),
     .desc = "a positive number"},
    {.type = RW_PARAM_DURATION,
     .name = "win",
     .flags = RW_PARAM_WINDOW,
     .offset = offsetof(all_state_t, win_ms),
     .desc = "the window, when given"},
    {.type = RW_PARAM_EXPR,
     .name = "expr",
     .offset = offsetof(all_state_t, expr),
     .desc = "an expression"},
    {0},
};

static int g_init_calls;

/* Refuses num 13 the way modules report what a table cannot check. */
static int all_init(rw_setup_t *s, void *state, char *err, size_t errlen) {
    (void)s;
    const all_state_t *st = state;
    g_init_calls++;
    if (st->num == 13) {
        snprintf(err, errlen, "num: 13 is unlucky");
        return RW_ERROR;
    }
    return RW_OK;
}

static int all_measure(const void *state, const rw_input_t *in, double *out) {
    (void)in;
    *out = ((const all_state_t *)state)->num;
    return RW_OK;
}

static const rw_module_t all_module = {
    RW_MODULE_HEADER,
    .name = "all_types",
    .summary = "a param of every type",
    .params = all_params,
    .state_size = sizeof(all_state_t),
    .init = all_init,
    .measure = all_measure,
};

static void setup(void) {
    rw_error_t e;
    rw_error_clear(&e);
    ck_assert_msg(rw_modules_register(&all_module, &e) == 0, "%s", e.text);
    g_init_calls = 0;
}

static void teardown(void) { rw_modules_unregister(&all_module); }

/* ---- helpers ------------------------------------------------------------------------------ */

static char g_text[4096];

/* A ruleset with one all_types rule whose params object is params (text), or none (NULL). */
static const char *rule_text(const char *params) {
    if (params)
        snprintf(g_text, sizeof(g_text),
                 "{\"ruleset\": \"p\", \"version\": \"1\", \"rules\": [\n"
                 " {\"id\": \"r\", \"module\": \"all_types\",\n"
                 "  \"params\": %s,\n"
                 "  \"thresholds\": {\"low\": 1}}\n]}\n",
                 params);
    else
        snprintf(g_text, sizeof(g_text),
                 "{\"ruleset\": \"p\", \"version\": \"1\", \"rules\": [\n"
                 " {\"id\": \"r\", \"module\": \"all_types\", \"thresholds\": {\"low\": 1}}\n]}\n");
    return g_text;
}

static rw_ruleset_t *load(const char *text, rw_errors_t *errs) {
    rw_errors_init(errs);
    return rw_ruleset_load(text, strlen(text), SRC, errs);
}

static void list_errors(const rw_errors_t *errs, char *all, size_t len) {
    char line[1024];
    all[0] = 0;
    for (size_t i = 0; i < errs->n; i++) {
        rw_error_format(&errs->items[i], line, sizeof(line));
        strncat(all, line, len - strlen(all) - 2);
        strncat(all, "\n", len - strlen(all) - 1);
    }
}

static rw_ruleset_t *load_ok(const char *text) {
    rw_errors_t errs;
    rw_ruleset_t *rs = load(text, &errs);
    char all[4096];
    list_errors(&errs, all, sizeof(all));
    ck_assert_msg(rs != NULL, "ruleset refused:\n%s", all);
    rw_errors_fini(&errs);
    return rs;
}

/* Asserts that errs holds an error whose text has every one of parts (NULL-terminated), and
 * that it is located at needle. */
static void assert_error(const rw_errors_t *errs, const char *text, const char *needle,
                         const char *const *parts) {
    char all[4096];
    list_errors(errs, all, sizeof(all));
    for (size_t i = 0; i < errs->n; i++) {
        const rw_error_t *e = &errs->items[i];
        bool ok = true;
        for (size_t k = 0; parts[k] && ok; k++)
            ok = strstr(e->text, parts[k]) != NULL;
        if (!ok)
            continue;
        int line, col;
        h_pos_of(text, needle, 0, 0, &line, &col);
        ck_assert_str_eq(e->source, SRC);
        ck_assert_msg(e->line == line && e->column == col, "\"%s\" at %d:%d, want %d:%d (\"%s\")",
                      e->text, e->line, e->column, line, col, needle);
        return;
    }
    ck_abort_msg("no error with \"%s\"...; got:\n%s", parts[0], all);
}

/* Loads params that must be refused with exactly one error having parts, at needle. */
static void expect_error(const char *params, const char *needle, const char *const *parts) {
    const char *text = rule_text(params);
    rw_errors_t errs;
    ck_assert_ptr_null(load(text, &errs));
    char all[4096];
    list_errors(&errs, all, sizeof(all));
    ck_assert_msg(errs.n == 1, "want one error for %s, got %zu:\n%s", params, errs.n, all);
    assert_error(&errs, text, needle, parts);
    rw_errors_fini(&errs);
}

static const all_state_t *state_of(const rw_ruleset_t *rs) { return rs->rules[0].state; }

/* ---- filling the state --------------------------------------------------------------------- */

START_TEST(test_params_defaults_fill_state) {
    rw_ruleset_t *rs = load_ok(rule_text("{\"field\": \"amount\"}"));
    const all_state_t *st = state_of(rs);
    ck_assert_double_eq(st->num, 2.5);
    ck_assert_int_eq(st->integer, 7);
    ck_assert(st->flag);
    ck_assert_str_eq(st->str, "abc");
    ck_assert_int_eq(st->dur_ms, 3600000);
    ck_assert_int_eq(st->choice, 1);
    ck_assert_int_eq(st->level, RW_LEVEL_MEDIUM);
    ck_assert_ptr_null(st->list.items);
    ck_assert_uint_eq(st->list.n, 0);
    ck_assert_str_eq(st->field->path, "amount");
    ck_assert_ptr_null(st->match);
    ck_assert_double_eq(st->pos, 1);
    ck_assert_int_eq(rs->rules[0].window_ms, 0); /* no window param given, none asked for */
    ck_assert_int_eq(g_init_calls, 1);
    rw_ruleset_destroy(rs);
}
END_TEST

/* Given values land in the state; strings and lists outlive the JSON they came from (the
 * ruleset's JSON is freed when loading ends: ASan runs catch a borrowed pointer). */
START_TEST(test_params_values_fill_state) {
    rw_ruleset_t *rs =
        load_ok(rule_text("{\"num\": 99.5, \"integer\": 10, \"flag\": false, \"str\": \"hello\",\n"
                          "   \"dur\": \"90s\", \"choice\": \"gamma\", \"level\": \"high\",\n"
                          "   \"list\": [\"a\", 5, \"c\"], \"field\": \"geo.country\",\n"
                          "   \"match\": {\"status\": \"error\"}, \"pos\": 0.5, \"win\": \"10m\",\n"
                          "   \"expr\": \"amount * 2\"}"));
    const all_state_t *st = state_of(rs);
    ck_assert_double_eq(st->num, 99.5);
    ck_assert_int_eq(st->integer, 10);
    ck_assert(!st->flag);
    ck_assert_str_eq(st->str, "hello");
    ck_assert_int_eq(st->dur_ms, 90000);
    ck_assert_int_eq(st->choice, 2);
    ck_assert_int_eq(st->level, RW_LEVEL_HIGH);
    ck_assert_uint_eq(st->list.n, 3);
    ck_assert_str_eq(st->list.items[0], "a");
    ck_assert_str_eq(st->list.items[1], "5");
    ck_assert_str_eq(st->list.items[2], "c");
    ck_assert_str_eq(st->field->path, "geo.country");
    ck_assert_ptr_nonnull(st->match);
    json_t *ev = json_pack("{s:s}", "status", "error");
    ck_assert_int_eq(rw_match_test(st->match, ev), 1);
    json_object_set_new(ev, "status", json_string("ok"));
    ck_assert_int_eq(rw_match_test(st->match, ev), 0);
    json_decref(ev);
    ck_assert_double_eq(st->pos, 0.5);
    ck_assert_int_eq(st->win_ms, 600000);
    ck_assert_int_eq(rs->rules[0].window_ms, 600000); /* the window flag asked for it */
    double x = 0;
    json_t *tx = json_pack("{s:i}", "amount", 21);
    ck_assert_int_eq(rw_expr_number(st->expr, tx, &x), 0);
    ck_assert_double_eq(x, 42);
    json_decref(tx);
    rw_ruleset_destroy(rs);
}
END_TEST

/* An empty list given is not "not given": items is non-NULL. */
START_TEST(test_params_empty_list_given) {
    static const rw_param_t t[] = {
        {.type = RW_PARAM_STRING_LIST, .name = "l", .offset = 0, .desc = "a list"}, {0}};
    rw_strlist_t l = {NULL, 0};
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_params_ctx_t c = {NULL, 0, SRC, &errs, NULL, "x", "x", NULL};
    json_t *obj = json_pack("{s:[]}", "l");
    ck_assert_uint_eq(rw_params_apply(&c, t, obj, "", &l), 0);
    ck_assert_ptr_nonnull(l.items);
    ck_assert_uint_eq(l.n, 0);
    rw_params_fini(t, &l);
    ck_assert_ptr_null(l.items);
    json_decref(obj);
    rw_errors_fini(&errs);
}
END_TEST

/* ---- each kind of error, at its place, with the bad value ------------------------------------ */

START_TEST(test_params_error_unknown_with_suggestion) {
    expect_error("{\"field\": \"x\", \"intger\": 3}", "\"intger\"",
                 (const char *[]){"rule \"r\": params: unknown param \"intger\"",
                                  "module all_types", "did you mean \"integer\"?", NULL});
    /* A swap of two letters is one edit. */
    expect_error("{\"feild\": \"x\"}", "\"feild\"",
                 (const char *[]){"unknown param \"feild\"", "did you mean \"field\"?", NULL});
}
END_TEST

START_TEST(test_params_error_unknown_lists_params) {
    expect_error("{\"field\": \"x\", \"colour\": \"red\"}", "\"colour\"",
                 (const char *[]){"unknown param \"colour\"",
                                  "module all_types takes num, integer, flag, str, dur, choice, "
                                  "level, list, field, match, pos, win, expr",
                                  NULL});
    /* A key needing JSON pointer escapes is still found. */
    expect_error("{\"field\": \"x\", \"a/b~c\": 1}", "\"a/b~c\"",
                 (const char *[]){"unknown param \"a/b~c\"", NULL});
}
END_TEST

/* Unknown params are reported alone: what they would have set is not also "missing". */
START_TEST(test_params_error_unknown_first) {
    const char *text = rule_text("{\"fild\": \"x\", \"num\": \"high\"}");
    rw_errors_t errs;
    ck_assert_ptr_null(load(text, &errs));
    ck_assert_uint_eq(errs.n, 1);
    ck_assert_int_eq(g_init_calls, 0);
    rw_errors_fini(&errs);
}
END_TEST

START_TEST(test_params_error_missing_required) {
    /* params given without the required one: at the params object. */
    expect_error("{\"num\": 1}", "{\"num\"",
                 (const char *[]){"rule \"r\": params.field: required",
                                  "a field path such as \"geo.country\"", "(a field)", NULL});
    /* no params at all: at the rule. */
    const char *text = rule_text(NULL);
    rw_errors_t errs;
    ck_assert_ptr_null(load(text, &errs));
    ck_assert_uint_eq(errs.n, 1);
    assert_error(&errs, text, "{\"id\"", (const char *[]){"params.field: required", NULL});
    rw_errors_fini(&errs);
}
END_TEST

/* Every type refuses a value of another type, echoing it, at the value. */
START_TEST(test_params_error_wrong_type) {
    static const struct {
        const char *param, *value, *want;
    } cases[] = {
        {"num", "\"5\"", "params.num: must be a number, not \"5\""},
        {"integer", "2.5", "params.integer: must be an integer, not 2.5"},
        {"integer", "\"3\"", "params.integer: must be an integer, not \"3\""},
        {"flag", "1", "params.flag: must be true or false, not 1"},
        {"str", "[\"a\"]", "params.str: must be a string, not [\"a\"]"},
        {"dur", "60", "params.dur: bad duration 60 (use 30s, 15m, 1h, 7d)"},
        {"dur", "\"1 h\"", "params.dur: bad duration \"1 h\""},
        {"dur", "\"1y\"", "params.dur: bad duration \"1y\""},
        {"choice", "1", "params.choice: must be one of alpha, beta, gamma, not 1"},
        {"level", "\"severe\"", "params.level: \"severe\" is not one of low, medium, high"},
        {"list", "\"a\"", "params.list: must be a list of strings, not \"a\""},
        {"list", "[\"a\", null]", "params.list: item 1 must be a string or an integer, not null"},
        {"match", "[]", "params.match: must be a match object"},
        {"pos", "null", "params.pos: must be a number, not null"},
        {"expr", "5", "params.expr: must be an expression such as \"amount / balance\", not 5"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char params[256], needle[128];
        snprintf(params, sizeof(params), "{\"field\": \"x\", \"%s\": %s}", cases[i].param,
                 cases[i].value);
        snprintf(needle, sizeof(needle), "\"%s\": %s", cases[i].param, cases[i].value);
        const char *text = rule_text(params);
        rw_errors_t errs;
        ck_assert_ptr_null(load(text, &errs));
        ck_assert_msg(errs.n == 1, "%s: %zu errors", params, errs.n);
        /* located at the value: after `"param": ` */
        int line, col;
        h_pos_of(text, needle, 0, 0, &line, &col);
        col += (int)strlen(cases[i].param) + 4;
        ck_assert_msg(strstr(errs.items[0].text, cases[i].want), "\"%s\" lacks \"%s\"",
                      errs.items[0].text, cases[i].want);
        ck_assert_msg(errs.items[0].line == line && errs.items[0].column == col,
                      "%s: at %d:%d, want %d:%d", errs.items[0].text, errs.items[0].line,
                      errs.items[0].column, line, col);
        rw_errors_fini(&errs);
    }
}
END_TEST

START_TEST(test_params_error_out_of_bounds) {
    static const struct {
        const char *param, *value, *want;
    } cases[] = {
        {"num", "100.5", "params.num: 100.5 is out of bounds: from 0 to 100"},
        {"num", "-1", "params.num: -1 is out of bounds: from 0 to 100"},
        {"integer", "0", "params.integer: 0 is out of bounds: from 1 to 10"},
        {"integer", "11", "params.integer: 11 is out of bounds: from 1 to 10"},
        {"str", "\"\"", "params.str: must not be empty, not \"\""},
        {"str", "\"toolong\"", "params.str: \"toolong\" is out of bounds: length from 1 to 5"},
        {"dur", "\"500ms\"", "params.dur: \"500ms\" is out of bounds: from 1s to 1d"},
        {"dur", "\"2d\"", "params.dur: \"2d\" is out of bounds: from 1s to 1d"},
        {"list", "[]", "params.list: must not be empty, not []"},
        {"list", "[1, 2, 3, 4]", "params.list: [1,2,3,4] is out of bounds: items from 1 to 3"},
        {"pos", "0", "params.pos: 0 is out of bounds: greater than 0"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char params[256], needle[128];
        snprintf(params, sizeof(params), "{\"field\": \"x\", \"%s\": %s}", cases[i].param,
                 cases[i].value);
        snprintf(needle, sizeof(needle), "%s}", cases[i].value);
        expect_error(params, needle, (const char *[]){cases[i].want, NULL});
    }
}
END_TEST

START_TEST(test_params_error_enum_suggestion) {
    expect_error("{\"field\": \"x\", \"choice\": \"gama\"}", "\"gama\"",
                 (const char *[]){"params.choice: \"gama\" is not one of alpha, beta, gamma",
                                  "(did you mean \"gamma\"?)", NULL});
    expect_error("{\"field\": \"x\", \"level\": \"hihg\"}", "\"hihg\"",
                 (const char *[]){"(did you mean \"high\"?)", NULL});
}
END_TEST

/* Fields, matches and expressions are compiled with the rule: their errors point inside the
 * param. */
START_TEST(test_params_error_field_and_match) {
    expect_error("{\"field\": \"a..b\"}", "\"a..b\"",
                 (const char *[]){"params.field: bad field path \"a..b\"", NULL});
    expect_error("{\"field\": \"x\", \"match\": {\"s\": {\"in\": 5}}}", "5}",
                 (const char *[]){"params.match.s.in: must be a list", NULL});
    /* An expression's error is at its column inside the string. */
    expect_error("{\"field\": \"x\", \"expr\": \"amount * * 2\"}", "* 2\"",
                 (const char *[]){"params.expr: column 10 of the expression", NULL});
}
END_TEST

/* A long bad value is echoed cut short. */
START_TEST(test_params_error_echo_cut) {
    char params[512], want[128];
    snprintf(params, sizeof(params), "{\"field\": \"x\", \"num\": \"%0200d\"}", 7);
    snprintf(want, sizeof(want), "must be a number, not \"%056d...", 0);
    expect_error(params, "\"000", (const char *[]){want, NULL});
}
END_TEST

/* One rule's params errors are all reported in one load, and init() is not called. */
START_TEST(test_params_error_all_reported) {
    const char *text =
        rule_text("{\"num\": \"x\", \"integer\": 99, \"flag\": \"yes\", \"dur\": \"soon\"}");
    rw_errors_t errs;
    ck_assert_ptr_null(load(text, &errs));
    ck_assert_uint_eq(errs.n, 5);
    assert_error(&errs, text, "\"x\"", (const char *[]){"params.num: must be a number", NULL});
    assert_error(&errs, text, "99", (const char *[]){"params.integer: 99 is out of bounds", NULL});
    assert_error(&errs, text, "\"yes\"", (const char *[]){"params.flag: must be true", NULL});
    assert_error(&errs, text, "\"soon\"", (const char *[]){"params.dur: bad duration", NULL});
    assert_error(&errs, text, "{\"num\"", (const char *[]){"params.field: required", NULL});
    ck_assert_int_eq(g_init_calls, 0);
    rw_errors_fini(&errs);
}
END_TEST

/* init() runs after the fill; its error names the param and is reported there. */
START_TEST(test_params_error_from_init) {
    expect_error("{\"field\": \"x\", \"num\": 13}", "13}",
                 (const char *[]){"rule \"r\": params.num: 13 is unlucky", NULL});
    ck_assert_int_eq(g_init_calls, 1);
}
END_TEST

/* ---- tables -------------------------------------------------------------------------------- */

START_TEST(test_params_table_check_refusals) {
    typedef struct {
        double a;
        int b;
    } st_t;
    static const char *const none[] = {NULL};
    static const struct {
        rw_param_t t[3];
        const char *want;
    } cases[] = {
        {{{.type = (rw_param_type_t)99, .name = "a"}, {0}}, "unknown type 99"},
        {{{.type = RW_PARAM_NUMBER}, {0}}, "param 0 has no name"},
        {{{.type = RW_PARAM_NUMBER, .name = "a"}, {.type = RW_PARAM_INTEGER, .name = "a"}, {0}},
         "\"a\" is declared twice"},
        {{{.type = RW_PARAM_NUMBER, .name = "a", .offset = sizeof(st_t)}, {0}},
         "does not hold a number"},
        {{{.type = RW_PARAM_NUMBER, .name = "a", .offset = 4}, {0}}, "does not hold a number"},
        {{{.type = RW_PARAM_ENUM, .name = "b", .offset = offsetof(st_t, b)}, {0}},
         "an enum needs choices"},
        {{{.type = RW_PARAM_ENUM, .name = "b", .offset = offsetof(st_t, b), .choices = none}, {0}},
         "an enum needs choices"},
        {{{.type = RW_PARAM_NUMBER, .name = "a", .flags = RW_PARAM_WINDOW}, {0}},
         "a window must be a duration"},
        {{{.type = RW_PARAM_NUMBER, .name = "a", .def = "1", .flags = RW_PARAM_REQUIRED}, {0}},
         "required and has a default"},
        {{{.type = RW_PARAM_NUMBER, .name = "a", .def = "ten"}, {0}},
         "default \"ten\": does not read as a number"},
        {{{.type = RW_PARAM_NUMBER, .name = "a", .def = "20", .min = 1, .max = 10}, {0}},
         "default \"20\": 20.0 is out of bounds"},
        {{{.type = RW_PARAM_NUMBER, .name = "a", .min = 10, .max = 1}, {0}}, "bounds min > max"},
        {{{.type = RW_PARAM_STRING_LIST, .name = "a", .def = "x"}, {0}}, "does not read as"},
        {{{.type = RW_PARAM_NUMBER, .name = "a", .flags = RW_PARAM_REQUIRED | RW_PARAM_RECORDED},
          {0}},
         "what record() keeps must be a required field"},
        {{{.type = RW_PARAM_FIELD, .name = "a", .flags = RW_PARAM_RECORDED_NUMBER}, {0}},
         "what record() keeps must be a required field"},
        {{{.type = RW_PARAM_FIELD,
           .name = "a",
           .flags = RW_PARAM_REQUIRED | RW_PARAM_RECORDED | RW_PARAM_RECORDED_NUMBER},
          {0}},
         "as its text or its number"},
        {{{.type = RW_PARAM_FIELD, .name = "a", .flags = RW_PARAM_REQUIRED | RW_PARAM_RECORDED},
          {.type = RW_PARAM_FIELD, .name = "c", .flags = RW_PARAM_REQUIRED | RW_PARAM_RECORDED},
          {0}},
         "params \"a\" and \"c\": record() keeps one field"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        rw_error_t e;
        rw_error_clear(&e);
        ck_assert_msg(rw_params_check_table(cases[i].t, sizeof(st_t), &e) == RW_ERR_INPUT,
                      "case %zu accepted", i);
        ck_assert_int_eq(e.code, RW_ERR_INPUT);
        ck_assert_msg(strstr(e.text, cases[i].want), "case %zu: \"%s\" lacks \"%s\"", i, e.text,
                      cases[i].want);
    }
    /* A malformed table refuses the module at registration. */
    static const rw_module_t bad = {RW_MODULE_HEADER, .name = "bad_table", .params = cases[3].t,
                                    .state_size = sizeof(st_t), .measure = all_measure};
    rw_error_t e;
    rw_error_clear(&e);
    ck_assert_int_eq(rw_modules_register(&bad, &e), RW_ERR_INPUT);
    ck_assert_msg(strstr(e.text, "module \"bad_table\": param \"a\": offset"), "%s", e.text);
    ck_assert_ptr_null(rw_modules_find("bad_table"));
    /* What record() keeps is declared by a module that records. */
    static const rw_param_t kept[] = {
        {.type = RW_PARAM_FIELD, .name = "a", .flags = RW_PARAM_REQUIRED | RW_PARAM_RECORDED}, {0}};
    static const rw_module_t no_record = {RW_MODULE_HEADER, .name = "no_record", .params = kept,
                                          .state_size = sizeof(st_t), .measure = all_measure};
    rw_error_clear(&e);
    ck_assert_int_eq(rw_modules_register(&no_record, &e), RW_ERR_INPUT);
    ck_assert_msg(strstr(e.text, "declares what record() keeps but has no record()"), "%s", e.text);
}
END_TEST

static void check_module(const rw_module_t *m, void *arg) {
    (void)arg;
    rw_error_t e;
    rw_error_clear(&e);
    ck_assert_msg(rw_module_check(m, &e) == 0, "%s: %s", m->name, e.text);
    ck_assert_uint_eq(m->abi_version, RW_MODULE_ABI_VERSION);
    ck_assert_uint_eq(m->size, sizeof(rw_module_t));
    for (size_t i = 0; m->params && m->params[i].type != RW_PARAM_END; i++)
        ck_assert_msg(m->params[i].desc && m->params[i].desc[0], "%s.%s: no description", m->name,
                      m->params[i].name);
}

/* Every built-in module's table is well formed and describes each param. */
START_TEST(test_params_builtin_tables_valid) { rw_modules_each(check_module, NULL); }
END_TEST

START_TEST(test_params_print_table) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    rw_params_print(all_params, 2, f);
    fclose(f);
    static const char *const want[][4] = {
        {"num", "number", "2.5", "from 0 to 100"},
        {"integer", "integer", "7", "from 1 to 10"},
        {"str", "string", "abc", "length from 1 to 5"},
        {"dur", "duration", "1h", "from 1s to 1d"},
        {"choice", "alpha|beta|gamma", "beta", "a letter"},
        {"level", "low|medium|high", "medium", "a level"},
        {"list", "string list", "-", "items from 1 to 3"},
        {"field", "field", "required", "a field"},
        {"pos", "number", "1", "greater than 0"},
        {"win", "duration", "-", "(the rule's window)"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
        char needle[32];
        snprintf(needle, sizeof(needle), "\n  %s ", want[i][0]);
        const char *line = strstr(buf, needle);
        ck_assert_msg(line != NULL, "no line for %s in:\n%s", want[i][0], buf);
        const char *end = strchr(line + 1, '\n');
        for (int k = 1; k < 4; k++) {
            const char *at = strstr(line, want[i][k]);
            ck_assert_msg(at && at < end, "%s: no \"%s\" in:\n%s", want[i][0], want[i][k], buf);
        }
    }
    ck_assert_ptr_nonnull(strstr(buf, "name"));
    ck_assert_ptr_nonnull(strstr(buf, "description"));
    free(buf);
}
END_TEST

/* `riskwarn help MODULE` prints the module's table; an unknown name is a usage error. */
START_TEST(test_params_help_module) {
    char out[8192];
    ck_assert_int_eq(h_run(out, sizeof(out), (const char *[]){"help", "window_ratio", NULL}), 0);
    static const char *const want[] = {"module window_ratio:",
                                       "min_events",
                                       "integer",
                                       "from 1 to 1000000",
                                       "when",
                                       "match",
                                       "required",
                                       "(the rule's window)"};
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
        ck_assert_msg(strstr(out, want[i]), "no \"%s\" in:\n%s", want[i], out);
    ck_assert_int_eq(h_run(out, sizeof(out), (const char *[]){"help", "deadline", NULL}), 0);
    ck_assert_msg(strstr(out, "hours|workdays") && strstr(out, "unit"), "%s", out);
    ck_assert_int_eq(h_run(out, sizeof(out), (const char *[]){"help", "no_such_thing", NULL}),
                     RW_EXIT_USAGE);
    ck_assert_msg(strstr(out, "no command or module \"no_such_thing\""), "%s", out);
}
END_TEST

static Suite *params_suite(void) {
    Suite *s = suite_create("params");
    TCase *tc = tcase_create("fill");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_params_defaults_fill_state);
    tcase_add_test(tc, test_params_values_fill_state);
    tcase_add_test(tc, test_params_empty_list_given);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_params_error_unknown_with_suggestion);
    tcase_add_test(tc, test_params_error_unknown_lists_params);
    tcase_add_test(tc, test_params_error_unknown_first);
    tcase_add_test(tc, test_params_error_missing_required);
    tcase_add_test(tc, test_params_error_wrong_type);
    tcase_add_test(tc, test_params_error_out_of_bounds);
    tcase_add_test(tc, test_params_error_enum_suggestion);
    tcase_add_test(tc, test_params_error_field_and_match);
    tcase_add_test(tc, test_params_error_echo_cut);
    tcase_add_test(tc, test_params_error_all_reported);
    tcase_add_test(tc, test_params_error_from_init);
    suite_add_tcase(s, tc);

    tc = tcase_create("tables");
    tcase_add_test(tc, test_params_table_check_refusals);
    tcase_add_test(tc, test_params_builtin_tables_valid);
    tcase_add_test(tc, test_params_print_table);
    tcase_add_test(tc, test_params_help_module);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(params_suite); }

/* Unit tests for engine/expr.c: the expression parser (values, precedence, errors with their
 * columns), evaluation at the edges (missing fields, wrong types, division by zero), errors
 * of expressions in rulesets located as file:line:col, and a differential test of the compiled
 * form against a straightforward evaluation of the text on random expressions and events. */
#include "expr.h"
#include "harness.h"
#include "ruleset.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fields without a ruleset ------------------------------------------------------------ */

typedef struct fields {
    rw_field_t *list;
} fields_t;

static const rw_field_t *field_new(void *ctx, const char *path, rw_error_t *err) {
    fields_t *fs = ctx;
    if (strcmp(path, "bad.path") == 0) {
        rw_error_fail(err, RW_ERR_INPUT, "bad field path \"%s\"", path);
        return NULL;
    }
    rw_field_t *f = calloc(1, sizeof(*f));
    f->path = strdup(path);
    f->n_parts = 1;
    for (const char *p = path; *p; p++)
        f->n_parts += *p == '.';
    f->parts = calloc(f->n_parts, sizeof(char *));
    const char *s = path;
    for (size_t i = 0; i < f->n_parts; i++) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        f->parts[i] = strndup(s, n);
        s += n + 1;
    }
    f->slot = -1;
    f->next = fs->list;
    fs->list = f;
    return f;
}

static void fields_free(fields_t *fs) {
    while (fs->list) {
        rw_field_t *next = fs->list->next;
        for (size_t i = 0; i < fs->list->n_parts; i++)
            free(fs->list->parts[i]);
        free(fs->list->parts);
        free(fs->list->path);
        free(fs->list);
        fs->list = next;
    }
}

/* Compiles text and evaluates it on the event's JSON text; returns the RW_SKIP_* result. */
static int eval_text(const char *text, const char *event, double *out) {
    fields_t fs = {NULL};
    rw_error_t err;
    rw_expr_t *e = rw_expr_compile(text, field_new, &fs, &err);
    ck_assert_msg(e != NULL, "\"%s\" refused at column %d: %s", text, err.column, err.text);
    json_t *ev = json_loads(event, 0, NULL);
    ck_assert_ptr_nonnull(ev);
    int r = rw_expr_eval(e, ev, out, NULL);
    json_decref(ev);
    rw_expr_destroy(e);
    fields_free(&fs);
    return r;
}

static void check_value(const char *text, const char *event, double want) {
    double got = NAN;
    int r = eval_text(text, event, &got);
    ck_assert_msg(r == RW_SKIP_NONE, "\"%s\": no value (%s)", text, rw_expr_skip_name(r));
    ck_assert_msg(got == want, "\"%s\" = %.17g, want %.17g", text, got, want);
}

static void check_skip(const char *text, const char *event, int want) {
    double got = 12345;
    int r = eval_text(text, event, &got);
    ck_assert_msg(r == want, "\"%s\": %s, want %s", text, rw_expr_skip_name(r),
                  rw_expr_skip_name(want));
    ck_assert_msg(got == 12345, "\"%s\": the output was written", text);
}

/* The expression must be refused at column col with a message containing part. */
static void check_error(const char *text, int col, const char *part) {
    fields_t fs = {NULL};
    rw_error_t err;
    rw_expr_t *e = rw_expr_compile(text, field_new, &fs, &err);
    ck_assert_msg(e == NULL, "\"%s\" was accepted", text);
    ck_assert_msg(err.column == col, "\"%s\": column %d, want %d (%s)", text, err.column, col,
                  err.text);
    ck_assert_msg(strstr(err.text, part) != NULL, "\"%s\": \"%s\" lacks \"%s\"", text, err.text,
                  part);
    fields_free(&fs);
}

#define EV                                                                                         \
    "{\"a\": 6, \"b\": 3, \"z\": 0, \"neg\": -2.5, \"s\": \"900000\", \"t\": true, "               \
    "\"f\": false, \"n\": null, \"o\": {\"x\": 4, \"y\": {\"w\": 1.5}}, \"l\": [1], "              \
    "\"Timely response?\": 7}"

/* ---- values ------------------------------------------------------------------------------ */

START_TEST(test_expr_arithmetic_and_precedence) {
    check_value("1 + 2 * 3", EV, 7);
    check_value("(1 + 2) * 3", EV, 9);
    check_value("a - b - 1", EV, 2); /* left to right */
    check_value("a / b / 2", EV, 1); /* left to right */
    check_value("a / 4", EV, 1.5);
    check_value("-a + 1", EV, -5);
    check_value("- -a", EV, 6);
    check_value("a * -1", EV, -6);
    check_value("2.5e2 + .5 + 1E-1", EV, 250.6);
    check_value("0.1 + 0.2", EV, 0.1 + 0.2);
    check_value("o.x * o.y.w", EV, 6);
    check_value("`Timely response?` + 1", EV, 8);
    check_value("`o.x`", EV, 4); /* a path in backquotes is still a path */
    check_value("t + t + f", EV, 2);
}
END_TEST

START_TEST(test_expr_functions) {
    check_value("min(a, b)", EV, 3);
    check_value("min(b, a)", EV, 3);
    check_value("max(a, b, 10, neg)", EV, 10);
    check_value("min(a, b, 10, neg)", EV, -2.5);
    check_value("max(z, -1)", EV, 0);
    check_value("abs(neg)", EV, 2.5);
    check_value("abs(a)", EV, 6);
    check_value("abs(-0)", EV, 0);
    check_value("max(min(a, 4), abs(neg) * 2)", EV, 5);
    check_value("min (a, b)", EV, 3); /* a space before the parenthesis */
}
END_TEST

START_TEST(test_expr_comparisons_at_their_edges) {
    /* Each operator just below, at and just above. */
    check_value("b < 3", EV, 0);
    check_value("b < 3.000001", EV, 1);
    check_value("b <= 3", EV, 1);
    check_value("b <= 2.999999", EV, 0);
    check_value("b == 3", EV, 1);
    check_value("b == 3.0000001", EV, 0);
    check_value("b != 3", EV, 0);
    check_value("b != 2", EV, 1);
    check_value("b >= 3", EV, 1);
    check_value("b >= 3.000001", EV, 0);
    check_value("b > 3", EV, 0);
    check_value("b > 2.999999", EV, 1);
    check_value("a == b * 2", EV, 1);       /* arithmetic binds tighter */
    check_value("0.1 + 0.2 == 0.3", EV, 0); /* doubles, exactly */
}
END_TEST

START_TEST(test_expr_logic) {
    check_value("a > 1 and b > 1", EV, 1);
    check_value("a > 1 and b > 5", EV, 0);
    check_value("a > 9 or b > 1", EV, 1);
    check_value("a > 9 or b > 9", EV, 0);
    check_value("not a > 9", EV, 1);
    check_value("not not a", EV, 1);
    check_value("not z", EV, 1);
    check_value("a > 9 or b > 1 and z", EV, 0); /* and binds tighter than or */
    check_value("(a > 9 or b > 1) and a", EV, 1);
    check_value("true and not false", EV, 1);
    check_value("a and b", EV, 1);
    check_value("neg or z", EV, 1);
}
END_TEST

START_TEST(test_expr_no_value) {
    check_skip("missing + 1", EV, RW_SKIP_MISSING);
    check_skip("o.nothing", EV, RW_SKIP_MISSING);
    check_skip("a.x", EV, RW_SKIP_MISSING); /* a path through a number */
    check_skip("s * 1", EV, RW_SKIP_WRONG_TYPE);
    check_skip("n", EV, RW_SKIP_WRONG_TYPE);
    check_skip("o", EV, RW_SKIP_WRONG_TYPE);
    check_skip("l", EV, RW_SKIP_WRONG_TYPE);
    check_skip("a / z", EV, RW_SKIP_DIV_ZERO);
    check_skip("a / (b - 3)", EV, RW_SKIP_DIV_ZERO);
    check_skip("a / -0", EV, RW_SKIP_DIV_ZERO);
    /* No value anywhere means none at all, and/or included. */
    check_skip("a > 1 or missing > 1", EV, RW_SKIP_MISSING);
    check_skip("z and missing", EV, RW_SKIP_MISSING);
    check_skip("min(a, s)", EV, RW_SKIP_WRONG_TYPE);
    /* The first reason met, left to right. */
    check_skip("missing + s", EV, RW_SKIP_MISSING);
    check_skip("s + missing", EV, RW_SKIP_WRONG_TYPE);
    check_skip("a / z + missing", EV, RW_SKIP_DIV_ZERO); /* the division comes first */
    check_skip("a + missing / z", EV, RW_SKIP_MISSING);  /* operands before their division */
    check_value("z / a", EV, 0);
    double x;
    ck_assert_int_eq(eval_text("a", "[1]", &x), RW_SKIP_MISSING); /* not an object */
}
END_TEST

/* ---- errors ------------------------------------------------------------------------------- */

START_TEST(test_expr_errors_with_columns) {
    check_error("", 1, "empty expression");
    check_error("   ", 1, "empty expression");
    check_error("a +", 4, "expected a number, a field or \"(\", found the end");
    check_error("a + * b", 5, "found \"*\"");
    check_error("(a + b", 1, "this \"(\" is not closed");
    check_error("a + b)", 6, "unexpected \")\"");
    check_error("a b", 3, "expected an operator, found \"b\"");
    check_error("a annd b", 3, "(did you mean \"and\"?)");
    check_error("mx(a, b)", 1, "unknown function \"mx\" (did you mean \"max\"?)");
    check_error("sqrt(a)", 1, "unknown function \"sqrt\"");
    check_error("abs(a, b)", 1, "abs() takes one argument, not 2");
    check_error("min(a)", 1, "min() takes two or more arguments, not 1");
    check_error("max()", 5, "max() needs an argument");
    check_error("min(a b)", 7, "expected \",\" or \")\" in min()");
    check_error("a = b", 3, "compare with ==");
    check_error("a && b", 3, "use and, or");
    check_error("!a", 1, "use not");
    check_error("a < b < c", 7, "comparisons do not chain");
    check_error("a == b != c", 8, "comparisons do not chain");
    check_error("1.5.2", 4, "expected an operator, found \".2\"");
    check_error("a >= not b", 6, "put it in parentheses");
    check_error("12abc", 1, "bad number");
    check_error("1e", 1, "bad number");
    check_error("1e999", 1, "number out of range");
    check_error("a + o.", 6, "a name must follow each dot");
    check_error("a + `x", 5, "unclosed `");
    check_error("a + ``", 5, "empty field name");
    check_error("a + and", 5, "\"and\" is a keyword");
    check_error("min + 1", 1, "\"min\" is a keyword");
    check_error("a + bad.path", 5, "bad field path");
    check_error("a + #", 5, "unexpected \"#\"");
    check_error("+a", 1, "unexpected \"+\"");
    check_error("a\x01", 2, "byte 0x01");
    /* Nesting and the stack are bounded. */
    char deep[400] = "";
    for (int i = 0; i < 70; i++)
        strcat(deep, "(");
    check_error(deep, 65, "nested too deep");
    char wide[600] = "min(a";
    for (int i = 0; i < 70; i++)
        strcat(wide, ", a");
    strcat(wide, ")");
    check_error(wide, 1, "more than 64 values");
    char *longer = malloc(RW_EXPR_MAX_TEXT + 10);
    memset(longer, 'a', RW_EXPR_MAX_TEXT + 9);
    longer[RW_EXPR_MAX_TEXT + 9] = 0;
    check_error(longer, 1, "longer than");
    free(longer);
}
END_TEST

/* ---- in rulesets -------------------------------------------------------------------------- */

static void check_ruleset_error(const char *text, int line, int col, const char *part) {
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load(text, strlen(text), "t.json", &errs);
    ck_assert_ptr_null(rs);
    ck_assert_uint_eq(errs.n, 1);
    char msg[1024];
    rw_error_format(&errs.items[0], msg, sizeof(msg));
    ck_assert_msg(errs.items[0].line == line && errs.items[0].column == col,
                  "at %d:%d, want %d:%d: %s", errs.items[0].line, errs.items[0].column, line, col,
                  msg);
    ck_assert_msg(strstr(msg, part) != NULL, "\"%s\" lacks \"%s\"", msg, part);
    rw_errors_fini(&errs);
}

START_TEST(test_expr_ruleset_errors_point_into_the_expression) {
    check_ruleset_error("{\"ruleset\": \"r\", \"version\": \"1\", \"rules\": [\n"
                        "  {\"id\": \"x\", \"module\": \"expression\",\n"
                        "   \"params\": {\"expr\": \"amount / mx(balance, 1)\"},\n"
                        "   \"thresholds\": {\"high\": 1}}]}",
                        3, 33,
                        "t.json:3:33: rule \"x\": params.expr: column 10 of the expression: "
                        "unknown function \"mx\" (did you mean \"max\"?)");
    check_ruleset_error("{\"ruleset\": \"r\", \"version\": \"1\", \"rules\": [\n"
                        "  {\"id\": \"x\", \"module\": \"value\", \"params\": {\"field\": \"a\"},\n"
                        "   \"match\": {\"type\": \"t\", \"$expr\": \"amount == \"},\n"
                        "   \"thresholds\": {\"high\": 1}}]}",
                        3, 47,
                        "rule \"x\": match.$expr: column 11 of the expression: expected a number");
    /* An escape before the place: the error points at the string. */
    check_ruleset_error("{\"ruleset\": \"r\", \"version\": \"1\", \"rules\": [\n"
                        "  {\"id\": \"x\", \"module\": \"expression\",\n"
                        "   \"params\": {\"expr\": \"`a\\u0020b` +\"},\n"
                        "   \"thresholds\": {\"high\": 1}}]}",
                        3, 23, "column 8 of the expression");
    check_ruleset_error("{\"ruleset\": \"r\", \"version\": \"1\", \"rules\": [\n"
                        "  {\"id\": \"x\", \"module\": \"expression\", \"params\": {},\n"
                        "   \"thresholds\": {\"high\": 1}}]}",
                        2, 49, "params.expr: required");
    check_ruleset_error("{\"ruleset\": \"r\", \"version\": \"1\", \"rules\": [\n"
                        "  {\"id\": \"x\", \"module\": \"value\", \"params\": {\"field\": \"a\"},\n"
                        "   \"match\": {\"$expr\": 5}, \"thresholds\": {\"high\": 1}}]}",
                        3, 23, "match.$expr: must be an expression in a string");
}
END_TEST

/* ---- differential: compiled against a straightforward evaluation -------------------------- */

/* A tree-walking evaluator over the text itself, written for clarity: the reference. */
typedef struct ref {
    const char *s;
    const json_t *ev;
    int fail; /* the first RW_SKIP_* met */
} ref_t;

static void ref_ws(ref_t *r) {
    while (*r->s == ' ')
        r->s++;
}

static bool ref_word(ref_t *r, const char *w) {
    ref_ws(r);
    size_t n = strlen(w);
    if (strncmp(r->s, w, n) == 0 && !(r->s[n] >= 'a' && r->s[n] <= 'z')) {
        r->s += n;
        return true;
    }
    return false;
}

static double ref_or(ref_t *r);

static double ref_value(ref_t *r, double x, int why) {
    if (why && !r->fail)
        r->fail = why;
    return x;
}

static double ref_primary(ref_t *r) {
    ref_ws(r);
    if (*r->s == '(') {
        r->s++;
        double x = ref_or(r);
        ref_ws(r);
        r->s++; /* ) */
        return x;
    }
    if (*r->s == '-') {
        r->s++;
        return -ref_primary(r);
    }
    if ((*r->s >= '0' && *r->s <= '9') || *r->s == '.') {
        char *end;
        double x = strtod(r->s, &end);
        r->s = end;
        return x;
    }
    if (ref_word(r, "min") || ref_word(r, "max") || ref_word(r, "abs")) {
        char fn = r->s[-2]; /* 'i' min, 'a' max, 'b' abs */
        ref_ws(r);
        r->s++; /* ( */
        double acc = ref_or(r);
        if (fn == 'b')
            acc = fabs(acc);
        ref_ws(r);
        while (*r->s == ',') {
            r->s++;
            double y = ref_or(r);
            acc = fn == 'i' ? (y < acc ? y : acc) : (y > acc ? y : acc);
            ref_ws(r);
        }
        r->s++; /* ) */
        return acc;
    }
    char name[32];
    size_t n = 0;
    while ((*r->s >= 'a' && *r->s <= 'z') || *r->s == '.')
        name[n++] = *r->s++;
    name[n] = 0;
    const json_t *v = r->ev;
    for (char *part = strtok(name, "."); part && v; part = strtok(NULL, "."))
        v = json_is_object(v) ? json_object_get(v, part) : NULL;
    if (!v)
        return ref_value(r, 0, RW_SKIP_MISSING);
    if (json_is_boolean(v))
        return json_is_true(v);
    if (!json_is_number(v))
        return ref_value(r, 0, RW_SKIP_WRONG_TYPE);
    return json_number_value(v);
}

static double ref_product(ref_t *r) {
    double x = ref_primary(r);
    for (;;) {
        ref_ws(r);
        char op = *r->s;
        if (op != '*' && op != '/')
            return x;
        r->s++;
        double y = ref_primary(r);
        if (op == '/' && y == 0)
            x = ref_value(r, 0, RW_SKIP_DIV_ZERO);
        else
            x = op == '*' ? x * y : x / y;
    }
}

static double ref_sum(ref_t *r) {
    double x = ref_product(r);
    for (;;) {
        ref_ws(r);
        char op = *r->s;
        if (op != '+' && !(op == '-'))
            return x;
        r->s++;
        double y = ref_product(r);
        x = op == '+' ? x + y : x - y;
    }
}

static double ref_compare(ref_t *r) {
    double x = ref_sum(r);
    ref_ws(r);
    static const char *const ops[] = {"<=", ">=", "==", "!=", "<", ">"};
    for (int i = 0; i < 6; i++)
        if (strncmp(r->s, ops[i], strlen(ops[i])) == 0) {
            r->s += strlen(ops[i]);
            double y = ref_sum(r);
            switch (i) {
            case 0:
                return x <= y;
            case 1:
                return x >= y;
            case 2:
                return x == y;
            case 3:
                return x != y;
            case 4:
                return x < y;
            default:
                return x > y;
            }
        }
    return x;
}

static double ref_not(ref_t *r) {
    if (ref_word(r, "not"))
        return ref_not(r) == 0;
    return ref_compare(r);
}

static double ref_and(ref_t *r) {
    double x = ref_not(r);
    while (ref_word(r, "and")) {
        double y = ref_not(r);
        x = x != 0 && y != 0;
    }
    return x;
}

static double ref_or(ref_t *r) {
    double x = ref_and(r);
    while (ref_word(r, "or")) {
        double y = ref_and(r);
        x = x != 0 || y != 0;
    }
    return x;
}

/* A random expression of the language, at most depth levels deep. */
static void gen(char *buf, size_t len, int depth, unsigned *seed) {
    static const char *const leaves[] = {"a", "b", "z", "neg", "s",   "missing", "o.x",
                                         "t", "0", "1", "2.5", "0.1", "3"};
    static const char *const bin[] = {
        " + ", " - ", " * ", " / ", " < ", " <= ", " == ", " != ", " >= ", " > ", " and ", " or "};
    int pick = depth <= 0 ? 0 : (int)(rand_r(seed) % 7);
    char x[600], y[600];
    switch (pick) {
    case 0:
    case 1:
        snprintf(buf, len, "%s", leaves[rand_r(seed) % 13]);
        return;
    case 2:
    case 3:
        gen(x, sizeof(x), depth - 1, seed);
        gen(y, sizeof(y), depth - 1, seed);
        snprintf(buf, len, "(%.600s%s%.600s)", x, bin[rand_r(seed) % 12], y);
        return;
    case 4:
        gen(x, sizeof(x), depth - 1, seed);
        snprintf(buf, len, rand_r(seed) % 2 ? "-(%.600s)" : "(not (%.600s))", x);
        return;
    case 5:
        gen(x, sizeof(x), depth - 1, seed);
        snprintf(buf, len, "abs(%.600s)", x);
        return;
    default:
        gen(x, sizeof(x), depth - 1, seed);
        gen(y, sizeof(y), depth - 1, seed);
        snprintf(buf, len, "%s(%.600s, %.600s)", rand_r(seed) % 2 ? "min" : "max", x, y);
        return;
    }
}

START_TEST(test_expr_differential_against_a_tree_walk) {
    static const char *const events[] = {
        EV,
        ("{\"a\": -4, \"b\": 0.5, \"z\": 0, \"neg\": 7, \"s\": 1, \"missing\": 2, \"o\": {\"x\": "
         "0}}"),
        "{\"a\": 1e300, \"b\": 1e-300, \"z\": 1, \"neg\": 0, \"s\": true, \"t\": 5}",
    };
    unsigned seed = 12345;
    size_t valued = 0, skipped = 0;
    json_t *evs[3];
    for (int i = 0; i < 3; i++)
        evs[i] = json_loads(events[i], 0, NULL);
    for (int n = 0; n < 4000; n++) {
        char text[2048];
        gen(text, sizeof(text), 1 + n % 4, &seed);
        fields_t fs = {NULL};
        rw_error_t err;
        rw_expr_t *e = rw_expr_compile(text, field_new, &fs, &err);
        ck_assert_msg(e != NULL, "\"%s\" refused: %s", text, err.text);
        for (int i = 0; i < 3; i++) {
            ref_t r = {text, evs[i], 0};
            double want = ref_or(&r);
            double got = 0;
            int rc = rw_expr_eval(e, evs[i], &got, NULL);
            ck_assert_msg(rc == r.fail, "\"%s\" on event %d: %s, the reference %s", text, i,
                          rw_expr_skip_name(rc), rw_expr_skip_name(r.fail));
            if (rc == RW_SKIP_NONE) {
                ck_assert_msg(got == want || (isnan(got) && isnan(want)),
                              "\"%s\" on event %d: %.17g, the reference %.17g", text, i, got, want);
                valued++;
            } else {
                skipped++;
            }
        }
        rw_expr_destroy(e);
        fields_free(&fs);
    }
    for (int i = 0; i < 3; i++)
        json_decref(evs[i]);
    /* Both outcomes were exercised often. */
    ck_assert_uint_gt(valued, 2000);
    ck_assert_uint_gt(skipped, 2000);
}
END_TEST

static Suite *expr_suite(void) {
    Suite *s = suite_create("expr");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_expr_arithmetic_and_precedence);
    tcase_add_test(tc, test_expr_functions);
    tcase_add_test(tc, test_expr_comparisons_at_their_edges);
    tcase_add_test(tc, test_expr_logic);
    tcase_add_test(tc, test_expr_no_value);
    tcase_add_test(tc, test_expr_errors_with_columns);
    tcase_add_test(tc, test_expr_ruleset_errors_point_into_the_expression);
    tcase_add_test(tc, test_expr_differential_against_a_tree_walk);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(expr_suite); }

#include "expr.h"

#include "field.h"

#include "suggest.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    OP_NUM,
    OP_FIELD,
    OP_NEG,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_LT,
    OP_LE,
    OP_EQ,
    OP_NE,
    OP_GE,
    OP_GT,
    OP_AND,
    OP_OR,
    OP_NOT,
    OP_MIN,
    OP_MAX,
    OP_ABS
} opcode_t;

typedef struct op {
    uint8_t code;
    uint8_t argc; /* min/max: the number of arguments */
    double num;
    const rw_field_t *field;
} op_t;

struct rw_expr {
    op_t *ops;
    size_t n, cap;
    char *text;
};

const char *rw_expr_skip_name(int reason) {
    static const char *const names[RW_SKIP_REASONS] = {"none", "missing", "wrong_type",
                                                       "div_by_zero", "not_finite"};
    return reason >= 0 && reason < RW_SKIP_REASONS ? names[reason] : "none";
}

/* ---- compiling ------------------------------------------------------------------------- */

typedef enum { T_END, T_NUM, T_NAME, T_OP, T_LPAREN, T_RPAREN, T_COMMA } tok_kind_t;

typedef struct parser {
    const char *s;
    size_t pos; /* of the next token */
    tok_kind_t kind;
    size_t at, len; /* the current token */
    char name[512]; /* T_NAME: the path, backquotes removed */
    bool quoted;    /* T_NAME written in backquotes */
    double num;
    rw_expr_t *e;
    rw_expr_field_fn field;
    void *ctx;
    int depth, max_depth, nest;
    rw_error_t *err;
    bool failed;
} parser_t;

static void __attribute__((format(printf, 3, 4)))
fail(parser_t *p, size_t at, const char *fmt, ...) {
    if (p->failed)
        return;
    p->failed = true;
    p->err->code = RW_ERR_INPUT;
    p->err->column = (int)at + 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->text, sizeof(p->err->text), fmt, ap);
    va_end(ap);
}

static bool name_start(char c) { return isalpha((unsigned char)c) || c == '_'; }
static bool name_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* The number at i. */
static void next_number(parser_t *p, size_t i) {
    const char *s = p->s;
    size_t j = i;
    while (isdigit((unsigned char)s[j]))
        j++;
    if (s[j] == '.') {
        j++;
        while (isdigit((unsigned char)s[j]))
            j++;
    }
    if (s[j] == 'e' || s[j] == 'E') {
        size_t k = j + 1;
        if (s[k] == '+' || s[k] == '-')
            k++;
        if (!isdigit((unsigned char)s[k])) {
            fail(p, i, "bad number \"%.*s\"", (int)(k - i), s + i);
            p->kind = T_END;
            return;
        }
        while (isdigit((unsigned char)s[k]))
            k++;
        j = k;
    }
    if (name_char(s[j])) {
        fail(p, i, "bad number \"%.*s\"", (int)(j - i + 1), s + i);
        p->kind = T_END;
        return;
    }
    char buf[128];
    size_t n = j - i < sizeof(buf) - 1 ? j - i : sizeof(buf) - 1;
    memcpy(buf, s + i, n);
    buf[n] = 0;
    p->num = strtod(buf, NULL);
    if (!isfinite(p->num)) {
        fail(p, i, "number out of range \"%s\"", buf);
        p->kind = T_END;
        return;
    }
    p->kind = T_NUM;
    p->len = j - i;
    p->pos = j;
}

/* The field path at i. */
static void next_name(parser_t *p, size_t i) {
    const char *s = p->s;
    size_t j = i;
    for (;;) {
        while (name_char(s[j]))
            j++;
        if (s[j] == '.' && name_start(s[j + 1]))
            j++;
        else
            break;
    }
    if (s[j] == '.') {
        fail(p, j, "bad field path \"%.*s\" (a name must follow each dot)", (int)(j - i + 1),
             s + i);
        p->kind = T_END;
        return;
    }
    if (j - i >= sizeof(p->name)) {
        fail(p, i, "field path too long");
        p->kind = T_END;
        return;
    }
    memcpy(p->name, s + i, j - i);
    p->name[j - i] = 0;
    p->kind = T_NAME;
    p->len = j - i;
    p->pos = j;
}

/* The field name in backquotes at i. */
static void next_quoted(parser_t *p, size_t i) {
    const char *s = p->s;
    const char *end = strchr(s + i + 1, '`');
    if (!end) {
        fail(p, i, "unclosed ` (a field name in backquotes)");
        p->kind = T_END;
        return;
    }
    size_t n = (size_t)(end - (s + i + 1));
    if (n == 0 || n >= sizeof(p->name)) {
        fail(p, i, n ? "field path too long" : "empty field name ``");
        p->kind = T_END;
        return;
    }
    memcpy(p->name, s + i + 1, n);
    p->name[n] = 0;
    p->kind = T_NAME;
    p->quoted = true;
    p->len = n + 2;
    p->pos = i + n + 2;
}

/* The operator or punctuation at i, whose first byte is c. */
static void next_punct(parser_t *p, size_t i, char c) {
    const char *s = p->s;
    static const char *const ops2[] = {"<=", ">=", "==", "!="};
    for (size_t k = 0; k < 4; k++)
        if (s[i] == ops2[k][0] && s[i + 1] == ops2[k][1]) {
            p->kind = T_OP;
            p->len = 2;
            p->pos = i + 2;
            return;
        }
    p->len = 1;
    p->pos = i + 1;
    switch (c) {
    case '+':
    case '-':
    case '*':
    case '/':
    case '<':
    case '>':
        p->kind = T_OP;
        return;
    case '(':
        p->kind = T_LPAREN;
        return;
    case ')':
        p->kind = T_RPAREN;
        return;
    case ',':
        p->kind = T_COMMA;
        return;
    case '=':
        fail(p, i, "unexpected \"=\" (compare with ==)");
        break;
    case '&':
    case '|':
        fail(p, i, "unexpected \"%c\" (use and, or)", c);
        break;
    case '!':
        fail(p, i, "unexpected \"!\" (use not, or != to compare)");
        break;
    default:
        if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
            fail(p, i, "unexpected character (byte 0x%02x)", (unsigned char)c);
        else
            fail(p, i, "unexpected \"%c\"", c);
    }
    p->kind = T_END;
}

/* Reads the next token into p. */
static void next(parser_t *p) {
    const char *s = p->s;
    size_t i = p->pos;
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
        i++;
    p->at = i;
    p->quoted = false;
    if (!s[i]) {
        p->kind = T_END;
        p->len = 0;
        p->pos = i;
        return;
    }
    char c = s[i];
    if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)s[i + 1]))) {
        next_number(p, i);
        return;
    }
    if (name_start(c)) {
        next_name(p, i);
        return;
    }
    if (c == '`') {
        next_quoted(p, i);
        return;
    }
    next_punct(p, i, c);
}

/* Whether the current token is the operator or keyword w. */
static bool is(const parser_t *p, const char *w) {
    if (p->kind == T_OP)
        return p->len == strlen(w) && strncmp(p->s + p->at, w, p->len) == 0;
    return p->kind == T_NAME && !p->quoted && strcmp(p->name, w) == 0;
}

static void emit(parser_t *p, uint8_t code, uint8_t argc, double num, const rw_field_t *f, int pops,
                 int pushes) {
    rw_expr_t *e = p->e;
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->ops = rw_realloc(e->ops, e->cap * sizeof(*e->ops));
    }
    e->ops[e->n++] = (op_t){code, argc, num, f};
    p->depth += pushes - pops;
    if (p->depth > p->max_depth)
        p->max_depth = p->depth;
}

static const char *const keywords[] = {"and", "or",  "not", "true", "false",
                                       "min", "max", "abs", NULL};

static void parse_or(parser_t *p);

/* Describes the current token for "expected X, found Y" messages. */
static void found(const parser_t *p, char *buf, size_t len) {
    if (p->kind == T_END)
        snprintf(buf, len, "the end");
    else
        snprintf(buf, len, "\"%.*s\"", (int)(p->len > 40 ? 40 : p->len), p->s + p->at);
}

static void parse_call(parser_t *p, const char *fn, size_t fn_at) {
    next(p); /* ( */
    int argc = 0;
    if (p->kind == T_RPAREN) {
        fail(p, p->at, "%s() needs an argument", fn);
        return;
    }
    for (;;) {
        parse_or(p);
        if (p->failed)
            return;
        argc++;
        if (p->kind == T_COMMA) {
            next(p);
            continue;
        }
        if (p->kind != T_RPAREN) {
            char f[64];
            found(p, f, sizeof(f));
            fail(p, p->at, "expected \",\" or \")\" in %s(), found %s", fn, f);
            return;
        }
        next(p);
        break;
    }
    if (strcmp(fn, "abs") == 0) {
        if (argc != 1)
            fail(p, fn_at, "abs() takes one argument, not %d", argc);
        else
            emit(p, OP_ABS, 1, 0, NULL, 1, 1);
        return;
    }
    if (argc < 2 || argc > 255) {
        fail(p, fn_at, "%s() takes two or more arguments, not %d", fn, argc);
        return;
    }
    emit(p, strcmp(fn, "min") == 0 ? OP_MIN : OP_MAX, (uint8_t)argc, 0, NULL, argc, 1);
}

/* A parenthesized expression, at its "(". */
static void parse_group(parser_t *p) {
    size_t at = p->at;
    if (++p->nest > RW_EXPR_MAX_DEPTH) {
        fail(p, at, "nested too deep (more than %d levels)", RW_EXPR_MAX_DEPTH);
        return;
    }
    next(p);
    parse_or(p);
    p->nest--;
    if (p->failed)
        return;
    if (p->kind != T_RPAREN) {
        char f[64];
        found(p, f, sizeof(f));
        fail(p, p->kind == T_END ? at : p->at, "expected \")\", found %s%s", f,
             p->kind == T_END ? " (this \"(\" is not closed)" : "");
        return;
    }
    next(p);
}

/* true, false, a function call or a field, at the name. */
static void parse_name(parser_t *p) {
    size_t at = p->at;
    if (!p->quoted && (strcmp(p->name, "true") == 0 || strcmp(p->name, "false") == 0)) {
        emit(p, OP_NUM, 0, p->name[0] == 't', NULL, 0, 1);
        next(p);
        return;
    }
    char name[sizeof(p->name)];
    snprintf(name, sizeof(name), "%s", p->name);
    bool quoted = p->quoted;
    size_t save = p->pos;
    /* A name followed by "(" is a function call. */
    size_t k = save;
    while (p->s[k] == ' ' || p->s[k] == '\t')
        k++;
    if (!quoted && p->s[k] == '(' && strcmp(name, "not") != 0) {
        static const char *const fns[] = {"min", "max", "abs", NULL};
        if (strcmp(name, "min") != 0 && strcmp(name, "max") != 0 && strcmp(name, "abs") != 0) {
            char msg[200];
            snprintf(msg, sizeof(msg), "unknown function \"%.64s\"", name);
            rw_suggest_append(msg, sizeof(msg), name, fns, (size_t)-1);
            fail(p, at, "%s; the functions are min, max, abs", msg);
            return;
        }
        if (++p->nest > RW_EXPR_MAX_DEPTH) {
            fail(p, at, "nested too deep (more than %d levels)", RW_EXPR_MAX_DEPTH);
            return;
        }
        next(p);
        parse_call(p, name, at);
        p->nest--;
        return;
    }
    if (!quoted && strcmp(name, "not") == 0) {
        fail(p, at,
             "\"not\" applies to a whole comparison here: put it in parentheses, "
             "(not ...)");
        return;
    }
    if (!quoted) {
        for (size_t i = 0; keywords[i]; i++)
            if (strcmp(name, keywords[i]) == 0) {
                fail(p, at,
                     "\"%s\" is a keyword here (write `%s` in backquotes for a field of that "
                     "name)",
                     name, name);
                return;
            }
    }
    rw_error_t e;
    rw_error_clear(&e);
    const rw_field_t *f = p->field(p->ctx, name, &e);
    if (!f) {
        fail(p, at, "%.250s", e.text[0] ? e.text : "bad field path");
        return;
    }
    emit(p, OP_FIELD, 0, 0, f, 0, 1);
    next(p);
}

static void parse_primary(parser_t *p) {
    if (p->failed)
        return;
    if (p->kind == T_NUM) {
        emit(p, OP_NUM, 0, p->num, NULL, 0, 1);
        next(p);
        return;
    }
    if (p->kind == T_LPAREN) {
        parse_group(p);
        return;
    }
    if (p->kind == T_NAME) {
        parse_name(p);
        return;
    }
    char f[64];
    found(p, f, sizeof(f));
    fail(p, p->at, "expected a number, a field or \"(\", found %s", f);
}

static void parse_unary(parser_t *p) {
    if (is(p, "-")) {
        size_t at = p->at;
        if (++p->nest > RW_EXPR_MAX_DEPTH) {
            fail(p, at, "nested too deep (more than %d levels)", RW_EXPR_MAX_DEPTH);
            return;
        }
        next(p);
        parse_unary(p);
        p->nest--;
        if (!p->failed)
            emit(p, OP_NEG, 0, 0, NULL, 1, 1);
        return;
    }
    if (is(p, "+")) {
        fail(p, p->at, "unexpected \"+\" (a number has no sign but -)");
        return;
    }
    parse_primary(p);
}

static void parse_product(parser_t *p) {
    parse_unary(p);
    while (!p->failed && (is(p, "*") || is(p, "/"))) {
        uint8_t code = is(p, "*") ? OP_MUL : OP_DIV;
        next(p);
        parse_unary(p);
        if (!p->failed)
            emit(p, code, 0, 0, NULL, 2, 1);
    }
}

static void parse_sum(parser_t *p) {
    parse_product(p);
    while (!p->failed && (is(p, "+") || is(p, "-"))) {
        uint8_t code = is(p, "+") ? OP_ADD : OP_SUB;
        next(p);
        parse_product(p);
        if (!p->failed)
            emit(p, code, 0, 0, NULL, 2, 1);
    }
}

static void parse_compare(parser_t *p) {
    static const struct {
        const char *text;
        uint8_t code;
    } cmps[] = {{"<", OP_LT},  {"<=", OP_LE}, {"==", OP_EQ},
                {"!=", OP_NE}, {">=", OP_GE}, {">", OP_GT}};
    parse_sum(p);
    for (size_t i = 0; !p->failed && i < sizeof(cmps) / sizeof(*cmps); i++) {
        if (!is(p, cmps[i].text))
            continue;
        next(p);
        parse_sum(p);
        if (p->failed)
            return;
        emit(p, cmps[i].code, 0, 0, NULL, 2, 1);
        for (size_t k = 0; k < sizeof(cmps) / sizeof(*cmps); k++)
            if (is(p, cmps[k].text)) {
                fail(p, p->at, "comparisons do not chain: write a < b and b < c, not a < b < c");
                return;
            }
        return;
    }
}

static void parse_not(parser_t *p) {
    if (is(p, "not")) {
        size_t at = p->at;
        if (++p->nest > RW_EXPR_MAX_DEPTH) {
            fail(p, at, "nested too deep (more than %d levels)", RW_EXPR_MAX_DEPTH);
            return;
        }
        next(p);
        parse_not(p);
        p->nest--;
        if (!p->failed)
            emit(p, OP_NOT, 0, 0, NULL, 1, 1);
        return;
    }
    parse_compare(p);
}

static void parse_and(parser_t *p) {
    parse_not(p);
    while (!p->failed && is(p, "and")) {
        next(p);
        parse_not(p);
        if (!p->failed)
            emit(p, OP_AND, 0, 0, NULL, 2, 1);
    }
}

static void parse_or(parser_t *p) {
    parse_and(p);
    while (!p->failed && is(p, "or")) {
        next(p);
        parse_and(p);
        if (!p->failed)
            emit(p, OP_OR, 0, 0, NULL, 2, 1);
    }
}

rw_expr_t *rw_expr_compile(const char *text, rw_expr_field_fn field, void *ctx, rw_error_t *err) {
    rw_error_clear(err);
    size_t len = strlen(text);
    if (len > RW_EXPR_MAX_TEXT) {
        err->code = RW_ERR_INPUT;
        err->column = 1;
        snprintf(err->text, sizeof(err->text), "expression longer than %d bytes", RW_EXPR_MAX_TEXT);
        return NULL;
    }
    rw_expr_t *e = rw_calloc(1, sizeof(*e));
    parser_t p = {.s = text, .e = e, .field = field, .ctx = ctx, .err = err};
    next(&p);
    if (!p.failed && p.kind == T_END) {
        err->code = RW_ERR_INPUT;
        err->column = 1;
        snprintf(err->text, sizeof(err->text), "empty expression");
        p.failed = true;
    }
    if (!p.failed)
        parse_or(&p);
    if (!p.failed && p.kind != T_END) {
        char f[64];
        found(&p, f, sizeof(f));
        if (p.kind == T_NAME || p.kind == T_NUM || p.kind == T_LPAREN) {
            static const char *const words[] = {"and", "or", "not", NULL};
            char msg[200];
            snprintf(msg, sizeof(msg), "expected an operator, found %s", f);
            if (p.kind == T_NAME)
                rw_suggest_append(msg, sizeof(msg), p.name, words, (size_t)-1);
            fail(&p, p.at, "%s", msg);
        } else {
            fail(&p, p.at, "unexpected %s", f);
        }
    }
    if (!p.failed && p.max_depth > RW_EXPR_MAX_DEPTH)
        fail(&p, 0, "needs more than %d values at once: split it", RW_EXPR_MAX_DEPTH);
    if (p.failed) {
        rw_expr_destroy(e);
        return NULL;
    }
    e->text = rw_strdup(text);
    return e;
}

void rw_expr_destroy(rw_expr_t *e) {
    if (!e)
        return;
    free(e->ops);
    free(e->text);
    free(e);
}

const char *rw_expr_text(const rw_expr_t *e) { return e->text ? e->text : ""; }

/* ---- evaluating ------------------------------------------------------------------------ */

/* -x, !x or |x|. */
static double unary(int code, double x) {
    return code == OP_NEG ? -x : code == OP_NOT ? (double)(x == 0) : fabs(x);
}

/* min or max of the n values at v. The stack depths rw_expr_eval relies on were checked when
 * the expression was compiled (max_depth), which the static analyzer cannot see. */
static double extreme(int code, const double *v, size_t n) {
    double r = v[0];
    for (size_t k = 1; k < n; k++)
        r = code == OP_MIN ? (v[k] < r ? v[k] : r) : (v[k] > r ? v[k] : r);
    return r;
}

/* a OP b for the binary operators (a division by zero is the caller's to refuse). */
static double binary(int code, double a, double b) {
    switch ((opcode_t)code) {
    case OP_ADD:
        return a + b;
    case OP_SUB:
        return a - b;
    case OP_MUL:
        return a * b;
    case OP_DIV:
        return a / b;
    case OP_LT:
        return a < b;
    case OP_LE:
        return a <= b;
    case OP_EQ:
        return a == b;
    case OP_NE:
        return a != b;
    case OP_GE:
        return a >= b;
    case OP_GT:
        return a > b;
    case OP_AND:
        return a != 0 && b != 0;
    case OP_OR:
        return a != 0 || b != 0;
    default:
        return 0; /* not reached: every opcode is handled by the caller or above */
    }
}

int rw_expr_eval(const rw_expr_t *e, const json_t *event, double *out, const rw_field_t **field) {
    double st[RW_EXPR_MAX_DEPTH];
    size_t sp = 0;
    for (size_t i = 0; i < e->n; i++) {
        const op_t *o = &e->ops[i];
        switch ((opcode_t)o->code) {
        case OP_NUM:
            st[sp++] = o->num;
            continue;
        case OP_FIELD: {
            const json_t *v = rw_field_get(event, o->field);
            if (!v || !(json_is_number(v) || json_is_boolean(v))) {
                if (field)
                    *field = o->field;
                return v ? RW_SKIP_WRONG_TYPE : RW_SKIP_MISSING;
            }
            st[sp++] = json_is_number(v) ? json_number_value(v) : json_is_true(v) ? 1 : 0;
            continue;
        }
        case OP_NEG:
        case OP_NOT:
        case OP_ABS:
            // NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): depth checked at compile
            st[sp - 1] = unary(o->code, st[sp - 1]);
            continue;
        case OP_MIN:
        case OP_MAX: {
            size_t first = sp - o->argc;
            st[first] = extreme(o->code, st + first, sp - first);
            sp = first + 1;
            continue;
        }
        default:
            break;
        }
        // NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign): depth checked at compile
        double a = st[sp - 2], b = st[sp - 1];
        sp--;
        if (o->code == OP_DIV && b == 0)
            return RW_SKIP_DIV_ZERO;
        st[sp - 1] = binary(o->code, a, b);
    }
    // NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign): depth checked at compile
    *out = st[0];
    return RW_SKIP_NONE;
}

int rw_expr_number(const rw_expr_t *e, const json_t *event, double *out) {
    const rw_field_t *f = NULL;
    int r = rw_expr_eval(e, event, out, &f);
    if (r == RW_SKIP_NONE)
        return 0;
    rw_field_skip_note(r, f);
    return -1;
}

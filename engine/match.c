/* Match objects: {"field": value, "field": {"op": operand}, "$expr": "..."}, compiled
 * (rw_match_parse) and tested against events (rw_match_eval, and rw_match_test of the
 * module interface). */
#include "match.h"

#include "expr.h"
#include "field.h"
#include "suggest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {"eq", "ne", "in", "gt", "gte", "lt", "lte", "exists", NULL};

/* The key of a match object's expression condition. */
#define EXPR_KEY "$expr"

static bool value_equal(const json_t *a, const json_t *b) {
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal(a, b);
}

/* -2: not comparable; else <0, 0, >0. */
static int value_compare(const json_t *a, const json_t *b) {
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (json_is_string(a) && json_is_string(b)) {
        int r = strcmp(json_string_value(a), json_string_value(b));
        return r < 0 ? -1 : r > 0 ? 1 : 0;
    }
    return -2;
}

/* A JSON value's kind, for type checks: integers and reals are one kind. */
static int kind_of(const json_t *v) {
    return json_is_number(v) ? JSON_INTEGER : json_is_boolean(v) ? JSON_TRUE : (int)json_typeof(v);
}

/* Whether v is of no kind the operand of c has: the condition failed for v's type. */
static bool wrong_kind(const rw_cond_t *c, const json_t *v) {
    if (c->op != RW_OP_IN)
        return !json_is_null(c->value) && kind_of(v) != kind_of(c->value);
    size_t i;
    json_t *item;
    json_array_foreach(c->value, i,
                       item) if (json_is_null(item) || kind_of(item) == kind_of(v)) return false;
    return true;
}

/* Evaluates one condition. When it fails because of the event's types (a string where the
 * operand is a number) or an expression without a value, *why is that RW_SKIP_* reason. */
static bool cond_eval(const rw_cond_t *c, const json_t *event, int *why) {
    if (c->op == RW_OP_EXPR) {
        double x;
        int r = rw_expr_eval(c->expr, event, &x, NULL);
        *why = r;
        return r == RW_SKIP_NONE && x != 0;
    }
    const json_t *v = rw_field_get(event, c->field);
    if (c->op == RW_OP_EXISTS)
        return (v != NULL) == c->exists;
    if (!v)
        return false;
    bool ok;
    int cmp;
    switch (c->op) {
    case RW_OP_EQ:
        ok = value_equal(v, c->value);
        break;
    case RW_OP_NE:
        return !value_equal(v, c->value);
    case RW_OP_IN: {
        size_t i;
        json_t *item;
        ok = false;
        json_array_foreach(c->value, i, item) if (value_equal(v, item)) ok = true;
        break;
    }
    case RW_OP_GT:
    case RW_OP_GTE:
    case RW_OP_LT:
    case RW_OP_LTE:
        cmp = value_compare(v, c->value);
        ok = cmp != -2 && (c->op == RW_OP_GT    ? cmp > 0
                           : c->op == RW_OP_GTE ? cmp >= 0
                           : c->op == RW_OP_LT  ? cmp < 0
                                                : cmp <= 0);
        break;
    default:
        return false;
    }
    if (!ok && wrong_kind(c, v))
        *why = RW_SKIP_WRONG_TYPE;
    return ok;
}

/* cond_eval, through the event's kept results when c is one of the ruleset's distinct
 * conditions: the result and the reason of a skip, both kept. */
static bool cond_eval_memo(const rw_cond_t *c, const json_t *event, int *why) {
    if (!c->memo)
        return cond_eval(c, event, why);
    int kept;
    if (rw_field_memo_get(event, c->field->owner, c->memo - 1, &kept)) {
        *why = kept >> 1;
        return kept & 1;
    }
    bool ok = cond_eval(c, event, why);
    rw_field_memo_put(event, c->field->owner, c->memo - 1, (*why << 1) | ok);
    return ok;
}

bool rw_match_eval(const rw_match_t *m, const json_t *event) {
    int soft = RW_SKIP_NONE;
    const rw_field_t *soft_field = NULL;
    for (size_t i = 0; i < m->n; i++) {
        int why = RW_SKIP_NONE;
        if (cond_eval_memo(&m->conds[i], event, &why))
            continue;
        if (why == RW_SKIP_NONE)
            return false; /* a plain mismatch: not a skip */
        if (soft == RW_SKIP_NONE) {
            soft = why;
            soft_field = m->conds[i].field;
        }
    }
    if (soft != RW_SKIP_NONE) {
        /* Every other condition held: the event failed for its types alone. */
        rw_field_skip_note(soft, soft_field);
        return false;
    }
    return true;
}

static void match_add(rw_match_t *m, const rw_field_t *f, rw_op_t op, const json_t *value) {
    m->conds = rw_realloc(m->conds, (m->n + 1) * sizeof(*m->conds));
    rw_cond_t *c = &m->conds[m->n++];
    memset(c, 0, sizeof(*c));
    c->field = f;
    c->op = op;
    if (op == RW_OP_EXISTS)
        c->exists = json_is_true(value);
    else if (op != RW_OP_EXPR)
        c->value = json_deep_copy(value);
}

void rw_match_fini(rw_match_t *m) {
    for (size_t i = 0; i < m->n; i++) {
        json_decref(m->conds[i].value);
        rw_expr_destroy(m->conds[i].expr);
    }
    free(m->conds);
    m->conds = NULL;
    m->n = 0;
}

static bool is_scalar(const json_t *v) {
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v) || json_is_null(v);
}

static const rw_field_t *expr_field(void *ctx, const char *path, rw_error_t *err) {
    return rw_field_compile(ctx, path, err);
}

/* Compiles the "$expr" condition at pointer into m. */
static void match_expr(const rw_errors_at_t *at, rw_ruleset_t *rs, const json_t *v, const char *p,
                       const char *what, rw_match_t *m) {
    if (!json_is_string(v)) {
        rw_errors_add_at(at, p, false,
                         "%s.%s: must be an expression in a string, such as \"amount == balance\"",
                         what, EXPR_KEY);
        return;
    }
    rw_error_t ee;
    rw_expr_t *e = rw_expr_compile(json_string_value(v), expr_field, rs, &ee);
    if (!e) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s.%s: column %d of the expression: %.255s", what, EXPR_KEY,
                 ee.column, ee.text);
        rw_errors_add_in_string(at, p, ee.column, msg);
        return;
    }
    match_add(m, NULL, RW_OP_EXPR, NULL);
    m->conds[m->n - 1].expr = e;
}

/* Adds to m the conditions on field f (named k, at pointer p) of the operator
 * object v, such as {"gte": 100, "lt": 500}. */
static void match_ops(const rw_errors_at_t *at, rw_match_t *m, const rw_field_t *f, const json_t *v,
                      const char *p, const char *what, const char *k) {
    if (json_object_size(v) == 0)
        rw_errors_add_at(at, p, false, "%s.%s: empty operator object", what, k);
    const char *op;
    json_t *arg;
    json_object_foreach(RW_UNCONST(json_t *, v), op, arg) {
        char po[600];
        snprintf(po, sizeof(po), "%s/%s", p, op);
        int opi = -1;
        for (int i = 0; op_names[i]; i++)
            if (strcmp(op, op_names[i]) == 0)
                opi = i;
        if (opi < 0) {
            char msg[300];
            snprintf(msg, sizeof(msg), "%s.%s: unknown operator \"%s\"", what, k, op);
            rw_suggest_append(msg, sizeof(msg), op, op_names, (size_t)-1);
            rw_errors_add_at(at, po, true, "%s (use eq, ne, in, gt, gte, lt, lte, exists)", msg);
            continue;
        }
        rw_op_t o = (rw_op_t)opi;
        if (o == RW_OP_IN && !json_is_array(arg)) {
            rw_errors_add_at(at, po, false, "%s.%s.in: must be a list", what, k);
            continue;
        }
        if (o == RW_OP_EXISTS && !json_is_boolean(arg)) {
            rw_errors_add_at(at, po, false, "%s.%s.exists: must be true or false", what, k);
            continue;
        }
        if ((o == RW_OP_GT || o == RW_OP_GTE || o == RW_OP_LT || o == RW_OP_LTE) &&
            !json_is_number(arg) && !json_is_string(arg)) {
            rw_errors_add_at(at, po, false, "%s.%s.%s: must be a number or a string", what, k, op);
            continue;
        }
        if ((o == RW_OP_EQ || o == RW_OP_NE) && !is_scalar(arg)) {
            rw_errors_add_at(at, po, false, "%s.%s.%s: must be a scalar", what, k, op);
            continue;
        }
        match_add(m, f, o, arg);
    }
}

/* Gives c its place among rs's distinct conditions (a new one when none is the same
 * field, operator and operand of the same JSON type), while there is room. */
static void memo_assign(rw_ruleset_t *rs, rw_cond_t *c) {
    if (c->op == RW_OP_EXPR || !c->field || c->field->n_subs)
        return;
    for (size_t i = 0; i < rs->n_memo; i++) {
        const rw_cond_t *o = &rs->memo_conds[i];
        if (o->op == c->op && o->exists == c->exists &&
            strcmp(o->field->path, c->field->path) == 0 &&
            (o->value == c->value || (o->value && c->value && json_equal(o->value, c->value)))) {
            c->memo = (int)i + 1;
            return;
        }
    }
    if (rs->n_memo == RW_MATCH_MEMO)
        return;
    rs->memo_conds = rw_realloc(rs->memo_conds, (rs->n_memo + 1) * sizeof(*rs->memo_conds));
    rw_cond_t *o = &rs->memo_conds[rs->n_memo++];
    *o = *c;
    o->value = json_incref(c->value);
    c->memo = (int)rs->n_memo;
}

static void match_parse(rw_match_t *m, rw_ruleset_t *rs, const json_t *obj,
                        const rw_errors_at_t *at, const char *pointer, const char *what);

void rw_match_parse(rw_match_t *m, rw_ruleset_t *rs, const json_t *obj, const rw_errors_at_t *at,
                    const char *pointer, const char *what) {
    size_t first = m->n;
    match_parse(m, rs, obj, at, pointer, what);
    for (size_t i = first; i < m->n; i++)
        memo_assign(rs, &m->conds[i]);
}

static void match_parse(rw_match_t *m, rw_ruleset_t *rs, const json_t *obj,
                        const rw_errors_at_t *at, const char *pointer, const char *what) {
    if (!json_is_object(obj)) {
        rw_errors_add_at(at, pointer, false, "%s: must be an object", what);
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(RW_UNCONST(json_t *, obj), k, v) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", pointer ? pointer : "", k);
        if (strcmp(k, EXPR_KEY) == 0) {
            match_expr(at, rs, v, p, what, m);
            continue;
        }
        rw_error_t e;
        rw_error_clear(&e);
        const rw_field_t *f = rw_field_compile(rs, k, &e);
        if (!f) {
            rw_errors_add_at(at, p, true, "%s: %s", what, e.text);
            continue;
        }
        if (!json_is_object(v)) {
            if (!is_scalar(v))
                rw_errors_add_at(at, p, false,
                                 "%s.%s: value must be a string, number, boolean or null", what, k);
            else
                match_add(m, f, RW_OP_EQ, v);
            continue;
        }
        match_ops(at, m, f, v, p, what, k);
    }
}

int rw_match_test(const rw_match_t *m, const json_t *event) {
    return rw_match_eval(m, event) ? 1 : 0;
}

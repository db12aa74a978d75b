/* The module interface's setup functions (rw_setup_* of riskwarn/module.h, and the
 * loader's own rw_setup_*_at): what a module's init() compiles and asks for, kept in the
 * rule being set up. */
#include "setup.h"

#include "expr.h"
#include "field.h"
#include "match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fields and the rule's shape ---------------------------------------------- */

rw_field_t *rw_setup_field(rw_setup_t *s, const char *path, char *err, size_t errlen) {
    rw_error_t e;
    rw_error_clear(&e);
    rw_field_t *f = rw_field_compile(s->rs, path, &e);
    if (!f)
        snprintf(err, errlen, "%s", e.text);
    return f;
}

const rw_field_t *rw_setup_key(rw_setup_t *s, const json_t *spec, char *err, size_t errlen) {
    rw_error_t e;
    rw_error_clear(&e);
    const rw_field_t *f = rw_field_compile_key(s->rs, spec, &e);
    if (!f)
        snprintf(err, errlen, "%s", e.text);
    return f;
}

void rw_setup_window(rw_setup_t *s, int64_t window_ms) {
    s->window_calls++;
    s->rule->window_ms = window_ms;
}

void rw_setup_window_feed(rw_setup_t *s, const rw_match_t *feed, const rw_field_t *feed_key,
                          const rw_field_t *read_key) {
    s->rule->feed = feed;
    s->rule->feed_key = feed_key;
    s->rule->read_key = read_key;
}

void rw_setup_window_relay(rw_setup_t *s, const rw_field_t *read_key, const rw_field_t *write_key,
                           rw_relay_fn relay) {
    s->rule->read_key = read_key;
    s->rule->relay_key = write_key;
    s->rule->relay = relay;
}

void rw_setup_cases(rw_setup_t *s, const rw_match_t *open, const rw_match_t *close,
                    const rw_field_t *correlate) {
    s->rule->case_open = open;
    s->rule->case_close = close;
    s->rule->case_key = correlate;
}

const rw_calendar_t *rw_setup_calendar(rw_setup_t *s) { return &s->rs->calendar; }

void rw_setup_lookup(rw_setup_t *s, const char *set, const rw_field_t *field) {
    free(s->rule->lookup_set);
    s->rule->lookup_set = rw_strdup(set);
    s->rule->lookup_field = field;
}

/* ---- matches ------------------------------------------------------------------ */

rw_match_t *rw_setup_match(rw_setup_t *s, const json_t *match, char *err, size_t errlen) {
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_errors_at_t at = {&errs, "", NULL, 0};
    rw_match_t *m = rw_calloc(1, sizeof(*m));
    rw_match_parse(m, s->rs, match, &at, NULL, "match");
    if (errs.n) {
        snprintf(err, errlen, "%s", errs.items[0].text);
        rw_match_fini(m);
        free(m);
        rw_errors_fini(&errs);
        return NULL;
    }
    rw_errors_fini(&errs);
    m->next = s->rule->matches;
    s->rule->matches = m;
    return m;
}

const rw_match_t *rw_setup_match_at(rw_setup_t *s, const json_t *match, const char *pointer,
                                    const char *what) {
    size_t before = s->in.errs->n;
    rw_match_t *m = rw_calloc(1, sizeof(*m));
    rw_match_parse(m, s->rs, match, &s->in, pointer, what);
    if (s->in.errs->n != before) {
        rw_match_fini(m);
        free(m);
        return NULL;
    }
    m->next = s->rule->matches;
    s->rule->matches = m;
    return m;
}

/* ---- expressions -------------------------------------------------------------- */

static const rw_field_t *expr_field(void *ctx, const char *path, rw_error_t *err) {
    return rw_field_compile(ctx, path, err);
}

const rw_expr_t *rw_setup_expr(rw_setup_t *s, const char *text, char *err, size_t errlen) {
    rw_error_t ee;
    rw_expr_t *e = rw_expr_compile(text, expr_field, s->rs, &ee);
    if (!e) {
        s->expr_column = ee.column;
        snprintf(err, errlen, "column %d of the expression: %.255s", ee.column, ee.text);
        return NULL;
    }
    rw_rule_t *r = s->rule;
    r->exprs = rw_realloc(r->exprs, (r->n_exprs + 1) * sizeof(rw_expr_t *));
    r->exprs[r->n_exprs++] = e;
    return e;
}

const rw_expr_t *rw_setup_expr_at(rw_setup_t *s, const char *text, const char *pointer,
                                  const char *what) {
    char e[400], msg[600];
    const rw_expr_t *x = rw_setup_expr(s, text, e, sizeof(e));
    if (!x) {
        snprintf(msg, sizeof(msg), "%s: %s", what, e);
        rw_errors_add_in_string(&s->in, pointer, s->expr_column, msg);
    }
    return x;
}

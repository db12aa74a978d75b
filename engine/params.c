/* Param tables: checking a table, applying a JSON object to a struct, printing a table. */
#include "params.h"
#include "setup.h"

#include "suggest.h"

#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* ---- types ------------------------------------------------------------------------------- */

typedef struct type_info {
    const char *name; /* for help */
    const char *want; /* for "must be ..." */
    size_t size, align;
} type_info_t;

static const type_info_t types[] = {
    [RW_PARAM_NUMBER] = {"number", "a number", sizeof(double), alignof(double)},
    [RW_PARAM_INTEGER] = {"integer", "an integer", sizeof(int64_t), alignof(int64_t)},
    [RW_PARAM_BOOL] = {"bool", "true or false", sizeof(bool), alignof(bool)},
    [RW_PARAM_STRING] = {"string", "a string", sizeof(char *), alignof(char *)},
    [RW_PARAM_DURATION] = {"duration", "a duration such as \"1h\" (ms, s, m, h or d)",
                           sizeof(int64_t), alignof(int64_t)},
    [RW_PARAM_ENUM] = {"enum", "one of the choices", sizeof(int), alignof(int)},
    [RW_PARAM_LEVEL] = {"level", "low, medium or high", sizeof(int), alignof(int)},
    [RW_PARAM_STRING_LIST] = {"string list", "a list of strings", sizeof(rw_strlist_t),
                              alignof(rw_strlist_t)},
    [RW_PARAM_FIELD] = {"field", "a field path such as \"geo.country\"", sizeof(void *),
                        alignof(void *)},
    [RW_PARAM_MATCH] = {"match", "a match object such as {\"status\": \"error\"}", sizeof(void *),
                        alignof(void *)},
    [RW_PARAM_EXPR] = {"expression", "an expression such as \"amount / balance\"", sizeof(void *),
                       alignof(void *)},
    [RW_PARAM_KEY] = {"key",
                      "a field path, or a list of them such as [\"account\", \"counterparty\"]",
                      sizeof(void *), alignof(void *)},
};
#define N_TYPES (sizeof(types) / sizeof(*types))

static const char *const level_choices[] = {"low", "medium", "high", NULL};

static bool type_known(rw_param_type_t t) {
    return t > RW_PARAM_END && (size_t)t < N_TYPES && types[t].name;
}

static bool has_bounds(const rw_param_t *p) { return p->min != 0 || p->max != 0; }

static const char *const *choices_of(const rw_param_t *p) {
    return p->type == RW_PARAM_LEVEL ? level_choices : p->choices;
}

static int choice_index(const rw_param_t *p, const char *s) {
    const char *const *ch = choices_of(p);
    for (int i = 0; ch && ch[i]; i++)
        if (strcmp(ch[i], s) == 0)
            return i;
    return -1;
}

/* ---- text helpers ------------------------------------------------------------------------ */

/* Writes ms as the largest whole unit: "1h", "90s", "250ms". */
static void duration_text(double ms, char *buf, size_t len) {
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++)
        if (ms != 0 && fmod(ms, units[i].ms) == 0) {
            snprintf(buf, len, "%.0f%s", ms / units[i].ms, units[i].unit);
            return;
        }
    snprintf(buf, len, "%.0fms", ms);
}

static void bound_text(const rw_param_t *p, double x, char *buf, size_t len) {
    if (p->type == RW_PARAM_DURATION)
        duration_text(x, buf, len);
    else
        snprintf(buf, len, "%.15g", x);
}

/* "from 1 to 1000000", "at least 1", "greater than 0", "at most 9". */
static void bounds_text(const rw_param_t *p, char *buf, size_t len) {
    char lo[48], hi[48];
    bound_text(p, p->min, lo, sizeof(lo));
    bound_text(p, p->max, hi, sizeof(hi));
    bool excl = p->flags & RW_PARAM_MIN_EXCLUSIVE;
    if (isinf(p->max) && excl)
        snprintf(buf, len, "greater than %s", lo);
    else if (isinf(p->max))
        snprintf(buf, len, "at least %s", lo);
    else if (isinf(p->min))
        snprintf(buf, len, "at most %s", hi);
    else
        snprintf(buf, len, "%s %s to %s", excl ? "above" : "from", lo, hi);
}

/* What a bound counts: the value, a string's length, a list's items. */
static const char *bound_subject(const rw_param_t *p) {
    return p->type == RW_PARAM_STRING ? "length " : p->type == RW_PARAM_STRING_LIST ? "items " : "";
}

/* The value as compact JSON, cut to fit (the echo of a bad value in an error). */
static void echo(const json_t *v, char *buf, size_t len) {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        snprintf(buf, len, "?");
        return;
    }
    if (strlen(s) > 60)
        snprintf(buf, len, "%.57s...", s);
    else
        snprintf(buf, len, "%s", s);
    free(s);
}

/* "choice1, choice2, ..." */
static void choices_text(const rw_param_t *p, const char *sep, char *buf, size_t len) {
    const char *const *ch = choices_of(p);
    size_t off = 0;
    buf[0] = 0;
    for (size_t i = 0; ch && ch[i] && off < len; i++) {
        int n = snprintf(buf + off, len - off, "%s%s", i ? sep : "", ch[i]);
        if (n < 0)
            break;
        off += (size_t)n;
    }
}

/* Appends "/" and key, escaped as a JSON pointer token, to a pointer. */
static void pointer_join(char *out, size_t len, const char *pointer, const char *key) {
    size_t off = (size_t)snprintf(out, len, "%s/", pointer);
    for (const char *k = key; *k && off + 3 < len; k++) {
        if (*k == '~' || *k == '/') {
            out[off++] = '~';
            out[off++] = *k == '~' ? '0' : '1';
        } else {
            out[off++] = *k;
        }
    }
    if (off < len)
        out[off] = 0;
}

/* ---- errors ------------------------------------------------------------------------------ */

static void __attribute__((format(printf, 4, 5)))
perr(const rw_params_ctx_t *c, const char *pointer, bool key, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    rw_errors_vadd_at(c->errs, c->source, c->text, c->len, pointer, key, fmt, ap);
    va_end(ap);
}

/* "rule \"r1\": params.window" or "window" */
static void param_what(const rw_params_ctx_t *c, const rw_param_t *p, char *buf, size_t len) {
    if (c->what && c->what[0])
        snprintf(buf, len, "%s.%s", c->what, p->name);
    else
        snprintf(buf, len, "%s", p->name);
}

/* ---- converting one value ---------------------------------------------------------------- */

/* A converted value, before it is stored. */
typedef union value {
    double num;
    int64_t i64;
    bool b;
    int idx;
    const char *str; /* borrowed from the JSON value or the default */
    const void *ptr;
    struct {
        const char **items; /* a new block (free with free()); the text is borrowed */
        size_t n;
    } list;
} value_t;

/* A new block holding the list's pointers and the text of its integer items. Returns NULL
 * with why filled when an item is neither a string nor an integer. */
static const char **list_build(const json_t *arr, char *why, size_t len) {
    size_t n = json_array_size(arr), text = 0, i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_integer(v))
            text += 24;
        else if (!json_is_string(v) || memchr(json_string_value(v), 0, json_string_length(v))) {
            char e[80];
            echo(v, e, sizeof(e));
            snprintf(why, len, "item %zu must be a string or an integer, not %s", i, e);
            return NULL;
        }
    }
    const char **items = rw_calloc(1, (n + 1) * sizeof(char *) + text);
    char *t = (char *)(items + n + 1);
    json_array_foreach(arr, i, v) {
        if (json_is_string(v)) {
            items[i] = json_string_value(v);
            continue;
        }
        int w = snprintf(t, 24, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        items[i] = t;
        t += w + 1;
    }
    return items;
}

/* Frees a list's block. module.h shows it to modules as read-only; the engine made it and is
 * the one to free it. */
static void strlist_free(rw_strlist_t l) { free(RW_UNCONST(void *, l.items)); }

/* An enum or a level: the index of v among the choices (levels count from 1). */
static int convert_choice(const rw_param_t *p, const json_t *v, const char *e, value_t *out,
                          char *why, size_t len) {
    char b[128];
    choices_text(p, ", ", b, sizeof(b));
    if (!json_is_string(v)) {
        snprintf(why, len, "must be one of %s, not %s", b, e);
        return -1;
    }
    out->idx = choice_index(p, json_string_value(v));
    if (out->idx < 0) {
        const char *close = rw_suggest(json_string_value(v), choices_of(p), (size_t)-1);
        snprintf(why, len, "%s is not one of %s%s%s%s", e, b, close ? " (did you mean \"" : "",
                 close ? close : "", close ? "\"?)" : "");
        return -1;
    }
    if (p->type == RW_PARAM_LEVEL)
        out->idx++;
    return 0;
}

/* Checks x (a value, a length, a number of items) against p's bounds. */
static int check_bounds(const rw_param_t *p, double x, const char *e, value_t *out, char *why,
                        size_t len) {
    bool low = (p->flags & RW_PARAM_MIN_EXCLUSIVE) ? !(x > p->min) : !(x >= p->min);
    if (!has_bounds(p) || (!low && x <= p->max))
        return 0;
    if (low && x == 0 && (p->type == RW_PARAM_STRING || p->type == RW_PARAM_STRING_LIST)) {
        snprintf(why, len, "must not be empty, not %s", e);
    } else {
        char b[128];
        bounds_text(p, b, sizeof(b));
        snprintf(why, len, "%s is out of bounds: %s%s", e, bound_subject(p), b);
    }
    if (p->type == RW_PARAM_STRING_LIST)
        free(out->list.items);
    return -1;
}

/* Whether v has the JSON type p's type reads. */
static bool json_type_ok(const rw_param_t *p, const json_t *v) {
    switch (p->type) {
    case RW_PARAM_NUMBER:
        return json_is_number(v) && isfinite(json_number_value(v));
    case RW_PARAM_INTEGER:
        return json_is_integer(v);
    case RW_PARAM_BOOL:
        return json_is_boolean(v);
    case RW_PARAM_STRING:
        return json_is_string(v) && !memchr(json_string_value(v), 0, json_string_length(v));
    case RW_PARAM_STRING_LIST:
        return json_is_array(v);
    case RW_PARAM_MATCH:
        return json_is_object(v);
    case RW_PARAM_KEY:
        return json_is_string(v) || json_is_array(v);
    default: /* fields and expressions: strings; durations and choices say more themselves */
        return json_is_string(v);
    }
}

/* Checks v against p's type and bounds (no side effects but a list's block). Returns 0 with
 * *out set, or -1 with why filled ("must be ...", "... is out of bounds"). */
static int convert(const rw_param_t *p, const json_t *v, value_t *out, char *why, size_t len) {
    char e[80];
    echo(v, e, sizeof(e));
    if (!type_known(p->type)) {
        snprintf(why, len, "the module's table has a param of unknown type %d", (int)p->type);
        return -1;
    }
    if (p->type == RW_PARAM_ENUM || p->type == RW_PARAM_LEVEL)
        return convert_choice(p, v, e, out, why, len);
    if (p->type == RW_PARAM_DURATION &&
        (!json_is_string(v) || rw_duration_parse(json_string_value(v), &out->i64))) {
        snprintf(why, len, "bad duration %s (use 30s, 15m, 1h, 7d)", e);
        return -1;
    }
    if (!json_type_ok(p, v)) {
        snprintf(why, len, "must be %s, not %s", types[p->type].want, e);
        return -1;
    }
    double x = 0; /* what the bounds apply to */
    switch (p->type) {
    case RW_PARAM_NUMBER:
        x = out->num = json_number_value(v);
        break;
    case RW_PARAM_INTEGER:
        out->i64 = json_integer_value(v);
        x = (double)out->i64;
        break;
    case RW_PARAM_BOOL:
        out->b = json_is_true(v);
        break;
    case RW_PARAM_STRING:
    case RW_PARAM_FIELD:
        out->str = json_string_value(v);
        x = (double)json_string_length(v);
        break;
    case RW_PARAM_DURATION:
        x = (double)out->i64;
        break;
    case RW_PARAM_STRING_LIST:
        if (!(out->list.items = list_build(v, why, len)))
            return -1;
        out->list.n = json_array_size(v);
        x = (double)out->list.n;
        break;
    default: /* matches, expressions and keys are compiled by the caller */
        return 0;
    }
    return check_bounds(p, x, e, out, why, len);
}

/* The default as the JSON value a rule would write. Returns a new value, or NULL. */
static json_t *default_value(const rw_param_t *p) {
    if (!p->def)
        return NULL;
    char *end;
    switch (p->type) {
    case RW_PARAM_NUMBER: {
        errno = 0;
        double x = strtod(p->def, &end);
        return *end || end == p->def || errno ? NULL : json_real(x);
    }
    case RW_PARAM_INTEGER: {
        errno = 0;
        long long x = strtoll(p->def, &end, 10);
        return *end || end == p->def || errno ? NULL : json_integer(x);
    }
    case RW_PARAM_BOOL:
        return strcmp(p->def, "true") == 0    ? json_true()
               : strcmp(p->def, "false") == 0 ? json_false()
                                              : NULL;
    case RW_PARAM_STRING:
    case RW_PARAM_DURATION:
    case RW_PARAM_ENUM:
    case RW_PARAM_LEVEL:
    case RW_PARAM_FIELD:
    case RW_PARAM_KEY:
        return json_string(p->def);
    default:
        return NULL;
    }
}

/* ---- checking a table -------------------------------------------------------------------- */

static int check_one(const rw_param_t *t, size_t i, size_t size, rw_error_t *err) {
    const rw_param_t *p = &t[i];
    if (!type_known(p->type))
        return rw_error_fail(err, RW_ERR_INPUT, "param %zu has an unknown type %d", i,
                             (int)p->type);
    if (!p->name || !p->name[0])
        return rw_error_fail(err, RW_ERR_INPUT, "param %zu has no name", i);
    for (size_t k = 0; k < i; k++)
        if (strcmp(t[k].name, p->name) == 0)
            return rw_error_fail(err, RW_ERR_INPUT, "param \"%s\" is declared twice", p->name);
    const type_info_t *ti = &types[p->type];
    if (p->offset > size || size - p->offset < ti->size || p->offset % ti->align)
        return rw_error_fail(err, RW_ERR_INPUT,
                             "param \"%s\": offset %zu does not hold a %s in a state of %zu bytes",
                             p->name, p->offset, ti->name, size);
    if (p->type == RW_PARAM_ENUM && (!p->choices || !p->choices[0]))
        return rw_error_fail(err, RW_ERR_INPUT, "param \"%s\": an enum needs choices", p->name);
    if ((p->flags & RW_PARAM_WINDOW) && p->type != RW_PARAM_DURATION)
        return rw_error_fail(err, RW_ERR_INPUT, "param \"%s\": a window must be a duration",
                             p->name);
    if (p->def && (p->flags & RW_PARAM_REQUIRED))
        return rw_error_fail(err, RW_ERR_INPUT, "param \"%s\" is required and has a default",
                             p->name);
    unsigned rec = p->flags & (RW_PARAM_RECORDED | RW_PARAM_RECORDED_NUMBER);
    if (rec && (p->type != RW_PARAM_FIELD || !(p->flags & RW_PARAM_REQUIRED) ||
                rec == (RW_PARAM_RECORDED | RW_PARAM_RECORDED_NUMBER)))
        return rw_error_fail(err, RW_ERR_INPUT,
                             "param \"%s\": what record() keeps must be a required field, "
                             "as its text or its number",
                             p->name);
    for (size_t k = 0; rec && k < i; k++)
        if (t[k].flags & (RW_PARAM_RECORDED | RW_PARAM_RECORDED_NUMBER))
            return rw_error_fail(err, RW_ERR_INPUT,
                                 "params \"%s\" and \"%s\": record() keeps one field", t[k].name,
                                 p->name);
    if (has_bounds(p) && !(p->min <= p->max))
        return rw_error_fail(err, RW_ERR_INPUT, "param \"%s\": bounds min > max", p->name);
    if (!p->def)
        return 0;
    json_t *d = default_value(p);
    value_t v;
    char why[300];
    bool path = p->type == RW_PARAM_FIELD || p->type == RW_PARAM_KEY;
    int rc = d && !path ? convert(p, d, &v, why, sizeof(why)) : d ? 0 : -1;
    if (!d)
        snprintf(why, sizeof(why), "does not read as a %s", ti->name);
    json_decref(d);
    if (rc)
        return rw_error_fail(err, RW_ERR_INPUT, "param \"%s\": default \"%s\": %s", p->name, p->def,
                             why);
    return 0;
}

int rw_params_check_table(const rw_param_t *table, size_t size, rw_error_t *err) {
    for (size_t i = 0; table && table[i].type != RW_PARAM_END; i++) {
        int rc = check_one(table, i, size, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- applying an object ------------------------------------------------------------------ */

static bool known(const rw_param_t *t, const char *k) {
    for (size_t i = 0; t && t[i].type != RW_PARAM_END; i++)
        if (strcmp(t[i].name, k) == 0)
            return true;
    return false;
}

/* Reports obj's keys that the table does not declare. Returns how many. */
static bool listed(const char *const *names, const char *k) {
    for (size_t i = 0; names && names[i]; i++)
        if (strcmp(names[i], k) == 0)
            return true;
    return false;
}

/* Reports obj's keys that neither the table nor c->extra declares. Returns how many. */
static size_t unknown_keys(const rw_params_ctx_t *c, const rw_param_t *t, const json_t *obj,
                           const char *pointer) {
    const char *names[96];
    size_t n = 0, bad = 0;
    for (size_t i = 0; t && t[i].type != RW_PARAM_END && n < 64; i++)
        names[n++] = t[i].name;
    for (size_t i = 0; c->extra && c->extra[i] && n < 95; i++)
        names[n++] = c->extra[i];
    names[n] = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(RW_UNCONST(json_t *, obj), k, v) {
        if (known(t, k) || listed(c->extra, k))
            continue;
        char p[512], hint[400];
        pointer_join(p, sizeof(p), pointer, k);
        const char *close = rw_suggest(k, names, n);
        if (close) {
            snprintf(hint, sizeof(hint), "did you mean \"%s\"?", close);
        } else if (n) {
            size_t off = (size_t)snprintf(hint, sizeof(hint), "%s takes ", c->owner);
            for (size_t i = 0; i < n && off < sizeof(hint); i++)
                off += (size_t)snprintf(hint + off, sizeof(hint) - off, "%s%s", i ? ", " : "",
                                        names[i]);
        } else {
            snprintf(hint, sizeof(hint), "%s takes none", c->owner);
        }
        if (c->setup)
            perr(c, p, true, "%s: unknown param \"%s\" for %s (%s)", c->what, k, c->owner, hint);
        else
            perr(c, p, true, "unknown key \"%s%s%s\" (%s)", c->what ? c->what : "",
                 c->what && c->what[0] ? "." : "", k, hint);
        bad++;
    }
    return bad;
}

static void store(const rw_param_t *p, const value_t *v, void *base) {
    char *at = (char *)base + p->offset;
    switch (p->type) {
    case RW_PARAM_NUMBER:
        memcpy(at, &v->num, sizeof(double));
        break;
    case RW_PARAM_INTEGER:
    case RW_PARAM_DURATION:
        memcpy(at, &v->i64, sizeof(int64_t));
        break;
    case RW_PARAM_BOOL:
        memcpy(at, &v->b, sizeof(bool));
        break;
    case RW_PARAM_ENUM:
    case RW_PARAM_LEVEL:
        memcpy(at, &v->idx, sizeof(int));
        break;
    case RW_PARAM_STRING: {
        char *old, *s = v->str ? rw_strdup(v->str) : NULL;
        memcpy(&old, at, sizeof(char *));
        free(old);
        memcpy(at, &s, sizeof(char *));
        break;
    }
    case RW_PARAM_STRING_LIST: {
        rw_strlist_t old;
        memcpy(&old, at, sizeof(old));
        strlist_free(old);
        /* Items borrowed from JSON become copies inside one new block. */
        size_t text = 0;
        for (size_t i = 0; i < v->list.n; i++)
            text += strlen(v->list.items[i]) + 1;
        const char **items = rw_calloc(1, (v->list.n + 1) * sizeof(char *) + text);
        char *t = (char *)(items + v->list.n + 1);
        for (size_t i = 0; i < v->list.n; i++) {
            size_t l = strlen(v->list.items[i]) + 1;
            memcpy(t, v->list.items[i], l);
            items[i] = t;
            t += l;
        }
        free(v->list.items);
        rw_strlist_t l = {items, v->list.n};
        memcpy(at, &l, sizeof(l));
        break;
    }
    case RW_PARAM_FIELD:
    case RW_PARAM_MATCH:
    case RW_PARAM_EXPR:
    case RW_PARAM_KEY:
        memcpy(at, &v->ptr, sizeof(void *));
        break;
    default:
        break;
    }
}

/* Compiles a field, match or expression param through the rule's set-up. Returns 0, or RW_ERR_INPUT
 * after adding the error. */
static int compile(const rw_params_ctx_t *c, const rw_param_t *p, const json_t *v,
                   const char *pointer, const char *what, value_t *out) {
    if (!c->setup) {
        perr(c, pointer, false, "%s: fields, matches and expressions are rule params only", what);
        return RW_ERR_INPUT;
    }
    if (p->type == RW_PARAM_MATCH) {
        out->ptr = rw_setup_match_at(c->setup, v, pointer, what);
        return out->ptr ? 0 : RW_ERR_INPUT;
    }
    if (p->type == RW_PARAM_EXPR) {
        out->ptr = rw_setup_expr_at(c->setup, json_string_value(v), pointer, what);
        return out->ptr ? 0 : RW_ERR_INPUT;
    }
    char e[256];
    if (p->type == RW_PARAM_KEY
            ? !(out->ptr = rw_setup_key(c->setup, v, e, sizeof(e)))
            : !(out->ptr = rw_setup_field(c->setup, json_string_value(v), e, sizeof(e)))) {
        perr(c, pointer, false, "%s: %s", what, e);
        return RW_ERR_INPUT;
    }
    return 0;
}

static void clear(const rw_param_t *p, void *base);

/* Checks and stores one param. Returns 0, or RW_ERR_INPUT after adding the error. */
static int apply_one(const rw_params_ctx_t *c, const rw_param_t *p, const json_t *obj,
                     const char *pointer, void *base) {
    char what[400], ptr[512], why[400];
    param_what(c, p, what, sizeof(what));
    const json_t *v = obj ? json_object_get(obj, p->name) : NULL;
    json_t *def = NULL;
    if (!v && (p->flags & RW_PARAM_REQUIRED)) {
        perr(c, pointer, false, "%s: required, %s (%s)", what, types[p->type].want,
             p->desc ? p->desc : p->name);
        return RW_ERR_INPUT;
    }
    if (!v && !(v = def = default_value(p)))
        return 0;
    if (json_is_null(v) && (p->flags & RW_PARAM_NULLABLE)) {
        clear(p, base);
        json_decref(def);
        return 0;
    }
    pointer_join(ptr, sizeof(ptr), pointer, p->name);
    const char *at = def ? pointer : ptr;
    value_t val;
    memset(&val, 0, sizeof(val));
    int rc = convert(p, v, &val, why, sizeof(why)) ? RW_ERR_INPUT : 0;
    if (rc)
        perr(c, at, false, "%s: %s%s", what, def ? "default: " : "", why);
    else if (p->type == RW_PARAM_FIELD || p->type == RW_PARAM_MATCH || p->type == RW_PARAM_EXPR ||
             p->type == RW_PARAM_KEY)
        rc = compile(c, p, v, at, what, &val);
    if (rc == 0) {
        store(p, &val, base);
        if ((p->flags & RW_PARAM_WINDOW) && c->setup)
            rw_setup_window(c->setup, val.i64);
    }
    json_decref(def);
    return rc;
}

size_t rw_params_apply(const rw_params_ctx_t *c, const rw_param_t *table, const json_t *obj,
                       const char *pointer, void *base) {
    size_t bad = obj ? unknown_keys(c, table, obj, pointer) : 0;
    if (bad)
        return bad;
    for (size_t i = 0; table && table[i].type != RW_PARAM_END; i++)
        bad += apply_one(c, &table[i], obj, pointer, base) != 0;
    return bad;
}

/* Frees a string or list value and zeroes the value, whatever its type. */
static void clear(const rw_param_t *p, void *base) {
    char *at = (char *)base + p->offset;
    if (p->type == RW_PARAM_STRING) {
        char *s;
        memcpy(&s, at, sizeof(s));
        free(s);
    } else if (p->type == RW_PARAM_STRING_LIST) {
        rw_strlist_t l;
        memcpy(&l, at, sizeof(l));
        strlist_free(l);
    }
    if (type_known(p->type))
        memset(at, 0, types[p->type].size);
}

void rw_params_fini(const rw_param_t *table, void *base) {
    for (size_t i = 0; base && table && table[i].type != RW_PARAM_END; i++)
        if (table[i].type == RW_PARAM_STRING || table[i].type == RW_PARAM_STRING_LIST)
            clear(&table[i], base);
}

/* ---- printing ---------------------------------------------------------------------------- */

/* One param's cells for help: type, default, bounds. */
static void print_cells(const rw_param_t *p, char cells[3][128]) {
    if (p->type == RW_PARAM_ENUM || p->type == RW_PARAM_LEVEL)
        choices_text(p, "|", cells[0], 128);
    else
        snprintf(cells[0], 128, "%s", type_known(p->type) ? types[p->type].name : "?");
    snprintf(cells[1], 128, "%s",
             (p->flags & RW_PARAM_REQUIRED) ? "required"
             : p->def                       ? p->def
                                            : "-");
    char b[112];
    bounds_text(p, b, sizeof(b));
    snprintf(cells[2], 128, "%s%s", has_bounds(p) ? bound_subject(p) : "", has_bounds(p) ? b : "-");
}

void rw_params_print(const rw_param_t *table, int indent, FILE *out) {
    if (!table || table[0].type == RW_PARAM_END) {
        fprintf(out, "%*s(no params)\n", indent, "");
        return;
    }
    static const char *const heads[] = {"name", "type", "default", "bounds"};
    int w[4];
    for (int k = 0; k < 4; k++)
        w[k] = (int)strlen(heads[k]);
    char cells[3][128];
    for (size_t i = 0; table[i].type != RW_PARAM_END; i++) {
        print_cells(&table[i], cells);
        int n = (int)strlen(table[i].name);
        w[0] = n > w[0] ? n : w[0];
        for (int k = 0; k < 3; k++)
            w[k + 1] = (int)strlen(cells[k]) > w[k + 1] ? (int)strlen(cells[k]) : w[k + 1];
    }
    fprintf(out, "%*s%-*s  %-*s  %-*s  %-*s  %s\n", indent, "", w[0], heads[0], w[1], heads[1],
            w[2], heads[2], w[3], heads[3], "description");
    for (size_t i = 0; table[i].type != RW_PARAM_END; i++) {
        const rw_param_t *p = &table[i];
        print_cells(p, cells);
        fprintf(out, "%*s%-*s  %-*s  %-*s  %-*s  %s%s\n", indent, "", w[0], p->name, w[1], cells[0],
                w[2], cells[1], w[3], cells[2], p->desc ? p->desc : "",
                (p->flags & RW_PARAM_WINDOW) ? " (the rule's window)" : "");
    }
}

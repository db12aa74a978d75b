#include "ruleset.h"

#include "expr.h"
#include "field.h"
#include "jpos.h"
#include "jwrite.h"
#include "match.h"
#include "params.h"
#include "pseudonym.h"
#include "setup.h"
#include "suggest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *level_names[RW_LEVELS] = {"none", "low", "medium", "high"};

const char *rw_level_name(int level) {
    return level >= 0 && level < RW_LEVELS ? level_names[level] : "none";
}

int rw_level_parse(const char *name) {
    for (int i = 1; i < RW_LEVELS; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

/* ---- loading context -------------------------------------------------------- */

typedef struct load_ctx {
    rw_errors_at_t in; /* the ruleset's text, where its errors go */
    size_t n_before;
    const char *types[64]; /* the event types the ruleset's matches name (borrowed) */
    size_t n_types;
} load_ctx_t;

/* Adds an error located at a JSON pointer; key: locate the member's key. */
static void __attribute__((format(printf, 4, 5)))
lerr(load_ctx_t *c, const char *pointer, bool key, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    rw_errors_vadd_at(c->in.errs, c->in.source, c->in.text, c->in.len, pointer, key, fmt, ap);
    va_end(ap);
}

/* The bad value as an error shows it: its JSON text, cut at 60 bytes. Returns buf. */
static const char *show(const json_t *v, char *buf, size_t len) {
    char *t = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!t)
        snprintf(buf, len, "?");
    else if (strlen(t) > 60)
        snprintf(buf, len, "%.57s...", t);
    else
        snprintf(buf, len, "%s", t);
    free(t);
    return buf;
}

/* Reports every key of obj not in allowed (NULL-terminated). */
static void check_keys(load_ctx_t *c, const json_t *obj, const char *pointer, const char *what,
                       const char *const *allowed) {
    const char *k;
    json_t *v;
    json_object_foreach(RW_UNCONST(json_t *, obj), k, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(k, allowed[i]) == 0)
                ok = true;
        if (!ok) {
            char p[512];
            snprintf(p, sizeof(p), "%s/%s", pointer, k);
            char msg[300];
            snprintf(msg, sizeof(msg), "%s: unknown key \"%s\"", what, k);
            rw_suggest_append(msg, sizeof(msg), k, allowed, (size_t)-1);
            lerr(c, p, true, "%s", msg);
        }
    }
}

/* ---- thresholds -------------------------------------------------------------- */

int rw_rule_level(const rw_rule_t *r, double x) {
    for (int l = RW_LEVEL_HIGH; l >= RW_LEVEL_LOW; l--) {
        if (!r->has[l])
            continue;
        if (r->descending ? x <= r->threshold[l] : x >= r->threshold[l])
            return l;
    }
    return RW_LEVEL_NONE;
}

static void thresholds_parse(load_ctx_t *c, rw_rule_t *r, const json_t *t, const char *pointer,
                             const char *what) {
    if (!json_is_object(t)) {
        lerr(c, pointer, false, "%s: thresholds: must be an object with low, medium, high", what);
        return;
    }
    static const char *const keys[] = {"low", "medium", "high", NULL};
    char wt[400];
    snprintf(wt, sizeof(wt), "%s: thresholds", what);
    check_keys(c, t, pointer, wt, keys);
    int n = 0;
    double prev = 0;
    int prev_level = 0, dir = 0;
    for (int l = RW_LEVEL_LOW; l <= RW_LEVEL_HIGH; l++) {
        json_t *v = json_object_get(t, level_names[l]);
        if (!v)
            continue;
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", pointer, level_names[l]);
        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            char sv[80];
            lerr(c, p, false, "%s: thresholds.%s: must be a number, not %s", what, level_names[l],
                 show(v, sv, sizeof(sv)));
            return;
        }
        double x = json_number_value(v);
        r->threshold[l] = x;
        r->has[l] = true;
        if (n > 0) {
            int d = x > prev ? 1 : x < prev ? -1 : 0;
            if (d == 0) {
                lerr(c, p, false, "%s: thresholds.%s equals thresholds.%s (%g)", what,
                     level_names[l], level_names[prev_level], x);
                return;
            }
            if (dir != 0 && d != dir) {
                lerr(c, p, false,
                     "%s: thresholds are not ordered: use low < medium < high, or "
                     "low > medium > high for measures where lower is worse",
                     what);
                return;
            }
            dir = d;
        }
        prev = x;
        prev_level = l;
        n++;
    }
    if (n == 0)
        lerr(c, pointer, false, "%s: thresholds: give at least one of low, medium, high", what);
    r->descending = dir < 0;
    r->thresholds = json_deep_copy(t);
}

/* ---- masking ------------------------------------------------------------------ */

static int mask_spec_parse(const char *s, int *first, int *last) {
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || *end != '-' || a < 0 || a > 64 || s[0] == '-' || s[0] == '+')
        return -1;
    const char *s2 = end + 1;
    long b = strtol(s2, &end, 10);
    if (end == s2 || *end || b < 0 || b > 64 || s2[0] == '-' || s2[0] == '+')
        return -1;
    *first = (int)a;
    *last = (int)b;
    return 0;
}

/* The index of field's mask in rs->masks; n_masks when it has none. */
static size_t mask_index(const rw_ruleset_t *rs, const char *field) {
    size_t i = 0;
    while (i < rs->n_masks && strcmp(rs->masks[i].field, field) != 0)
        i++;
    return i;
}

static const char *const default_masks[][2] = {{"account", "6-4"},   {"counterparty", "6-4"},
                                               {"id_number", "6-4"}, {"card_number", "6-4"},
                                               {"phone", "3-4"},     {NULL, NULL}};

static void mask_add(rw_ruleset_t *rs, const char *field, int first, int last) {
    rs->masks = rw_realloc(rs->masks, (rs->n_masks + 1) * sizeof(*rs->masks));
    rs->masks[rs->n_masks++] = (rw_mask_t){rw_strdup(field), first, last};
}

/* The default masks always apply: core data is masked wherever it leaves the
 * engine. A ruleset's "masking" adds fields and may change how a default
 * field is masked, but cannot unmask it. */
static void masking_parse(load_ctx_t *c, rw_ruleset_t *rs, const json_t *m) {
    for (size_t i = 0; default_masks[i][0]; i++) {
        int a = 0, b = 0; /* every default spec reads */
        mask_spec_parse(default_masks[i][1], &a, &b);
        mask_add(rs, default_masks[i][0], a, b);
    }
    if (!m)
        return;
    if (!json_is_object(m)) {
        lerr(c, "/masking", false, "masking: must be an object of field: \"first-last\"");
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(RW_UNCONST(json_t *, m), k, v) {
        int a, b;
        char p[512];
        snprintf(p, sizeof(p), "/masking/%s", k);
        if (!json_is_string(v) || mask_spec_parse(json_string_value(v), &a, &b)) {
            char sv[80];
            lerr(c, p, false,
                 "masking.%s: bad masking spec %s (use \"6-4\": keep the first 6 and "
                 "last 4 characters)",
                 k, show(v, sv, sizeof(sv)));
            continue;
        }
        size_t known = mask_index(rs, k);
        if (known < rs->n_masks) {
            rs->masks[known].keep_first = a;
            rs->masks[known].keep_last = b;
        } else {
            mask_add(rs, k, a, b);
        }
    }
}

const rw_mask_t *rw_ruleset_mask_for(const rw_ruleset_t *rs, const char *field) {
    size_t i = mask_index(rs, field);
    return i < rs->n_masks ? &rs->masks[i] : NULL;
}

/* Counts UTF-8 characters; masking works on characters, not bytes. */
static size_t utf8_next(const char *s, size_t len, size_t i) {
    i++;
    while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
        i++;
    return i;
}

/* Writes ch as the *o-th byte of out (when it fits, leaving room for the NUL)
 * and counts it. */
static void mask_put(char *out, size_t outlen, size_t *o, char ch) {
    if (*o + 1 < outlen)
        out[*o] = ch;
    (*o)++;
}

size_t rw_mask_apply(const rw_mask_t *mask, const char *value, size_t len, char *out,
                     size_t outlen) {
    size_t o = 0;
    if (!mask) {
        for (size_t i = 0; i < len; i++)
            mask_put(out, outlen, &o, value[i]);
    } else {
        size_t nchars = 0;
        for (size_t i = 0; i < len; i = utf8_next(value, len, i))
            nchars++;
        size_t keep = (size_t)mask->keep_first + (size_t)mask->keep_last;
        if (nchars <= keep) {
            mask_put(out, outlen, &o, '*');
        } else {
            size_t ci = 0;
            for (size_t i = 0; i < len; ci++) {
                size_t nx = utf8_next(value, len, i);
                if (ci < (size_t)mask->keep_first || ci >= nchars - (size_t)mask->keep_last) {
                    for (size_t j = i; j < nx; j++)
                        mask_put(out, outlen, &o, value[j]);
                } else {
                    mask_put(out, outlen, &o, '*');
                }
                i = nx;
            }
        }
    }
    if (outlen)
        out[o < outlen ? o : outlen - 1] = 0;
    return o;
}

static const char *last_part(const rw_field_t *f) {
    return f->n_parts ? f->parts[f->n_parts - 1] : f->path;
}

char *rw_key_mask(const rw_ruleset_t *rs, const rw_field_t *f, const char *text) {
    size_t len = strlen(text);
    if (!f->n_subs) {
        char *out = rw_malloc(len * 4 + 2);
        rw_mask_apply(rw_ruleset_mask_for(rs, last_part(f)), text, len, out, len * 4 + 2);
        return out;
    }
    /* Split on unescaped '|', mask each part as its field, escape and join again. */
    rw_buf_t o;
    rw_buf_init(&o);
    char *part = rw_malloc(len + 1), *masked = rw_malloc(len * 4 + 2);
    const char *p = text;
    for (size_t i = 0; i < f->n_subs; i++) {
        size_t n = 0;
        for (; *p && *p != '|'; p++) {
            if (*p == '\\' && p[1])
                p++;
            part[n++] = *p;
        }
        part[n] = 0;
        if (*p == '|')
            p++;
        size_t m = rw_mask_apply(rw_ruleset_mask_for(rs, last_part(f->subs[i])), part, n, masked,
                                 len * 4 + 2);
        if (i)
            rw_buf_append(&o, "|", 1);
        for (size_t k = 0; k < m && k < len * 4 + 1; k++) {
            if (masked[k] == '\\' || masked[k] == '|')
                rw_buf_append(&o, "\\", 1);
            rw_buf_append(&o, &masked[k], 1);
        }
    }
    free(part);
    free(masked);
    return rw_buf_take(&o);
}

static json_t *mask_value(const rw_mask_t *mask, const json_t *v) {
    char num[64];
    const char *s;
    size_t len;
    if (json_is_string(v)) {
        s = json_string_value(v);
        len = json_string_length(v);
    } else if (json_is_integer(v)) {
        len = (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = num;
    } else if (json_is_real(v)) {
        len = (size_t)snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        s = num;
    } else if (json_is_null(v)) {
        return json_null();
    } else {
        return json_string("*");
    }
    char small[512];
    char *buf = len * 4 + 2 <= sizeof(small) ? small : rw_malloc(len * 4 + 2);
    size_t n = rw_mask_apply(mask, s, len, buf, len * 4 + 2);
    json_t *r = json_stringn(buf, n);
    if (buf != small)
        free(buf);
    return r ? r : json_string("*");
}

static json_t *mask_walk(const rw_ruleset_t *rs, json_t *v, int depth) {
    if (depth > 64)
        return json_string("*");
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            const rw_mask_t *m = rw_ruleset_mask_for(rs, k);
            json_object_set_new(o, k, m ? mask_value(m, x) : mask_walk(rs, x, depth + 1));
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, mask_walk(rs, x, depth + 1));
        return a;
    }
    return json_incref(v);
}

json_t *rw_ruleset_mask_event(const rw_ruleset_t *rs, json_t *event) {
    return mask_walk(rs, event, 0);
}

/* mask_walk's result written as JSON, without building it: only masked values are made. */
static void mask_write(rw_buf_t *b, const rw_ruleset_t *rs, const json_t *v, int depth) {
    if (depth > 64) {
        rw_buf_append(b, "\"*\"", 3);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        bool first = true;
        rw_buf_append(b, "{", 1);
        json_object_foreach(RW_UNCONST(json_t *, v), k, x) {
            if (!first)
                rw_buf_append(b, ",", 1);
            first = false;
            rw_json_write_string(b, k, strlen(k));
            rw_buf_append(b, ":", 1);
            const rw_mask_t *m = rw_ruleset_mask_for(rs, k);
            if (m) {
                json_t *masked = mask_value(m, x);
                rw_json_write(b, masked);
                json_decref(masked);
            } else {
                mask_write(b, rs, x, depth + 1);
            }
        }
        rw_buf_append(b, "}", 1);
    } else if (json_is_array(v)) {
        rw_buf_append(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                rw_buf_append(b, ",", 1);
            mask_write(b, rs, json_array_get(v, i), depth + 1);
        }
        rw_buf_append(b, "]", 1);
    } else {
        rw_json_write(b, v);
    }
}

void rw_ruleset_write_masked(rw_buf_t *b, const rw_ruleset_t *rs, const json_t *event) {
    mask_write(b, rs, event, 0);
}

/* ---- calendar --------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int date_parse(const char *s, int64_t *day) {
    int y, m, d;
    char tail;
    /* Fields of at most 4 and 2 digits cannot overflow; the count and the dashes are checked. */
    if (strlen(s) != 10 ||
        sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || // NOLINT(cert-err34-c): see above
        m < 1 || m > 12 || d < 1 || d > 31 || s[4] != '-' || s[7] != '-')
        return -1;
    int64_t day0 = rw_days_from_civil(y, (unsigned)m, (unsigned)d);
    int64_t yy;
    unsigned mm, dd;
    rw_civil_from_days(day0, &yy, &mm, &dd);
    if (yy != y || (int)mm != m || (int)dd != d)
        return -1;
    *day = day0;
    return 0;
}

static void date_list(load_ctx_t *c, const json_t *arr, const char *name, int64_t **out,
                      size_t *n) {
    if (!arr)
        return;
    char p[256];
    snprintf(p, sizeof(p), "/calendar/%s", name);
    if (!json_is_array(arr)) {
        lerr(c, p, false, "calendar.%s: must be a list of \"YYYY-MM-DD\" dates", name);
        return;
    }
    *out = rw_calloc(json_array_size(arr), sizeof(int64_t));
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        char pi[300];
        snprintf(pi, sizeof(pi), "%s/%zu", p, i);
        int64_t day;
        if (!json_is_string(v) || date_parse(json_string_value(v), &day)) {
            char sv[80];
            lerr(c, pi, false, "calendar.%s[%zu]: not a date \"YYYY-MM-DD\": %s", name, i,
                 show(v, sv, sizeof(sv)));
            continue;
        }
        (*out)[(*n)++] = day;
    }
    qsort(*out, *n, sizeof(int64_t), cmp_i64);
}

static void calendar_parse(load_ctx_t *c, rw_calendar_t *cal, const json_t *j) {
    cal->weekend = (1 << 5) | (1 << 6);
    if (!j)
        return;
    if (!json_is_object(j)) {
        lerr(c, "/calendar", false, "calendar: must be an object");
        return;
    }
    static const char *const keys[] = {"utc_offset", "weekend", "holidays", "workdays", NULL};
    check_keys(c, j, "/calendar", "calendar", keys);
    json_t *off = json_object_get(j, "utc_offset");
    if (off && (!json_is_string(off) ||
                rw_utc_offset_parse(json_string_value(off), &cal->utc_offset_min))) {
        char sv[80];
        lerr(c, "/calendar/utc_offset", false,
             "calendar.utc_offset: bad offset %s (use \"+08:00\", \"-05:00\" or \"Z\")",
             show(off, sv, sizeof(sv)));
    }
    json_t *we = json_object_get(j, "weekend");
    if (we) {
        static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
        cal->weekend = 0;
        if (!json_is_array(we)) {
            lerr(c, "/calendar/weekend", false, "calendar.weekend: must be a list of days");
        } else {
            size_t i;
            json_t *v;
            json_array_foreach(we, i, v) {
                int found = -1;
                for (int d = 0; d < 7; d++)
                    if (json_is_string(v) && strcmp(json_string_value(v), days[d]) == 0)
                        found = d;
                if (found < 0) {
                    char p[64];
                    snprintf(p, sizeof(p), "/calendar/weekend/%zu", i);
                    char sv[80], msg[200];
                    snprintf(msg, sizeof(msg), "calendar.weekend[%zu]: unknown day %s", i,
                             show(v, sv, sizeof(sv)));
                    if (json_is_string(v))
                        rw_suggest_append(msg, sizeof(msg), json_string_value(v), days, 7);
                    lerr(c, p, false, "%s (use mon, tue, wed, thu, fri, sat, sun)", msg);
                } else {
                    cal->weekend |= (uint8_t)(1 << found);
                }
            }
        }
    }
    date_list(c, json_object_get(j, "holidays"), "holidays", &cal->holidays, &cal->n_holidays);
    date_list(c, json_object_get(j, "workdays"), "workdays", &cal->workdays, &cal->n_workdays);
}

/* ---- rules ----------------------------------------------------------------------- */

/* Checks the rule's params against its module's table, fills a new state and calls the
 * module's init(). pointer: the params object, or the rule when it has none. Returns 0, or
 * RW_ERR_INPUT after adding the errors (r->state is NULL then). */
static int rule_setup(load_ctx_t *c, rw_setup_t *s, const json_t *params, const char *pointer,
                      const char *what) {
    rw_rule_t *r = s->rule;
    const rw_module_t *m = r->module;
    char w[320], owner[200], e[512] = "";
    snprintf(w, sizeof(w), "%s: params", what);
    snprintf(owner, sizeof(owner), "module %s", m->name);
    rw_params_ctx_t pc = {c->in.text, c->in.len, c->in.source, c->in.errs, s, w, owner, NULL};
    r->state = m->state_size ? rw_calloc(1, m->state_size) : NULL;
    if (rw_params_apply(&pc, m->params, params, pointer, r->state) != 0)
        goto fail;
    if (m->init && m->init(s, r->state, e, sizeof(e)) != RW_OK) {
        /* init() names the param first ("list: give exactly one ..."): point at it, and at
         * the column of an expression's error inside it. */
        char pk[400], msg[900];
        size_t n = strcspn(e, ":");
        snprintf(pk, sizeof(pk), "%s/%.*s", pointer, (int)n, e);
        int line, col;
        bool at =
            e[n] == ':' && params && rw_jpos_find(c->in.text, c->in.len, pk, &line, &col) == 0;
        snprintf(msg, sizeof(msg), "%s: params.%s", what, e[0] ? e : "invalid");
        const json_t *pv = at ? json_object_get(params, pk + strlen(pointer) + 1) : NULL;
        if (s->expr_column > 0 && json_is_string(pv))
            rw_errors_add_in_string(&c->in, pk, s->expr_column, msg);
        else
            lerr(c, at ? pk : pointer, false, "%s", msg);
        goto fail;
    }
    return 0;
fail:
    rw_params_fini(m->params, r->state);
    free(r->state);
    r->state = NULL;
    return RW_ERR_INPUT;
}

/* Whether the rule's window holds only its own matching events, recorded by its module:
 * such a window can be shared with every rule that records the same events into it. A rule
 * with a lookup is not: an event without the looked-up field is not planned by it, so as the
 * window's first reader it would leave the event out of the others' window. */
static bool window_shareable(const rw_rule_t *r) {
    return r->window_ms > 0 && r->module->record && !r->feed && !r->relay && !r->case_open &&
           !r->lookup_set;
}

/* The rule's params without its window's length (the param the module's table marks
 * RW_PARAM_WINDOW), as canonical text; NULL without params. */
static char *params_sans_window(const rw_rule_t *r, const json_t *params) {
    if (!params)
        return NULL;
    json_t *copy = json_deep_copy(params);
    for (const rw_param_t *p = r->module->params; p && p->type != RW_PARAM_END; p++)
        if (p->flags & RW_PARAM_WINDOW)
            json_object_del(copy, p->name);
    char *text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    return text;
}

/* Names the rule's window state (see rw_rule_t.state_id). A shareable window is named by
 * what decides its entries: the key, the match, and what its module records: the field and
 * how, when the module declares it (any module's), else the module and the params but the
 * window's length. Rules with the same ones find one window; any other window is the rule's. */
static void rule_state_id(rw_rule_t *r, const json_t *params, const json_t *match) {
    r->window_shared = window_shareable(r);
    const rw_param_t *rec = r->window_shared ? rw_module_recorded(r->module) : NULL;
    const char *kind = r->module->name;
    char *p = NULL, *m = NULL;
    long long window_ms = r->window_ms;
    if (rec) {
        kind = rec->flags & RW_PARAM_RECORDED_NUMBER ? "number" : "text";
        p = json_dumps(json_object_get(params, rec->name), JSON_COMPACT | JSON_ENCODE_ANY);
    } else if (r->window_shared) {
        p = params_sans_window(r, params);
    } else if (params) {
        p = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    }
    if (r->window_shared) {
        m = match ? json_dumps(match, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        window_ms = -1;
    }
    rw_buf_t b;
    rw_buf_init(&b);
    /* A composite key is marked apart from a field whose name holds a '+'. */
    rw_buf_printf(&b, "%s%c%s%s%c%lld%c%s", kind, 0, r->key && r->key->n_subs ? "+" : "",
                  r->key ? r->key->path : "", 0, window_ms, 0, p ? p : "");
    if (r->window_shared) /* 64 bits: windows of rules with other ids must not meet */
        rw_buf_printf(&b, "%c%s", 0, m ? m : "");
    free(p);
    free(m);
    uint8_t dig[32];
    char hex[65];
    rw_sha256(b.data, b.len, dig);
    rw_hex(dig, r->window_shared ? 8 : 4, hex);
    const char *name = r->window_shared ? kind : r->id ? r->id : "";
    snprintf(r->state_id, sizeof(r->state_id), "%s~%s", name, hex);
    rw_buf_fini(&b);
}

/* The event type a match asks for with a top-level "type": "T" (an event of another type
 * fails it outright, as a plain mismatch), or NULL. */
static const char *match_type(const rw_match_t *m) {
    for (size_t i = 0; m && i < m->n; i++) {
        const rw_cond_t *c = &m->conds[i];
        if (c->op == RW_OP_EQ && c->field && !c->field->n_subs && c->field->n_parts == 1 &&
            strcmp(c->field->parts[0], "type") == 0 && json_is_string(c->value))
            return json_string_value(c->value);
    }
    return NULL;
}

/* Whether an event of type (NULL: of none the rules ask for) may pass the match asking for
 * want (NULL: any). */
static bool type_may_pass(const char *want, const char *type) {
    return !want || (type && strcmp(want, type) == 0);
}

/* Lists, for each type the rules ask for and for any other, the rules an event of it is
 * planned by: the others' matches and feeds fail it before any condition is tested. */
static void types_index(rw_ruleset_t *rs) {
    size_t n = rs->n_rules - rs->n_scorecards;
    rs->types = rw_calloc(2 * n + 1, sizeof(*rs->types));
    for (size_t i = 0; i < n; i++) {
        const rw_rule_t *r = &rs->rules[i];
        const char *ts[2] = {match_type(&r->match), match_type(r->feed)};
        for (size_t k = 0; k < 2; k++) {
            size_t t = 0;
            while (ts[k] && t < rs->n_types && strcmp(rs->types[t], ts[k]) != 0)
                t++;
            if (ts[k] && t == rs->n_types)
                rs->types[rs->n_types++] = rw_strdup(ts[k]);
        }
    }
    rs->type_rules = rw_calloc(rs->n_types + 1, sizeof(*rs->type_rules));
    rs->n_type_rules = rw_calloc(rs->n_types + 1, sizeof(*rs->n_type_rules));
    for (size_t t = 0; t <= rs->n_types; t++) {
        const char *type = t < rs->n_types ? rs->types[t] : NULL;
        rs->type_rules[t] = rw_calloc(n ? n : 1, sizeof(**rs->type_rules));
        for (size_t i = 0; i < n; i++) {
            const rw_rule_t *r = &rs->rules[i];
            if (type_may_pass(match_type(&r->match), type) ||
                (r->feed && type_may_pass(match_type(r->feed), type)))
                rs->type_rules[t][rs->n_type_rules[t]++] = (uint32_t)i;
        }
    }
}

/* Points every rule at the window it reads: the first rule's of those with the same shared
 * window, itself otherwise; that rule keeps its window as long as the longest of them. */
static void windows_share(rw_ruleset_t *rs) {
    for (size_t i = 0; i < rs->n_rules; i++) {
        rw_rule_t *r = &rs->rules[i];
        r->window_of = (uint32_t)i;
        r->window_keep_ms = r->window_ms;
        for (size_t k = 0; r->window_shared && k < i; k++) {
            rw_rule_t *o = &rs->rules[k];
            if (o->window_shared && o->window_of == k && strcmp(o->state_id, r->state_id) == 0) {
                r->window_of = (uint32_t)k;
                if (r->window_ms > o->window_keep_ms)
                    o->window_keep_ms = r->window_ms;
                break;
            }
        }
    }
}

/* The event types the engine's documentation and default pack name. */
static const char *const known_types[] = {"transaction", "complaint", "data_access",
                                          "login",       "system",    NULL};

static void type_add(load_ctx_t *c, const json_t *v) {
    if (json_is_string(v) && c->n_types < sizeof(c->types) / sizeof(*c->types))
        c->types[c->n_types++] = json_string_value(v);
}

/* Collects the types every rule's match names: "type": "X", {"eq": "X"}, {"in": [...]}. */
static void types_collect(load_ctx_t *c, const json_t *rules) {
    size_t i;
    const json_t *r;
    json_array_foreach(rules, i, r) {
        const json_t *t = json_object_get(json_object_get(r, "match"), "type");
        type_add(c, t);
        type_add(c, json_object_get(t, "eq"));
        size_t k;
        const json_t *v;
        json_array_foreach(json_object_get(t, "in"), k, v) type_add(c, v);
    }
}

/* A match's "type": "X" shorthand that is not a known type, but a misspelling of one the
 * engine or another rule of the ruleset names, is an error. ({"eq": "X"} is not checked:
 * the way to match an unusual type on purpose.) */
static void type_check(load_ctx_t *c, const json_t *match, const char *p, const char *what) {
    const json_t *t = json_object_get(match, "type");
    if (!json_is_string(t))
        return;
    const char *v = json_string_value(t);
    for (size_t i = 0; known_types[i]; i++)
        if (strcmp(v, known_types[i]) == 0)
            return;
    const char *s = rw_suggest(v, known_types, (size_t)-1);
    if (!s) {
        /* Of two close names in the ruleset, the rarer is the misspelling. */
        size_t uses = 0;
        for (size_t i = 0; i < c->n_types; i++)
            uses += strcmp(c->types[i], v) == 0;
        const char *others[64];
        size_t n = 0;
        for (size_t i = 0; i < c->n_types; i++) {
            size_t k = 0;
            for (size_t j = 0; j < c->n_types; j++)
                k += strcmp(c->types[j], c->types[i]) == 0;
            if (k > uses)
                others[n++] = c->types[i];
        }
        s = rw_suggest(v, others, n);
    }
    if (!s)
        return;
    char pt[600];
    snprintf(pt, sizeof(pt), "%s/type", p);
    lerr(c, pt, false,
         "%s: match.type: unknown event type \"%s\" (did you mean \"%s\"?); write {\"eq\": "
         "\"%s\"} to match it on purpose",
         what, v, s, v);
}

typedef struct names {
    const char *items[64];
    size_t n;
} names_t;

static void names_add(const rw_module_t *m, void *arg) {
    names_t *ns = arg;
    if (ns->n < 64)
        ns->items[ns->n++] = m->name;
}

/* An unknown module: the closest known name, and every known one. */
static void module_unknown(load_ctx_t *c, const char *p, const char *what, const json_t *mod) {
    names_t ns = {{0}, 0};
    rw_modules_each(names_add, &ns);
    char sv[80], msg[500], list[600];
    snprintf(msg, sizeof(msg), "%s: unknown module %s", what, show(mod, sv, sizeof(sv)));
    if (json_is_string(mod))
        rw_suggest_append(msg, sizeof(msg), json_string_value(mod), ns.items, ns.n);
    rw_suggest_list(list, sizeof(list), ns.items, ns.n);
    lerr(c, p, false, "%s; the modules are %s", msg, list);
}

/* The "id" of rules[idx] (at ptr) into r->id, and what to call the rule in
 * messages into what (what_len bytes). */
static void rule_id_parse(load_ctx_t *c, rw_rule_t *r, const json_t *j, const char *ptr, size_t idx,
                          char *what, size_t what_len) {
    char p[128];
    json_t *id = json_object_get(j, "id");
    if (!json_is_string(id) || json_string_length(id) == 0 || json_string_length(id) > 128) {
        snprintf(p, sizeof(p), "%s/id", ptr);
        char sv[80];
        if (id)
            lerr(c, p, false,
                 "rules[%zu]: \"id\" must be a non-empty string of at most 128 bytes, "
                 "not %s",
                 idx, show(id, sv, sizeof(sv)));
        else
            lerr(c, ptr, false, "rules[%zu]: \"id\" must be a non-empty string", idx);
        snprintf(what, what_len, "rules[%zu]", idx);
    } else {
        const char *s = json_string_value(id);
        for (const char *q = s; *q; q++)
            if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                  (*q >= '0' && *q <= '9') || *q == '-' || *q == '_' || *q == '.')) {
                snprintf(p, sizeof(p), "%s/id", ptr);
                lerr(c, p, false,
                     "rule \"%s\": id may hold only letters, digits, - _ . (not \"%c\")", s, *q);
                break;
            }
        r->id = rw_strdup(s);
        snprintf(what, what_len, "rule \"%s\"", s);
    }
}

static void rule_parse(load_ctx_t *c, rw_ruleset_t *rs, rw_rule_t *r, const json_t *j,
                       int64_t default_cooldown, size_t idx) {
    char ptr[64], p[128], what[300];
    snprintf(ptr, sizeof(ptr), "/rules/%zu", idx);
    if (!json_is_object(j)) {
        lerr(c, ptr, false, "rules[%zu]: must be an object", idx);
        return;
    }
    rule_id_parse(c, r, j, ptr, idx, what, sizeof(what));
    static const char *const keys[] = {"id",     "description", "module",   "match", "key",
                                       "params", "thresholds",  "cooldown", NULL};
    check_keys(c, j, ptr, what, keys);
    json_t *desc = json_object_get(j, "description");
    if (desc && !json_is_string(desc)) {
        snprintf(p, sizeof(p), "%s/description", ptr);
        lerr(c, p, false, "%s: description must be a string", what);
    }
    r->description = rw_strdup(json_is_string(desc) ? json_string_value(desc) : "");

    r->fields_end = rs->fields;
    json_t *match = json_object_get(j, "match");
    if (match) {
        snprintf(p, sizeof(p), "%s/match", ptr);
        char w2[320];
        snprintf(w2, sizeof(w2), "%s: match", what);
        rw_match_parse(&r->match, rs, match, &c->in, p, w2);
        type_check(c, match, p, what);
    }
    r->match_fields = r->fields = rs->fields;
    json_t *key = json_object_get(j, "key");
    if (key) {
        rw_error_t e;
        rw_error_clear(&e);
        snprintf(p, sizeof(p), "%s/key", ptr);
        if (!(r->key = rw_field_compile_key(rs, key, &e)))
            lerr(c, p, false, "%s: key: %s", what, e.text);
    }
    json_t *cd = json_object_get(j, "cooldown");
    r->cooldown_ms = default_cooldown;
    if (cd) {
        snprintf(p, sizeof(p), "%s/cooldown", ptr);
        if (!json_is_string(cd) || rw_duration_parse(json_string_value(cd), &r->cooldown_ms)) {
            char sv[80];
            lerr(c, p, false, "%s: cooldown: bad duration %s (use 30s, 15m, 1h, 7d)", what,
                 show(cd, sv, sizeof(sv)));
        }
    }
    json_t *th = json_object_get(j, "thresholds");
    snprintf(p, sizeof(p), "%s/thresholds", ptr);
    if (!th)
        lerr(c, ptr, false, "%s: missing \"thresholds\"", what);
    else
        thresholds_parse(c, r, th, p, what);

    json_t *mod = json_object_get(j, "module");
    snprintf(p, sizeof(p), "%s/module", ptr);
    if (!mod) {
        lerr(c, ptr, false, "%s: missing \"module\"", what);
        return;
    }
    if (!json_is_string(mod) || !(r->module = rw_modules_find(json_string_value(mod)))) {
        module_unknown(c, p, what, mod);
        return;
    }
    json_t *params = json_object_get(j, "params");
    snprintf(p, sizeof(p), "%s/params", ptr);
    if (params && !json_is_object(params)) {
        lerr(c, p, false, "%s: params must be an object", what);
        return;
    }
    rw_setup_t s = {rs, r, 0, 0, c->in};
    if (rule_setup(c, &s, params, params ? p : ptr, what) != 0)
        return;
    if (s.window_calls > 1)
        lerr(c, p, false, "%s: module %s asked for more than one window", what, r->module->name);
    rule_state_id(r, params, match);
    r->fields = rs->fields;
    if (r->feed_key && r->read_key && r->feed_key->n_subs != r->read_key->n_subs)
        lerr(c, p, false,
             "%s: the keys that feed and read the window have %zu and %zu parts: give both as "
             "many fields, in the same order",
             what, r->feed_key->n_subs ? r->feed_key->n_subs : 1,
             r->read_key->n_subs ? r->read_key->n_subs : 1);
    if (r->case_open && (!r->module->case_measure || !r->module->case_due))
        lerr(c, p, false, "%s: module %s tracks cases without case_measure/case_due", what,
             r->module->name);
    if (r->case_open && r->descending)
        lerr(c, ptr, false, "%s: thresholds of a %s rule must be ascending (elapsed time grows)",
             what, r->module->name);
}

/* ---- scorecards ------------------------------------------------------------------------- */

/* The module name scorecards show in alerts and summaries; it is never called. */
static const rw_module_t scorecard_module = {.abi_version = RW_MODULE_ABI_VERSION,
                                             .name = "scorecard",
                                             .summary = "a weighted sum of rules' levels or "
                                                        "measures on one event"};

static long rule_find(const rw_ruleset_t *rs, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (rs->rules[i].id && strcmp(rs->rules[i].id, id) == 0)
            return (long)i;
    return -1;
}

static void part_parse(load_ctx_t *c, const rw_ruleset_t *rs, size_t n_rules, rw_rule_t *sc,
                       const json_t *j, const char *p, const char *what, size_t k) {
    static const char *const keys[] = {"rule", "weight", "of", NULL};
    char wk[400];
    snprintf(wk, sizeof(wk), "%s: parts[%zu]", what, k);
    if (!json_is_object(j)) {
        lerr(c, p, false, "%s: must be an object such as {\"rule\": \"ID\", \"weight\": 2}", wk);
        return;
    }
    check_keys(c, j, p, wk, keys);
    const json_t *rule = json_object_get(j, "rule"), *w = json_object_get(j, "weight"),
                 *of = json_object_get(j, "of");
    char pp[600], sv[80];
    rw_score_part_t part = {0, 1, false};
    snprintf(pp, sizeof(pp), "%s/rule", p);
    long ri = json_is_string(rule) ? rule_find(rs, n_rules, json_string_value(rule)) : -1;
    if (ri < 0) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s.rule: no rule %s in the ruleset", wk,
                 show(rule, sv, sizeof(sv)));
        if (json_is_string(rule)) {
            const char *ids[256];
            size_t n = 0;
            for (size_t i = 0; i < n_rules && n < 256; i++)
                if (rs->rules[i].id)
                    ids[n++] = rs->rules[i].id;
            rw_suggest_append(msg, sizeof(msg), json_string_value(rule), ids, n);
        }
        lerr(c, rule ? pp : p, false, "%s", msg);
        return;
    }
    if (rs->rules[ri].case_open) {
        lerr(c, pp, false, "%s.rule: \"%s\" tracks cases, whose alerts come apart from events", wk,
             rs->rules[ri].id);
        return;
    }
    part.rule = (uint32_t)ri;
    snprintf(pp, sizeof(pp), "%s/weight", p);
    if (w && (!json_is_number(w) || !isfinite(json_number_value(w)))) {
        lerr(c, pp, false, "%s.weight: must be a number, not %s", wk, show(w, sv, sizeof(sv)));
        return;
    }
    part.weight = w ? json_number_value(w) : 1;
    snprintf(pp, sizeof(pp), "%s/of", p);
    if (of && !(json_is_string(of) && (strcmp(json_string_value(of), "level") == 0 ||
                                       strcmp(json_string_value(of), "measure") == 0))) {
        lerr(c, pp, false, "%s.of: must be \"level\" or \"measure\", not %s", wk,
             show(of, sv, sizeof(sv)));
        return;
    }
    part.of_measure = of && strcmp(json_string_value(of), "measure") == 0;
    sc->parts = rw_realloc(sc->parts, (sc->n_parts + 1) * sizeof(*sc->parts));
    sc->parts[sc->n_parts++] = part;
}

static void scorecard_parse(load_ctx_t *c, rw_ruleset_t *rs, size_t n_rules, rw_rule_t *sc,
                            const json_t *j, size_t idx) {
    char ptr[64], p[128], what[300];
    snprintf(ptr, sizeof(ptr), "/scorecards/%zu", idx);
    if (!json_is_object(j)) {
        lerr(c, ptr, false, "scorecards[%zu]: must be an object", idx);
        return;
    }
    static const char *const keys[] = {"id", "description", "parts", "all_of", "thresholds", NULL};
    const json_t *id = json_object_get(j, "id");
    snprintf(p, sizeof(p), "%s/id", ptr);
    if (!json_is_string(id) || json_string_length(id) == 0 || json_string_length(id) > 128) {
        lerr(c, id ? p : ptr, false, "scorecards[%zu]: \"id\" must be a non-empty string", idx);
        snprintf(what, sizeof(what), "scorecards[%zu]", idx);
    } else {
        sc->id = rw_strdup(json_string_value(id));
        snprintf(what, sizeof(what), "scorecard \"%s\"", sc->id);
    }
    check_keys(c, j, ptr, what, keys);
    sc->module = &scorecard_module;
    const json_t *desc = json_object_get(j, "description");
    sc->description = rw_strdup(json_is_string(desc) ? json_string_value(desc) : "");
    const json_t *all = json_object_get(j, "all_of");
    snprintf(p, sizeof(p), "%s/all_of", ptr);
    if (all && !json_is_boolean(all))
        lerr(c, p, false, "%s: all_of must be true or false", what);
    sc->all_of = json_is_true(all);
    const json_t *parts = json_object_get(j, "parts");
    snprintf(p, sizeof(p), "%s/parts", ptr);
    if (!json_is_array(parts) || json_array_size(parts) == 0 || json_array_size(parts) > 64)
        lerr(c, parts ? p : ptr, false, "%s: parts must be a list of 1 to 64 rules", what);
    else
        for (size_t k = 0; k < json_array_size(parts); k++) {
            char pk[160];
            snprintf(pk, sizeof(pk), "%s/%zu", p, k);
            part_parse(c, rs, n_rules, sc, json_array_get(parts, k), pk, what, k);
        }
    const json_t *th = json_object_get(j, "thresholds");
    snprintf(p, sizeof(p), "%s/thresholds", ptr);
    if (!th)
        lerr(c, ptr, false, "%s: missing \"thresholds\"", what);
    else
        thresholds_parse(c, sc, th, p, what);
    snprintf(sc->state_id, sizeof(sc->state_id), "%s~scorecard", sc->id ? sc->id : "");
}

/* Parses the ruleset's "scorecards" into rules after its n_rules rules. */
static void scorecards_parse(load_ctx_t *c, rw_ruleset_t *rs, const json_t *list) {
    if (!list)
        return;
    if (!json_is_array(list)) {
        lerr(c, "/scorecards", false, "\"scorecards\" must be a list of scorecards");
        return;
    }
    size_t n = rs->n_rules, m = json_array_size(list);
    rs->rules = rw_realloc(rs->rules, (n + m + 1) * sizeof(*rs->rules));
    memset(rs->rules + n, 0, (m + 1) * sizeof(*rs->rules));
    for (size_t i = 0; i < m; i++) {
        rw_rule_t *sc = &rs->rules[n + i];
        scorecard_parse(c, rs, n, sc, json_array_get(list, i), i);
        rs->n_rules++;
        rs->n_scorecards++;
        long dup = sc->id ? rule_find(rs, n + i, sc->id) : -1;
        if (dup >= 0) {
            char p[64];
            snprintf(p, sizeof(p), "/scorecards/%zu/id", i);
            lerr(c, p, false, "scorecard \"%s\": the id of rules[%ld] too", sc->id,
                 dup < (long)n ? dup : dup - (long)n);
        }
    }
}

static void rule_fini(rw_rule_t *r) {
    if (r->module && r->state) {
        if (r->module->destroy)
            r->module->destroy(r->state);
        rw_params_fini(r->module->params, r->state);
        free(r->state);
    }
    free(r->lookup_set);
    for (size_t i = 0; i < r->n_exprs; i++)
        rw_expr_destroy(r->exprs[i]);
    free(r->exprs);
    while (r->matches) {
        rw_match_t *next = r->matches->next;
        rw_match_fini(r->matches);
        free(r->matches);
        r->matches = next;
    }
    free(r->parts);
    free(r->id);
    free(r->description);
    rw_match_fini(&r->match);
    json_decref(r->thresholds);
}

/* The ruleset's name, version and description. */
static void header_parse(load_ctx_t *c, rw_ruleset_t *rs, const json_t *root) {
    json_t *name = json_object_get(root, "ruleset");
    json_t *ver = json_object_get(root, "version");
    if (!json_is_string(name) || json_string_length(name) == 0)
        lerr(c, name ? "/ruleset" : "", false,
             "\"ruleset\" (the ruleset's name) must be a "
             "non-empty string");
    if (!json_is_string(ver) || json_string_length(ver) == 0)
        lerr(c, ver ? "/version" : "", false, "\"version\" must be a non-empty string");
    rs->name = rw_strdup(json_is_string(name) ? json_string_value(name) : "");
    rs->version = rw_strdup(json_is_string(ver) ? json_string_value(ver) : "");
    json_t *desc = json_object_get(root, "description");
    if (desc && !json_is_string(desc))
        lerr(c, "/description", false, "description must be a string");
}

rw_ruleset_t *rw_ruleset_load(const char *text, size_t len, const char *source, rw_errors_t *errs) {
    load_ctx_t c = {{errs, source, text, len}, errs->n, {NULL}, 0};
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        rw_error_t err;
        rw_error_clear(&err);
        rw_error_set(&err, source, je.line > 0 ? je.line : 0, je.column > 0 ? je.column : 0, "%s",
                     je.text);
        rw_errors_add(errs, &err);
        return NULL;
    }
    rw_ruleset_t *rs = rw_calloc(1, sizeof(*rs));
    uint8_t dig[32];
    rw_sha256(text, len, dig);
    rw_hex(dig, 32, rs->sha256);
    if (!json_is_object(root)) {
        lerr(&c, "", false, "a ruleset must be a JSON object");
        goto done;
    }
    static const char *const keys[] = {"ruleset",  "version", "description", "calendar", "masking",
                                       "cooldown", "rules",   "scorecards",  NULL};
    check_keys(&c, root, "", "ruleset", keys);
    header_parse(&c, rs, root);
    calendar_parse(&c, &rs->calendar, json_object_get(root, "calendar"));
    masking_parse(&c, rs, json_object_get(root, "masking"));
    int64_t cooldown = 0;
    json_t *cd = json_object_get(root, "cooldown");
    if (cd && (!json_is_string(cd) || rw_duration_parse(json_string_value(cd), &cooldown))) {
        char sv[80];
        lerr(&c, "/cooldown", false, "cooldown: bad duration %s (use 30s, 15m, 1h, 7d)",
             show(cd, sv, sizeof(sv)));
    }
    json_t *rules = json_object_get(root, "rules");
    if (!json_is_array(rules)) {
        lerr(&c, rules ? "/rules" : "", false, "\"rules\" must be a list of rules");
        goto done;
    }
    types_collect(&c, rules);
    rs->n_rules = json_array_size(rules);
    rs->rules = rw_calloc(rs->n_rules, sizeof(rw_rule_t));
    for (size_t i = 0; i < rs->n_rules; i++) {
        rule_parse(&c, rs, &rs->rules[i], json_array_get(rules, i), cooldown, i);
        for (size_t k = 0; k < i && rs->rules[i].id; k++) {
            if (rs->rules[k].id && strcmp(rs->rules[k].id, rs->rules[i].id) == 0) {
                char p[64];
                snprintf(p, sizeof(p), "/rules/%zu/id", i);
                lerr(&c, p, false, "rule \"%s\": duplicate rule id (first at rules[%zu])",
                     rs->rules[i].id, k);
                break;
            }
        }
    }
    scorecards_parse(&c, rs, json_object_get(root, "scorecards"));
    windows_share(rs);
    types_index(rs);
done:
    json_decref(root);
    if (errs->n != c.n_before) {
        rw_ruleset_destroy(rs);
        return NULL;
    }
    return rs;
}

rw_ruleset_t *rw_ruleset_load_file(const char *path, rw_errors_t *errs) {
    rw_error_t err;
    rw_error_clear(&err);
    size_t len;
    char *text = rw_file_read(path, &len, &err);
    if (!text) {
        rw_errors_add(errs, &err);
        return NULL;
    }
    rw_ruleset_t *rs = rw_ruleset_load(text, len, path, errs);
    free(text);
    return rs;
}

void rw_ruleset_destroy(rw_ruleset_t *rs) {
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n_rules; i++)
        rule_fini(&rs->rules[i]);
    free(rs->rules);
    for (size_t i = 0; i < rs->n_masks; i++)
        free(rs->masks[i].field);
    free(rs->masks);
    free(rs->calendar.holidays);
    free(rs->calendar.workdays);
    rw_field_t *f = rs->fields;
    while (f) {
        rw_field_t *next = f->next;
        for (size_t i = 0; i < f->n_parts; i++)
            free(f->parts[i]);
        free(f->parts);
        free(f->subs);
        free(f->path);
        free(f);
        f = next;
    }
    for (size_t i = 0; i < rs->n_memo; i++)
        json_decref(rs->memo_conds[i].value);
    free(rs->memo_conds);
    for (size_t t = 0; t < rs->n_types; t++)
        free(rs->types[t]);
    for (size_t t = 0; rs->type_rules && t <= rs->n_types; t++)
        free(rs->type_rules[t]);
    free(rs->types);
    free(rs->type_rules);
    free(rs->n_type_rules);
    free(rs->name);
    free(rs->version);
    free(rs);
}

/* Event schema: see schema.h. */
#include "schema.h"

#include "jparse.h"
#include "jpos.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_PARTS 8

typedef enum { T_ANY, T_STRING, T_NUMBER, T_INTEGER, T_BOOLEAN, T_ARRAY, T_OBJECT } ftype_t;

static const char *const type_names[] = {"any",     "string", "number", "integer",
                                         "boolean", "array",  "object", NULL};

typedef struct {
    char *path;                  /* "geo.country" */
    char *parts[PATH_MAX_PARTS]; /* "geo", "country" (owned copies) */
    size_t n_parts;
    size_t len0;    /* the first part's length */
    uint64_t head0; /* and first 8 bytes (rw_jtop_head) */
    ftype_t type;
    bool required, printable;
    bool has_min, has_max;
    double min, max;
    long long min_length, max_length; /* -1: none */
    char **enums;
    size_t n_enums;
} field_t;

typedef struct {
    char *name; /* event type, or "*" */
    bool any;   /* "*": every type */
    field_t *fields;
    size_t n_fields;
} etype_t;

struct rw_schema {
    etype_t *types;
    size_t n_types;
};

/* ---- parsing --------------------------------------------------------------------- */

typedef struct {
    const char *source, *text;
    size_t len;
    rw_error_t *err;
} pctx_t;

static int __attribute__((format(printf, 4, 5)))
perr(pctx_t *x, const char *pointer, bool key, const char *fmt, ...) {
    int line, col;
    rw_jpos_place(x->text, x->len, pointer, key, &line, &col);
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return rw_error_set(x->err, x->source, line, col, "%s", msg);
}

/* Appends "/token" to a JSON pointer, escaping '~' and '/'. */
static void ptr_join(char *out, size_t len, const char *base, const char *token) {
    size_t n = (size_t)snprintf(out, len, "%s/", base);
    for (const char *c = token; *c && n + 3 < len; c++) {
        if (*c == '~' || *c == '/') {
            out[n++] = '~';
            out[n++] = *c == '~' ? '0' : '1';
        } else {
            out[n++] = *c;
        }
    }
    out[n < len ? n : len - 1] = 0;
}

static void field_fini(field_t *f) {
    free(f->path);
    for (size_t i = 0; i < f->n_parts; i++)
        free(f->parts[i]);
    for (size_t i = 0; i < f->n_enums; i++)
        free(f->enums[i]);
    free(f->enums);
}

static int parse_path(pctx_t *x, const char *ptr, const char *path, field_t *f) {
    f->path = strdup(path);
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || f->n_parts == PATH_MAX_PARTS)
            return perr(x, ptr, true, "schema: bad field path \"%s\" (dotted names, at most %d)",
                        path, PATH_MAX_PARTS);
        if (f->n_parts == 0) {
            f->len0 = n;
            f->head0 = rw_jtop_head(p, n);
        }
        f->parts[f->n_parts++] = strndup(p, n);
        if (!dot)
            return 0;
        p = dot + 1;
    }
}

static int parse_type(pctx_t *x, const char *ptr, const json_t *v, ftype_t *out) {
    const char *s = json_string_value(v);
    for (int i = 0; s && type_names[i]; i++) {
        if (strcmp(s, type_names[i]) == 0) {
            *out = (ftype_t)i;
            return 0;
        }
    }
    return perr(x, ptr, false,
                "schema: type must be one of any, string, number, integer, boolean, array, "
                "object; got %s%s%s",
                s ? "\"" : "", s ? s : "a non-string", s ? "\"" : "");
}

static int parse_number(pctx_t *x, const char *ptr, const char *name, const json_t *v,
                        double *out) {
    if (!json_is_number(v))
        return perr(x, ptr, false, "schema: %s must be a number", name);
    *out = json_number_value(v);
    return 0;
}

static int parse_length(pctx_t *x, const char *ptr, const char *name, const json_t *v,
                        long long *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return perr(x, ptr, false, "schema: %s must be an integer >= 0", name);
    *out = json_integer_value(v);
    return 0;
}

static int parse_bool(pctx_t *x, const char *ptr, const char *name, const json_t *v, bool *out) {
    if (!json_is_boolean(v))
        return perr(x, ptr, false, "schema: %s must be true or false", name);
    *out = json_is_true(v);
    return 0;
}

static int parse_enum(pctx_t *x, const char *ptr, const json_t *v, field_t *f) {
    if (!json_is_array(v) || json_array_size(v) == 0)
        return perr(x, ptr, false, "schema: enum must be a non-empty list of strings");
    f->enums = calloc(json_array_size(v), sizeof(char *));
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            return perr(x, ptr, false, "schema: enum must be a non-empty list of strings");
        f->enums[f->n_enums++] = strdup(json_string_value(e));
    }
    return 0;
}

/* One key of a field spec. */
static int parse_spec_key(pctx_t *x, const char *ptr, const char *k, const json_t *v, field_t *f) {
    char p[512];
    ptr_join(p, sizeof(p), ptr, k);
    if (strcmp(k, "type") == 0)
        return parse_type(x, p, v, &f->type);
    if (strcmp(k, "required") == 0)
        return parse_bool(x, p, k, v, &f->required);
    if (strcmp(k, "printable") == 0)
        return parse_bool(x, p, k, v, &f->printable);
    if (strcmp(k, "min") == 0)
        return f->has_min = true, parse_number(x, p, k, v, &f->min);
    if (strcmp(k, "max") == 0)
        return f->has_max = true, parse_number(x, p, k, v, &f->max);
    if (strcmp(k, "min_length") == 0)
        return parse_length(x, p, k, v, &f->min_length);
    if (strcmp(k, "max_length") == 0)
        return parse_length(x, p, k, v, &f->max_length);
    if (strcmp(k, "enum") == 0)
        return parse_enum(x, p, v, f);
    return perr(x, p, true,
                "schema: unknown key \"%s\" (type, required, min, max, min_length, "
                "max_length, enum, printable)",
                k);
}

static int parse_field(pctx_t *x, const char *ptr, const char *path, const json_t *spec,
                       field_t *f) {
    f->required = true;
    f->printable = true;
    f->min_length = f->max_length = -1;
    if (parse_path(x, ptr, path, f))
        return -1;
    if (json_is_string(spec))
        return parse_type(x, ptr, spec, &f->type);
    if (!json_is_object(spec))
        return perr(x, ptr, false, "schema: %s: a field spec is a type name or an object", path);
    bool typed = json_object_get(spec, "type") != NULL;
    const char *k;
    json_t *v;
    json_object_foreach(RW_UNCONST(json_t *, spec), k, v) {
        if (parse_spec_key(x, ptr, k, v, f))
            return -1;
    }
    if (!typed && f->n_enums)
        f->type = T_STRING;
    if (f->n_enums && f->type != T_STRING)
        return perr(x, ptr, false, "schema: %s: enum is for strings", path);
    if ((f->has_min || f->has_max) && f->type != T_NUMBER && f->type != T_INTEGER)
        return perr(x, ptr, false, "schema: %s: min and max are for numbers", path);
    if ((f->min_length >= 0 || f->max_length >= 0) && f->type != T_STRING)
        return perr(x, ptr, false, "schema: %s: min_length and max_length are for strings", path);
    if (f->has_min && f->has_max && f->min > f->max)
        return perr(x, ptr, false, "schema: %s: min %g is above max %g", path, f->min, f->max);
    return 0;
}

rw_schema_t *rw_schema_parse(const json_t *obj, const char *source, const char *text, size_t len,
                             const char *pointer, rw_error_t *err) {
    pctx_t x = {source, text, len, err};
    if (!json_is_object(obj)) {
        perr(&x, pointer, false, "schema: must be an object from event type to its fields");
        return NULL;
    }
    rw_schema_t *s = calloc(1, sizeof(*s));
    s->types = calloc(json_object_size(obj) + 1, sizeof(etype_t));
    const char *tname;
    json_t *fields;
    json_object_foreach(RW_UNCONST(json_t *, obj), tname, fields) {
        char tp[512];
        ptr_join(tp, sizeof(tp), pointer, tname);
        etype_t *t = &s->types[s->n_types++];
        t->name = strdup(tname);
        t->any = strcmp(tname, "*") == 0;
        if (!json_is_object(fields)) {
            perr(&x, tp, false, "schema: %s: must be an object from field to spec", tname);
            goto fail;
        }
        t->fields = calloc(json_object_size(fields) + 1, sizeof(field_t));
        const char *fname;
        json_t *spec;
        json_object_foreach(fields, fname, spec) {
            char fp[512];
            ptr_join(fp, sizeof(fp), tp, fname);
            if (parse_field(&x, fp, fname, spec, &t->fields[t->n_fields++]))
                goto fail;
        }
    }
    return s;
fail:
    rw_schema_destroy(s);
    return NULL;
}

void rw_schema_destroy(rw_schema_t *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->n_types; i++) {
        for (size_t j = 0; j < s->types[i].n_fields; j++)
            field_fini(&s->types[i].fields[j]);
        free(s->types[i].fields);
        free(s->types[i].name);
    }
    free(s->types);
    free(s);
}

size_t rw_schema_n_types(const rw_schema_t *s) { return s ? s->n_types : 0; }

/* ---- the default --------------------------------------------------------------------- */

/* What the default pack reads (docs/reference.md §4): keys are 1-64 printable characters,
 * amounts and latencies are numbers >= 0, the fields rules match on take their values. */
static const char default_text[] =
    "{\"transaction\": {\n"
    "   \"account\": {\"type\": \"string\", \"min_length\": 1, \"max_length\": 64},\n"
    "   \"amount\": {\"type\": \"number\", \"min\": 0},\n"
    "   \"direction\": {\"enum\": [\"in\", \"out\"], \"required\": false},\n"
    "   \"customer_id\": {\"type\": \"string\", \"min_length\": 1, \"max_length\": 64,"
    " \"required\": false},\n"
    "   \"counterparty\": {\"type\": \"string\", \"min_length\": 1, \"max_length\": 64,"
    " \"required\": false},\n"
    "   \"device_id\": {\"type\": \"string\", \"min_length\": 1, \"max_length\": 128,"
    " \"required\": false}},\n"
    " \"login\": {\n"
    "   \"customer_id\": {\"type\": \"string\", \"min_length\": 1, \"max_length\": 64},\n"
    "   \"result\": {\"enum\": [\"success\", \"fail\"]}},\n"
    " \"complaint\": {\n"
    "   \"complaint_id\": {\"type\": \"string\", \"min_length\": 1, \"max_length\": 64},\n"
    "   \"action\": {\"enum\": [\"opened\", \"responded\", \"resolved\", \"escalated\"]},\n"
    "   \"customer_id\": {\"type\": \"string\", \"min_length\": 1, \"max_length\": 64,"
    " \"required\": false},\n"
    "   \"severity\": {\"enum\": [\"general\", \"major\", \"urgent\"], \"required\": false}},\n"
    " \"data_access\": {\n"
    "   \"staff_id\": {\"type\": \"string\", \"min_length\": 1, \"max_length\": 64},\n"
    "   \"customer_id\": {\"type\": \"string\", \"min_length\": 1, \"max_length\": 64}},\n"
    " \"system\": {\n"
    "   \"service\": {\"type\": \"string\", \"min_length\": 1, \"max_length\": 64},\n"
    "   \"status\": {\"enum\": [\"ok\", \"error\", \"timeout\"]},\n"
    "   \"latency_ms\": {\"type\": \"number\", \"min\": 0, \"required\": false}}}\n";

const rw_schema_t *rw_schema_default(void) {
    static rw_schema_t *s;
    if (!s) {
        json_t *root = json_loads(default_text, JSON_REJECT_DUPLICATES, NULL);
        rw_error_t err;
        rw_error_clear(&err);
        s = rw_schema_parse(root, "built-in schema", default_text, sizeof(default_text) - 1, "",
                            &err);
        json_decref(root);
        if (!s) { /* a programmer's error: the text above is fixed */
            fprintf(stderr, "riskwarn: %s\n", err.text);
            abort();
        }
    }
    return s;
}

/* ---- checking -------------------------------------------------------------------------- */

/* The value, echoed for a reason: strings quoted and shortened, control bytes as '?'. */
static void echo(const json_t *v, char *out, size_t len) {
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v), k = 0;
        out[k++] = '"';
        for (size_t i = 0; i < n && k + 5 < len && i < 40; i++)
            out[k++] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
        if (n > 40 && k + 5 < len)
            k += (size_t)snprintf(out + k, len - k, "...");
        snprintf(out + k, len - k, "\"");
    } else if (json_is_integer(v)) {
        snprintf(out, len, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(out, len, "%.17g", json_real_value(v));
    } else {
        snprintf(out, len, "%s",
                 json_is_object(v)  ? "an object"
                 : json_is_array(v) ? "an array"
                 : json_is_true(v)  ? "true"
                 : json_is_false(v) ? "false"
                                    : "null");
    }
}

static const json_t *lookup(const json_t *event, const rw_jtop_t *top, const field_t *f) {
    const json_t *v = rw_jtop_member(top, event, f->parts[0], f->len0, f->head0);
    for (size_t i = 1; v && i < f->n_parts; i++)
        v = json_is_object(v) ? json_object_get(v, f->parts[i]) : NULL;
    return v;
}

static bool type_ok(ftype_t t, const json_t *v) {
    switch (t) {
    case T_STRING:
        return json_is_string(v);
    case T_NUMBER:
        return json_is_number(v);
    case T_INTEGER:
        return json_is_integer(v);
    case T_BOOLEAN:
        return json_is_boolean(v);
    case T_ARRAY:
        return json_is_array(v);
    case T_OBJECT:
        return json_is_object(v);
    default:
        return true;
    }
}

static bool printable(const char *s, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { /* eight bytes at a time: any below 0x20, or 0x7f */
        uint64_t w, del;
        memcpy(&w, s + i, sizeof(w));
        del = w ^ RW_BYTES8(0x7f);
        if ((((w - RW_BYTES8(0x20)) & ~w) | ((del - RW_BYTES8(1)) & ~del)) & RW_BYTES8(0x80))
            break;
    }
    for (; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* What is wrong with a string value, or NULL. */
static const char *string_fault(const field_t *f, const json_t *v, char *buf, size_t len) {
    size_t n = json_string_length(v);
    if (f->min_length >= 0 && (long long)n < f->min_length)
        return snprintf(buf, len, "shorter than %lld bytes", f->min_length), buf;
    if (f->max_length >= 0 && (long long)n > f->max_length)
        return snprintf(buf, len, "longer than %lld bytes", f->max_length), buf;
    if (f->printable && !printable(json_string_value(v), n))
        return "holds a control character or NUL";
    if (f->n_enums) {
        for (size_t i = 0; i < f->n_enums; i++)
            if (strcmp(f->enums[i], json_string_value(v)) == 0 && strlen(f->enums[i]) == n)
                return NULL;
        return "not one of the allowed values";
    }
    return NULL;
}

/* What is wrong with the field of this event, or NULL. */
static const char *field_fault(const field_t *f, const json_t *v, char *buf, size_t len) {
    if (!v || json_is_null(v))
        return f->required ? "missing" : NULL;
    if (!type_ok(f->type, v))
        return snprintf(buf, len, "must be %s %s", f->type == T_INTEGER ? "an" : "a",
                        type_names[f->type]),
               buf;
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if (!isfinite(d))
            return "not a finite number";
        if (f->has_min && d < f->min)
            return snprintf(buf, len, "below the minimum %g", f->min), buf;
        if (f->has_max && d > f->max)
            return snprintf(buf, len, "above the maximum %g", f->max), buf;
    }
    if (json_is_string(v))
        return string_fault(f, v, buf, len);
    return NULL;
}

static int check_type(const etype_t *t, const json_t *event, const rw_jtop_t *top, const char *type,
                      char *why, size_t len) {
    for (size_t i = 0; i < t->n_fields; i++) {
        const field_t *f = &t->fields[i];
        const json_t *v = lookup(event, top, f);
        char buf[96];
        const char *fault = field_fault(f, v, buf, sizeof(buf));
        if (!fault)
            continue;
        char val[80] = "";
        if (v && !json_is_null(v))
            echo(v, val, sizeof(val));
        snprintf(why, len, "schema: %s.%s: %s%s%s", type, f->path, fault, val[0] ? ", got " : "",
                 val);
        return -1;
    }
    return 0;
}

int rw_schema_check(const rw_schema_t *s, const json_t *event, const char *type, char *why,
                    size_t len) {
    return rw_schema_check_top(s, event, NULL, type, why, len);
}

int rw_schema_check_top(const rw_schema_t *s, const json_t *event, const rw_jtop_t *top,
                        const char *type, char *why, size_t len) {
    if (!s)
        return 0;
    for (size_t i = 0; i < s->n_types; i++) {
        const etype_t *t = &s->types[i];
        if ((t->any || (t->name[0] == type[0] && strcmp(t->name, type) == 0)) &&
            check_type(t, event, top, type, why, len))
            return -1;
    }
    return 0;
}

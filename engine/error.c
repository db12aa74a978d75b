#include "error.h"

#include "jpos.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Indexed by -code. */
static const char *const err_texts[] = {
    [0] = "no error",
    [-RW_ERR_FAIL] = "failed",
    [-RW_ERR_INPUT] = "bad input",
    [-RW_ERR_IO] = "input/output error",
    [-RW_ERR_REDIS] = "Redis error",
    [-RW_ERR_KAFKA] = "Kafka error",
    [-RW_ERR_CONFLICT] = "the state changed since it was read",
    [-RW_ERR_STATE_LOST] = "Redis lost the state",
    [-RW_ERR_TIMEOUT] = "timed out",
    [-RW_ERR_EXISTS] = "already exists",
    [-RW_ERR_NOT_FOUND] = "not found",
};
_Static_assert(sizeof(err_texts) / sizeof(err_texts[0]) == -RW_ERR_END,
               "every rw_err_t code has a text");

const char *rw_strerror(int code) {
    return code <= 0 && code > RW_ERR_END ? err_texts[-code] : "unknown error";
}

void rw_error_clear(rw_error_t *err) { memset(err, 0, sizeof(*err)); }

static void error_vfill(rw_error_t *err, int code, const char *source, int line, int column,
                        const char *fmt, va_list ap) {
    err->code = code;
    snprintf(err->source, sizeof(err->source), "%s", source ? source : "");
    err->line = line;
    err->column = column;
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
}

int rw_error_set(rw_error_t *err, const char *source, int line, int column, const char *fmt, ...) {
    if (!err || err->code)
        return RW_ERR_INPUT;
    va_list ap;
    va_start(ap, fmt);
    error_vfill(err, RW_ERR_INPUT, source, line, column, fmt, ap);
    va_end(ap);
    return RW_ERR_INPUT;
}

int rw_error_fail(rw_error_t *err, int code, const char *fmt, ...) {
    if (!err || err->code)
        return code;
    va_list ap;
    va_start(ap, fmt);
    error_vfill(err, code, NULL, 0, 0, fmt, ap);
    va_end(ap);
    return code;
}

void rw_error_format(const rw_error_t *err, char *buf, size_t len) {
    if (err->source[0] && err->line > 0)
        snprintf(buf, len, "%s:%d:%d: %s", err->source, err->line, err->column, err->text);
    else if (err->source[0])
        snprintf(buf, len, "%s: %s", err->source, err->text);
    else
        snprintf(buf, len, "%s", err->text);
}

void rw_errors_init(rw_errors_t *e) { memset(e, 0, sizeof(*e)); }

void rw_errors_fini(rw_errors_t *e) {
    free(e->items);
    memset(e, 0, sizeof(*e));
}

void rw_errors_add(rw_errors_t *e, const rw_error_t *err) {
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->items = rw_realloc(e->items, e->cap * sizeof(*e->items));
    }
    e->items[e->n++] = *err;
}

void rw_errors_vadd_at(rw_errors_t *e, const char *source, const char *text, size_t len,
                       const char *pointer, bool key, const char *fmt, va_list ap) {
    rw_error_t err;
    rw_error_clear(&err);
    err.code = RW_ERR_INPUT;
    snprintf(err.source, sizeof(err.source), "%s", source ? source : "");
    rw_jpos_place(text, len, pointer, key, &err.line, &err.column);
    vsnprintf(err.text, sizeof(err.text), fmt, ap);
    rw_errors_add(e, &err);
}

void rw_errors_add_at(const rw_errors_at_t *at, const char *pointer, bool key, const char *fmt,
                      ...) {
    va_list ap;
    va_start(ap, fmt);
    rw_errors_vadd_at(at->errs, at->source, at->text, at->len, pointer, key, fmt, ap);
    va_end(ap);
}

void rw_errors_add_in_string(const rw_errors_at_t *at, const char *pointer, int col,
                             const char *msg) {
    size_t before = at->errs->n;
    rw_errors_add_at(at, pointer, false, "%s", msg);
    rw_error_t *err = &at->errs->items[before];
    if (!at->text || err->line <= 0 || col <= 0)
        return;
    /* Find the quote at (line, column) and walk col - 1 bytes into the string. */
    const char *p = at->text, *end = at->text + at->len;
    for (int line = 1; p < end && line < err->line; p++)
        if (*p == '\n')
            line++;
    p += err->column - 1;
    if (p >= end || *p != '"')
        return;
    for (int i = 1; i < col; i++)
        if (++p >= end || *p == '\\' || *p == '"' || *p == '\n')
            return;
    err->column += col;
}

void rw_errors_print(const rw_errors_t *e, FILE *out) {
    char line[1024];
    for (size_t i = 0; i < e->n; i++) {
        rw_error_format(&e->items[i], line, sizeof(line));
        fprintf(out, "%s\n", line);
    }
}

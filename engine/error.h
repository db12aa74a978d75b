/*
 * Errors: the one convention of the engine.
 *
 * - A function that can fail returns RW_OK (0) or a negative code of rw_err_t; a constructor
 *   returns NULL. rw_strerror names a code. No status is positive: the one positive value,
 *   RW_DECLINED of riskwarn/module.h, is a module callback's "not mine", never an error.
 *   Predicates (rw_match_test, ...) return 1 or 0 and say so.
 * - What went wrong is told in an rw_error_t that the caller keeps (on its stack) and the
 *   callee fills: the code, and for errors in input the source, line and column, and the
 *   text. The first error set stays; rw_error_format writes "file:line:col: text".
 * - rw_errors_t collects every error of an input, only where all are reported (the ruleset
 *   loader and `rules check`).
 * - Exit codes (RW_EXIT_* of util.h) belong to main.c and the command functions (rw_cmd_*);
 *   no other function returns one.
 * - The module interface (riskwarn/module.h) keeps its own `char *err, size_t errlen` text
 *   buffers: they are its ABI. The engine copies that text into an rw_error_t.
 * scripts/check_conventions.py checks the mechanical part of this.
 */
#ifndef RW_ERROR_H
#define RW_ERROR_H

#include "riskwarn/module.h" /* RW_OK, RW_ERROR, RW_DECLINED */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Error codes: RW_OK (0), or one of these. Add a code with its text in error.c. */
typedef enum rw_err {
    RW_ERR_FAIL = RW_ERROR, /* any failure no other code names */
    RW_ERR_INPUT = -2,      /* bad input: a config, a ruleset, a key file, a command line */
    RW_ERR_IO = -3,         /* a file could not be read or written */
    RW_ERR_REDIS = -4,      /* Redis failed, refused or could not be reached */
    RW_ERR_KAFKA = -5,      /* Kafka (librdkafka) failed or refused */
    RW_ERR_CONFLICT = -6,   /* a fence moved since the batch was read: read again and redo */
    RW_ERR_STATE_LOST = -7, /* Redis lost the state the engine holds (rw_store_t) */
    RW_ERR_TIMEOUT = -8,    /* a deadline passed */
    RW_ERR_EXISTS = -9,     /* the name is taken */
    RW_ERR_NOT_FOUND = -10, /* what was asked for is not there */
    RW_ERR_END = -11        /* not a code: one below the last */
} rw_err_t;

/* The text of a code ("bad input"); "unknown error" for anything else. Static storage. */
const char *rw_strerror(int code);

/* An error with its place: kept on the caller's stack, filled by the callee. */
typedef struct rw_error {
    int code;         /* RW_OK (0) none; otherwise an rw_err_t */
    char source[256]; /* file name, or "" */
    int line;         /* 1-based, 0 when unknown */
    int column;       /* 1-based, 0 when unknown */
    char text[512];
} rw_error_t;

void rw_error_clear(rw_error_t *err);
/* An error in input: fills err (when it has no error yet) with RW_ERR_INPUT at line and
 * column of source (0: unknown; source NULL or "": none). Returns RW_ERR_INPUT. err may be
 * NULL. */
int rw_error_set(rw_error_t *err, const char *source, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Any other error: fills err (when it has no error yet) with code and text. Returns code. */
int rw_error_fail(rw_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "file:line:col: text", "file: text" or "text". */
void rw_error_format(const rw_error_t *err, char *buf, size_t len);

/* A list of errors, where every error of an input is reported (`rules check`, the ruleset
 * loader). Caller-owned: rw_errors_init, then rw_errors_fini. */
typedef struct rw_errors {
    rw_error_t *items;
    size_t n, cap;
} rw_errors_t;
void rw_errors_init(rw_errors_t *e);
void rw_errors_fini(rw_errors_t *e);
/* Adds a copy of err. */
void rw_errors_add(rw_errors_t *e, const rw_error_t *err);
/* Adds an error in source located at a JSON pointer in text (key: at the member's key). */
void rw_errors_vadd_at(rw_errors_t *e, const char *source, const char *text, size_t len,
                       const char *pointer, bool key, const char *fmt, va_list ap);
/* Writes each error as rw_error_format does, one a line. */
void rw_errors_print(const rw_errors_t *e, FILE *out);

/* An input whose every error is reported, each placed by its JSON pointer in the text:
 * what a loader hands the parts it calls (match objects, module params and setup).
 * Borrowed; text NULL: errors have no line and column. */
typedef struct rw_errors_at {
    rw_errors_t *errs;
    const char *source;
    const char *text;
    size_t len;
} rw_errors_at_t;
/* Adds an error at pointer (key: at the member's key), as rw_errors_vadd_at does. */
void rw_errors_add_at(const rw_errors_at_t *at, const char *pointer, bool key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Adds msg at column col (1-based) of the JSON string at pointer: at that byte of the text
 * when the string has no escape before it, else at the string's opening quote. */
void rw_errors_add_in_string(const rw_errors_at_t *at, const char *pointer, int col,
                             const char *msg);

#endif

/* Param tables (rw_param_t of include/riskwarn/module.h): a table declares the keys an object
 * takes, each with a type, a default, bounds, the offset of its value in a struct and a
 * description. The engine checks rule modules' params and ENGINE.json against tables: unknown
 * keys (with "did you mean" when one is close), missing required ones, wrong types and
 * out-of-bounds values are errors that name the file, line and column and echo the bad value.
 *
 * Values written into a struct: strings and string lists are owned by the struct (new copies,
 * freed with rw_params_fini); fields, matches and expressions by the ruleset being loaded. */
#ifndef RW_PARAMS_H
#define RW_PARAMS_H

#include "ruleset.h"

#include <stdio.h>

/* Checks a table itself: known types, names given and unique, values inside a state of size
 * bytes and aligned, defaults that parse and lie in the bounds, choices for enums, no
 * default for a required param. Returns 0, or RW_ERR_INPUT with err filled naming the param. */
int rw_params_check_table(const rw_param_t *table, size_t size, rw_error_t *err);

/* Where an object's values come from, and where its errors go. */
typedef struct rw_params_ctx {
    const char *text;         /* the file's text, for positions; borrowed; NULL: none */
    size_t len;               /* of text */
    const char *source;       /* the file's name in errors */
    rw_errors_t *errs;        /* every error found is added here */
    rw_setup_t *setup;        /* rule params (fields, matches, the window); NULL otherwise */
    const char *what;         /* prefix of every message: "rule \"r1\": params", "redis" */
    const char *owner;        /* what takes the keys, for unknown ones: "module value" */
    const char *const *extra; /* keys the caller checks itself (NULL-terminated), or NULL */
} rw_params_ctx_t;

/* Checks obj (a JSON object, or NULL when absent: only defaults then) against table and
 * fills base with its values and the defaults. pointer is obj's JSON pointer in the text
 * (or, when obj is NULL, the pointer of what should have held it: missing required keys are
 * reported there). Unknown keys are reported first; when there are any, nothing else is
 * checked. Keys in c->extra are left to the caller. Returns the number of errors added (0:
 * base filled). Messages: 'rule "r": params.window: ...' for rule params (c->setup), and
 * 'redis.port: ...', 'unknown key "redis.prot"' for other objects. */
size_t rw_params_apply(const rw_params_ctx_t *c, const rw_param_t *table, const json_t *obj,
                       const char *pointer, void *base);

/* Frees the strings and string lists the table's values in base hold, and zeroes them. */
void rw_params_fini(const rw_param_t *table, void *base);

/* Prints a table for people: name, type, default, bounds and description, one line a
 * param (indent spaces before each). */
void rw_params_print(const rw_param_t *table, int indent, FILE *out);

#endif

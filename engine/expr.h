/*
 * Expressions: arithmetic and comparisons over an event's numeric fields, compiled once when a
 * ruleset loads into a flat postfix program, and evaluated per event without allocating.
 *
 *   amount / max(oldbalanceOrg, 1)          amount == oldbalanceOrg and amount > 0
 *   abs(newbalanceDest - oldbalanceDest - amount) < 0.01
 *
 * Grammar (lowest precedence first; rules/README.md documents it for rule writers):
 *   or      := and ("or" and)*
 *   and     := not ("and" not)*
 *   not     := "not" not | compare
 *   compare := sum [("<" | "<=" | "==" | "!=" | ">=" | ">") sum]     (not chained)
 *   sum     := product (("+" | "-") product)*
 *   product := unary (("*" | "/") unary)*
 *   unary   := "-" unary | primary
 *   primary := NUMBER | "true" | "false" | FIELD | FUNCTION "(" or ("," or)* ")" | "(" or ")"
 *   FIELD   := NAME ("." NAME)*, NAME letters, digits and "_" not starting with a digit; or any
 *              path in backquotes (`Timely response?`)
 *   FUNCTION:= "min" | "max" (two or more arguments) | "abs" (one)
 * Comparisons and and/or/not give 1 (true) or 0 (false); a value is true when it is not 0.
 *
 * Values: a field is read as a number when it is a JSON number, and as 1 or 0 when it is
 * true or false. Anything else has no value: a missing field is RW_SKIP_MISSING; a string
 * ("900000"), null, an object or a list is RW_SKIP_WRONG_TYPE; a division by zero is
 * RW_SKIP_DIV_ZERO. An expression with no value has no value as a whole (and/or included):
 * a measure is not scored, a condition does not hold, and the engine counts the skip with
 * its reason.
 */
#ifndef RW_EXPR_H
#define RW_EXPR_H

#include "error.h"
#include "riskwarn/module.h"

#include <jansson.h>
#include <stddef.h>

/* Why a rule did not score an event it matched (riskwarn_rule_skipped_total's reasons). */
typedef enum {
    RW_SKIP_NONE = 0,
    RW_SKIP_MISSING,    /* a field the rule reads is not in the event */
    RW_SKIP_WRONG_TYPE, /* a field has the wrong JSON type ("900000" where a number is read) */
    RW_SKIP_DIV_ZERO,   /* an expression divided by zero */
    RW_SKIP_NOT_FINITE, /* the measure overflowed to infinity */
    RW_SKIP_REASONS
} rw_skip_t;
/* "none", "missing", "wrong_type", "div_by_zero", "not_finite". */
const char *rw_expr_skip_name(int reason);

/* Longest expression text, and deepest evaluation stack. */
#define RW_EXPR_MAX_TEXT 4096
#define RW_EXPR_MAX_DEPTH 64

/* Compiles a field path for the expression; returns NULL with err filled on a bad path. */
typedef const rw_field_t *(*rw_expr_field_fn)(void *ctx, const char *path, rw_error_t *err);

/* Compiles text; field paths are compiled with field(ctx, path) (borrowed: the expression
 * keeps the returned pointers, which must outlive it). Returns a new expression (free with
 * rw_expr_destroy), or NULL with err filled: RW_ERR_INPUT, the 1-based byte column in the
 * expression text (err->column; no source or line), and the message. */
rw_expr_t *rw_expr_compile(const char *text, rw_expr_field_fn field, void *ctx, rw_error_t *err);
void rw_expr_destroy(rw_expr_t *e);

/* Evaluates e on event (borrowed). Returns RW_SKIP_NONE and sets *out, or the reason the
 * expression has no value (then *out is unchanged). Allocates nothing. When it fails on a
 * field, *field (if not NULL) is set to that field. */
int rw_expr_eval(const rw_expr_t *e, const json_t *event, double *out, const rw_field_t **field);

/* The expression's text as written (borrowed from e). */
const char *rw_expr_text(const rw_expr_t *e);

#endif

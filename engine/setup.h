/*
 * Setting up a rule's module: the rw_setup_t that the loader hands a module's init(), and
 * the loader's own setup functions. The rw_setup_* functions modules call are declared in
 * riskwarn/module.h (the module ABI); engine/setup.c holds them all.
 */
#ifndef RW_SETUP_H
#define RW_SETUP_H

#include "error.h"
#include "ruleset.h"

/* The rule being set up, in the ruleset being loaded. */
struct rw_setup {
    rw_ruleset_t *rs;
    rw_rule_t *rule;
    int window_calls;  /* rw_setup_window calls: more than one is an error */
    int expr_column;   /* the column of the last rw_setup_expr error; 0: none */
    rw_errors_at_t in; /* the ruleset's text, where its errors go */
};

/* Compiles a match param of the rule being set up, reporting every error in it at its place
 * in the ruleset's text (under pointer, messages starting with what). Returns a handle owned
 * by the rule, or NULL after adding the errors. */
const rw_match_t *rw_setup_match_at(rw_setup_t *s, const json_t *match, const char *pointer,
                                    const char *what);
/* The same for an expression param: an error is reported at its column in the string. */
const rw_expr_t *rw_setup_expr_at(rw_setup_t *s, const char *text, const char *pointer,
                                  const char *what);

#endif

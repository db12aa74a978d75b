/*
 * Match objects: the conditions a rule's "match" and a module's match params put on an
 * event ({"field": value, "field": {"gte": 100}, "$expr": "amount > balance"}). Compiled
 * once when the ruleset loads; rw_match_test of riskwarn/module.h is the modules' way to
 * test one.
 */
#ifndef RW_MATCH_H
#define RW_MATCH_H

#include "error.h"
#include "ruleset.h"

#include <stdbool.h>

/* Compiles the match object obj into m (zeroed by the caller, or holding conditions to
 * add to), its fields and expressions into rs. Every error goes to at, located under
 * pointer (NULL: the top) and starting with what ("rule x: match"). */
void rw_match_parse(rw_match_t *m, rw_ruleset_t *rs, const json_t *obj, const rw_errors_at_t *at,
                    const char *pointer, const char *what);
/* Frees m's conditions (not m itself) and leaves it empty. */
void rw_match_fini(rw_match_t *m);

/* Whether event satisfies every condition of m. An event that fails for its types alone
 * (a string where a number is compared) notes the skip (rw_field_skip_note). */
bool rw_match_eval(const rw_match_t *m, const json_t *event);

#endif

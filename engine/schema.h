/* Event schema: per event type, the fields an event must or may carry, their JSON types
 * and bounds. An event that breaks its type's schema is dead-lettered with the field and
 * the reason, so that nothing a rule reads slips past the rules in silence (a key that is
 * empty or an object, an amount sent as a string or below zero).
 *
 * In ENGINE.json ("schema"), an object from event type to an object from field path
 * (dotted, as rules name fields) to a field spec:
 *   "transaction": {"account": {"type": "string", "min_length": 1, "max_length": 64},
 *                   "amount": {"type": "number", "min": 0},
 *                   "direction": {"enum": ["in", "out"], "required": false}}
 * A spec may be just the type name ("amount": "number"). Spec keys: "type" ("string",
 * "number", "integer", "boolean", "array", "object", "any"; default "any", or "string"
 * with "enum"), "required" (default true), "min"/"max" (numbers, inclusive),
 * "min_length"/"max_length" (strings, in bytes), "enum" (strings), "printable" (strings:
 * no control characters and no NUL; default true). Event types the schema does not name
 * are not checked; "*" applies to every type. */
#ifndef RW_SCHEMA_H
#define RW_SCHEMA_H

#include "util.h"

#include <jansson.h>
#include <stddef.h>

typedef struct rw_schema rw_schema_t;

/* Parses a "schema" object found at `pointer` (a JSON pointer, e.g. "/schema") of the
 * file text (source names the file in errors). Returns a new schema (free with
 * rw_schema_destroy), or NULL with err filled at the bad key or value, the value echoed. */
rw_schema_t *rw_schema_parse(const json_t *obj, const char *source, const char *text, size_t len,
                             const char *pointer, rw_error_t *err);

/* The built-in schema of the event types the default pack reads (docs/reference.md §4):
 * the engine's schema when its config names none. Borrowed, valid for the process. */
const rw_schema_t *rw_schema_default(void);

/* Checks one event (a JSON object) of the given type. Returns 0, or -1 with the reason
 * in why, as "schema: TYPE.FIELD: what is wrong" with the bad value echoed (shortened). */
int rw_schema_check(const rw_schema_t *s, const json_t *event, const char *type, char *why,
                    size_t len);
/* The same, with the event's top-level members in top (jparse.h; NULL: none). */
struct rw_jtop;
int rw_schema_check_top(const rw_schema_t *s, const json_t *event, const struct rw_jtop *top,
                        const char *type, char *why, size_t len);

/* Fields and types the schema names (for `check` and the docs). */
size_t rw_schema_n_types(const rw_schema_t *s);

void rw_schema_destroy(rw_schema_t *s);

#endif

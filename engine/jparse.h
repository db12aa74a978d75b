/* Event parsing: what json_loadb(buf, len, JSON_REJECT_DUPLICATES |
 * JSON_ALLOW_NUL, err) returns, faster on well-formed events. */
#ifndef RW_JPARSE_H
#define RW_JPARSE_H

#include <jansson.h>
#include <stddef.h>

/* Parses len bytes (not NUL-terminated) holding a JSON object or array.
 * Returns a new value (free with json_decref), or NULL with err filled by
 * jansson. The same value, and the same error, as json_loadb with
 * JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL. */
json_t *rw_json_parse(const char *buf, size_t len, json_error_t *err);

#endif

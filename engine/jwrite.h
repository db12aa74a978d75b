/* JSON text for alerts: the bytes json_dumps writes with JSON_COMPACT |
 * JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15), appended to a buffer. */
#ifndef RW_JWRITE_H
#define RW_JWRITE_H

#include "util.h"

#include <jansson.h>
#include <stdbool.h>

/* Appends v (any JSON value; objects in their keys' order) to b. */
void rw_json_write(rw_buf_t *b, const json_t *v);
/* Appends x as jansson writes a real (1.5, 2.0, 1e20). */
void rw_json_write_real(rw_buf_t *b, double x);
/* Appends len bytes of valid UTF-8 as a JSON string. */
void rw_json_write_string(rw_buf_t *b, const char *s, size_t len);

#endif

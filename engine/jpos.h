/* Locating values in raw JSON text, so that errors found after parsing (jansson keeps no
 * positions) can be reported as file:line:col.
 *
 * The locator is a small recursive-descent scanner over the text itself. It allocates nothing
 * (a fixed 1 KiB name buffer lives on the stack), never reads past len, and does not need the
 * text to be NUL-terminated. It borrows text and pointer for the duration of the call only.
 *
 * Positions: line and col are 1-based; col counts bytes (not characters) from the start of
 * the line. Lines end at '\n', so CRLF text works as expected (the '\r' is the last byte of
 * the previous line); a lone '\r' does not start a new line.
 *
 * Scanning stops once the answer is known: the value found is checked to be well-formed, and
 * everything before it that had to be skipped is too, but text after it is not looked at.
 *
 * Limits: nesting deeper than RW_JPOS_MAX_DEPTH arrays/objects makes the call fail (-1);
 * member names longer than RW_JPOS_MAX_NAME bytes (after unescaping) never match.
 * Duplicate member names: the first one in the text wins. */
#ifndef RW_JPOS_H
#define RW_JPOS_H

#include "error.h"

#include <stddef.h>

#define RW_JPOS_MAX_DEPTH 512
#define RW_JPOS_MAX_NAME 1024

/* Finds the value at a JSON Pointer (RFC 6901, e.g. "/rules/3/params/window", "" for the
 * root, "~1" and "~0" escapes) in text[0..len). On success returns 0 and sets *line and *col
 * (1-based; col counts bytes) of the first character of that value.
 *
 * When the pointer names an object member that is missing, locates the enclosing object's
 * opening brace instead and returns RW_ERR_NOT_FOUND (error.h). This also applies to a missing
 * member in the middle of the pointer: for "/rules/3/params/window" with no "params" in rules[3],
 * the position is that of rules[3]'s '{'.
 *
 * Returns RW_ERR_INPUT when the text is not parsable far enough, or the pointer cannot be followed
 * at all: malformed pointer, array index out of range / not a plain decimal ("-" included),
 * descending into a scalar, nesting too deep. Then *line and *col are left unchanged.
 *
 * Member names are compared after unescaping (all JSON escapes; \uXXXX, surrogate pairs
 * included, is compared as UTF-8). line and col may be NULL when not wanted. */
int rw_jpos_find(const char *text, size_t len, const char *pointer, int *line, int *col);

/* Same, but for an object member's KEY (the position of the opening quote of "window"), for
 * errors such as unknown keys. The pointer names the member, e.g. "/rules/3/params/windw";
 * its last token must name a member of an object. Returns RW_OK; RW_ERR_NOT_FOUND when the
 * member is missing; RW_ERR_INPUT when the pointer cannot be followed as rw_jpos_find says,
 * or names no member (it is "", or its last token indexes an array). On an error *line and
 * *col are left unchanged. */
int rw_jpos_find_key(const char *text, size_t len, const char *pointer, int *line, int *col);

/* The place to report an error at: the value (or, with key, the member's key) that pointer
 * names in text, or line and col 0 when it cannot be found or text or pointer is NULL. */
void rw_jpos_place(const char *text, size_t len, const char *pointer, int key, int *line, int *col);

/* Fills err (error.h) with the message at that place in source, as rw_error_set does.
 * Returns RW_ERR_INPUT. */
struct rw_error;
int rw_jpos_error(struct rw_error *err, const char *source, const char *text, size_t len,
                  const char *pointer, int key, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

#endif

/* Event parsing: what json_loadb(buf, len, JSON_REJECT_DUPLICATES |
 * JSON_ALLOW_NUL, err) returns, faster on well-formed events. */
#ifndef RW_JPARSE_H
#define RW_JPARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Parses len bytes (not NUL-terminated) holding a JSON object or array.
 * Returns a new value (free with json_decref), or NULL with err filled by
 * jansson. The same value, and the same error, as json_loadb with
 * JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL. */
json_t *rw_json_parse(const char *buf, size_t len, json_error_t *err);

/* The members of a parsed object's top level, in a table beside it, so that an event's
 * fields are found without jansson's hashtable (a hash of the name, then a walk of its
 * bucket, each a call): names of up to RW_JTOP_NAME bytes are copied in. */
#define RW_JTOP_MAX 32
#define RW_JTOP_NAME 23
typedef struct rw_jtop {
    uint32_t n;
    bool whole;    /* every member of the object is in the table */
    bool lazy;     /* the members are in the table alone, each value the table's, until
                      rw_jtop_fill() (rw_json_parse_lazy) */
    uint64_t seen; /* a bit for each member's name (its head and length hashed): a name whose
                      bit is clear is not in the table */
    struct {
        uint64_t head; /* the name's first 8 bytes, zero-padded (rw_jtop_head) */
        uint8_t len;
        char rest[RW_JTOP_NAME - 8]; /* the bytes after them */
        json_t *value;               /* borrowed from the object */
    } m[RW_JTOP_MAX];
} rw_jtop_t;

/* A name's first 8 bytes (fewer: zero-padded), as the table compares them. */
static inline uint64_t rw_jtop_head(const char *name, size_t len) {
    uint64_t h = 0;
    memcpy(&h, name, len < 8 ? len : 8);
    return h;
}

/* rw_json_parse, and the top level's members in *top (valid while the value lives; none,
 * and not whole, when the value is not an object or was read by jansson). */
json_t *rw_json_parse_top(const char *buf, size_t len, json_error_t *err, rw_jtop_t *top);

/* rw_json_parse_top, but the top level's members are kept in *top alone while they fit
 * (top->lazy; an object with a member that does not fit, or not an object, is made as
 * rw_json_parse_top makes it): the object returned is empty until rw_jtop_fill(), which
 * jansson's hashtable costs only for the events whose object is read as an object. Release
 * with rw_jtop_decref(). */
json_t *rw_json_parse_lazy(const char *buf, size_t len, json_error_t *err, rw_jtop_t *top);

/* Puts a lazy table's members into obj, its object, in document order (nothing when the
 * table is not lazy): obj is then what rw_json_parse_top returns. Returns 0, or -1 when
 * jansson failed (no memory): the table is then empty and not whole. */
int rw_jtop_fill(rw_jtop_t *top, json_t *obj);

/* json_decref(obj), and first its lazy table's members (top NULL: none; obj NULL: nothing). */
void rw_jtop_decref(rw_jtop_t *top, json_t *obj);

/* The member name (len bytes; head its rw_jtop_head) of the object top was filled for:
 * true with *v (NULL when the object has no such member) when the table tells; false when
 * only the object can. */
static inline bool rw_jtop_get(const rw_jtop_t *top, const char *name, size_t len, uint64_t head,
                               json_t **v) {
    for (uint32_t i = 0; i < top->n; i++)
        if (top->m[i].head == head && top->m[i].len == len &&
            (len <= 8 || memcmp(top->m[i].rest, name + 8, len - 8) == 0)) {
            *v = top->m[i].value;
            return true;
        }
    *v = NULL;
    return top->whole;
}

/* The member name (NUL-terminated, len bytes; head its rw_jtop_head) of obj: from top,
 * obj's table (NULL: none), when that tells, else from obj itself. */
static inline json_t *rw_jtop_member(const rw_jtop_t *top, const json_t *obj, const char *name,
                                     size_t len, uint64_t head) {
    json_t *v;
    return top && rw_jtop_get(top, name, len, head, &v) ? v : json_object_get(obj, name);
}

/* Byte c in each of a 64-bit word's eight bytes, for tests of eight bytes at a time. */
#define RW_BYTES8(c) ((uint64_t)0x0101010101010101u * (c))

#endif

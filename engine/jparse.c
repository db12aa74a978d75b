/*
 * A fast path for jansson's json_loadb() on events.
 *
 * jansson reads its input a byte at a time through a stream, and spends most
 * of an event's parse there. This parser reads the buffer directly and builds
 * the same jansson values (objects in document order, integers, reals,
 * strings) for well-formed input. On anything it does not take as it is
 * (malformed JSON, invalid UTF-8, a lone surrogate, a duplicate key, a NUL in
 * a key, an integer or a real out of range, nesting past jansson's limit) it
 * drops what it built and hands the buffer to json_loadb(), so that the result
 * and the error text are always jansson's own.
 */
#include "jparse.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const unsigned char *p, *end;
    int depth;
    char *scratch; /* decoded strings with escapes */
    size_t cap;
    rw_jtop_t *top; /* the top level's members, when asked for */
} parser_t;

static json_t *value(parser_t *ps);

static void ws(parser_t *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r'))
        ps->p++;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    /* No overlong forms, no surrogates, nothing past U+10FFFF. */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static int hex4(const unsigned char *p, const unsigned char *end, uint32_t *out) {
    if (end - p < 4)
        return -1;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Makes the scratch buffer hold at least need bytes. */
static int scratch_reserve(parser_t *ps, size_t need) {
    if (need <= ps->cap)
        return 0;
    char *grown = realloc(ps->scratch, need);
    if (!grown)
        return -1;
    ps->scratch = grown;
    ps->cap = need;
    return 0;
}

/* The bytes of w (little-endian: the first the lowest) that end or escape a plain ASCII
 * string: a quote, a backslash, a control character or a byte of UTF-8, each marked by its
 * high bit. The lowest byte marked is the first such byte; bytes after it may be marked
 * when they are not. 0: all eight plain. */
static inline uint64_t special8(uint64_t w) {
    uint64_t high = RW_BYTES8(0x80);
    uint64_t quote = w ^ RW_BYTES8('"'), bslash = w ^ RW_BYTES8('\\');
    uint64_t is_quote = (quote - RW_BYTES8(1)) & ~quote;
    uint64_t is_bslash = (bslash - RW_BYTES8(1)) & ~bslash;
    uint64_t is_ctl = (w - RW_BYTES8(0x20)) & ~w;
    return ((is_quote | is_bslash | is_ctl) & high) | (w & high);
}

/* Decodes the four hex digits after "\u" at p (and a low surrogate's "\uXXXX" after a
 * high one) into UTF-8 at *o, moving *o on. Returns what follows, or NULL: not taken. */
static const unsigned char *unicode_escape(const unsigned char *p, const unsigned char *end,
                                           char **o) {
    uint32_t cp, lo;
    if (hex4(p, end, &cp))
        return NULL;
    p += 4;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return NULL;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, end, &lo) || lo < 0xDC00 ||
            lo > 0xDFFF)
            return NULL;
        p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    *o += utf8_put(cp, *o);
    return p;
}

/* The string from start on that string() did not take as it is: escapes or UTF-8, decoded
 * into scratch (never longer than the input). */
static __attribute__((noinline)) int string_decode(parser_t *ps, const unsigned char *start,
                                                   const char **s, size_t *n) {
    const unsigned char *p;
    if (scratch_reserve(ps, (size_t)(ps->end - start)) != 0)
        return -1;
    char *o = ps->scratch;
    p = start;
    for (;;) {
        if (p >= ps->end)
            return -1;
        unsigned c = *p;
        if (c == '"')
            break;
        if (c < 0x20)
            return -1;
        if (c >= 0x80) {
            size_t l = utf8_len(p, ps->end);
            if (!l)
                return -1;
            memcpy(o, p, l);
            o += l;
            p += l;
            continue;
        }
        if (c != '\\') {
            *o++ = (char)c;
            p++;
            continue;
        }
        if (++p >= ps->end)
            return -1;
        switch (*p++) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '/':
            *o++ = '/';
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u':
            if (!(p = unicode_escape(p, ps->end, &o)))
                return -1;
            break;
        default:
            return -1;
        }
    }
    *s = ps->scratch;
    *n = (size_t)(o - ps->scratch);
    ps->p = p + 1;
    return 0;
}

/* A string after its opening quote: *s and *n its bytes (in the input when plain ASCII,
 * else in scratch), the parser after its closing quote. Returns 0, or -1: not taken. */
static inline int string(parser_t *ps, const char **s, size_t *n) {
    const unsigned char *start = ps->p, *p = ps->p;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (;;) { /* eight bytes at a time, to the first that is not plain */
        uint64_t w, mark;
        if (ps->end - p < 8)
            goto tail;
        memcpy(&w, p, sizeof(w));
        if ((mark = special8(w))) {
            p += __builtin_ctzll(mark) / 8;
            break;
        }
        p += 8;
    }
    if (*p == '"') { /* the common case: plain ASCII */
        *s = (const char *)start;
        *n = (size_t)(p - start);
        ps->p = p + 1;
        return 0;
    }
    return string_decode(ps, start, s, n);
tail:
#endif
    while (p < ps->end && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80)
        p++;
    if (p < ps->end && *p == '"') {
        *s = (const char *)start;
        *n = (size_t)(p - start);
        ps->p = p + 1;
        return 0;
    }
    return string_decode(ps, start, s, n);
}

/* 10^0 to 10^22: the powers of ten a double holds exactly. */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A number of up to 18 digits without an exponent, without strtoll or strtod: an integer
 * from its digits; a real as its digits' integer divided by the power of ten of its
 * fraction when both are exact doubles (below 2^53; 10^22 at most), where one division,
 * correctly rounded, gives what strtod gives. NULL: strtoll's or strtod's to read. */
static json_t *number_fast(const unsigned char *p, const unsigned char *end, bool real) {
    bool neg = *p == '-';
    p += neg;
    uint64_t m = 0;
    int digits = 0, frac = -1;
    for (; p < end; p++) {
        if (*p == '.') {
            frac = 0;
            continue;
        }
        if (*p < '0' || *p > '9' || ++digits > 18)
            return NULL; /* an exponent, or too long */
        m = m * 10 + (uint64_t)(*p - '0');
        frac += frac >= 0;
    }
    if (!real)
        return json_integer(neg ? -(json_int_t)m : (json_int_t)m);
    if (frac < 0 || m >= (uint64_t)1 << 53)
        return NULL;
    double d = (double)m / pow10_exact[frac];
    return json_real(neg ? -d : d);
}

static json_t *number(parser_t *ps) {
    const unsigned char *start = ps->p, *p = ps->p;
    bool real = false;
    if (p < ps->end && *p == '-')
        p++;
    if (p >= ps->end)
        return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return NULL;
    }
    if (p < ps->end && *p == '.') {
        real = true;
        if (++p >= ps->end || *p < '0' || *p > '9')
            return NULL;
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < ps->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= ps->end || *p < '0' || *p > '9')
            return NULL;
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    }
    json_t *fast = number_fast(start, p, real);
    if (fast) {
        ps->p = p;
        return fast;
    }
    size_t n = (size_t)(p - start);
    char buf[64];
    if (n >= sizeof(buf))
        return NULL; /* long numbers: jansson's own reading */
    memcpy(buf, start, n);
    buf[n] = 0;
    ps->p = p;
    errno = 0;
    if (!real) {
        long long v = strtoll(buf, NULL, 10);
        if (errno == ERANGE)
            return NULL;
        return json_integer((json_int_t)v);
    }
    double d = strtod(buf, NULL);
    if (isinf(d))
        return NULL;
    return json_real(d);
}

static json_t *literal(parser_t *ps, const char *word, size_t n, json_t *v) {
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return NULL;
    ps->p += n;
    return v;
}

/* After a member of an object or array: 0 when a comma says another follows,
 * 1 when close ends it, -1 otherwise. */
static int after_member(parser_t *ps, unsigned char close) {
    ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        ws(ps);
        return 0;
    }
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 1;
    }
    return -1;
}

/* Whether a member named kn bytes has room in the table. */
static bool top_fits(const rw_jtop_t *top, size_t kn) {
    return kn <= RW_JTOP_NAME && top->n < RW_JTOP_MAX;
}

/* The table's seen bit of a name of kn bytes whose first 8 are head. */
static uint64_t top_bit(uint64_t head, size_t kn) {
    return (uint64_t)1 << (((head ^ ((uint64_t)kn << 56)) * 0x9E3779B97F4A7C15u) >> 58);
}

/* Adds a member of the top level to its table; one that does not fit leaves it not whole. */
static void top_add(rw_jtop_t *top, const char *key, size_t kn, json_t *v) {
    if (!top_fits(top, kn)) {
        top->whole = false;
        return;
    }
    top->m[top->n].head = rw_jtop_head(key, kn);
    top->seen |= top_bit(top->m[top->n].head, kn);
    top->m[top->n].len = (uint8_t)kn;
    if (kn > 8)
        memcpy(top->m[top->n].rest, key + 8, kn - 8);
    top->m[top->n++].value = v;
}

/* The name of the table's member i, written to name (RW_JTOP_NAME + 1 bytes). */
static size_t top_name(const rw_jtop_t *top, uint32_t i, char name[RW_JTOP_NAME + 1]) {
    size_t kn = top->m[i].len;
    memcpy(name, &top->m[i].head, 8);
    if (kn > 8)
        memcpy(name + 8, top->m[i].rest, kn - 8);
    name[kn] = 0;
    return kn;
}

int rw_jtop_fill(rw_jtop_t *top, json_t *obj) {
    if (!top->lazy)
        return 0;
    top->lazy = false;
    for (uint32_t i = 0; i < top->n; i++) {
        char name[RW_JTOP_NAME + 1];
        size_t kn = top_name(top, i, name);
        if (json_object_setn_new_nocheck(obj, name, kn, top->m[i].value) != 0) {
            /* jansson dropped the value it refused, the object holds those before it */
            while (++i < top->n)
                json_decref(top->m[i].value);
            top->n = 0;
            top->whole = false;
            return -1;
        }
    }
    return 0;
}

void rw_jtop_decref(rw_jtop_t *top, json_t *obj) {
    if (obj && top && top->lazy) {
        for (uint32_t i = 0; i < top->n; i++)
            json_decref(top->m[i].value);
        top->n = 0;
        top->lazy = false;
        top->whole = false;
    }
    json_decref(obj);
}

/* Whether the lazy table holds a member named key already (kn bytes). */
static bool top_has(const rw_jtop_t *top, const char *key, size_t kn) {
    json_t *v;
    uint64_t head = rw_jtop_head(key, kn);
    return (top->seen & top_bit(head, kn)) && rw_jtop_get(top, key, kn, head, &v) && v;
}

/* Adds member key (kn bytes) = v (taken) to obj, the top level when depth is 1: to the
 * table alone while the object is lazy and the member fits and is new; else, the table's
 * members first, to the object. Returns 0, or -1 (a duplicate, or no memory). */
static int member_add(parser_t *ps, json_t *obj, const char *key, size_t kn, json_t *v) {
    rw_jtop_t *top = ps->depth == 1 ? ps->top : NULL;
    if (top && top->lazy) {
        if (top_fits(top, kn)) {
            if (top_has(top, key, kn)) {
                json_decref(v);
                return -1;
            }
            top_add(top, key, kn, v);
            return 0;
        }
        if (rw_jtop_fill(top, obj) != 0) {
            json_decref(v);
            return -1;
        }
    }
    /* A key seen before replaces its value: the size tells (jansson refuses it). */
    size_t size = json_object_size(obj);
    if (json_object_setn_new_nocheck(obj, key, kn, v) || json_object_size(obj) == size)
        return -1;
    if (top)
        top_add(top, key, kn, v);
    return 0;
}

static json_t *object(parser_t *ps) {
    json_t *obj = json_object();
    ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return obj;
    }
    for (;;) {
        const char *k;
        size_t kn;
        if (!obj || ps->p >= ps->end || *ps->p != '"')
            goto fail;
        ps->p++;
        if (string(ps, &k, &kn) || (k == ps->scratch && memchr(k, 0, kn)))
            goto fail;
        /* A key decoded into scratch must outlive the value's parse, which may
         * reuse scratch; a key in the input stays where it is. */
        char stack[256];
        const char *key = k;
        char *copy = NULL;
        if (k == ps->scratch) {
            copy = kn < sizeof(stack) ? stack : malloc(kn + 1);
            if (!copy)
                goto fail;
            memcpy(copy, k, kn);
            key = copy;
        }
        ws(ps);
        json_t *v = NULL;
        if (ps->p < ps->end && *ps->p == ':') {
            ps->p++;
            ws(ps);
            v = value(ps);
        }
        int bad = !v || member_add(ps, obj, key, kn, v);
        if (copy && copy != stack)
            free(copy);
        if (bad)
            goto fail;
        int next = after_member(ps, '}');
        if (next > 0)
            return obj;
        if (next < 0)
            goto fail;
    }
fail:
    rw_jtop_decref(ps->depth == 1 ? ps->top : NULL, obj);
    return NULL;
}

static json_t *array(parser_t *ps) {
    json_t *arr = json_array();
    ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return arr;
    }
    for (;;) {
        json_t *v = arr ? value(ps) : NULL;
        if (!v || json_array_append_new(arr, v))
            goto fail;
        int next = after_member(ps, ']');
        if (next > 0)
            return arr;
        if (next < 0)
            goto fail;
    }
fail:
    json_decref(arr);
    return NULL;
}

static json_t *value(parser_t *ps) {
    /* jansson counts every value, scalars too, in its depth. */
    if (ps->p >= ps->end || ps->depth >= JSON_PARSER_MAX_DEPTH)
        return NULL;
    json_t *v;
    switch (*ps->p) {
    case '{':
    case '[':
        ps->depth++;
        ps->p++;
        v = ps->p[-1] == '{' ? object(ps) : array(ps);
        ps->depth--;
        return v;
    case '"': {
        const char *s;
        size_t n;
        ps->p++;
        return string(ps, &s, &n) ? NULL : json_stringn_nocheck(s, n);
    }
    case 't':
        return literal(ps, "true", 4, json_true());
    case 'f':
        return literal(ps, "false", 5, json_false());
    case 'n':
        return literal(ps, "null", 4, json_null());
    default:
        return number(ps);
    }
}

json_t *rw_json_parse(const char *buf, size_t len, json_error_t *err) {
    return rw_json_parse_top(buf, len, err, NULL);
}

static json_t *parse(const char *buf, size_t len, json_error_t *err, rw_jtop_t *top, bool lazy) {
    parser_t ps = {(const unsigned char *)buf, (const unsigned char *)buf + len, 0, NULL, 0, top};
    if (top) {
        top->n = 0;
        top->seen = 0;
        top->whole = true;
        top->lazy = lazy;
    }
    json_t *v = NULL;
    ws(&ps);
    if (ps.p < ps.end && (*ps.p == '{' || *ps.p == '[')) {
        v = value(&ps);
        ws(&ps);
        if (v && ps.p != ps.end) {
            rw_jtop_decref(top, v);
            v = NULL;
        }
    }
    free(ps.scratch);
    if (top && !json_is_object(v)) { /* not an object, or left to jansson: no table */
        top->n = 0;
        top->whole = false;
        top->lazy = false;
    }
    if (v)
        return v;
    return json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, err);
}

json_t *rw_json_parse_top(const char *buf, size_t len, json_error_t *err, rw_jtop_t *top) {
    return parse(buf, len, err, top, false);
}

json_t *rw_json_parse_lazy(const char *buf, size_t len, json_error_t *err, rw_jtop_t *top) {
    return parse(buf, len, err, top, true);
}

#include "jpos.h"

#include "util.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The scanner: a cursor over text[0..len). Every read goes through peek(), which checks pos
 * against len, so nothing past len is ever touched. */
typedef struct jscan {
    const unsigned char *p;
    size_t len;
    size_t pos;
} jscan_t;

/* An unescaped member name. Names that do not fit, or hold a lone surrogate, never match. */
typedef struct jname {
    unsigned char buf[RW_JPOS_MAX_NAME];
    size_t len;
    bool nomatch;
} jname_t;

static int peek(const jscan_t *s) { return s->pos < s->len ? s->p[s->pos] : -1; }

static void skip_ws(jscan_t *s) {
    while (s->pos < s->len) {
        unsigned char c = s->p[s->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        s->pos++;
    }
}

static void name_put(jname_t *n, const unsigned char *bytes, size_t k) {
    if (!n || n->nomatch)
        return;
    if (k > sizeof(n->buf) - n->len) {
        n->nomatch = true;
        return;
    }
    memcpy(n->buf + n->len, bytes, k);
    n->len += k;
}

static void name_put_cp(jname_t *n, uint32_t cp) {
    unsigned char b[4];
    size_t k;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    name_put(n, b, k);
}

/* Reads the 4 hex digits of a \u escape (s->pos just after the 'u'). */
static int scan_hex4(jscan_t *s, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int c = peek(s);
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else
            return -1;
        v = v << 4 | d;
        s->pos++;
    }
    *out = v;
    return 0;
}

/* Scans a string starting at its opening quote; leaves pos after the closing quote. When name
 * is not NULL, the unescaped contents go there. */
static int scan_string(jscan_t *s, jname_t *name) {
    if (name) {
        name->len = 0;
        name->nomatch = false;
    }
    if (peek(s) != '"')
        return -1;
    s->pos++;
    for (;;) {
        int c = peek(s);
        if (c < 0x20) /* end of text (-1) or a raw control character */
            return -1;
        s->pos++;
        if (c == '"')
            return 0;
        if (c != '\\') {
            unsigned char b = (unsigned char)c;
            name_put(name, &b, 1);
            continue;
        }
        c = peek(s);
        if (c < 0)
            return -1;
        s->pos++;
        unsigned char e;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            e = (unsigned char)c;
            break;
        case 'b':
            e = '\b';
            break;
        case 'f':
            e = '\f';
            break;
        case 'n':
            e = '\n';
            break;
        case 'r':
            e = '\r';
            break;
        case 't':
            e = '\t';
            break;
        case 'u': {
            uint32_t cp;
            if (scan_hex4(s, &cp) < 0)
                return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF && peek(s) == '\\' && s->pos + 1 < s->len &&
                s->p[s->pos + 1] == 'u') {
                size_t save = s->pos;
                uint32_t lo;
                s->pos += 2;
                if (scan_hex4(s, &lo) < 0)
                    return -1;
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    name_put_cp(name, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
                    continue;
                }
                s->pos = save; /* not a pair: rescan the second escape on its own */
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) {
                if (name)
                    name->nomatch = true; /* lone surrogate */
            } else {
                name_put_cp(name, cp);
            }
            continue;
        }
        default:
            return -1;
        }
        name_put(name, &e, 1);
    }
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(jscan_t *s) {
    if (peek(s) == '-')
        s->pos++;
    if (peek(s) == '0') {
        s->pos++;
    } else if (is_digit(peek(s))) {
        while (is_digit(peek(s)))
            s->pos++;
    } else {
        return -1;
    }
    if (peek(s) == '.') {
        s->pos++;
        if (!is_digit(peek(s)))
            return -1;
        while (is_digit(peek(s)))
            s->pos++;
    }
    if (peek(s) == 'e' || peek(s) == 'E') {
        s->pos++;
        if (peek(s) == '+' || peek(s) == '-')
            s->pos++;
        if (!is_digit(peek(s)))
            return -1;
        while (is_digit(peek(s)))
            s->pos++;
    }
    return 0;
}

static int scan_literal(jscan_t *s, const char *word) {
    size_t n = strlen(word);
    if (s->len - s->pos < n || memcmp(s->p + s->pos, word, n) != 0)
        return -1;
    s->pos += n;
    return 0;
}

/* After an element or member: skips whitespace, then a ',' (returns 1) or the closing
 * bracket (returns 0); -1 on anything else. */
static int scan_sep(jscan_t *s, int close) {
    skip_ws(s);
    int c = peek(s);
    if (c == ',') {
        s->pos++;
        return 1;
    }
    if (c == close) {
        s->pos++;
        return 0;
    }
    return -1;
}

/* Reads '"name"' ':' of an object member and leaves pos at the value. key_pos gets the
 * position of the opening quote. */
static int scan_member_head(jscan_t *s, jname_t *name, size_t *key_pos) {
    skip_ws(s);
    *key_pos = s->pos;
    if (scan_string(s, name) < 0)
        return -1;
    skip_ws(s);
    if (peek(s) != ':')
        return -1;
    s->pos++;
    skip_ws(s);
    return 0;
}

/* Skips one value starting at pos (no leading whitespace); depth is the number of arrays and
 * objects the value sits in. */
static int skip_value(jscan_t *s, int depth) {
    int c = peek(s);
    switch (c) {
    case '{':
    case '[': {
        int close = c == '{' ? '}' : ']';
        if (depth >= RW_JPOS_MAX_DEPTH)
            return -1;
        s->pos++;
        skip_ws(s);
        if (peek(s) == close) {
            s->pos++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                size_t key_pos;
                if (scan_member_head(s, NULL, &key_pos) < 0)
                    return -1;
            } else {
                skip_ws(s);
            }
            if (skip_value(s, depth + 1) < 0)
                return -1;
            int r = scan_sep(s, close);
            if (r <= 0)
                return r;
        }
    }
    case '"':
        return scan_string(s, NULL);
    case 't':
        return scan_literal(s, "true");
    case 'f':
        return scan_literal(s, "false");
    case 'n':
        return scan_literal(s, "null");
    default:
        return scan_number(s);
    }
}

/* Does the unescaped name equal the pointer token tok[0..tlen) (with ~0 ~1 escapes)? */
static bool token_eq(const jname_t *name, const char *tok, size_t tlen) {
    if (name->nomatch)
        return false;
    size_t i = 0, j = 0;
    while (i < tlen) {
        unsigned char c = (unsigned char)tok[i++];
        if (c == '~')
            c = tok[i++] == '0' ? '~' : '/'; /* validated beforehand: ~0 or ~1 */
        if (j >= name->len || name->buf[j] != c)
            return false;
        j++;
    }
    return j == name->len;
}

/* An array index token: "0" or [1-9][0-9]*; "-" and anything else is refused. */
static int parse_index(const char *tok, size_t tlen, size_t *out) {
    if (tlen == 0 || (tok[0] == '0' && tlen > 1))
        return -1;
    size_t v = 0;
    for (size_t i = 0; i < tlen; i++) {
        if (!is_digit(tok[i]))
            return -1;
        unsigned d = (unsigned)(tok[i] - '0');
        if (v > (SIZE_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* A pointer is "" or '/'-separated tokens where every '~' is followed by '0' or '1'. */
static bool pointer_valid(const char *ptr) {
    if (ptr[0] != '\0' && ptr[0] != '/')
        return false;
    for (const char *q = ptr; *q; q++)
        if (*q == '~' && q[1] != '0' && q[1] != '1')
            return false;
    return true;
}

/* In an object whose '{' s has just passed, finds the member whose key is the
 * token tok (tlen bytes) at nesting depth. Returns 0 (found: s is at its value,
 * or with key_wanted past it and *key_pos is its key's position), 1 (no such
 * member) or -1 (malformed). */
static int locate_member(jscan_t *s, const char *tok, size_t tlen, int depth, bool key_wanted,
                         size_t *key_pos) {
    jname_t name;
    int r = peek(s) == '}' ? 0 : 1; /* 1: another member follows */
    while (r == 1) {
        if (scan_member_head(s, &name, key_pos) < 0)
            return -1;
        if (token_eq(&name, tok, tlen)) {
            if (key_wanted && skip_value(s, depth + 1) < 0)
                return -1;
            return 0;
        }
        if (skip_value(s, depth + 1) < 0)
            return -1;
        r = scan_sep(s, '}');
        if (r < 0)
            return -1;
    }
    return 1;
}

/* In an array whose '[' s has just passed, moves s to the element the token tok
 * (tlen bytes) indexes at nesting depth. Returns 0, or -1 (not an index, out of
 * range or malformed). */
static int locate_element(jscan_t *s, const char *tok, size_t tlen, int depth) {
    size_t idx;
    if (parse_index(tok, tlen, &idx) < 0)
        return -1;
    if (peek(s) == ']')
        return -1; /* empty array */
    for (size_t i = 0; i < idx; i++) {
        if (skip_value(s, depth + 1) < 0 || scan_sep(s, ']') != 1)
            return -1; /* malformed, or out of range */
        skip_ws(s);
    }
    return 0;
}

/* Follows the pointer. want_key: the last token names a member whose key is wanted.
 * Returns 0 (found, *out = its position), 1 (a member is missing, *out = the object's '{')
 * or -1. */
static int locate(const char *text, size_t len, const char *pointer, bool want_key, size_t *out) {
    if (!text || !pointer || !pointer_valid(pointer))
        return -1;
    if (want_key && pointer[0] == '\0')
        return -1;
    jscan_t s = {(const unsigned char *)text, len, 0};
    const char *tok = pointer;
    int depth = 0;
    skip_ws(&s);
    while (*tok) {
        tok++; /* the '/' */
        size_t tlen = strcspn(tok, "/");
        bool last = tok[tlen] == '\0';
        int c = peek(&s);
        if (c != '{' && c != '[')
            return -1; /* end of text, a scalar, or garbage */
        if (depth >= RW_JPOS_MAX_DEPTH)
            return -1;
        size_t open_pos = s.pos;
        s.pos++;
        skip_ws(&s);
        if (c == '{') {
            size_t key_pos = 0;
            int r = locate_member(&s, tok, tlen, depth, want_key && last, &key_pos);
            if (r < 0)
                return -1;
            if (r == 1) {
                *out = open_pos;
                return 1;
            }
            if (want_key && last) {
                *out = key_pos;
                return 0;
            }
        } else if ((want_key && last) || locate_element(&s, tok, tlen, depth) < 0) {
            return -1;
        }
        depth++;
        tok += tlen;
    }
    /* At the value named by the pointer: make sure it is a whole value. */
    size_t at = s.pos;
    if (skip_value(&s, depth) < 0)
        return -1;
    *out = at;
    return 0;
}

static void line_col(const char *text, size_t pos, int *line, int *col) {
    size_t ln = 1, start = 0;
    for (size_t i = 0; i < pos; i++) {
        if (text[i] == '\n') {
            ln++;
            start = i + 1;
        }
    }
    size_t cl = pos - start + 1;
    if (line)
        *line = ln > INT_MAX ? INT_MAX : (int)ln;
    if (col)
        *col = cl > INT_MAX ? INT_MAX : (int)cl;
}

int rw_jpos_find(const char *text, size_t len, const char *pointer, int *line, int *col) {
    size_t pos;
    int r = locate(text, len, pointer, false, &pos);
    if (r < 0)
        return RW_ERR_INPUT;
    line_col(text, pos, line, col);
    return r == 0 ? RW_OK : RW_ERR_NOT_FOUND;
}

int rw_jpos_find_key(const char *text, size_t len, const char *pointer, int *line, int *col) {
    size_t pos;
    int r = locate(text, len, pointer, true, &pos);
    if (r != 0)
        return r < 0 ? RW_ERR_INPUT : RW_ERR_NOT_FOUND;
    line_col(text, pos, line, col);
    return RW_OK;
}

void rw_jpos_place(const char *text, size_t len, const char *pointer, int key, int *line,
                   int *col) {
    *line = *col = 0;
    if (!text || !pointer)
        return;
    int rc = key ? rw_jpos_find_key(text, len, pointer, line, col)
                 : rw_jpos_find(text, len, pointer, line, col);
    if (rc < 0 && rc != RW_ERR_NOT_FOUND)
        *line = *col = 0;
}

int rw_jpos_error(struct rw_error *err, const char *source, const char *text, size_t len,
                  const char *pointer, int key, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int line, col;
    rw_jpos_place(text, len, pointer, key, &line, &col);
    return rw_error_set(err, source, line, col, "%s", msg);
}

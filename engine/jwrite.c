/*
 * JSON text for alerts, written straight into a buffer: the same bytes as
 * jansson's json_dumps with JSON_COMPACT | JSON_ENSURE_ASCII |
 * JSON_REAL_PRECISION(15), without building values or calling back per byte.
 */
#include "jwrite.h"

#include <stdio.h>
#include <string.h>

static const char hex[] = "0123456789ABCDEF";

static void put_u16(rw_buf_t *b, unsigned cp) {
    char seq[6] = {'\\',        'u', hex[(cp >> 12) & 15], hex[(cp >> 8) & 15], hex[(cp >> 4) & 15],
                   hex[cp & 15]};
    rw_buf_append(b, seq, 6);
}

void rw_json_write_string(rw_buf_t *b, const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    rw_buf_append(b, "\"", 1);
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p > run)
            rw_buf_append(b, run, (size_t)(p - run));
        if (p >= end)
            break;
        unsigned c = *p;
        const char *esc = NULL;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        }
        if (esc) {
            rw_buf_append(b, esc, 2);
            p++;
            continue;
        }
        if (c < 0x80) { /* other control characters */
            put_u16(b, c);
            p++;
            continue;
        }
        /* UTF-8 (jansson's strings are valid UTF-8): one code point, escaped. */
        size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        unsigned cp = c & (n == 4 ? 0x07 : n == 3 ? 0x0F : 0x1F);
        for (size_t i = 1; i < n && p + i < end; i++)
            cp = (cp << 6) | (p[i] & 0x3F);
        p += n;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            put_u16(b, 0xD800 | (cp >> 10));
            put_u16(b, 0xDC00 | (cp & 0x3FF));
        } else {
            put_u16(b, cp);
        }
    }
    rw_buf_append(b, "\"", 1);
}

/* As jansson writes a real: %.15g, a ".0" when that reads as an integer, and
 * an exponent without its '+' or leading zeros. */
void rw_json_write_real(rw_buf_t *b, double x) {
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%.15g", x);
    if (n <= 0 || n >= (int)sizeof(buf) - 3)
        return;
    size_t len = (size_t)n;
    if (strspn(buf, "0123456789-") == len) {
        buf[len++] = '.';
        buf[len++] = '0';
        buf[len] = 0;
    }
    char *start = strchr(buf, 'e');
    if (start) {
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - buf) + 1);
            len -= (size_t)(end - start);
        }
    }
    rw_buf_append(b, buf, len);
}

void rw_json_write(rw_buf_t *b, const json_t *v) {
    char num[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        rw_buf_append(b, "{", 1);
        const char *k;
        size_t kl;
        json_t *m;
        bool first = true;
        json_object_keylen_foreach(RW_UNCONST(json_t *, v), k, kl, m) {
            if (!first)
                rw_buf_append(b, ",", 1);
            first = false;
            rw_json_write_string(b, k, kl);
            rw_buf_append(b, ":", 1);
            rw_json_write(b, m);
        }
        rw_buf_append(b, "}", 1);
        break;
    }
    case JSON_ARRAY:
        rw_buf_append(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                rw_buf_append(b, ",", 1);
            rw_json_write(b, json_array_get(v, i));
        }
        rw_buf_append(b, "]", 1);
        break;
    case JSON_STRING:
        rw_json_write_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        rw_buf_append(
            b, num,
            (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v)));
        break;
    case JSON_REAL:
        rw_json_write_real(b, json_real_value(v));
        break;
    case JSON_TRUE:
        rw_buf_append(b, "true", 4);
        break;
    case JSON_FALSE:
        rw_buf_append(b, "false", 5);
        break;
    default:
        rw_buf_append(b, "null", 4);
    }
}

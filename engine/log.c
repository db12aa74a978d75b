#include "log.h"

#include "util.h"

#include <stdio.h>
#include <string.h>

int rw_log_format = RW_LOG_TEXT;

int rw_log_format_parse(const char *name, int *out) {
    if (strcmp(name, "text") == 0)
        *out = RW_LOG_TEXT;
    else if (strcmp(name, "json") == 0)
        *out = RW_LOG_JSON;
    else
        return -1;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    size_t len = s[0] < 0xC2 ? 0 : s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : s[0] < 0xF5 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))
        return 0; /* overlong, surrogate or past U+10FFFF */
    return len;
}

/* Appends s as a JSON string; bytes that are not UTF-8 become U+FFFD. */
static void json_str(rw_buf_t *b, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    rw_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char ch = p[i];
        if (ch == '"' || ch == '\\') {
            rw_buf_append(b, "\\", 1);
            rw_buf_append(b, &p[i++], 1);
        } else if (ch == '\n') {
            rw_buf_puts(b, "\\n"), i++;
        } else if (ch < 0x20 || ch == 0x7F) {
            rw_buf_printf(b, "\\u%04x", ch), i++;
        } else if (ch < 0x80) {
            rw_buf_append(b, &p[i++], 1);
        } else {
            size_t len = utf8_len(p + i, n - i);
            if (len) {
                rw_buf_append(b, p + i, len);
                i += len;
            } else {
                rw_buf_puts(b, "\\ufffd"), i++;
            }
        }
    }
    rw_buf_append(b, "\"", 1);
}

void rw_log_emit(int level, const char *const *fields, const char *msg) {
    static const char *const names[] = {"error", "warn", "info", "debug"};
    const char *name = names[level < 0 ? 0 : level > 3 ? 3 : level];
    char ts[40];
    rw_time_format(rw_now_ms(), ts, sizeof(ts));
    rw_buf_t b;
    rw_buf_init(&b);
    if (rw_log_format == RW_LOG_JSON) {
        rw_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, name);
        json_str(&b, msg);
        for (size_t i = 0; fields && fields[i] && fields[i + 1]; i += 2) {
            rw_buf_append(&b, ",", 1);
            json_str(&b, fields[i]);
            rw_buf_append(&b, ":", 1);
            json_str(&b, fields[i + 1]);
        }
        rw_buf_puts(&b, "}\n");
    } else {
        rw_buf_printf(&b, "%s riskwarn %s: %s", ts, name, msg);
        for (size_t i = 0; fields && fields[i] && fields[i + 1]; i += 2)
            rw_buf_printf(&b, " %s=%s", fields[i], fields[i + 1]);
        rw_buf_puts(&b, "\n");
    }
    fwrite(b.data, 1, b.len, stderr); /* one write a record: threads do not interleave */
    rw_buf_fini(&b);
}

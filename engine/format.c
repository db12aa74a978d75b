#include "format.h"

#include <stdio.h>
#include <string.h>

static const char *level_color(const char *level) {
    if (strcmp(level, "high") == 0)
        return "\033[1;31m";
    if (strcmp(level, "medium") == 0)
        return "\033[33m";
    return "\033[36m";
}

static void put_number(rw_buf_t *out, const json_t *v) {
    if (json_is_integer(v))
        rw_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        rw_buf_printf(out, "%.2f", json_real_value(v));
    else
        rw_buf_puts(out, "?");
}

/* as_of (a UTC time) written in the UTC offset of ref ("...+08:00"), so that a
 * deadline's time reads like its events'; as it is when either cannot be read. */
static const char *in_offset_of(const char *as_of, const char *ref, char *buf, size_t len) {
    size_t rl = ref ? strlen(ref) : 0;
    int64_t ms;
    int off;
    if (rl < 6 || (ref[rl - 6] != '+' && ref[rl - 6] != '-') ||
        rw_utc_offset_parse(ref + rl - 6, &off) || rw_time_parse(as_of, strlen(as_of), &ms))
        return as_of;
    char t[40];
    rw_time_format(ms + (int64_t)off * 60000, t, sizeof(t));
    snprintf(buf, len, "%.19s%s", t, ref + rl - 6); /* "YYYY-MM-DDTHH:MM:SS" and the offset */
    return buf;
}

int rw_alert_line(const char *json, size_t len, bool color, rw_buf_t *out) {
    json_error_t je;
    json_t *a = json_loadb(json, len, 0, &je);
    if (!json_is_object(a)) {
        json_decref(a);
        return -1;
    }
    const char *level = json_string_value(json_object_get(a, "level"));
    const char *ts = json_string_value(json_object_get(a, "event_ts"));
    const char *type = json_string_value(json_object_get(a, "event_type"));
    const char *id = json_string_value(json_object_get(a, "event_id"));
    const char *key = json_string_value(json_object_get(a, "key"));
    /* A deadline alert names the event that opened its case; its time is when
     * the deadline passed (event time), so that lines follow the stream. */
    const char *as_of =
        json_string_value(json_object_get(json_array_get(json_object_get(a, "rules"), 0), "as_of"));
    const char *opened = as_of ? ts : NULL;
    char at[48];
    if (as_of)
        ts = in_offset_of(as_of, opened, at, sizeof(at));
    if (!level)
        level = "?";
    char up[8];
    size_t n = strlen(level) < 6 ? strlen(level) : 6;
    for (size_t i = 0; i < n; i++)
        up[i] = (char)(level[i] >= 'a' && level[i] <= 'z' ? level[i] - 32 : level[i]);
    up[n] = 0;
    rw_buf_printf(out, "%s%-6s%s %s %-11s %-18s key=%s", color ? level_color(level) : "", up,
                  color ? "\033[0m" : "", ts ? ts : "?", type ? type : "?", id ? id : "?",
                  key ? key : "-");
    json_t *rules = json_object_get(a, "rules");
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r) {
        const char *rid = json_string_value(json_object_get(r, "id"));
        const char *rl = json_string_value(json_object_get(r, "level"));
        json_t *th = json_object_get(json_object_get(r, "thresholds"), rl ? rl : "");
        rw_buf_printf(out, "%s%s[%s]=", i ? ", " : "  ", rid ? rid : "?", rl ? rl : "?");
        put_number(out, json_object_get(r, "measure"));
        if (th) {
            rw_buf_puts(out, " (");
            rw_buf_puts(out, rl ? rl : "?");
            rw_buf_puts(out, " at ");
            put_number(out, th);
            rw_buf_puts(out, ")");
        }
    }
    if (opened)
        rw_buf_printf(out, "; case opened %s", opened);
    json_decref(a);
    return 0;
}

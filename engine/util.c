#include "util.h"

#include <openssl/evp.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rw_log_level = RW_LOG_INFO;

void rw_log_write(int level, const char *fmt, ...) {
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    rw_log_emit(level, NULL, line);
}

/* "12,345" */
static void count_text(unsigned long n, char *buf, size_t len) {
    char digits[32];
    int nd = snprintf(digits, sizeof(digits), "%lu", n), o = 0;
    for (int i = 0; i < nd && (size_t)o + 2 < len; i++) {
        if (i && (nd - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = 0;
}

void rw_log_limited_write(rw_ratelimit_t *rl, int level, const char *fmt, ...) {
    int64_t now = rw_monotonic_ms();
    if (rl->next_ms && now < rl->next_ms) {
        rl->suppressed++;
        return;
    }
    rl->next_ms = now + RW_LOG_INTERVAL_MS;
    char line[1900], count[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (rl->suppressed) {
        count_text(rl->suppressed, count, sizeof(count));
        rw_log_write(level, "%s (repeated %s times since last logged)", line, count);
    } else {
        rw_log_write(level, "%s", line);
    }
    rl->suppressed = 0;
}

int rw_backoff_next(rw_backoff_t *b) {
    if (!b->seed)
        b->seed = (uint64_t)rw_monotonic_ms() * 6364136223846793005ULL ^ (uint64_t)(uintptr_t)b ^
                  (uint64_t)rw_now_ms();
    if (b->next_ms <= 0)
        b->next_ms = b->base_ms > 0 ? b->base_ms : 1;
    int d = b->next_ms;
    b->next_ms = d > b->cap_ms / 2 ? b->cap_ms : d * 2;
    /* xorshift64: a draw in [d/2, d] */
    b->seed ^= b->seed << 13;
    b->seed ^= b->seed >> 7;
    b->seed ^= b->seed << 17;
    int half = d / 2;
    return half + (int)(b->seed % (uint64_t)(d - half + 1));
}

void rw_backoff_reset(rw_backoff_t *b) { b->next_ms = 0; }

/* ---- time ---------------------------------------------------------------- */

int64_t rw_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int64_t rw_monotonic_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

double rw_monotonic_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Civil dates through the C library, on UTC days: timegm and gmtime_r. */
static int64_t floor_div(int64_t a, int64_t b);

int64_t rw_days_from_civil(int64_t y, unsigned m, unsigned d) {
    struct tm t = {0};
    t.tm_year = (int)(y - 1900);
    t.tm_mon = (int)m - 1;
    t.tm_mday = (int)d;
    return floor_div((int64_t)timegm(&t), 86400);
}

void rw_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    time_t secs = (time_t)(z * 86400);
    struct tm t;
    gmtime_r(&secs, &t);
    *y = (int64_t)t.tm_year + 1900;
    *m = (unsigned)t.tm_mon + 1;
    *d = (unsigned)t.tm_mday;
}

static int digits(const char *s, size_t n, int *out) {
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m) {
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int rw_utc_offset_parse(const char *s, int *out_min) {
    size_t n = strlen(s);
    if (n == 1 && (s[0] == 'Z' || s[0] == 'z')) {
        *out_min = 0;
        return 0;
    }
    int hh, mm;
    if (n != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' || digits(s + 1, 2, &hh) ||
        digits(s + 4, 2, &mm) || hh > 23 || mm > 59)
        return -1;
    *out_min = (s[0] == '-' ? -1 : 1) * (hh * 60 + mm);
    return 0;
}

int rw_time_parse(const char *s, size_t n, int64_t *out_ms) {
    /* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
    int y, mo, d, h, mi, se;
    if (n < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60)
        return -1;
    if (se == 60)
        se = 59; /* leap second: clamp */
    size_t i = 19;
    int ms = 0;
    if (i < n && s[i] == '.') {
        i++;
        size_t start = i;
        int scale = 100;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            ms += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start || i - start > 9)
            return -1;
    }
    char off[8];
    size_t rest = n - i;
    if (rest == 0 || rest >= sizeof(off) || memchr(s + i, 0, rest))
        return -1;
    memcpy(off, s + i, rest);
    off[rest] = 0;
    int off_min;
    if (rw_utc_offset_parse(off, &off_min))
        return -1;
    /* Events of a stream share their dates: the last day's number is kept per thread. */
    static _Thread_local int last_y = -1, last_mo, last_d;
    static _Thread_local int64_t last_days;
    if (y != last_y || mo != last_mo || d != last_d) {
        last_days = rw_days_from_civil(y, (unsigned)mo, (unsigned)d);
        last_y = y, last_mo = mo, last_d = d;
    }
    int64_t days = last_days;
    int64_t secs = days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + se - (int64_t)off_min * 60;
    *out_ms = secs * 1000 + ms;
    return 0;
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

void rw_time_format(int64_t ms, char *buf, size_t len) {
    int64_t days = floor_div(ms, 86400000);
    int64_t rem = ms - days * 86400000;
    int64_t y;
    unsigned m, d;
    rw_civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
             (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
             (int)(rem % 1000));
}

void rw_date_format(int64_t ms, int offset_min, char *buf, size_t len) {
    int64_t days = floor_div(ms + (int64_t)offset_min * 60000, 86400000);
    int64_t y;
    unsigned m, d;
    rw_civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04lld-%02u-%02u", (long long)y, m, d);
}

size_t rw_number_i64_text(int64_t v, char *buf) {
    if (v >= 0 && v < 100) { /* most: the lengths of a command's arguments */
        if (v < 10) {
            buf[0] = (char)('0' + v);
            return 1;
        }
        buf[0] = (char)('0' + v / 10);
        buf[1] = (char)('0' + v % 10);
        return 2;
    }
    char tmp[24];
    size_t n = 0, o = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[o++] = '-';
    while (n)
        buf[o++] = tmp[--n];
    return o;
}

int rw_number_text(double x, char *buf, size_t len) {
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    for (int d = 0; isfinite(x) && d < 7; d++) {
        double k = nearbyint(x * p10[d]);
        if (fabs(k) >= 9007199254740992.0) /* 2^53: no longer exact */
            break;
        /* Division rounds correctly: k / 10^d is the double nearest to the decimal,
         * which is what reading the decimal back gives. */
        if (k / p10[d] != x)
            continue;
        char digits[24];
        int n = 0;
        unsigned long long u = (unsigned long long)fabs(k);
        do {
            digits[n++] = (char)('0' + u % 10);
            u /= 10;
        } while (u || n <= d);
        size_t need = (size_t)n + (k < 0) + (d > 0) + 1, o = 0;
        if (need > len)
            break;
        if (k < 0)
            buf[o++] = '-';
        while (n > 0) {
            if (n == d)
                buf[o++] = '.';
            buf[o++] = digits[--n];
        }
        buf[o] = 0;
        return (int)o;
    }
    return snprintf(buf, len, "%.17g", x);
}

int rw_duration_parse(const char *text, int64_t *out_ms) {
    if (!text || text[0] < '0' || text[0] > '9')
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || v <= 0)
        return -1;
    int64_t unit;
    if (strcmp(end, "ms") == 0)
        unit = 1;
    else if (strcmp(end, "s") == 0)
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60000;
    else if (strcmp(end, "h") == 0)
        unit = 3600000;
    else if (strcmp(end, "d") == 0)
        unit = 86400000;
    else
        return -1;
    if (v > INT64_MAX / unit / 1000)
        return -1;
    *out_ms = v * unit;
    return 0;
}

/* ---- hashing --------------------------------------------------------------- */

void rw_sha256(const void *data, size_t len, uint8_t out[32]) {
    unsigned int n = 32;
    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL)) {
        rw_log_write(RW_LOG_ERROR, "SHA-256: libcrypto failed (out of memory?)");
        abort();
    }
}

/* Each byte's two hex digits, for rw_hex() to write a byte with one copy. */
static const char hex_pairs[256][2] = {
#define P(h)                                                                                       \
    { "0123456789abcdef"[(h) >> 4], "0123456789abcdef"[(h)&15] }
#define P4(h) P(h), P((h) + 1), P((h) + 2), P((h) + 3)
#define P16(h) P4(h), P4((h) + 4), P4((h) + 8), P4((h) + 12)
#define P64(h) P16(h), P16((h) + 16), P16((h) + 32), P16((h) + 48)
    P64(0), P64(64), P64(128), P64(192)
#undef P64
#undef P16
#undef P4
#undef P
};

void rw_hex(const uint8_t *in, size_t n, char *out) {
    for (size_t i = 0; i < n; i++)
        memcpy(out + 2 * i, hex_pairs[in[i]], 2);
    out[2 * n] = 0;
}

uint64_t rw_hash64(const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* ---- buffers and allocation ---------------------------------------------- */

void *rw_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "riskwarn: out of memory\n");
        abort();
    }
    return p;
}

void *rw_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "riskwarn: out of memory\n");
        abort();
    }
    return p;
}

void *rw_calloc_lines(size_t size) {
    size = (size + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, size ? size : 64);
    if (!p) {
        fprintf(stderr, "riskwarn: out of memory\n");
        abort();
    }
    return memset(p, 0, size);
}

void *rw_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "riskwarn: out of memory\n");
        abort();
    }
    return q;
}

char *rw_strdup(const char *s) { return rw_strndup(s, strlen(s)); }

char *rw_strndup(const char *s, size_t n) {
    char *p = rw_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void rw_buf_init(rw_buf_t *b) {
    b->data = NULL;
    b->len = b->cap = 0;
}

void rw_buf_fini(rw_buf_t *b) {
    free(b->data);
    rw_buf_init(b);
}

void rw_buf_reset(rw_buf_t *b) { b->len = 0; }

static void buf_reserve(rw_buf_t *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = rw_realloc(b->data, cap);
    b->cap = cap;
}

char *rw_buf_room(rw_buf_t *b, size_t len) {
    buf_reserve(b, len);
    b->len += len;
    return b->data + b->len - len;
}

void rw_buf_append(rw_buf_t *b, const void *data, size_t len) {
    memcpy(rw_buf_room(b, len), data, len);
}

void rw_buf_puts(rw_buf_t *b, const char *s) { rw_buf_append(b, s, strlen(s)); }

void rw_buf_printf(rw_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

const char *rw_buf_cstr(rw_buf_t *b) {
    buf_reserve(b, 0);
    b->data[b->len] = 0;
    return b->data;
}

char *rw_buf_take(rw_buf_t *b) {
    rw_buf_cstr(b);
    char *s = b->data;
    rw_buf_init(b);
    return s;
}

char *rw_file_read(const char *path, size_t *len, rw_error_t *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        rw_error_set(err, path, 0, 0, "cannot open: %s", strerror(errno));
        if (err)
            err->code = RW_ERR_IO;
        return NULL;
    }
    rw_buf_t b;
    rw_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rw_buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        rw_buf_fini(&b);
        rw_error_set(err, path, 0, 0, "read error");
        if (err)
            err->code = RW_ERR_IO;
        return NULL;
    }
    rw_buf_cstr(&b);
    if (len)
        *len = b.len;
    return b.data;
}

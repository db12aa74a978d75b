#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rw_log_level = RW_LOG_INFO;

void rw_error_clear(rw_error_t *err) { memset(err, 0, sizeof(*err)); }

int rw_error_set(rw_error_t *err, const char *source, int line, int column, const char *fmt, ...) {
    if (!err || err->code)
        return -1;
    err->code = -1;
    snprintf(err->source, sizeof(err->source), "%s", source ? source : "");
    err->line = line;
    err->column = column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
    return -1;
}

void rw_error_format(const rw_error_t *err, char *buf, size_t len) {
    if (err->source[0] && err->line > 0)
        snprintf(buf, len, "%s:%d:%d: %s", err->source, err->line, err->column, err->text);
    else if (err->source[0])
        snprintf(buf, len, "%s: %s", err->source, err->text);
    else
        snprintf(buf, len, "%s", err->text);
}

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
        rw_log_write(level, "%s (repeated %s times in the last %d s)", line, count,
                     RW_LOG_INTERVAL_MS / 1000);
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

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t rw_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void rw_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
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
    int64_t days = rw_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - (int64_t)off_min * 60;
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

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t S1 = ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = k + S1 + ch + K256[i] + w[i];
        uint32_t S0 = ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22);
        uint32_t mj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + mj;
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

void rw_sha256(const void *data, size_t len, uint8_t out[32]) {
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const uint8_t *p = data;
    size_t n = len;
    while (n >= 64) {
        sha256_block(h, p);
        p += 64;
        n -= 64;
    }
    uint8_t tail[128] = {0};
    memcpy(tail, p, n);
    tail[n] = 0x80;
    size_t tl = n < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha256_block(h, tail);
    if (tl == 128)
        sha256_block(h, tail + 64);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

void rw_hex(const uint8_t *in, size_t n, char *out) {
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
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

void rw_buf_append(rw_buf_t *b, const void *data, size_t len) {
    buf_reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
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

char *rw_file_read(const char *path, size_t *len, rw_error_t *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        rw_error_set(err, path, 0, 0, "cannot open: %s", strerror(errno));
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
        return NULL;
    }
    rw_buf_cstr(&b);
    if (len)
        *len = b.len;
    return b.data;
}

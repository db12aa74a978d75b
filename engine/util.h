/* Small shared pieces: logging, time, hashing, buffers. */
#ifndef RW_UTIL_H
#define RW_UTIL_H

#include "error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The engine's version (riskwarn version, riskwarn_build_info). */
#ifndef RW_VERSION
#define RW_VERSION "0.1.0"
#endif

/* Exit codes of the binary (docs/reference.md §2). */
#define RW_EXIT_OK 0
#define RW_EXIT_RUNTIME 1
#define RW_EXIT_USAGE 2

/* Logging to stderr, one line a record. rw_log_level and rw_log_format are set
 * once at start-up. Text: "TS riskwarn LEVEL: MSG[ name=value...]"; JSON (engine/log.c):
 * {"ts":..,"level":..,"msg":..,"name":"value",...} on one line. */
enum { RW_LOG_ERROR = 0, RW_LOG_WARN = 1, RW_LOG_INFO = 2, RW_LOG_DEBUG = 3 };
enum { RW_LOG_TEXT = 0, RW_LOG_JSON = 1 };
extern int rw_log_level;
extern int rw_log_format;
void rw_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes one record with fields: a NULL-terminated list of name, value strings
 * (borrowed), or NULL. msg is written as it is. */
void rw_log_emit(int level, const char *const *fields, const char *msg);
#define rw_log(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) <= rw_log_level)                                                               \
            rw_log_write((level), __VA_ARGS__);                                                    \
    } while (0)

/* Repeated log lines: at most one per interval from one call site, the rest
 * counted and the count told with the next one logged ("... (repeated 12,345
 * times since last logged)"). One rw_ratelimit_t per call site, zeroed
 * (static storage); not shared between threads. */
typedef struct rw_ratelimit {
    int64_t next_ms;          /* monotonic: the next line may be logged from then */
    unsigned long suppressed; /* lines held back since the last one logged */
} rw_ratelimit_t;
#define RW_LOG_INTERVAL_MS 10000
void rw_log_limited_write(rw_ratelimit_t *rl, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define rw_log_limited(rl, level, ...)                                                             \
    do {                                                                                           \
        if ((level) <= rw_log_level)                                                               \
            rw_log_limited_write((rl), (level), __VA_ARGS__);                                      \
    } while (0)

/* Retry delays: exponential from base_ms to cap_ms, each one drawn at random
 * in [d/2, d] (jitter: engines that failed together do not retry together).
 * Zero-initialise with base and cap set; rw_backoff_reset after a success. */
typedef struct rw_backoff {
    int base_ms, cap_ms;
    int next_ms;   /* the next delay's upper bound; 0: base */
    uint64_t seed; /* 0: seeded on first use */
} rw_backoff_t;
/* The next delay in ms, and doubles the bound up to the cap. */
int rw_backoff_next(rw_backoff_t *b);
void rw_backoff_reset(rw_backoff_t *b);

/* Time. */
int64_t rw_now_ms(void);       /* wall clock, ms since the epoch */
int64_t rw_monotonic_ms(void); /* for timeouts */
double rw_monotonic_s(void);   /* for measurements: seconds, to the nanosecond */
/* Parses RFC 3339 ("2026-11-27T04:35:16.123Z", "...+08:00"). Returns 0 or -1. */
int rw_time_parse(const char *text, size_t len, int64_t *out_ms);
/* Formats ms since the epoch as "2026-11-27T04:35:16.123Z" (buf >= 32). */
void rw_time_format(int64_t ms, char *buf, size_t len);
/* "YYYY-MM-DD" of ms shifted by offset_min minutes (buf >= 11). */
void rw_date_format(int64_t ms, int offset_min, char *buf, size_t len);
/* Days since 1970-01-01 of a civil date, and back. */
int64_t rw_days_from_civil(int64_t y, unsigned m, unsigned d);
void rw_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
/* Parses "+08:00" / "-05:30" / "Z" into minutes. Returns 0 or -1. */
int rw_utc_offset_parse(const char *text, int *out_min);

/* SHA-256. */
void rw_sha256(const void *data, size_t len, uint8_t out[32]);
void rw_hex(const uint8_t *in, size_t n, char *out); /* out has 2n+1 bytes */
uint64_t rw_hash64(const void *data, size_t len);    /* FNV-1a, for tables */
/* Decimal text of v into buf (at least 21 bytes, no NUL written); returns its length. */
size_t rw_number_i64_text(int64_t v, char *buf);

/* A growable byte buffer. */
typedef struct rw_buf {
    char *data;
    size_t len, cap;
} rw_buf_t;
void rw_buf_init(rw_buf_t *b);
void rw_buf_fini(rw_buf_t *b);
void rw_buf_reset(rw_buf_t *b);
void rw_buf_append(rw_buf_t *b, const void *data, size_t len);
void rw_buf_puts(rw_buf_t *b, const char *s);
void rw_buf_printf(rw_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes len more bytes part of b and returns where they start, for the caller to fill. */
char *rw_buf_room(rw_buf_t *b, size_t len);
/* Appends a NUL (not counted in len) and returns data. */
const char *rw_buf_cstr(rw_buf_t *b);
/* Appends a NUL and hands the text to the caller (free with free()); b is left empty. */
char *rw_buf_take(rw_buf_t *b);

/* Allocation that aborts on out-of-memory (the engine cannot go on without it). */
void *rw_malloc(size_t n);
void *rw_calloc(size_t n, size_t size);
void *rw_realloc(void *p, size_t n);
/* Zeroed memory that starts a 64-byte cache line, size rounded up to whole lines (free with
 * free()). */
void *rw_calloc_lines(size_t size);
char *rw_strdup(const char *s);
char *rw_strndup(const char *s, size_t n);

/* Drops a const, the one way riskwarn does (so that -Wcast-qual reports any other), where
 * the pointer is only read through or is the engine's own to free:
 * - C library functions that take a non-const pointer but only read through it: jansson's
 *   object iterators, librdkafka's copied (RD_KAFKA_MSG_F_COPY) payloads and keys, execvp's
 *   argv;
 * - blocks the engine allocated and shows read-only (module.h's window values and string
 *   lists, a consumed message's payload kept in an output that is never freed), when the
 *   engine frees them or keeps them beside owned ones. */
#define RW_UNCONST(type, p) ((type)(uintptr_t)(p))

/* Reads a whole file. Returns a new NUL-terminated buffer (free with free()),
 * or NULL with err filled. */
char *rw_file_read(const char *path, size_t *len, rw_error_t *err);

#endif

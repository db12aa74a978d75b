/* Unit tests for engine/util.c: time, durations, offsets, hashing, buffers. */
#include "util.h"

#include "riskwarn/module.h"

#include "harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 2026-11-27T04:35:16.123Z in ms since the epoch. */
#define T_EXAMPLE 1795754116123LL

/* Parses a NUL-terminated text; returns the rc and stores the value in *ms. */
static int tparse(const char *s, int64_t *ms) { return rw_time_parse(s, strlen(s), ms); }

#define ASSERT_TIME(s, want)                                                                       \
    do {                                                                                           \
        int64_t ms_ = -42;                                                                         \
        ck_assert_msg(tparse((s), &ms_) == 0, "rw_time_parse(\"%s\") failed", (s));                \
        ck_assert_msg(ms_ == (want), "rw_time_parse(\"%s\") = %lld, want %lld", (s),               \
                      (long long)ms_, (long long)(want));                                          \
    } while (0)

#define ASSERT_TIME_BAD(s)                                                                         \
    do {                                                                                           \
        int64_t ms_ = -42;                                                                         \
        ck_assert_msg(tparse((s), &ms_) == -1, "rw_time_parse(\"%s\") accepted (%lld)", (s),       \
                      (long long)ms_);                                                             \
    } while (0)

START_TEST(test_util_time_parse_utc_z) {
    ASSERT_TIME("2026-11-27T04:35:16.123Z", T_EXAMPLE);
    ASSERT_TIME("1970-01-01T00:00:00Z", 0);
    ASSERT_TIME("1969-12-31T23:59:59.999Z", -1);
    ASSERT_TIME("2099-12-31T23:59:59.999Z", 4102444799999LL);
    /* RFC 3339 allows lower-case t and z. */
    ASSERT_TIME("2026-11-27t04:35:16.123z", T_EXAMPLE);
}
END_TEST

START_TEST(test_util_time_parse_offsets) {
    ASSERT_TIME("2026-11-27T12:35:16.123+08:00", T_EXAMPLE);
    ASSERT_TIME("2026-11-26T23:05:16.123-05:30", T_EXAMPLE);
    ASSERT_TIME("2026-11-27T04:35:16.123+00:00", T_EXAMPLE);
    ASSERT_TIME("2026-11-27T04:35:16.123-00:00", T_EXAMPLE);
    /* Offsets that move the date back across midnight and across a year. */
    ASSERT_TIME("2027-01-01T00:00:00+08:00", 1798732800000LL);
    ASSERT_TIME("2026-12-31T10:30:00-05:30", 1798732800000LL);
}
END_TEST

START_TEST(test_util_time_parse_fractions) {
    const int64_t base = T_EXAMPLE - 123;
    ASSERT_TIME("2026-11-27T04:35:16Z", base);
    ASSERT_TIME("2026-11-27T04:35:16.1Z", base + 100);
    ASSERT_TIME("2026-11-27T04:35:16.12Z", base + 120);
    ASSERT_TIME("2026-11-27T04:35:16.123Z", base + 123);
    ASSERT_TIME("2026-11-27T04:35:16.1239Z", base + 123);
    ASSERT_TIME("2026-11-27T04:35:16.12399Z", base + 123);
    ASSERT_TIME("2026-11-27T04:35:16.123999Z", base + 123);
    ASSERT_TIME("2026-11-27T04:35:16.1239999Z", base + 123);
    ASSERT_TIME("2026-11-27T04:35:16.12399999Z", base + 123);
    ASSERT_TIME("2026-11-27T04:35:16.999999999Z", base + 999);
    ASSERT_TIME("2026-11-27T12:35:16.123456789+08:00", base + 123);
    ASSERT_TIME_BAD("2026-11-27T04:35:16.1234567890Z"); /* 10 digits */
    ASSERT_TIME_BAD("2026-11-27T04:35:16.Z");           /* no digit */
    ASSERT_TIME_BAD("2026-11-27T04:35:16,123Z");        /* comma */
    ASSERT_TIME_BAD("2026-11-27T04:35:16.12a3Z");
}
END_TEST

START_TEST(test_util_time_parse_invalid_dates) {
    ASSERT_TIME_BAD("2026-02-30T00:00:00Z");
    ASSERT_TIME_BAD("2026-02-29T00:00:00Z"); /* 2026 is not a leap year */
    ASSERT_TIME_BAD("1900-02-29T00:00:00Z"); /* divisible by 100, not by 400 */
    ASSERT_TIME_BAD("2026-04-31T00:00:00Z");
    ASSERT_TIME_BAD("2026-13-01T00:00:00Z");
    ASSERT_TIME_BAD("2026-00-10T00:00:00Z");
    ASSERT_TIME_BAD("2026-11-00T00:00:00Z");
    ASSERT_TIME_BAD("2026-11-32T00:00:00Z");
    ASSERT_TIME_BAD("2026-1-27T00:00:00Z");
    ASSERT_TIME_BAD("26-11-27T04:35:16Z");
    ASSERT_TIME_BAD("2026/11/27T04:35:16Z");
    ASSERT_TIME_BAD("2026-11-27");
    ASSERT_TIME_BAD("");
    ASSERT_TIME_BAD("yesterday");
}
END_TEST

START_TEST(test_util_time_parse_leap_years) {
    ASSERT_TIME("2024-02-29T00:00:00Z", 1709164800000LL);
    ASSERT_TIME("2000-02-29T12:00:00Z", 951825600000LL);
    int64_t a, b;
    ck_assert_int_eq(tparse("2024-02-28T00:00:00Z", &a), 0);
    ck_assert_int_eq(tparse("2024-03-01T00:00:00Z", &b), 0);
    ck_assert_int_eq(b - a, 2 * 86400000LL);
    ck_assert_int_eq(tparse("2026-02-28T00:00:00Z", &a), 0);
    ck_assert_int_eq(tparse("2026-03-01T00:00:00Z", &b), 0);
    ck_assert_int_eq(b - a, 86400000LL);
    ck_assert_int_eq(tparse("2024-12-31T00:00:00Z", &a), 0);
    ck_assert_int_eq(tparse("2025-01-01T00:00:00Z", &b), 0);
    ck_assert_int_eq(b - a, 86400000LL);
}
END_TEST

START_TEST(test_util_time_parse_bad_clock) {
    ASSERT_TIME_BAD("2026-11-27T24:00:00Z");
    ASSERT_TIME_BAD("2026-11-27T25:00:00Z");
    ASSERT_TIME_BAD("2026-11-27T23:60:00Z");
    ASSERT_TIME_BAD("2026-11-27T23:59:61Z");
    ASSERT_TIME_BAD("2026-11-27T4:35:16Z");
    ASSERT_TIME_BAD("2026-11-27T04:35Z");
    ASSERT_TIME_BAD("2026-11-27T04-35-16Z");
    ASSERT_TIME_BAD("2026-11-27X04:35:16Z");
    /* A leap second is accepted and stays within its day. */
    int64_t ms;
    ck_assert_int_eq(tparse("2026-12-31T23:59:60Z", &ms), 0);
    ck_assert_int_lt(ms, 1798761600000LL); /* 2027-01-01T00:00:00Z */
    ck_assert_int_ge(ms, 1798761599000LL);
}
END_TEST

START_TEST(test_util_time_parse_missing_offset) {
    ASSERT_TIME_BAD("2026-11-27T04:35:16");
    ASSERT_TIME_BAD("2026-11-27T04:35:16.123");
    ASSERT_TIME_BAD("2026-11-27T04:35:16.123456789");
    ASSERT_TIME_BAD("2026-11-27T12:35:16+08");
    ASSERT_TIME_BAD("2026-11-27T12:35:16+0800");
    ASSERT_TIME_BAD("2026-11-27T12:35:16+8:00");
    ASSERT_TIME_BAD("2026-11-27T12:35:16+24:00");
    ASSERT_TIME_BAD("2026-11-27T12:35:16+08:60");
    ASSERT_TIME_BAD("2026-11-27T12:35:16 +08:00");
    ASSERT_TIME_BAD("2026-11-27T12:35:16UTC");
}
END_TEST

START_TEST(test_util_time_parse_trailing_junk) {
    ASSERT_TIME_BAD("2026-11-27T04:35:16.123Zx");
    ASSERT_TIME_BAD("2026-11-27T04:35:16.123Z ");
    ASSERT_TIME_BAD("2026-11-27T04:35:16.123Z\n");
    ASSERT_TIME_BAD("2026-11-27T04:35:16.123ZZ");
    ASSERT_TIME_BAD("2026-11-27T12:35:16.123+08:00x");
    ASSERT_TIME_BAD("2026-11-27T12:35:16.123+08:00:00");
    ASSERT_TIME_BAD("2026-11-27T12:35:16.123+08:00Z");
}
END_TEST

/* len bounds the text: nothing past it is read, and everything up to it counts. */
START_TEST(test_util_time_parse_respects_len) {
    const char *s = "2026-11-27T04:35:16.123Zjunk";
    int64_t ms = 0;
    ck_assert_int_eq(rw_time_parse(s, 24, &ms), 0);
    ck_assert_int_eq(ms, T_EXAMPLE);
    ck_assert_int_eq(rw_time_parse(s, strlen(s), &ms), -1);
    ck_assert_int_eq(rw_time_parse(s, 23, &ms), -1); /* the Z cut off */
    ck_assert_int_eq(rw_time_parse(s, 10, &ms), -1);
    ck_assert_int_eq(rw_time_parse(s, 0, &ms), -1);
}
END_TEST

/* A NUL inside the counted text is junk like any other byte (a JSON string
 * "…Z\u0000x" arrives here with its full length). */
START_TEST(test_util_time_parse_embedded_nul) {
    static const char zx[] = "2026-11-27T04:35:16.123Z\0x";
    static const char z0[] = "2026-11-27T04:35:16.123Z\0";
    static const char off[] = "2026-11-27T12:35:16.123+08:00\0";
    int64_t ms = 0;
    ck_assert_msg(rw_time_parse(zx, sizeof(zx) - 1, &ms) == -1,
                  "\"...Z\\0x\" (26 bytes) accepted as %lld", (long long)ms);
    ck_assert_msg(rw_time_parse(z0, sizeof(z0) - 1, &ms) == -1,
                  "\"...Z\\0\" (25 bytes) accepted as %lld", (long long)ms);
    ck_assert_msg(rw_time_parse(off, sizeof(off) - 1, &ms) == -1,
                  "\"...+08:00\\0\" accepted as %lld", (long long)ms);
}
END_TEST

START_TEST(test_util_time_format_round_trip) {
    static const int64_t values[] = {0,
                                     1,
                                     -1,
                                     999,
                                     T_EXAMPLE,
                                     1709164800000LL,
                                     951825600000LL,
                                     4102444799999LL,
                                     -86400000LL,
                                     -62135596800000LL, /* 0001-01-01 */
                                     253402300799999LL /* 9999-12-31T23:59:59.999 */};
    for (size_t i = 0; i < sizeof(values) / sizeof(*values); i++) {
        char buf[40];
        rw_time_format(values[i], buf, sizeof(buf));
        ck_assert_uint_eq(strlen(buf), 24);
        int64_t back = 0;
        ck_assert_msg(tparse(buf, &back) == 0, "cannot parse back \"%s\"", buf);
        ck_assert_msg(back == values[i], "%lld -> \"%s\" -> %lld", (long long)values[i], buf,
                      (long long)back);
    }
    char buf[40];
    rw_time_format(T_EXAMPLE, buf, sizeof(buf));
    ck_assert_str_eq(buf, "2026-11-27T04:35:16.123Z");
    rw_time_format(0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    rw_time_format(-1, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
    rw_time_format(1709164800000LL, buf, sizeof(buf));
    ck_assert_str_eq(buf, "2024-02-29T00:00:00.000Z");
}
END_TEST

#define ASSERT_DATE(ms, off, want)                                                                 \
    do {                                                                                           \
        char d_[16];                                                                               \
        rw_date_format((ms), (off), d_, sizeof(d_));                                               \
        ck_assert_msg(strcmp(d_, (want)) == 0, "rw_date_format(%lld, %d) = %s, want %s",           \
                      (long long)(ms), (off), d_, (want));                                         \
    } while (0)

START_TEST(test_util_date_format_offsets_across_midnight) {
    const int64_t mid = 1795795200000LL; /* 2026-11-27T16:00:00Z = 2026-11-28 00:00 at +08:00 */
    ASSERT_DATE(mid, 0, "2026-11-27");
    ASSERT_DATE(mid, 480, "2026-11-28");
    ASSERT_DATE(mid - 1, 480, "2026-11-27");
    ASSERT_DATE(mid, -330, "2026-11-27");
    /* 2026-11-27T05:29:59.999Z is still the 26th at -05:30; one ms later the 27th. */
    const int64_t d27 = 1795737600000LL; /* 2026-11-27T00:00:00Z */
    ASSERT_DATE(d27, 0, "2026-11-27");
    ASSERT_DATE(d27 - 1, 0, "2026-11-26");
    ASSERT_DATE(d27 + 330 * 60000 - 1, -330, "2026-11-26");
    ASSERT_DATE(d27 + 330 * 60000, -330, "2026-11-27");
    /* Across a year at +08:00. */
    ASSERT_DATE(1798732800000LL, 480, "2027-01-01");
    ASSERT_DATE(1798732800000LL - 1, 480, "2026-12-31");
    /* Before the epoch. */
    ASSERT_DATE(-1, 0, "1969-12-31");
    ASSERT_DATE(-1, 60, "1970-01-01");
    ASSERT_DATE(0, -60, "1969-12-31");
}
END_TEST

START_TEST(test_util_civil_days_round_trip) {
    ck_assert_int_eq(rw_days_from_civil(1970, 1, 1), 0);
    ck_assert_int_eq(rw_days_from_civil(1969, 12, 31), -1);
    ck_assert_int_eq(rw_days_from_civil(2000, 3, 1), 11017);
    for (int64_t z = -800000; z <= 800000; z += 997) {
        int64_t y;
        unsigned m, d;
        rw_civil_from_days(z, &y, &m, &d);
        ck_assert_int_eq(rw_days_from_civil(y, m, d), z);
    }
}
END_TEST

#define ASSERT_DUR(s, want)                                                                        \
    do {                                                                                           \
        int64_t v_ = -42;                                                                          \
        ck_assert_msg(rw_duration_parse((s), &v_) == 0, "rw_duration_parse(\"%s\") failed", (s));  \
        ck_assert_msg(v_ == (want), "rw_duration_parse(\"%s\") = %lld", (s), (long long)v_);       \
    } while (0)

#define ASSERT_DUR_BAD(s)                                                                          \
    do {                                                                                           \
        int64_t v_ = -42;                                                                          \
        ck_assert_msg(rw_duration_parse((s), &v_) == -1, "rw_duration_parse(\"%s\") accepted",     \
                      (s));                                                                        \
        ck_assert_msg(v_ == -42, "rw_duration_parse(\"%s\") wrote %lld on failure", (s),           \
                      (long long)v_);                                                              \
    } while (0)

START_TEST(test_util_duration_parse_units) {
    ASSERT_DUR("30s", 30000);
    ASSERT_DUR("15m", 900000);
    ASSERT_DUR("1h", 3600000);
    ASSERT_DUR("7d", 604800000);
    ASSERT_DUR("1s", 1000);
    ASSERT_DUR("30d", 2592000000LL);
    ASSERT_DUR("3650d", 3650LL * 86400000);
    ASSERT_DUR("90m", 5400000);
}
END_TEST

START_TEST(test_util_duration_parse_rejects) {
    ASSERT_DUR_BAD("0");
    ASSERT_DUR_BAD("0s");
    ASSERT_DUR_BAD("0h");
    ASSERT_DUR_BAD("-5s");
    ASSERT_DUR_BAD("-1h");
    ASSERT_DUR_BAD("+1h");
    ASSERT_DUR_BAD("1x");
    ASSERT_DUR_BAD("1");
    ASSERT_DUR_BAD("h");
    ASSERT_DUR_BAD("");
    int64_t v = -42;
    ck_assert_int_eq(rw_duration_parse(NULL, &v), -1);
    ck_assert_int_eq(v, -42);
    ASSERT_DUR_BAD("1hh");
    ASSERT_DUR_BAD("1H");
    ASSERT_DUR_BAD("1.5h");
    ASSERT_DUR_BAD("1 h");
    ASSERT_DUR_BAD(" 1h");
    ASSERT_DUR_BAD("1h ");
    ASSERT_DUR_BAD("1h30m");
    ASSERT_DUR_BAD("0x10s");
}
END_TEST

/* Leading white space of any kind is refused, not only ' ' (strtoll skips it). */
START_TEST(test_util_duration_parse_leading_whitespace) {
    ASSERT_DUR_BAD("\t1h");
    ASSERT_DUR_BAD("\n1h");
}
END_TEST

START_TEST(test_util_duration_parse_overflow) {
    ASSERT_DUR_BAD("9223372036854775807s");
    ASSERT_DUR_BAD("9223372036854775808s");
    ASSERT_DUR_BAD("99999999999999999999999d");
    ASSERT_DUR_BAD("106751991167301d"); /* times 86400000 overflows int64 */
    ASSERT_DUR_BAD("9223372036854775d");
    /* Large but representable values that do not overflow are fine. */
    int64_t v;
    ck_assert_int_eq(rw_duration_parse("100000d", &v), 0);
    ck_assert_int_eq(v, 100000LL * 86400000);
}
END_TEST

static void sha_hex(const void *data, size_t len, char out[65]) {
    uint8_t d[32];
    rw_sha256(data, len, d);
    rw_hex(d, 32, out);
}

START_TEST(test_util_sha256_known_vectors) {
    char h[65];
    sha_hex("", 0, h);
    ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_hex("abc", 3, h);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha_hex(two, strlen(two), h);
    ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

/* Lengths around the padding boundaries (55/56 and 63/64/65 bytes), and a long input. */
START_TEST(test_util_sha256_block_boundaries) {
    static const struct {
        size_t n;
        const char *hex;
    } cases[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
        {1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    };
    char *a = malloc(1000000);
    ck_assert_ptr_nonnull(a);
    memset(a, 'a', 1000000);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char h[65];
        sha_hex(a, cases[i].n, h);
        ck_assert_msg(strcmp(h, cases[i].hex) == 0, "sha256('a' x %zu) = %s", cases[i].n, h);
    }
    free(a);
}
END_TEST

START_TEST(test_util_hex) {
    static const uint8_t in[] = {0x00, 0x0f, 0xa5, 0xff};
    char out[9];
    rw_hex(in, 4, out);
    ck_assert_str_eq(out, "000fa5ff");
    rw_hex(in, 0, out);
    ck_assert_str_eq(out, "");
    /* Every byte, as printf writes it. */
    uint8_t all[256];
    char got[513], want[3];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    rw_hex(all, sizeof(all), got);
    ck_assert_uint_eq(strlen(got), 512);
    for (int i = 0; i < 256; i++) {
        snprintf(want, sizeof(want), "%02x", i);
        ck_assert_msg(got[2 * i] == want[0] && got[2 * i + 1] == want[1], "byte %d: %.2s", i,
                      got + 2 * i);
    }
}
END_TEST

/* util.h documents rw_hash64 as FNV-1a: check the reference values. */
START_TEST(test_util_hash64_fnv1a_vectors) {
    ck_assert_uint_eq(rw_hash64("", 0), 0xcbf29ce484222325ULL);
    ck_assert_uint_eq(rw_hash64("a", 1), 0xaf63dc4c8601ec8cULL);
    ck_assert_uint_eq(rw_hash64("foobar", 6), 0x85944171f73967e8ULL);
}
END_TEST

#define ASSERT_OFF(s, want)                                                                        \
    do {                                                                                           \
        int m_ = -9999;                                                                            \
        ck_assert_msg(rw_utc_offset_parse((s), &m_) == 0, "rw_utc_offset_parse(\"%s\") failed",    \
                      (s));                                                                        \
        ck_assert_int_eq(m_, (want));                                                              \
    } while (0)

#define ASSERT_OFF_BAD(s)                                                                          \
    do {                                                                                           \
        int m_ = -9999;                                                                            \
        ck_assert_msg(rw_utc_offset_parse((s), &m_) == -1, "rw_utc_offset_parse(\"%s\") = %d",     \
                      (s), m_);                                                                    \
        ck_assert_int_eq(m_, -9999);                                                               \
    } while (0)

START_TEST(test_util_utc_offset_parse) {
    ASSERT_OFF("Z", 0);
    ASSERT_OFF("z", 0);
    ASSERT_OFF("+08:00", 480);
    ASSERT_OFF("-05:30", -330);
    ASSERT_OFF("+05:45", 345);
    ASSERT_OFF("+00:00", 0);
    ASSERT_OFF("-00:00", 0);
    ASSERT_OFF("+23:59", 23 * 60 + 59);
    ASSERT_OFF("-12:00", -720);
    ASSERT_OFF_BAD("");
    ASSERT_OFF_BAD("+24:00");
    ASSERT_OFF_BAD("+08:60");
    ASSERT_OFF_BAD("08:00");
    ASSERT_OFF_BAD("+0800");
    ASSERT_OFF_BAD("+8:00");
    ASSERT_OFF_BAD("+08");
    ASSERT_OFF_BAD("+08:00 ");
    ASSERT_OFF_BAD(" +08:00");
    ASSERT_OFF_BAD("+08:0a");
    ASSERT_OFF_BAD("UTC");
    ASSERT_OFF_BAD("ZZ");
    ASSERT_OFF_BAD("*08:00");
}
END_TEST

START_TEST(test_util_buf_append_and_printf) {
    rw_buf_t b;
    rw_buf_init(&b);
    ck_assert_str_eq(rw_buf_cstr(&b), "");
    rw_buf_puts(&b, "abc");
    rw_buf_append(&b, "\0x", 2);
    ck_assert_uint_eq(b.len, 5);
    rw_buf_reset(&b);
    for (int i = 0; i < 1000; i++)
        rw_buf_printf(&b, "%d,", i % 10);
    ck_assert_uint_eq(b.len, 2000);
    ck_assert_int_eq(strncmp(rw_buf_cstr(&b), "0,1,2,3,", 8), 0);
    ck_assert_int_eq(b.data[b.len], 0);
    rw_buf_fini(&b);
    ck_assert_ptr_null(b.data);
}
END_TEST

/* Number text: short for amounts, and always read back as the same double. */
START_TEST(test_util_number_text) {
    static const struct {
        double x;
        const char *want;
    } table[] = {{0, "0"},
                 {100, "100"},
                 {-7, "-7"},
                 {5567.44, "5567.44"},
                 {0.05, "0.05"},
                 {-0.07, "-0.07"},
                 {1234.5, "1234.5"},
                 {0.000001, "0.000001"},
                 {1e15, "1000000000000000"},
                 {0.1 + 0.2, "0.30000000000000004"},
                 {1e300, "1.0000000000000001e+300"}};
    char buf[64];
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        rw_number_text(table[i].x, buf, sizeof(buf));
        ck_assert_str_eq(buf, table[i].want);
    }
    /* Any double reads back exactly, whatever form it takes. */
    uint64_t z = 12345;
    for (int i = 0; i < 200000; i++) {
        z = z * 6364136223846793005ULL + 1442695040888963407ULL;
        double x;
        if (i % 3 == 0)
            x = (double)(int64_t)(z >> 20) / 100.0; /* cents */
        else if (i % 3 == 1)
            x = (double)(z >> 11) / 9007199254740992.0 * 1e6 - 5e5;
        else
            memcpy(&x, &z, sizeof(x));
        if (!isfinite(x))
            continue;
        int n = rw_number_text(x, buf, sizeof(buf));
        /* Checked without ck_assert per value: each of those is a write to Check's pipe. */
        if (n != (int)strlen(buf) || strtod(buf, NULL) != x)
            ck_abort_msg("%.17g written as %s (%d bytes reported)", x, buf, n);
    }
    ck_assert_int_eq(rw_number_text(5567.44, buf, 4), (int)strlen("5567.4399999999996"));
}
END_TEST

/* Retry delays double from base to cap, each drawn in [d/2, d]; reset goes back to base. */
START_TEST(test_util_backoff_jitter_and_cap) {
    rw_backoff_t b = {100, 5000, 0, 0};
    int lo = 50, hi = 100;
    for (int i = 0; i < 12; i++) {
        int d = rw_backoff_next(&b);
        ck_assert_msg(d >= lo && d <= hi, "draw %d: %d outside [%d, %d]", i, d, lo, hi);
        hi = hi * 2 > 5000 ? 5000 : hi * 2;
        lo = hi / 2;
    }
    bool differ = false;
    int first = rw_backoff_next(&b);
    for (int i = 0; i < 50; i++) {
        int d = rw_backoff_next(&b);
        ck_assert(d >= 2500 && d <= 5000);
        differ = differ || d != first;
    }
    ck_assert_msg(differ, "no jitter at the cap");
    rw_backoff_reset(&b);
    int d = rw_backoff_next(&b);
    ck_assert(d >= 50 && d <= 100);
}
END_TEST

/* A repeated line is logged once an interval, and the next one says how many were held back. */
START_TEST(test_util_log_rate_limited_with_count) {
    char path[] = "/tmp/rw-log-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    rw_ratelimit_t rl = {0, 0};
    for (int i = 0; i < 12346; i++)
        rw_log_limited(&rl, RW_LOG_ERROR, "redis down: try %d", i);
    ck_assert_uint_eq(rl.suppressed, 12345);
    rl.next_ms = 1; /* the interval passed */
    rw_log_limited(&rl, RW_LOG_ERROR, "redis down: try %d", 12346);
    ck_assert_uint_eq(rl.suppressed, 0);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char text[4096] = "";
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    close(fd);
    unlink(path);
    ck_assert_int_gt(n, 0);
    text[n] = 0;
    ck_assert_ptr_nonnull(strstr(text, "redis down: try 0\n"));
    ck_assert_ptr_null(strstr(text, "try 1\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "redis down: try 12346 (repeated 12,345 times since last logged)"));
    int lines = 0;
    for (char *c = text; *c; c++)
        lines += *c == '\n';
    ck_assert_int_eq(lines, 2);
}
END_TEST

static Suite *util_suite(void) {
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_util_time_parse_utc_z);
    tcase_add_test(tc, test_util_number_text);
    tcase_add_test(tc, test_util_time_parse_offsets);
    tcase_add_test(tc, test_util_time_parse_fractions);
    tcase_add_test(tc, test_util_time_parse_invalid_dates);
    tcase_add_test(tc, test_util_time_parse_leap_years);
    tcase_add_test(tc, test_util_time_parse_bad_clock);
    tcase_add_test(tc, test_util_time_parse_missing_offset);
    tcase_add_test(tc, test_util_time_parse_trailing_junk);
    tcase_add_test(tc, test_util_time_parse_respects_len);
    tcase_add_test(tc, test_util_time_parse_embedded_nul);
    tcase_add_test(tc, test_util_time_format_round_trip);
    tcase_add_test(tc, test_util_date_format_offsets_across_midnight);
    tcase_add_test(tc, test_util_civil_days_round_trip);
    tcase_add_test(tc, test_util_duration_parse_units);
    tcase_add_test(tc, test_util_duration_parse_rejects);
    tcase_add_test(tc, test_util_duration_parse_leading_whitespace);
    tcase_add_test(tc, test_util_duration_parse_overflow);
    tcase_add_test(tc, test_util_sha256_known_vectors);
    tcase_add_test(tc, test_util_sha256_block_boundaries);
    tcase_add_test(tc, test_util_hex);
    tcase_add_test(tc, test_util_hash64_fnv1a_vectors);
    tcase_add_test(tc, test_util_utc_offset_parse);
    tcase_add_test(tc, test_util_buf_append_and_printf);
    tcase_add_test(tc, test_util_backoff_jitter_and_cap);
    tcase_add_test(tc, test_util_log_rate_limited_with_count);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(util_suite); }

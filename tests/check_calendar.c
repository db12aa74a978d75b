/* Unit tests for engine/calendar.c: working days, working time between instants and its
 * inverse, on calendars built by hand (UTC offsets, weekends, holidays, moved working days). */
#include "calendar.h"

#include "harness.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define MIN_MS 60000LL

#define SAT_SUN ((uint8_t)((1u << 5) | (1u << 6)))

/* ---- helpers ------------------------------------------------------------------------------ */

static int64_t day_of(int y, unsigned m, unsigned d) { return rw_days_from_civil(y, m, d); }

/* The instant of a local wall-clock time on a UTC offset. */
static int64_t local_ms(int offset_min, int y, unsigned m, unsigned d, int h, int mi) {
    return day_of(y, m, d) * DAY_MS + h * HOUR_MS + mi * MIN_MS - (int64_t)offset_min * MIN_MS;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* A calendar whose lists are allocated copies (sorted); free with cal_free. */
static rw_calendar_t cal_make(int offset_min, uint8_t weekend, const int64_t *holidays,
                              size_t n_holidays, const int64_t *workdays, size_t n_workdays) {
    rw_calendar_t cal;
    memset(&cal, 0, sizeof(cal));
    cal.utc_offset_min = offset_min;
    cal.weekend = weekend;
    if (n_holidays) {
        cal.holidays = malloc(n_holidays * sizeof(int64_t));
        memcpy(cal.holidays, holidays, n_holidays * sizeof(int64_t));
        qsort(cal.holidays, n_holidays, sizeof(int64_t), cmp_i64);
    }
    cal.n_holidays = n_holidays;
    if (n_workdays) {
        cal.workdays = malloc(n_workdays * sizeof(int64_t));
        memcpy(cal.workdays, workdays, n_workdays * sizeof(int64_t));
        qsort(cal.workdays, n_workdays, sizeof(int64_t), cmp_i64);
    }
    cal.n_workdays = n_workdays;
    return cal;
}

static void cal_free(rw_calendar_t *cal) {
    free(cal->holidays);
    free(cal->workdays);
    memset(cal, 0, sizeof(*cal));
}

/* +08:00, weekend sat/sun, Golden Week 2026-10-01..07 off, Saturday 2026-10-10 worked. */
static rw_calendar_t golden_week(void) {
    int64_t hol[7];
    for (unsigned i = 0; i < 7; i++)
        hol[i] = day_of(2026, 10, 1 + i);
    int64_t work[1] = {day_of(2026, 10, 10)};
    return cal_make(480, SAT_SUN, hol, 7, work, 1);
}

/* Reference implementation: a plain linear scan, one day at a time. */
static bool ref_is_workday(const rw_calendar_t *cal, int64_t day) {
    for (size_t i = 0; i < cal->n_workdays; i++)
        if (cal->workdays[i] == day)
            return true;
    for (size_t i = 0; i < cal->n_holidays; i++)
        if (cal->holidays[i] == day)
            return false;
    int64_t w = ((day + 3) % 7 + 7) % 7;
    return !((cal->weekend >> w) & 1u);
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static int64_t ref_work_ms(const rw_calendar_t *cal, int64_t from, int64_t to) {
    if (to <= from)
        return 0;
    int64_t off = (int64_t)cal->utc_offset_min * MIN_MS;
    int64_t lf = from + off, lt = to + off, total = 0;
    for (int64_t d = floor_div(lf, DAY_MS); d * DAY_MS < lt; d++) {
        if (!ref_is_workday(cal, d))
            continue;
        int64_t a = d * DAY_MS > lf ? d * DAY_MS : lf;
        int64_t b = (d + 1) * DAY_MS < lt ? (d + 1) * DAY_MS : lt;
        total += b - a;
    }
    return total;
}

/* xorshift64*, fixed seed: deterministic "random" inputs. */
static uint64_t rng_state;
static uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}
static int64_t rng_range(int64_t lo, int64_t hi) { /* [lo, hi) */
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo));
}

/* ---- tests -------------------------------------------------------------------------------- */

START_TEST(test_calendar_is_workday_rules) {
    rw_calendar_t cal = golden_week();
    /* 2026-10-01 is a Thursday; 2026-10-10 a Saturday. */
    ck_assert_int_eq(((day_of(2026, 10, 1) + 3) % 7), 3);
    ck_assert_int_eq(((day_of(2026, 10, 10) + 3) % 7), 5);
    ck_assert(rw_calendar_is_workday(&cal, day_of(2026, 9, 30)));   /* Wed */
    ck_assert(!rw_calendar_is_workday(&cal, day_of(2026, 10, 1)));  /* holiday Thu */
    ck_assert(!rw_calendar_is_workday(&cal, day_of(2026, 10, 3)));  /* holiday on Sat */
    ck_assert(!rw_calendar_is_workday(&cal, day_of(2026, 10, 7)));  /* holiday Wed */
    ck_assert(rw_calendar_is_workday(&cal, day_of(2026, 10, 8)));   /* Thu */
    ck_assert(rw_calendar_is_workday(&cal, day_of(2026, 10, 10)));  /* moved Sat */
    ck_assert(!rw_calendar_is_workday(&cal, day_of(2026, 10, 11))); /* Sun */
    ck_assert(!rw_calendar_is_workday(&cal, day_of(2026, 10, 17))); /* Sat */
    ck_assert(rw_calendar_is_workday(&cal, day_of(2026, 10, 19)));  /* Mon */
    ck_assert(rw_calendar_is_workday(&cal, day_of(1969, 12, 31)));  /* Wed, before the epoch */
    ck_assert(!rw_calendar_is_workday(&cal, day_of(1969, 12, 27))); /* Sat, before the epoch */
    cal_free(&cal);

    /* A day listed both as holiday and as moved working day is worked. */
    int64_t both[1] = {day_of(2026, 11, 21)}; /* Saturday */
    int64_t wed[1] = {day_of(2026, 11, 25)};
    rw_calendar_t c2 = cal_make(0, SAT_SUN, both, 1, both, 1);
    ck_assert(rw_calendar_is_workday(&c2, both[0]));
    cal_free(&c2);
    rw_calendar_t c3 = cal_make(0, SAT_SUN, wed, 1, wed, 1);
    ck_assert(rw_calendar_is_workday(&c3, wed[0]));
    ck_assert_int_eq(
        rw_calendar_work_ms(&c3, local_ms(0, 2026, 11, 23, 0, 0), local_ms(0, 2026, 11, 28, 0, 0)),
        5 * DAY_MS);
    cal_free(&c3);
}
END_TEST

START_TEST(test_calendar_friday_evening_two_workdays_tuesday) {
    rw_calendar_t cal = golden_week();
    int64_t fri = local_ms(480, 2026, 11, 20, 17, 0);
    int64_t tue = local_ms(480, 2026, 11, 24, 17, 0);
    ck_assert_int_eq(rw_calendar_work_at(&cal, fri, 2 * DAY_MS), tue);
    ck_assert_int_eq(rw_calendar_work_ms(&cal, fri, tue), 2 * DAY_MS);
    /* Friday evening to Monday morning: only Friday's 7 hours and Monday's 9. */
    ck_assert_int_eq(rw_calendar_work_ms(&cal, fri, local_ms(480, 2026, 11, 23, 9, 0)),
                     16 * HOUR_MS);
    /* One working day elapses at Monday 17:00. */
    ck_assert_int_eq(rw_calendar_work_at(&cal, fri, DAY_MS), local_ms(480, 2026, 11, 23, 17, 0));
    cal_free(&cal);
}
END_TEST

START_TEST(test_calendar_opened_saturday_counts_from_monday) {
    rw_calendar_t cal = golden_week();
    int64_t sat = local_ms(480, 2026, 11, 21, 10, 30);
    int64_t mon = local_ms(480, 2026, 11, 23, 0, 0);
    ck_assert_int_eq(rw_calendar_work_ms(&cal, sat, mon), 0);
    ck_assert_int_eq(rw_calendar_work_ms(&cal, sat, mon + 1), 1);
    ck_assert_int_eq(rw_calendar_work_at(&cal, sat, 1), mon + 1);
    ck_assert_int_eq(rw_calendar_work_at(&cal, sat, HOUR_MS), mon + HOUR_MS);
    /* Two working days: the whole of Monday and Tuesday, so Wednesday 00:00. */
    ck_assert_int_eq(rw_calendar_work_at(&cal, sat, 2 * DAY_MS), local_ms(480, 2026, 11, 25, 0, 0));
    /* Sunday 23:59 local is still off. */
    ck_assert_int_eq(rw_calendar_work_ms(&cal, sat, local_ms(480, 2026, 11, 22, 23, 59)), 0);
    cal_free(&cal);
}
END_TEST

START_TEST(test_calendar_across_golden_week) {
    rw_calendar_t cal = golden_week();
    int64_t wed = local_ms(480, 2026, 9, 30, 12, 0);
    /* 12 h of Wednesday 30 Sep, then nothing until Thursday 8 Oct. */
    ck_assert_int_eq(rw_calendar_work_ms(&cal, wed, local_ms(480, 2026, 10, 8, 0, 0)),
                     12 * HOUR_MS);
    ck_assert_int_eq(rw_calendar_work_at(&cal, wed, 12 * HOUR_MS),
                     local_ms(480, 2026, 10, 1, 0, 0));
    ck_assert_int_eq(rw_calendar_work_at(&cal, wed, 12 * HOUR_MS + 1),
                     local_ms(480, 2026, 10, 8, 0, 0) + 1);
    /* Two working days: Wed 12 h + Thu 8 Oct 24 h + Fri 9 Oct 12 h. */
    ck_assert_int_eq(rw_calendar_work_at(&cal, wed, 2 * DAY_MS), local_ms(480, 2026, 10, 9, 12, 0));
    /* Opened inside the holiday: counting starts on Thursday 8 Oct. */
    int64_t hol = local_ms(480, 2026, 10, 2, 9, 0);
    ck_assert_int_eq(rw_calendar_work_at(&cal, hol, DAY_MS), local_ms(480, 2026, 10, 9, 0, 0));
    cal_free(&cal);
}
END_TEST

START_TEST(test_calendar_moved_saturday_counts) {
    rw_calendar_t cal = golden_week();
    int64_t wed = local_ms(480, 2026, 9, 30, 12, 0);
    /* Three working days: Wed 12 h, Thu 8, Fri 9, then 12 h of the worked Saturday 10 Oct. */
    ck_assert_int_eq(rw_calendar_work_at(&cal, wed, 3 * DAY_MS),
                     local_ms(480, 2026, 10, 10, 12, 0));
    ck_assert_int_eq(rw_calendar_work_ms(&cal, local_ms(480, 2026, 10, 10, 0, 0),
                                         local_ms(480, 2026, 10, 11, 0, 0)),
                     DAY_MS);
    /* The next Saturday is off. */
    ck_assert_int_eq(rw_calendar_work_ms(&cal, local_ms(480, 2026, 10, 17, 0, 0),
                                         local_ms(480, 2026, 10, 18, 0, 0)),
                     0);
    /* Friday 9 Oct 17:00 + 2 working days: Fri 7 h, Sat 24 h, Mon 12 Oct 17 h. */
    ck_assert_int_eq(rw_calendar_work_at(&cal, local_ms(480, 2026, 10, 9, 17, 0), 2 * DAY_MS),
                     local_ms(480, 2026, 10, 12, 17, 0));
    /* The whole of October 2026: 22 weekdays - 5 holiday weekdays + 1 moved Saturday. */
    ck_assert_int_eq(rw_calendar_work_ms(&cal, local_ms(480, 2026, 10, 1, 0, 0),
                                         local_ms(480, 2026, 11, 1, 0, 0)),
                     18 * DAY_MS);
    cal_free(&cal);
}
END_TEST

START_TEST(test_calendar_negative_and_zero_offsets) {
    /* -05:00: Friday 17:00 local is 22:00Z; the weekend begins at Saturday 00:00 local. */
    rw_calendar_t ny = cal_make(-300, SAT_SUN, NULL, 0, NULL, 0);
    int64_t fri = local_ms(-300, 2026, 11, 20, 17, 0);
    ck_assert_int_eq(fri, local_ms(0, 2026, 11, 20, 22, 0));
    ck_assert_int_eq(rw_calendar_work_at(&ny, fri, 2 * DAY_MS),
                     local_ms(-300, 2026, 11, 24, 17, 0));
    int64_t late = local_ms(-300, 2026, 11, 20, 23, 30); /* Saturday 04:30Z */
    ck_assert_int_eq(rw_calendar_work_ms(&ny, late, local_ms(-300, 2026, 11, 23, 0, 0)),
                     30 * MIN_MS);
    ck_assert_int_eq(rw_calendar_work_at(&ny, late, 31 * MIN_MS),
                     local_ms(-300, 2026, 11, 23, 0, 1));
    /* Saturday 02:00Z is still Friday in New York, but already Saturday at UTC. */
    int64_t sat_utc = local_ms(0, 2026, 11, 21, 2, 0);
    ck_assert_int_eq(rw_calendar_work_ms(&ny, sat_utc, sat_utc + HOUR_MS), HOUR_MS);
    rw_calendar_t utc = cal_make(0, SAT_SUN, NULL, 0, NULL, 0);
    ck_assert_int_eq(rw_calendar_work_ms(&utc, sat_utc, sat_utc + HOUR_MS), 0);
    ck_assert_int_eq(rw_calendar_work_at(&utc, local_ms(0, 2026, 11, 20, 17, 0), 2 * DAY_MS),
                     local_ms(0, 2026, 11, 24, 17, 0));
    /* A holiday on the local date (here: Thursday 26 Nov at -05:00). */
    int64_t thanks[1] = {day_of(2026, 11, 26)};
    rw_calendar_t ny2 = cal_make(-300, SAT_SUN, thanks, 1, NULL, 0);
    ck_assert_int_eq(
        rw_calendar_work_ms(&ny2, local_ms(0, 2026, 11, 26, 0, 0), local_ms(0, 2026, 11, 27, 0, 0)),
        5 * HOUR_MS); /* 19:00..24:00 local of Wednesday */
    ck_assert_int_eq(rw_calendar_work_at(&ny2, local_ms(-300, 2026, 11, 25, 12, 0), DAY_MS),
                     local_ms(-300, 2026, 11, 27, 12, 0));
    cal_free(&ny);
    cal_free(&utc);
    cal_free(&ny2);
}
END_TEST

START_TEST(test_calendar_all_days_off_never) {
    rw_calendar_t off = cal_make(480, 0x7f, NULL, 0, NULL, 0);
    int64_t t = local_ms(480, 2026, 11, 20, 17, 0);
    ck_assert(rw_calendar_work_at(&off, t, 1) == INT64_MAX);
    ck_assert(rw_calendar_work_at(&off, t, 2 * DAY_MS) == INT64_MAX);
    ck_assert_int_eq(rw_calendar_work_ms(&off, t, t + 365 * DAY_MS), 0);
    for (int64_t d = day_of(2026, 11, 16); d < day_of(2026, 11, 23); d++)
        ck_assert(!rw_calendar_is_workday(&off, d));
    /* Every weekday a weekend day, but one moved working day a year later: found. */
    int64_t one[1] = {day_of(2027, 11, 20)};
    rw_calendar_t rare = cal_make(480, 0x7f, NULL, 0, one, 1);
    ck_assert_int_eq(rw_calendar_work_at(&rare, t, HOUR_MS), local_ms(480, 2027, 11, 20, 1, 0));
    ck_assert_int_eq(rw_calendar_work_ms(&rare, t, t + 3 * 365 * DAY_MS), DAY_MS);
    ck_assert(rw_calendar_work_at(&rare, t, DAY_MS + 1) == INT64_MAX);
    /* No working time beyond 50 years of work. */
    rw_calendar_t all = cal_make(0, 0, NULL, 0, NULL, 0);
    ck_assert(rw_calendar_work_at(&all, t, 60 * 366 * DAY_MS) == INT64_MAX);
    ck_assert_int_eq(rw_calendar_work_at(&all, t, 40 * 365 * DAY_MS), t + 40 * 365 * DAY_MS);
    cal_free(&off);
    cal_free(&rare);
    cal_free(&all);
}
END_TEST

START_TEST(test_calendar_empty_and_reversed_spans) {
    rw_calendar_t cal = golden_week();
    int64_t t = local_ms(480, 2026, 11, 20, 17, 0);
    ck_assert_int_eq(rw_calendar_work_ms(&cal, t, t), 0);
    ck_assert_int_eq(rw_calendar_work_ms(&cal, t, t - 1), 0);
    ck_assert_int_eq(rw_calendar_work_ms(&cal, t + 5 * DAY_MS, t), 0);
    ck_assert_int_eq(rw_calendar_work_ms(&cal, t, t + 1), 1);
    ck_assert_int_eq(rw_calendar_work_at(&cal, t, 0), t);
    ck_assert_int_eq(rw_calendar_work_at(&cal, t, -5), t);
    /* Extreme instants do not overflow. */
    ck_assert(rw_calendar_work_ms(&cal, INT64_MIN, INT64_MAX) > 0);
    ck_assert_int_eq(rw_calendar_work_ms(&cal, INT64_MAX - 1, INT64_MAX), 0);
    cal_free(&cal);
}
END_TEST

START_TEST(test_calendar_long_spans_match_day_by_day) {
    rw_calendar_t cal = golden_week();
    int64_t from = local_ms(480, 1995, 3, 14, 9, 27);
    int64_t to = local_ms(480, 2044, 8, 2, 13, 5);
    ck_assert_int_eq(rw_calendar_work_ms(&cal, from, to), ref_work_ms(&cal, from, to));
    int64_t w = rw_calendar_work_ms(&cal, from, to);
    ck_assert_int_eq(rw_calendar_work_at(&cal, from, w), to);
    /* Years of spans, many times: stays fast (well under a second under sanitizers). */
    int64_t sum = 0;
    for (int i = 0; i < 20000; i++)
        sum += rw_calendar_work_at(&cal, from + i * 7919LL, (int64_t)(i % 40 + 1) * 300 * DAY_MS) -
               from;
    ck_assert(sum > 0);
    cal_free(&cal);
}
END_TEST

START_TEST(test_calendar_property_round_trip_and_earliest) {
    /* Several calendars, including pre-epoch dates and unsorted input lists. */
    int64_t hol[40], work[12];
    rng_state = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 40; i++)
        hol[i] = rng_range(day_of(1969, 6, 1), day_of(1970, 6, 1)) + (i % 2 ? 20454 : 0);
    for (int i = 0; i < 12; i++)
        work[i] = rng_range(day_of(1969, 6, 1), day_of(1970, 6, 1)) + (i % 2 ? 20454 : 0);
    rw_calendar_t cals[] = {
        golden_week(),
        cal_make(-300, SAT_SUN, hol, 40, work, 12),
        cal_make(0, (uint8_t)(1u << 4 | 1u << 5), hol, 40, NULL, 0), /* Fri/Sat weekend */
        cal_make(330, (uint8_t)(1u << 6), NULL, 0, work, 12),        /* Sunday only */
        cal_make(-720, 0x3f, hol, 20, work, 12),                     /* only Sundays worked */
        cal_make(840, 0, hol, 40, NULL, 0),                          /* no weekend */
    };
    const size_t n_cals = sizeof(cals) / sizeof(cals[0]);
    const int64_t lo = local_ms(0, 1969, 5, 1, 0, 0), hi = local_ms(0, 2027, 1, 1, 0, 0);
    const int64_t spans[] = {HOUR_MS, DAY_MS, 7 * DAY_MS, 60 * DAY_MS, 400 * DAY_MS};
    for (int i = 0; i < 3000; i++) {
        const rw_calendar_t *cal = &cals[(size_t)i % n_cals];
        int64_t from;
        if (i % 3 == 0) /* near a local midnight */
            from = floor_div(rng_range(lo, hi), DAY_MS) * DAY_MS -
                   (int64_t)cal->utc_offset_min * MIN_MS + rng_range(-2, 3);
        else if (i % 3 == 1)
            from = rng_range(lo, lo + 400 * DAY_MS); /* around the epoch */
        else
            from = rng_range(hi - 400 * DAY_MS, hi); /* around the holidays of 2025/26 */
        int64_t span = spans[rng_next() % 5];
        int64_t to = from + rng_range(-span / 8, span);
        int64_t w = rw_calendar_work_ms(cal, from, to);
        ck_assert_msg(w == ref_work_ms(cal, from, to), "work_ms cal %d from %lld to %lld",
                      i % (int)n_cals, (long long)from, (long long)to);
        int64_t x = i % 2 ? w : rng_range(1, span);
        if (x <= 0)
            x = 1 + (int64_t)(rng_next() % DAY_MS);
        int64_t t = rw_calendar_work_at(cal, from, x);
        ck_assert(t != INT64_MAX);
        ck_assert(t >= from);
        ck_assert_msg(rw_calendar_work_ms(cal, from, t) == x, "round trip cal %d from %lld x %lld",
                      i % (int)n_cals, (long long)from, (long long)x);
        ck_assert_msg(rw_calendar_work_ms(cal, from, t - 1) == x - 1,
                      "earliest cal %d from %lld x %lld", i % (int)n_cals, (long long)from,
                      (long long)x);
        if (x == w)
            ck_assert(t <= to); /* the earliest, so never after an instant that reaches x */
    }
    for (size_t c = 0; c < n_cals; c++)
        cal_free(&cals[c]);
}
END_TEST

static Suite *calendar_suite(void) {
    Suite *s = suite_create("calendar");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_calendar_is_workday_rules);
    tcase_add_test(tc, test_calendar_friday_evening_two_workdays_tuesday);
    tcase_add_test(tc, test_calendar_opened_saturday_counts_from_monday);
    tcase_add_test(tc, test_calendar_across_golden_week);
    tcase_add_test(tc, test_calendar_moved_saturday_counts);
    tcase_add_test(tc, test_calendar_negative_and_zero_offsets);
    tcase_add_test(tc, test_calendar_all_days_off_never);
    tcase_add_test(tc, test_calendar_empty_and_reversed_spans);
    tcase_add_test(tc, test_calendar_long_spans_match_day_by_day);
    tcase_add_test(tc, test_calendar_property_round_trip_and_earliest);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(calendar_suite); }

/* Working-time arithmetic on a calendar. Counting working days over a span is O(1) for the
 * weekend pattern (whole weeks, then at most six days) plus the listed holidays and moved
 * working days that fall inside the span, found by binary search. The inverse searches the day
 * by bisection over a 50-year horizon, so both stay fast for spans of years. */
#include "calendar.h"

#define DAY_MS 86400000LL
/* 50 years of days, rounded up: the horizon of rw_calendar_work_at. */
#define HORIZON_DAYS 18263LL
/* Instants are clamped to ±1e17 ms (about 3 million years) so that no sum below overflows. */
#define LIMIT_MS 100000000000000000LL

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* Weekday of a day number, 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday). */
static int weekday(int64_t day) {
    int64_t w = (day + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

static bool is_weekend(const rw_calendar_t *cal, int64_t day) {
    return (cal->weekend >> weekday(day)) & 1u;
}

/* First index i with a[i] >= v. */
static size_t lower_bound(const int64_t *a, size_t n, int64_t v) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool contains(const int64_t *a, size_t n, int64_t v) {
    size_t i = lower_bound(a, n, v);
    return i < n && a[i] == v;
}

bool rw_calendar_is_workday(const rw_calendar_t *cal, int64_t day) {
    if (contains(cal->workdays, cal->n_workdays, day))
        return true;
    if (contains(cal->holidays, cal->n_holidays, day))
        return false;
    return !is_weekend(cal, day);
}

static int64_t clamp_ms(int64_t ms) {
    return ms < -LIMIT_MS ? -LIMIT_MS : ms > LIMIT_MS ? LIMIT_MS : ms;
}

/* Number of working days in [d0, d1) (0 when d1 <= d0). */
static int64_t work_days(const rw_calendar_t *cal, int64_t d0, int64_t d1) {
    if (d1 <= d0)
        return 0;
    int64_t n = d1 - d0;
    int off_per_week = 0;
    for (int w = 0; w < 7; w++)
        off_per_week += (int)((cal->weekend >> w) & 1u);
    int64_t count = (n / 7) * (7 - off_per_week);
    for (int64_t d = d0 + (n / 7) * 7; d < d1; d++)
        count += !is_weekend(cal, d);
    /* Holidays on weekdays remove a day, unless the day is also a moved working day. */
    for (size_t i = lower_bound(cal->holidays, cal->n_holidays, d0);
         i < cal->n_holidays && cal->holidays[i] < d1; i++) {
        int64_t h = cal->holidays[i];
        if (i > 0 && cal->holidays[i - 1] == h)
            continue; /* listed twice */
        if (!is_weekend(cal, h) && !contains(cal->workdays, cal->n_workdays, h))
            count--;
    }
    /* Moved working days on the weekend add one (on a weekday they already count). */
    for (size_t i = lower_bound(cal->workdays, cal->n_workdays, d0);
         i < cal->n_workdays && cal->workdays[i] < d1; i++) {
        int64_t w = cal->workdays[i];
        if (i > 0 && cal->workdays[i - 1] == w)
            continue;
        if (is_weekend(cal, w))
            count++;
    }
    return count;
}

int64_t rw_calendar_work_ms(const rw_calendar_t *cal, int64_t from_ms, int64_t to_ms) {
    if (to_ms <= from_ms)
        return 0;
    const int64_t off = (int64_t)cal->utc_offset_min * 60000;
    const int64_t lf = clamp_ms(from_ms) + off, lt = clamp_ms(to_ms) + off;
    const int64_t df = floor_div(lf, DAY_MS), dt = floor_div(lt, DAY_MS);
    if (df == dt)
        return rw_calendar_is_workday(cal, df) ? lt - lf : 0;
    int64_t total = 0;
    if (rw_calendar_is_workday(cal, df))
        total += (df + 1) * DAY_MS - lf;
    total += work_days(cal, df + 1, dt) * DAY_MS;
    if (rw_calendar_is_workday(cal, dt))
        total += lt - dt * DAY_MS;
    return total;
}

int64_t rw_calendar_work_at(const rw_calendar_t *cal, int64_t from_ms, int64_t work_ms) {
    if (work_ms <= 0)
        return from_ms;
    if (from_ms < -LIMIT_MS || from_ms > LIMIT_MS || work_ms > HORIZON_DAYS * DAY_MS)
        return INT64_MAX;
    const int64_t off = (int64_t)cal->utc_offset_min * 60000;
    const int64_t lf = from_ms + off;
    const int64_t df = floor_div(lf, DAY_MS);
    int64_t left = work_ms;
    if (rw_calendar_is_workday(cal, df)) {
        int64_t rest = (df + 1) * DAY_MS - lf;
        if (left <= rest)
            return from_ms + left;
        left -= rest;
    }
    /* The k-th working day after df holds the end: the smallest d in (df, df + HORIZON_DAYS]
     * with work_days(df + 1, d + 1) >= k. */
    const int64_t k = (left + DAY_MS - 1) / DAY_MS;
    int64_t lo = df + 1, hi = df + HORIZON_DAYS;
    if (work_days(cal, lo, hi + 1) < k)
        return INT64_MAX;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (work_days(cal, df + 1, mid + 1) >= k)
            hi = mid;
        else
            lo = mid + 1;
    }
    int64_t t = lo * DAY_MS + (left - (k - 1) * DAY_MS) - off;
    if (t - from_ms > HORIZON_DAYS * DAY_MS)
        return INT64_MAX;
    return t;
}

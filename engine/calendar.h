/* Working-time arithmetic on a ruleset's calendar (docs/reference.md §5): the `workdays` unit of
 * the `deadline` module counts working time, 24 local hours for each working day. */
#ifndef RW_CALENDAR_H
#define RW_CALENDAR_H

#include "ruleset.h"

#include <stdbool.h>
#include <stdint.h>

/* Whether the local day (days since 1970-01-01 on the calendar's UTC offset) is a working day:
 * listed in workdays (moved working days) -> yes; listed in holidays -> no; weekend weekday -> no;
 * otherwise yes. */
bool rw_calendar_is_workday(const rw_calendar_t *cal, int64_t day);

/* Working time in ms between two instants (ms since the epoch, UTC): the parts of [from, to) that
 * fall on working days, counting a working day as its whole 24 local hours. 0 when to <= from.
 * Instants beyond about ±3 million years are clamped to that range. */
int64_t rw_calendar_work_ms(const rw_calendar_t *cal, int64_t from_ms, int64_t to_ms);

/* The inverse: the earliest instant t >= from_ms with rw_calendar_work_ms(cal, from_ms, t) ==
 * work_ms (for work_ms > 0; from_ms itself when work_ms <= 0). Returns INT64_MAX when no such
 * instant within 50 years of from_ms (e.g. a calendar whose every day is off). */
int64_t rw_calendar_work_at(const rw_calendar_t *cal, int64_t from_ms, int64_t work_ms);

#endif

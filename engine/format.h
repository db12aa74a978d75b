/* Alerts for people: one readable line an alert. */
#ifndef RW_FORMAT_H
#define RW_FORMAT_H

#include "util.h"

#include <jansson.h>
#include <stdbool.h>

/* Appends one line (no newline) for an alert's JSON text to out: level, event
 * time, type, event id, key, and each rule with its measure and threshold. A
 * deadline alert shows when its deadline passed (the rule's "as_of", event
 * time) in place of the event time, and ends with "; case opened EVENT_TS".
 * color: ANSI colours by level. Returns 0, or -1 when the text is not an alert. */
int rw_alert_line(const char *json, size_t len, bool color, rw_buf_t *out);

#endif

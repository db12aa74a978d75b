/* Alerts: built as JSON text from an evaluated batch (their ids and Kafka keys too), and
 * formatted as one readable line for people. */
#ifndef RW_ALERT_H
#define RW_ALERT_H

#include "eval.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>

/* The alert of an item as JSON text: returns a new string (free with free()).
 * emitted_ms is the time written as emitted_at. */
char *rw_alert_build(const rw_batch_t *b, const rw_item_t *it, int64_t emitted_ms);
/* The alert's deterministic id (33 bytes with the NUL). */
void rw_alert_id(const rw_ruleset_t *rs, const char *event_id, int level, char out[33]);
/* The alert's Kafka message key: stable per entity, masked. Returns a new string. */
char *rw_alert_key(const rw_batch_t *b, const rw_item_t *it);
/* The alert of a case that crossed a threshold: a new string (free with free()). */
char *rw_alert_case_build(const rw_batch_t *b, const rw_case_alert_t *ca, int64_t emitted_ms);
char *rw_alert_case_key(const rw_batch_t *b, const rw_case_alert_t *ca);

/* Appends one line (no newline) for an alert's JSON text to out: level, event
 * time, type, event id, key, and each rule with its measure and threshold. A
 * deadline alert shows when its deadline passed (the rule's "as_of", event
 * time) in place of the event time, and ends with "; case opened EVENT_TS".
 * color: ANSI colours by level. Returns 0, or -1 when the text is not an alert. */
int rw_alert_line(const char *json, size_t len, bool color, rw_buf_t *out);

#endif

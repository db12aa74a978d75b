/* `riskwarn rules check --sample EVENTS.jsonl`: what a ruleset would do with sample events,
 * rule by rule, before it goes live: how many events each rule matched, scored and alerted,
 * which it skipped and why, and which fields it reads were never present or had another type
 * than the rest of the sample (with the closest field name the sample has). */
#ifndef RW_SAMPLE_H
#define RW_SAMPLE_H

#include "ruleset.h"

#include <stdio.h>

struct rw_schema;

/* Runs the events of path (JSON lines; "-" is stdin) through rs with the evaluation code of
 * replay (state in memory; events checked against schema, borrowed, NULL for none) and writes
 * the report to out. rs is borrowed. Returns 0, or -1 when path cannot be read (the reason
 * is written to err). */
int rw_sample_report(const rw_ruleset_t *rs, const struct rw_schema *schema, const char *path,
                     FILE *out, FILE *err);

#endif

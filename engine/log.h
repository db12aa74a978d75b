/* The engine's log records (util.h: rw_log, rw_log_emit) as text or JSON lines. */
#ifndef RW_LOG_H
#define RW_LOG_H

/* "text" or "json" into RW_LOG_TEXT / RW_LOG_JSON. Returns 0, or -1 for any other name. */
int rw_log_format_parse(const char *name, int *out);

#endif

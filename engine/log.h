/* The engine's log records (util.h: rw_log, rw_log_emit) as text or JSON lines,
 * and librdkafka's own log lines routed through them. */
#ifndef RW_LOG_H
#define RW_LOG_H

#include <librdkafka/rdkafka.h>

/* "text" or "json" into RW_LOG_TEXT / RW_LOG_JSON. Returns 0, or -1 for any other name. */
int rw_log_format_parse(const char *name, int *out);

/* For rd_kafka_conf_set_log_cb: a librdkafka log line (syslog level 0-7) becomes
 * a record of the engine's logger: 0-3 error, 4 warn, 5-6 info, 7 debug, with
 * the fields facility and client. */
void rw_kafka_log(const rd_kafka_t *rk, int level, const char *facility, const char *buf);
/* Routes conf's log lines to rw_kafka_log. */
void rw_kafka_conf_log(rd_kafka_conf_t *conf);

#endif

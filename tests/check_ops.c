/* For the operations team: log records as JSON lines with librdkafka's own lines
 * routed through them, and the engine's logger on hostile text. */
#include "harness.h"
#include "log.h"

#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- log records ------------------------------------------------------------------------- */

typedef struct log_watch {
    const char *path;
    const char *needles[3]; /* all must be in the log */
} log_watch_t;

/* A file's whole text (new, free with free()), or NULL. */
static char *slurp(const char *path) {
    rw_error_t err;
    rw_error_clear(&err);
    size_t len;
    return rw_file_read(path, &len, &err);
}

static bool log_has(void *arg) {
    log_watch_t *w = arg;
    char *text = slurp(w->path);
    bool ok = text != NULL;
    for (size_t i = 0; ok && i < 3 && w->needles[i]; i++)
        ok = strstr(text, w->needles[i]) != NULL;
    free(text);
    return ok;
}

/* A config for an engine whose broker and Redis do not answer (ports nothing listens on). */
static const char *unreachable_config(const char *extra) {
    char text[512];
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"127.0.0.1:1\"}, \"redis\": {\"port\": 1},\n"
             " \"metrics_listen\": null%s}",
             extra);
    return h_tmpfile(".json", text);
}

/* Every line of the log is one JSON object with ts, level and msg; librdkafka's
 * lines are among them, with their facility, and none is printed raw. */
START_TEST(test_ops_json_log_routes_librdkafka) {
    char cfg[256], log[256];
    snprintf(cfg, sizeof(cfg), "%s", unreachable_config(", \"log\": {\"format\": \"json\"}"));
    snprintf(log, sizeof(log), "%s", h_tmpfile(".log", ""));
    pid_t pid = h_engine_start(cfg, log);
    log_watch_t w = {log, {"\"facility\":\"FAIL\"", "Connection refused", "running: group"}};
    ck_assert_msg(h_wait(log_has, &w, 30000), "no librdkafka FAIL record and running line");
    /* Without a broker a stop waits out librdkafka's timeouts: the log is what counts. */
    ck_assert_int_eq(h_engine_stop(pid, SIGKILL, 30000), 128 + SIGKILL);
    char *text = slurp(log);
    ck_assert_ptr_nonnull(text);
    int records = 0, kafka = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), records++) {
        json_error_t je;
        json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &je);
        ck_assert_msg(json_is_object(o), "not a JSON object: %s", line);
        int64_t ms;
        const char *ts = json_string_value(json_object_get(o, "ts"));
        ck_assert_msg(ts && rw_time_parse(ts, strlen(ts), &ms) == 0, "ts: %s", line);
        const char *level = json_string_value(json_object_get(o, "level"));
        ck_assert_msg(level && strstr(" error warn info debug ", level), "level: %s", line);
        ck_assert_msg(json_is_string(json_object_get(o, "msg")), "msg: %s", line);
        const char *fac = json_string_value(json_object_get(o, "facility"));
        if (fac) {
            kafka++;
            ck_assert_msg(json_is_string(json_object_get(o, "client")), "client: %s", line);
            if (strcmp(fac, "FAIL") == 0) /* librdkafka's LOG_ERR */
                ck_assert_str_eq(level, "error");
        }
        json_decref(o);
    }
    ck_assert_int_gt(kafka, 0);
    ck_assert_int_gt(records, kafka);
    free(text);
}
END_TEST

/* The text format carries librdkafka's lines at the engine's level names, with
 * fields after the message, and nothing in librdkafka's own %3|...| form. */
START_TEST(test_ops_text_log_routes_librdkafka) {
    char cfg[256], log[256];
    snprintf(cfg, sizeof(cfg), "%s", unreachable_config(""));
    snprintf(log, sizeof(log), "%s", h_tmpfile(".log", ""));
    pid_t pid = h_engine_start(cfg, log);
    log_watch_t w = {log, {"riskwarn error: kafka: ", "facility=FAIL client=rdkafka#", NULL}};
    ck_assert_msg(h_wait(log_has, &w, 30000), "no librdkafka line through the logger");
    ck_assert_int_eq(h_engine_stop(pid, SIGKILL, 30000), 128 + SIGKILL);
    char *text = slurp(log);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "|FAIL|") == NULL, "a raw librdkafka line:\n%s", text);
    free(text);
}
END_TEST

/* Quotes, control characters and bytes that are not UTF-8 still give one valid
 * JSON object a line; fields follow the message. */
START_TEST(test_ops_json_record_escaping) {
    char path[64];
    snprintf(path, sizeof(path), "/tmp/rwlog-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_ptr_nonnull(freopen(path, "w", stderr));
    close(fd);
    rw_log_format = RW_LOG_JSON;
    const char *fields[] = {"account", "ab\"c\\", "bad", "\xff\xfe", NULL};
    rw_log_emit(RW_LOG_WARN, fields, "line\nbreak \x01 tab\t \xc3\xa9t\xc3\xa9 \xe2\x82 cut");
    rw_log(RW_LOG_DEBUG, "not written at the default level");
    rw_log_format = RW_LOG_TEXT;
    rw_log_emit(RW_LOG_ERROR, fields + 2, "plain");
    fflush(stderr);
    char *text = slurp(path);
    unlink(path);
    ck_assert_ptr_nonnull(text);
    char *nl = strchr(text, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = 0;
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    ck_assert_msg(o != NULL, "%s: %s", je.text, text);
    ck_assert_str_eq(json_string_value(json_object_get(o, "level")), "warn");
    ck_assert_str_eq(json_string_value(json_object_get(o, "msg")),
                     "line\nbreak \x01 tab\t \xc3\xa9t\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd cut");
    ck_assert_str_eq(json_string_value(json_object_get(o, "account")), "ab\"c\\");
    ck_assert_str_eq(json_string_value(json_object_get(o, "bad")), "\xef\xbf\xbd\xef\xbf\xbd");
    const char *k;
    json_t *v;
    const char *order[] = {"ts", "level", "msg", "account", "bad"};
    size_t i = 0;
    json_object_foreach(o, k, v) ck_assert_str_eq(k, order[i++]);
    json_decref(o);
    ck_assert_ptr_nonnull(strstr(nl + 1, " riskwarn error: plain bad=\xff\xfe\n"));
    ck_assert_ptr_null(strchr(strchr(nl + 1, '\n') + 1, '\n')); /* two records, no debug */
    free(text);
}
END_TEST

static Suite *ops_suite(void) {
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_ops_json_log_routes_librdkafka);
    tcase_add_test(tc, test_ops_text_log_routes_librdkafka);
    tcase_add_test(tc, test_ops_json_record_escaping);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(ops_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

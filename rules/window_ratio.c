/* window_ratio: the share of matching events in the window for which `when`
 * holds (e.g. failed logins, service errors); no measure below min_events. */
#include "params.h"

#include <stdlib.h>

typedef struct {
    const rw_match_t *when;
    long min_events;
} ratio_state_t;

static int ratio_setup(rw_setup_t *s, const json_t *params, void **state, char *err,
                       size_t errlen) {
    const json_t *when = params ? json_object_get(params, "when") : NULL;
    const json_t *min = params ? json_object_get(params, "min_events") : NULL;
    if (!json_is_object(when)) {
        snprintf(err, errlen, "when: required, a match object such as {\"status\": \"error\"}");
        return RW_ERROR;
    }
    if (min && (!json_is_integer(min) || json_integer_value(min) < 1 ||
                json_integer_value(min) > 1000000)) {
        snprintf(err, errlen, "min_events: must be an integer from 1 to 1000000");
        return RW_ERROR;
    }
    if (rw_window_param(s, params, err, errlen) != RW_OK)
        return RW_ERROR;
    ratio_state_t *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return RW_ERROR;
    }
    char e[200];
    if (!(st->when = rw_setup_match(s, when, e, sizeof(e)))) {
        snprintf(err, errlen, "when: %s", e);
        free(st);
        return RW_ERROR;
    }
    st->min_events = min ? (long)json_integer_value(min) : 1;
    *state = st;
    return RW_OK;
}

static int ratio_record(const void *state, const json_t *event, char *buf, size_t len) {
    const ratio_state_t *st = state;
    snprintf(buf, len, "%d", rw_match_test(st->when, event));
    return RW_OK;
}

static int ratio_measure(const void *state, const rw_input_t *in, double *out) {
    const ratio_state_t *st = state;
    if (in->n_entries == 0 || (long)in->n_entries < st->min_events)
        return RW_DECLINED;
    *out = rw_window_sum(in) / (double)in->n_entries;
    return RW_OK;
}

static const char *const ratio_params[] = {"when", "window", "min_events", NULL};

const rw_module_t rw_builtin_window_ratio = {
    .abi_version = RW_MODULE_ABI_VERSION,
    .name = "window_ratio",
    .summary = "share of matching events in the window for which `when` holds",
    .params = ratio_params,
    .setup = ratio_setup,
    .destroy = free,
    .record = ratio_record,
    .measure = ratio_measure,
};

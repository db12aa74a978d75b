/* sequence: events of kind `first` for the same correlated value within
 * `within` before this event (e.g. a staff member read a customer's record,
 * then money left that customer's account). */
#include "params.h"

#include <stdlib.h>

static int seq_setup(rw_setup_t *s, const json_t *params, void **state, char *err, size_t errlen) {
    const json_t *first = params ? json_object_get(params, "first") : NULL;
    const json_t *within = params ? json_object_get(params, "within") : NULL;
    const rw_field_t *cf, *c;
    int64_t ms;
    *state = NULL;
    if (!json_is_object(first)) {
        snprintf(err, errlen, "first: required, a match object for the first kind of event");
        return RW_ERROR;
    }
    if (rw_field_param(s, params, "correlate_first", &cf, err, errlen) != RW_OK ||
        rw_field_param(s, params, "correlate", &c, err, errlen) != RW_OK)
        return RW_ERROR;
    if (!within) {
        snprintf(err, errlen, "within: required, a duration such as \"1h\"");
        return RW_ERROR;
    }
    if (!json_is_string(within) || rw_duration_parse(json_string_value(within), &ms)) {
        snprintf(err, errlen, "within: bad duration (use 30s, 15m, 1h, 7d)");
        return RW_ERROR;
    }
    char e[200];
    const rw_match_t *m = rw_setup_match(s, first, e, sizeof(e));
    if (!m) {
        snprintf(err, errlen, "first: %s", e);
        return RW_ERROR;
    }
    rw_setup_window(s, ms);
    rw_setup_window_feed(s, m, cf, c);
    return RW_OK;
}

static int seq_record(const void *state, const json_t *event, char *buf, size_t len) {
    (void)state;
    (void)event;
    if (len)
        buf[0] = 0;
    return RW_OK;
}

static int seq_measure(const void *state, const rw_input_t *in, double *out) {
    (void)state;
    if (in->n_entries == 0)
        return RW_DECLINED;
    *out = (double)in->n_entries;
    return RW_OK;
}

static const char *const seq_params[] = {"first", "correlate_first", "correlate", "within", NULL};

const rw_module_t rw_builtin_sequence = {
    .abi_version = RW_MODULE_ABI_VERSION,
    .name = "sequence",
    .summary = "events of kind `first` for the same correlated value within `within` before",
    .params = seq_params,
    .setup = seq_setup,
    .record = seq_record,
    .measure = seq_measure,
};

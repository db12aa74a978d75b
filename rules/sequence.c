/* sequence: events of kind `first` for the same correlated value within
 * `within` before this event (e.g. a staff member read a customer's record,
 * then money left that customer's account). */
#include "riskwarn/module.h"

typedef struct {
    const rw_match_t *first;
    const rw_field_t *correlate_first, *correlate;
    int64_t within_ms;
} seq_state_t;

static const rw_param_t seq_params[] = {
    {.type = RW_PARAM_MATCH,
     .name = "first",
     .flags = RW_PARAM_REQUIRED,
     .offset = offsetof(seq_state_t, first),
     .desc = "the first kind of event, a match object"},
    {.type = RW_PARAM_KEY,
     .name = "correlate_first",
     .flags = RW_PARAM_REQUIRED,
     .offset = offsetof(seq_state_t, correlate_first),
     .desc = "the first events' field that names what they are about"},
    {.type = RW_PARAM_KEY,
     .name = "correlate",
     .flags = RW_PARAM_REQUIRED,
     .offset = offsetof(seq_state_t, correlate),
     .desc = "this rule's events' field that must equal it"},
    {.type = RW_PARAM_DURATION,
     .name = "within",
     .flags = RW_PARAM_REQUIRED | RW_PARAM_WINDOW,
     .offset = offsetof(seq_state_t, within_ms),
     .desc = "how long before this event the first events count"},
    {0},
};

/* The window is fed by the first events, keyed by correlate_first. */
static int seq_init(rw_setup_t *s, void *state, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    const seq_state_t *st = state;
    rw_setup_window_feed(s, st->first, st->correlate_first, st->correlate);
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

const rw_module_t rw_builtin_sequence = {
    RW_MODULE_HEADER,
    .name = "sequence",
    .summary = "events of kind `first` for the same correlated value within `within` before",
    .params = seq_params,
    .state_size = sizeof(seq_state_t),
    .init = seq_init,
    .record = seq_record,
    .measure = seq_measure,
};

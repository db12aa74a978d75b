/* baseline: the event against the key's own history over the window. The
 * measure is the event's value divided by the mean of the key's earlier values
 * in the window (`stat` "ratio": 5 is five times the usual, 0.1 a tenth of it),
 * or its distance from that mean in standard deviations ("zscore"). No measure
 * until the key has `min_history` earlier values in the window, nor when the
 * history gives nothing to compare with (a mean of 0 for ratio, no spread for
 * zscore).
 *
 * Cost: ratio takes the history's sum from the window's running sums, in
 * constant time; zscore reads every entry of the window once. */
#include "riskwarn/module.h"

#include <math.h>

typedef struct {
    const rw_field_t *field;
    int64_t window_ms, min_history;
    int stat; /* index into stats */
} baseline_state_t;

enum { STAT_RATIO, STAT_ZSCORE };
static const char *const stats[] = {"ratio", "zscore", NULL};

static const rw_param_t baseline_params[] = {
    {.type = RW_PARAM_FIELD,
     .name = "field",
     .flags = RW_PARAM_REQUIRED | RW_PARAM_RECORDED_NUMBER,
     .offset = offsetof(baseline_state_t, field),
     .desc = "the number compared with its own history, e.g. amount"},
    {.type = RW_PARAM_DURATION,
     .name = "window",
     .flags = RW_PARAM_REQUIRED | RW_PARAM_WINDOW,
     .offset = offsetof(baseline_state_t, window_ms),
     .desc = "how far back the key's history goes"},
    {.type = RW_PARAM_INTEGER,
     .name = "min_history",
     .def = "3",
     .min = 1,
     .max = 1000000,
     .offset = offsetof(baseline_state_t, min_history),
     .desc = "earlier values the key needs in the window before the rule scores it"},
    {.type = RW_PARAM_ENUM,
     .name = "stat",
     .def = "ratio",
     .offset = offsetof(baseline_state_t, stat),
     .desc = "ratio: the value over the history's mean; zscore: its distance from the mean in "
             "standard deviations",
     .choices = stats},
    {0},
};

/* Records the field's value; an event without a numeric value is not scored. */
static int baseline_record(const void *state, const json_t *event, char *buf, size_t len) {
    const baseline_state_t *st = state;
    double x;
    if (rw_field_number(event, st->field, &x) != 0)
        return RW_DECLINED;
    rw_number_text(x, buf, len);
    return RW_OK;
}

/* The window holds this event's own entry: the history is every other one. */
static int baseline_measure(const void *state, const rw_input_t *in, double *out) {
    const baseline_state_t *st = state;
    double x;
    if (rw_field_number(in->event, st->field, &x) != 0 || in->n_entries < 1)
        return RW_DECLINED;
    /* One entry is this event's, recorded as x exactly (rw_number_text reads back). */
    size_t n = in->n_entries - 1;
    if ((int64_t)n < st->min_history)
        return RW_DECLINED;
    double mean = (rw_window_sum(in) - x) / (double)n;
    if (st->stat == STAT_RATIO) {
        if (mean == 0)
            return RW_DECLINED;
        *out = x / mean;
        return RW_OK;
    }
    /* The history's variance: every entry's squared distance from its mean, less the
     * event's own (one entry holds x). */
    double ss = 0;
    for (size_t i = 0; i < in->n_entries; i++) {
        double d = in->entries[i].num - mean;
        ss += d * d;
    }
    ss -= (x - mean) * (x - mean);
    double sd = ss > 0 ? sqrt(ss / (double)n) : 0;
    if (!(sd > 1e-9 * fabs(mean))) /* no spread, or only rounding's */
        return RW_DECLINED;
    *out = (x - mean) / sd;
    return RW_OK;
}

const rw_module_t rw_builtin_baseline = {
    RW_MODULE_HEADER,
    .name = "baseline",
    .summary = "the field's value against the key's own history in the window (ratio to the "
               "mean, or z-score)",
    .params = baseline_params,
    .state_size = sizeof(baseline_state_t),
    .record = baseline_record,
    .measure = baseline_measure,
};

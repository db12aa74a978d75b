/* Test module for tests/check_plugin.c: refers to every function of include/riskwarn/module.h,
 * so that it loads only when the engine exports each of them. Keep it in step with the
 * header. */
#include "riskwarn/module.h"

typedef void (*api_fn_t)(void);

/* Not static: the references must stay in the shared object. */
const api_fn_t rw_test_module_api[] = {
    (api_fn_t)rw_setup_field,        (api_fn_t)rw_setup_window,
    (api_fn_t)rw_setup_window_feed,  (api_fn_t)rw_setup_lookup,
    (api_fn_t)rw_setup_cases,        (api_fn_t)rw_setup_calendar,
    (api_fn_t)rw_calendar_work_ms,   (api_fn_t)rw_calendar_work_at,
    (api_fn_t)rw_setup_match,        (api_fn_t)rw_match_test,
    (api_fn_t)rw_field_text,         (api_fn_t)rw_duration_parse,
    (api_fn_t)rw_number_text,        (api_fn_t)rw_field_get,
    (api_fn_t)rw_window_sum,         (api_fn_t)rw_field_number,
    (api_fn_t)rw_setup_expr,         (api_fn_t)rw_expr_number,
    (api_fn_t)rw_setup_window_relay, (api_fn_t)rw_window_count_value,
};

static int api_measure(const void *state, const rw_input_t *in, double *out) {
    (void)state, (void)in;
    *out = (double)(sizeof(rw_test_module_api) / sizeof(*rw_test_module_api));
    return RW_OK;
}

const rw_module_t rw_module_descriptor = {
    RW_MODULE_HEADER,
    .name = "all_api",
    .summary = "refers to every module.h function",
    .measure = api_measure,
};

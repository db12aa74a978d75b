/* expression: the value of an expression over the event's fields, such as
 * "amount / max(oldbalanceOrg, 1)" (the language of rules/README.md). */
#include "riskwarn/module.h"

#include <stdio.h>

static int expression_setup(rw_setup_t *s, const json_t *params, void **state, char *err,
                            size_t errlen) {
    const json_t *x = params ? json_object_get(params, "expr") : NULL;
    if (!json_is_string(x)) {
        snprintf(err, errlen, "expr: required, an expression such as \"amount / balance\"");
        return RW_ERROR;
    }
    char e[300];
    const rw_expr_t *ex = rw_setup_expr(s, json_string_value(x), e, sizeof(e));
    if (!ex) {
        snprintf(err, errlen, "expr: %s", e);
        return RW_ERROR;
    }
    *state = (void *)ex; /* owned by the rule: freed with the ruleset, not by destroy() */
    return RW_OK;
}

static int expression_measure(const void *state, const rw_input_t *in, double *out) {
    return rw_expr_number(state, in->event, out) == 0 ? RW_OK : RW_DECLINED;
}

static const char *const expression_params[] = {"expr", NULL};

const rw_module_t rw_builtin_expression = {
    .abi_version = RW_MODULE_ABI_VERSION,
    .name = "expression",
    .summary = "the value of an expression over the event's fields",
    .params = expression_params,
    .setup = expression_setup,
    .measure = expression_measure,
};

/* expression: the value of an expression over the event's fields, such as
 * "amount / max(oldbalanceOrg, 1)" (the language of rules/README.md). */
#include "riskwarn/module.h"

typedef struct {
    const rw_expr_t *expr;
} expression_state_t;

static const rw_param_t expression_params[] = {
    {.type = RW_PARAM_EXPR,
     .name = "expr",
     .flags = RW_PARAM_REQUIRED,
     .offset = offsetof(expression_state_t, expr),
     .desc = "the expression whose value is the measure, e.g. \"amount / max(balance, 1)\""},
    {0},
};

static int expression_measure(const void *state, const rw_input_t *in, double *out) {
    const expression_state_t *st = state;
    return rw_expr_number(st->expr, in->event, out) == 0 ? RW_OK : RW_DECLINED;
}

const rw_module_t rw_builtin_expression = {
    RW_MODULE_HEADER,
    .name = "expression",
    .summary = "the value of an expression over the event's fields",
    .params = expression_params,
    .state_size = sizeof(expression_state_t),
    .measure = expression_measure,
};

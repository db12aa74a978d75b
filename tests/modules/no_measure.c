/* Test module for tests/check_plugin.c: a descriptor without a measure() callback. */
#include "riskwarn/module.h"

const rw_module_t rw_module_descriptor = {
    RW_MODULE_HEADER,
    .name = "no_measure",
};

/* Test module for tests/check_plugin.c: a module built for ABI version 1, whose setup() parsed
 * its own params. The engine refuses it with a message that says how to port it. The v1
 * descriptor is spelled out here, since include/riskwarn/module.h now declares version 2. */
#include <jansson.h>
#include <stdint.h>

typedef struct v1_module {
    uint32_t abi_version;
    const char *name;
    const char *summary;
    const char *const *params;
    int (*setup)(void *s, const json_t *params, void **state, char *err, size_t errlen);
    void (*destroy)(void *state);
    int (*record)(const void *state, const json_t *event, char *buf, size_t len);
    int (*measure)(const void *state, const void *in, double *out);
    double (*case_measure)(const void *state, int64_t open_ms, int64_t now_ms);
    int64_t (*case_due)(const void *state, int64_t open_ms, double value);
    void *spare[4];
} v1_module_t;

static int v1_setup(void *s, const json_t *params, void **state, char *err, size_t errlen) {
    (void)s, (void)params, (void)err, (void)errlen;
    *state = NULL;
    return 0;
}

static int v1_measure(const void *state, const void *in, double *out) {
    (void)state, (void)in;
    *out = 1;
    return 0;
}

static const char *const v1_params[] = {"field", NULL};

const v1_module_t rw_module_descriptor = {
    .abi_version = 1,
    .name = "v1_module",
    .summary = "a module of the first ABI",
    .params = v1_params,
    .setup = v1_setup,
    .measure = v1_measure,
};

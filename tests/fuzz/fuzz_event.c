/* Fuzz target: one input is one Kafka message. It goes through event parsing,
 * every rule of the default pack (every built-in module), and alert building,
 * with state kept across inputs as replay keeps it. Built with libFuzzer by
 * `make fuzz`; its seed corpus (tests/fuzz/corpus) replays in `make test`
 * through tests/check_fuzz_corpus.c. */
#include "alert.h"
#include "eval.h"
#include "store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_MAX_EVENT_BYTES 8192 /* small, so that oversize inputs are cheap */
#define FUZZ_RESET_EVERY 2000     /* a fresh state now and then bounds memory */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static rw_ruleset_t *rules;
static rw_store_t *store;
static rw_batch_t *batch;
static long long inputs;

static void fuzz_setup(void) {
    const char *path = getenv("RW_FUZZ_RULES");
    rw_errors_t errs;
    rw_errors_init(&errs);
    rules = rw_ruleset_load_file(path ? path : "rules/packs/default.json", &errs);
    if (!rules) {
        rw_errors_print(&errs, stderr);
        abort();
    }
    rw_errors_fini(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!rules)
        fuzz_setup();
    if (!batch || inputs++ % FUZZ_RESET_EVERY == 0) {
        rw_batch_destroy(batch);
        if (store)
            store->destroy(store);
        batch = rw_batch_new(FUZZ_MAX_EVENT_BYTES, true);
        store = rw_memstore_new();
    }
    rw_batch_reset(batch, rules);
    rw_msg_t m = {"fuzz", 0, inputs, (const char *)data, size, 0, 0, NULL, 0};
    rw_batch_add(batch, &m);
    rw_batch_plan(batch);
    store->load(store, batch, NULL);
    rw_batch_evaluate(batch);
    store->apply(store, batch, NULL);
    for (size_t i = 0; i < batch->n_items; i++) {
        const rw_item_t *it = &batch->items[i];
        if (it->level > RW_LEVEL_NONE) {
            free(rw_alert_build(batch, it, 0));
            free(rw_alert_key(batch, it));
        }
    }
    for (size_t i = 0; i < batch->n_case_alerts; i++) {
        free(rw_alert_case_build(batch, &batch->case_alerts[i], 0));
        free(rw_alert_case_key(batch, &batch->case_alerts[i]));
    }
    return 0;
}

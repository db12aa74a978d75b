/* Fuzz target: one input is the text of a ruleset file. Loading it either gives
 * a ruleset or errors that name a position; nothing crashes, leaks or hangs.
 * Built with libFuzzer by `make fuzz`; its seed corpus (tests/fuzz/corpus-ruleset)
 * replays in `make test` through tests/check_fuzz_loaders.c. */
#include "ruleset.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load((const char *)data, size, "fuzz.json", &errs);
    if (rs)
        rw_ruleset_destroy(rs);
    else if (errs.n == 0)
        abort(); /* a refusal always says why */
    rw_errors_fini(&errs);
    return 0;
}

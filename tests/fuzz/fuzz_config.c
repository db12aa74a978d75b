/* Fuzz target: one input is the text of an ENGINE.json. The loader reads a file,
 * so the input is written to an anonymous in-memory file first. Loading either
 * succeeds or fails with an error text; nothing crashes, leaks or hangs.
 * Built with libFuzzer by `make fuzz`; its seed corpus (tests/fuzz/corpus-config)
 * replays in `make test` through tests/check_fuzz_loaders.c. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("fuzz-config", 0);
    if (fd < 0)
        abort();
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    rw_config_t cfg;
    rw_config_init(&cfg);
    rw_error_t err;
    rw_error_clear(&err);
    if (rw_config_load(&cfg, path, &err) != 0 && err.text[0] == 0)
        abort(); /* a refusal always says why */
    rw_config_fini(&cfg);
    close(fd);
    return 0;
}

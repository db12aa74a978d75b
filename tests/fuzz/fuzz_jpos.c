/* Fuzz target: the JSON position finder (engine/jpos.c) on hostile text. An
 * input is a JSON pointer, a newline, then the JSON text. Whatever it finds is
 * inside the text; nothing reads past it, crashes or hangs. Built with libFuzzer
 * by `make fuzz`; its seed corpus (tests/fuzz/corpus-jpos) replays in `make test`
 * through tests/check_fuzz_loaders.c. */
#include "jpos.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A found position must lie inside the text: line 1.. and a column on it. */
static void check_inside(const char *text, size_t len, int line, int col) {
    int l = 1, c = 1;
    for (size_t i = 0; i < len; i++) {
        if (l == line && c == col)
            return;
        if (text[i] == '\n')
            l++, c = 1;
        else
            c++;
    }
    if (!(l == line && c == col))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *nl = memchr(data, '\n', size);
    if (!nl)
        return 0;
    size_t plen = (size_t)(nl - (const char *)data);
    char *pointer = malloc(plen + 1);
    memcpy(pointer, data, plen);
    pointer[plen] = 0;
    /* The text is copied so that a read past its end is caught by ASan. */
    size_t len = size - plen - 1;
    char *text = malloc(len ? len : 1);
    memcpy(text, nl + 1, len);
    int line = 0, col = 0;
    int r = rw_jpos_find(text, len, pointer, &line, &col);
    if (r == RW_OK || r == RW_ERR_NOT_FOUND)
        check_inside(text, len, line, col);
    line = col = 0;
    if (rw_jpos_find_key(text, len, pointer, &line, &col) == 0)
        check_inside(text, len, line, col);
    free(text);
    free(pointer);
    return 0;
}

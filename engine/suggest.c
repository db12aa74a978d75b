#include "suggest.h"

#include <stdio.h>
#include <string.h>

#define MAXW 64

size_t rw_suggest_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAXW || lb > MAXW)
        return (la > lb ? la : lb);
    /* Optimal string alignment: three rows of the table. */
    size_t rows[3][MAXW + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t d = prev[j] + 1;
            if (cur[j - 1] + 1 < d)
                d = cur[j - 1] + 1;
            if (prev[j - 1] + cost < d)
                d = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < d)
                d = prev2[j - 2] + 1;
            cur[j] = d;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *rw_suggest(const char *word, const char *const *cands, size_t n) {
    size_t lw = strlen(word);
    size_t limit = lw <= 4 ? 1 : lw <= 8 ? 2 : 3;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; n == (size_t)-1 ? cands[i] != NULL : i < n; i++) {
        if (!cands[i] || strcmp(cands[i], word) == 0)
            continue;
        size_t d = rw_suggest_distance(word, cands[i]);
        /* A short candidate is not a misspelling of anything it shares little with. */
        if (d < best_d && d < strlen(cands[i])) {
            best = cands[i];
            best_d = d;
        }
    }
    return best;
}

void rw_suggest_append(char *buf, size_t len, const char *word, const char *const *cands,
                       size_t n) {
    const char *s = rw_suggest(word, cands, n);
    size_t used = strlen(buf);
    if (s && used < len)
        snprintf(buf + used, len - used, " (did you mean \"%s\"?)", s);
}

void rw_suggest_list(char *buf, size_t len, const char *const *cands, size_t n) {
    size_t used = 0;
    if (len)
        buf[0] = 0;
    for (size_t i = 0; (n == (size_t)-1 ? cands[i] != NULL : i < n) && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", cands[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* "Did you mean": the closest known word to a misspelt one, for error messages. */
#ifndef RW_SUGGEST_H
#define RW_SUGGEST_H

#include <stddef.h>

/* The edit distance between a and b: insertions, deletions, substitutions and swaps of two
 * adjacent characters each count 1 (bytes; at most 64 of each are compared, longer words
 * are far from everything). */
size_t rw_suggest_distance(const char *a, const char *b);

/* The candidate closest to word when it is close enough to be a misspelling of it (one edit
 * for words of up to 4 bytes, two up to 8, three beyond), else NULL. Ties go to the first.
 * cands is NULL-terminated when n is (size_t)-1. Returns a pointer borrowed from cands. */
const char *rw_suggest(const char *word, const char *const *cands, size_t n);

/* Appends " (did you mean \"X\"?)" to buf (of size len) when rw_suggest finds X. */
void rw_suggest_append(char *buf, size_t len, const char *word, const char *const *cands, size_t n);

/* Writes the candidates as "a, b, c" into buf (truncated to len). */
void rw_suggest_list(char *buf, size_t len, const char *const *cands, size_t n);

#endif

/* Keyed pseudonyms: what the engine keeps in place of the values of masked fields.
 *
 * A masked field's value (an account, a counterparty, an ID number) never goes to Redis
 * or to an alert as it is: wherever the engine keeps it (window, cool-down and case keys,
 * window members, watchlist lookups) it keeps HMAC-SHA256(key, value) instead, the first
 * 128 bits in hex. The same value always gives the same pseudonym under one key, so
 * windows, new-value history and cool-downs work on pseudonyms as they did on the values;
 * alerts carry the pseudonym of their entity as `entity_ref`, which a bank can look up in
 * its own systems by computing the same HMAC. The key comes from the engine config
 * (`pseudonym_key_file`) or RISKWARN_PSEUDONYM_KEY(_FILE); without one, a built-in key is
 * used and the engine says so, since anyone can then recompute the pseudonyms. */
#ifndef RW_PSEUDONYM_H
#define RW_PSEUDONYM_H

#include <stdbool.h>
#include <stddef.h>

#define RW_PSEUDONYM_LEN 32 /* hex characters */

/* Sets the process's key (copied). Call before any thread computes pseudonyms; calling
 * it again (a new config) is allowed between runs. NULL: the built-in key. */
void rw_pseudonym_set_key(const void *key, size_t len);
/* Whether the built-in key is in use. */
bool rw_pseudonym_key_is_builtin(void);
/* Writes the pseudonym of text[0..len) and a NUL to out. Per thread, recent values are
 * kept (in memory only) so that a busy account costs one HMAC. */
void rw_pseudonym(const char *text, size_t len, char out[RW_PSEUDONYM_LEN + 1]);

#endif

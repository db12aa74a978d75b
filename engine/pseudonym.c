/* Keyed pseudonyms: see pseudonym.h. */
#include "pseudonym.h"

#include "util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The built-in key: good for the demo and the tests, not for a bank (anyone can read it). */
static const char builtin_key[] = "riskwarn built-in pseudonym key: set pseudonym_key_file";

static unsigned char key_buf[256];
static size_t key_len;
static bool key_builtin = true;
static unsigned key_epoch = 1; /* moves with the key: caches of an older key are void */

void rw_pseudonym_set_key(const void *key, size_t len) {
    if (!key || len == 0) {
        key = builtin_key;
        len = sizeof(builtin_key) - 1;
        key_builtin = true;
    } else {
        key_builtin = false;
    }
    if (len > sizeof(key_buf)) { /* HMAC hashes a longer key first: do the same, once */
        unsigned int n = 32;
        EVP_Digest(key, len, key_buf, &n, EVP_sha256(), NULL);
        len = n;
    } else {
        memcpy(key_buf, key, len);
    }
    key_len = len;
    key_epoch++;
}

bool rw_pseudonym_key_is_builtin(void) { return key_builtin; }

#define CACHE_SLOTS 4096 /* per thread; a power of two */
#define CACHE_VALUE 64   /* longer values are not kept */

typedef struct {
    unsigned epoch;
    uint8_t len;
    char value[CACHE_VALUE];
    char ref[RW_PSEUDONYM_LEN + 1];
} slot_t;

static _Thread_local slot_t *cache;

static void compute(const char *text, size_t len, char out[RW_PSEUDONYM_LEN + 1]) {
    if (key_len == 0)
        rw_pseudonym_set_key(NULL, 0);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key_buf, (int)key_len, (const unsigned char *)text, len, mac, &n)) {
        rw_log_write(RW_LOG_ERROR, "pseudonym: HMAC-SHA256 failed in libcrypto");
        abort(); /* no pseudonym means a raw value would be stored: never carry on */
    }
    rw_hex(mac, RW_PSEUDONYM_LEN / 2, out);
    out[RW_PSEUDONYM_LEN] = 0;
}

void rw_pseudonym(const char *text, size_t len, char out[RW_PSEUDONYM_LEN + 1]) {
    if (len > CACHE_VALUE) {
        compute(text, len, out);
        return;
    }
    if (!cache)
        cache = rw_calloc(CACHE_SLOTS, sizeof(slot_t)); /* freed with the thread's process */
    slot_t *s = &cache[rw_hash64(text, len) & (CACHE_SLOTS - 1)];
    if (s->epoch != key_epoch || s->len != len || memcmp(s->value, text, len) != 0) {
        compute(text, len, s->ref);
        memcpy(s->value, text, len);
        s->len = (uint8_t)len;
        s->epoch = key_epoch;
    }
    memcpy(out, s->ref, RW_PSEUDONYM_LEN + 1);
}

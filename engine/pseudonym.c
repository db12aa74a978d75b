/* Keyed pseudonyms: see pseudonym.h. */
#include "pseudonym.h"

#include "util.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The built-in key: good for the demo and the tests, not for a bank (anyone can read it). */
static const char builtin_key[] = "riskwarn built-in pseudonym key: set pseudonym_key_file";

static unsigned char key_buf[64]; /* one SHA-256 block: longer keys are hashed first */
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
    if (len > sizeof(key_buf)) { /* HMAC hashes a key longer than a block first */
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

/* A per-thread cache of 16,384 sets of two 64-byte slots (2 MiB): a set is one hash's, its
 * first slot the one found or computed last. Each slot is one cache line: the value (up to
 * CACHE_VALUE bytes; longer ones are computed each time) and the pseudonym's 16 bytes. Two
 * ways hold a stream whose accounts and counterparties outnumber the sets. */
#define CACHE_SETS 16384 /* a power of two */
#define CACHE_VALUE 40

typedef struct {
    unsigned epoch;
    uint8_t len;
    uint8_t mac[RW_PSEUDONYM_LEN / 2];
    char value[CACHE_VALUE];
} slot_t;

_Static_assert(sizeof(slot_t) <= 64, "a slot is one cache line");

typedef struct {
    _Alignas(64) slot_t way[2];
} set_t;

/* HMAC (RFC 2104) with the key's padded blocks hashed once a thread: each pseudonym then
 * costs two SHA-256 runs of libcrypto, copied from those states, with no allocation. */
typedef struct {
    unsigned epoch;
    EVP_MD_CTX *inner, *outer, *work;
    set_t *cache;
} local_t;

static _Thread_local local_t local;

/* A thread's contexts and cache are freed when it ends (the engine runs in a thread of
 * its own in the demo and the tests). */
static pthread_key_t local_key;
static pthread_once_t local_once = PTHREAD_ONCE_INIT;

static void local_free(void *p) {
    local_t *l = p;
    EVP_MD_CTX_free(l->inner);
    EVP_MD_CTX_free(l->outer);
    EVP_MD_CTX_free(l->work);
    free(l->cache);
    memset(l, 0, sizeof(*l));
}

static void local_key_make(void) { pthread_key_create(&local_key, local_free); }

/* Called once a thread, when it first needs its contexts or cache. */
static void local_register(void) {
    pthread_once(&local_once, local_key_make);
    pthread_setspecific(local_key, &local);
}

static void keyed_states(void) {
    if (key_len == 0)
        rw_pseudonym_set_key(NULL, 0);
    if (!local.inner) {
        if (!local.cache)
            local_register();
        local.inner = EVP_MD_CTX_new();
        local.outer = EVP_MD_CTX_new();
        local.work = EVP_MD_CTX_new();
    }
    unsigned char ipad[64], opad[64];
    for (size_t i = 0; i < 64; i++) {
        unsigned char k = i < key_len ? key_buf[i] : 0;
        ipad[i] = k ^ 0x36;
        opad[i] = k ^ 0x5c;
    }
    if (!local.work || !EVP_DigestInit_ex(local.inner, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(local.inner, ipad, 64) ||
        !EVP_DigestInit_ex(local.outer, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(local.outer, opad, 64)) {
        rw_log_write(RW_LOG_ERROR, "pseudonym: SHA-256 failed in libcrypto");
        abort(); /* no pseudonym means a raw value would be stored: never carry on */
    }
    local.epoch = key_epoch;
}

static void compute(const char *text, size_t len, uint8_t mac[RW_PSEUDONYM_LEN / 2]) {
    if (local.epoch != key_epoch || !local.inner)
        keyed_states();
    unsigned char in[EVP_MAX_MD_SIZE], out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_MD_CTX_copy_ex(local.work, local.inner) || !EVP_DigestUpdate(local.work, text, len) ||
        !EVP_DigestFinal_ex(local.work, in, &n) || !EVP_MD_CTX_copy_ex(local.work, local.outer) ||
        !EVP_DigestUpdate(local.work, in, n) || !EVP_DigestFinal_ex(local.work, out, &n)) {
        rw_log_write(RW_LOG_ERROR, "pseudonym: HMAC-SHA256 failed in libcrypto");
        abort();
    }
    memcpy(mac, out, RW_PSEUDONYM_LEN / 2);
}

static bool slot_holds(const slot_t *s, const char *text, size_t len) {
    return s->epoch == key_epoch && s->len == len && memcmp(s->value, text, len) == 0;
}

void rw_pseudonym(const char *text, size_t len, char out[RW_PSEUDONYM_LEN + 1]) {
    uint8_t mac[RW_PSEUDONYM_LEN / 2];
    if (len > CACHE_VALUE) {
        compute(text, len, mac);
        rw_hex(mac, sizeof(mac), out);
        return;
    }
    if (!local.cache) {
        if (!local.inner)
            local_register();
        local.cache = rw_calloc_lines(CACHE_SETS * sizeof(set_t)); /* freed when the thread ends */
    }
    set_t *set = &local.cache[rw_hash64(text, len) & (CACHE_SETS - 1)];
    if (!slot_holds(&set->way[0], text, len)) {
        slot_t found = set->way[1];
        if (!slot_holds(&found, text, len)) {
            compute(text, len, found.mac);
            memcpy(found.value, text, len);
            found.len = (uint8_t)len;
            found.epoch = key_epoch;
        }
        set->way[1] = set->way[0];
        set->way[0] = found;
    }
    rw_hex(set->way[0].mac, RW_PSEUDONYM_LEN / 2, out);
}

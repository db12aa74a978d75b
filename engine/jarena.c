/* The jansson arena (jarena.h): bump allocation from chunks, a thread-local current arena,
 * and a process-wide registry of live chunks that the free function consults.
 *
 * The registry is a sorted array of address ranges, one per chunk of every live arena. It
 * changes rarely (an arena grows, a reset frees chunks, an arena is destroyed) and is read on
 * every jansson free of every thread, so readers take no lock: writers serialise on a mutex
 * and publish through a sequence lock (an odd sequence number means a write is under way;
 * readers retry when the number changed while they read). Every field readers touch is an
 * atomic, so a read racing a write is well-defined, merely discarded. Two bounds, the lowest
 * and highest address of any chunk, let most non-arena pointers skip the search (chunks of
 * 128 KiB and more are usually mmap'd by glibc, away from the heap of small allocations). */
#include "jarena.h"

#include "util.h"

#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- AddressSanitizer: the free part of each chunk is poisoned ---------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define RW_JARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RW_JARENA_ASAN 1
#endif
#endif

#ifdef RW_JARENA_ASAN
#include <sanitizer/asan_interface.h>
#define RW_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define RW_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define RW_POISON(p, n) ((void)(p), (void)(n))
#define RW_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define RW_ALIGN ((size_t)16)
#define RW_ROUND(n) (((n) + RW_ALIGN - 1) & ~(RW_ALIGN - 1))

/* ---- chunks and arenas -------------------------------------------------------------------- */

/* A chunk: this header, then its data (16-byte aligned), size bytes in all. */
typedef struct rw_jchunk {
    struct rw_jchunk *next;
    size_t size;
} rw_jchunk_t;

#define RW_CHUNK_HDR RW_ROUND(sizeof(rw_jchunk_t))

struct rw_jarena {
    size_t chunk_bytes;       /* data bytes of a regular chunk */
    rw_jchunk_t *chunks;      /* regular chunks, in the order they are filled */
    rw_jchunk_t *cur;         /* the one being filled; NULL: none yet since the reset */
    uintptr_t ptr, end;       /* cur's free space */
    uintptr_t cur_lo, cur_hi; /* cur's data, for the free function's first check */
    rw_jchunk_t *big;         /* chunks of one allocation larger than chunk_bytes */
    size_t used;
    bool spilled; /* an allocation since the reset fell back to malloc() */
};

static _Thread_local rw_jarena_t *rw_jarena_cur;

static char *chunk_data(rw_jchunk_t *c) { return (char *)c + RW_CHUNK_HDR; }
static size_t chunk_data_bytes(const rw_jchunk_t *c) { return c->size - RW_CHUNK_HDR; }

/* ---- the registry ------------------------------------------------------------------------- */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic unsigned reg_seq;
static _Atomic size_t reg_n;
static _Atomic uintptr_t reg_lo[RW_JARENA_MAX_CHUNKS], reg_hi[RW_JARENA_MAX_CHUNKS];
static _Atomic uintptr_t reg_min = UINTPTR_MAX, reg_max = 0;

/* Under reg_mu. */
static void reg_write_begin(void) {
    unsigned s = atomic_load_explicit(&reg_seq, memory_order_relaxed);
    atomic_store_explicit(&reg_seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static void reg_write_end(void) {
    unsigned s = atomic_load_explicit(&reg_seq, memory_order_relaxed);
    atomic_store_explicit(&reg_seq, s + 1, memory_order_release);
}

static uintptr_t ld(_Atomic uintptr_t *v) { return atomic_load_explicit(v, memory_order_relaxed); }
static void st(_Atomic uintptr_t *v, uintptr_t x) {
    atomic_store_explicit(v, x, memory_order_relaxed);
}

/* Under reg_mu: the bounds from the entries. */
static void reg_bounds(size_t n) {
    st(&reg_min, n ? ld(&reg_lo[0]) : UINTPTR_MAX);
    st(&reg_max, n ? ld(&reg_hi[n - 1]) : 0);
}

/* The number of entries whose lo is <= p (entries sorted by lo, ranges disjoint). */
static size_t reg_rank(uintptr_t p, size_t n) {
    size_t l = 0, h = n;
    while (l < h) {
        size_t m = l + (h - l) / 2;
        if (ld(&reg_lo[m]) <= p)
            l = m + 1;
        else
            h = m;
    }
    return l;
}

/* Adds [lo, hi). Returns 0, or -1 when the registry is full. */
static int reg_add(uintptr_t lo, uintptr_t hi) {
    pthread_mutex_lock(&reg_mu);
    size_t n = atomic_load_explicit(&reg_n, memory_order_relaxed);
    if (n == RW_JARENA_MAX_CHUNKS) {
        pthread_mutex_unlock(&reg_mu);
        return -1;
    }
    size_t i = reg_rank(lo, n);
    reg_write_begin();
    for (size_t j = n; j > i; j--) {
        st(&reg_lo[j], ld(&reg_lo[j - 1]));
        st(&reg_hi[j], ld(&reg_hi[j - 1]));
    }
    st(&reg_lo[i], lo);
    st(&reg_hi[i], hi);
    atomic_store_explicit(&reg_n, n + 1, memory_order_relaxed);
    reg_bounds(n + 1);
    reg_write_end();
    pthread_mutex_unlock(&reg_mu);
    return 0;
}

/* Removes the range that starts at lo. */
static void reg_remove(uintptr_t lo) {
    pthread_mutex_lock(&reg_mu);
    size_t n = atomic_load_explicit(&reg_n, memory_order_relaxed);
    size_t i = reg_rank(lo, n);
    if (i > 0 && ld(&reg_lo[i - 1]) == lo) {
        reg_write_begin();
        for (size_t j = i; j < n; j++) {
            st(&reg_lo[j - 1], ld(&reg_lo[j]));
            st(&reg_hi[j - 1], ld(&reg_hi[j]));
        }
        atomic_store_explicit(&reg_n, n - 1, memory_order_relaxed);
        reg_bounds(n - 1);
        reg_write_end();
    }
    pthread_mutex_unlock(&reg_mu);
}

/* Whether p, within the bounds, lies in a chunk of a live arena. Lock-free; retries while a
 * write is under way. Out of line: the common case, p outside the bounds, stays short. */
__attribute__((noinline)) static bool reg_contains(uintptr_t p) {
    for (unsigned spins = 0;; spins++) {
        unsigned s = atomic_load_explicit(&reg_seq, memory_order_acquire);
        if (s & 1u) {
            if (spins > 64)
                sched_yield();
            continue;
        }
        size_t n = atomic_load_explicit(&reg_n, memory_order_relaxed);
        if (n > RW_JARENA_MAX_CHUNKS)
            n = RW_JARENA_MAX_CHUNKS;
        size_t i = reg_rank(p, n);
        bool hit = i > 0 && p < ld(&reg_hi[i - 1]);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&reg_seq, memory_order_relaxed) == s)
            return hit;
    }
}

/* ---- chunk allocation --------------------------------------------------------------------- */

/* A new registered chunk with data_bytes of data (a multiple of 16), all poisoned; NULL when
 * out of memory or the registry is full. */
static rw_jchunk_t *chunk_new(size_t data_bytes) {
    if (data_bytes > SIZE_MAX - 2 * RW_CHUNK_HDR)
        return NULL;
    size_t size = RW_CHUNK_HDR + data_bytes;
    rw_jchunk_t *c = aligned_alloc(RW_ALIGN, size);
    if (!c)
        return NULL;
    c->next = NULL;
    c->size = size;
    RW_POISON(chunk_data(c), data_bytes);
    if (reg_add((uintptr_t)c, (uintptr_t)c + size)) {
        RW_UNPOISON(chunk_data(c), data_bytes);
        free(c);
        return NULL;
    }
    return c;
}

static void chunk_free(rw_jchunk_t *c) {
    reg_remove((uintptr_t)c);
    RW_UNPOISON(chunk_data(c), chunk_data_bytes(c));
    free(c);
}

static void *bump(rw_jarena_t *a, size_t n, size_t r) {
    void *p = (void *)a->ptr;
    a->ptr += r;
    a->used += r;
    RW_UNPOISON(p, n);
    return p;
}

static void *spill(rw_jarena_t *a, size_t n) {
    a->spilled = true;
    return malloc(n);
}

/* n bytes (r rounded up) when the current chunk has no room. Falls back to malloc() when no
 * chunk can be had: that memory is not the arena's, so its free reaches free(). */
__attribute__((noinline)) static void *arena_alloc_slow(rw_jarena_t *a, size_t n, size_t r) {
    if (r > a->chunk_bytes) {
        rw_jchunk_t *c = chunk_new(r);
        if (!c)
            return spill(a, n);
        c->next = a->big;
        a->big = c;
        a->used += r;
        RW_UNPOISON(chunk_data(c), n);
        return chunk_data(c);
    }
    rw_jchunk_t *c = a->cur ? a->cur->next : a->chunks;
    if (!c) {
        c = chunk_new(a->chunk_bytes);
        if (!c)
            return spill(a, n);
        if (a->cur)
            a->cur->next = c; /* cur is the last chunk: they are filled in order */
        else
            a->chunks = c;
    }
    a->cur = c;
    a->ptr = a->cur_lo = (uintptr_t)c + RW_CHUNK_HDR;
    a->end = a->cur_hi = a->ptr + a->chunk_bytes;
    return bump(a, n, r);
}

static void *arena_alloc(rw_jarena_t *a, size_t n) {
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / 2)
        return NULL;
    size_t r = RW_ROUND(n);
    if (r <= a->end - a->ptr)
        return bump(a, n, r);
    return arena_alloc_slow(a, n, r);
}

/* ---- jansson's allocator pair ------------------------------------------------------------- */

static void *jarena_malloc(size_t n) {
    rw_jarena_t *a = rw_jarena_cur;
    return a ? arena_alloc(a, n) : malloc(n);
}

/* NULL is below the bounds (the lowest chunk address, or UINTPTR_MAX when there is none), so
 * it goes to free(), which ignores it. */
static void jarena_free(void *p) {
    uintptr_t u = (uintptr_t)p;
    if (u >= ld(&reg_min) && u < ld(&reg_max)) {
        rw_jarena_t *a = rw_jarena_cur;
        if (a && u >= a->cur_lo && u < a->cur_hi)
            return; /* the chunk this thread is filling: no need to search */
        if (reg_contains(u))
            return;
    }
    free(p);
}

static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static atomic_bool installed;
static void install(void) {
    json_set_alloc_funcs(jarena_malloc, jarena_free);
    atomic_store(&installed, true);
}

bool rw_jarena_holds_all(const rw_jarena_t *a) { return atomic_load(&installed) && !a->spilled; }

void rw_jarena_install(void) { pthread_once(&install_once, install); }

/* ---- the API ------------------------------------------------------------------------------ */

rw_jarena_t *rw_jarena_new(size_t chunk_bytes) {
    if (chunk_bytes == 0)
        chunk_bytes = RW_JARENA_DEFAULT_CHUNK;
    if (chunk_bytes < 4096)
        chunk_bytes = 4096;
    if (chunk_bytes > SIZE_MAX / 4)
        chunk_bytes = SIZE_MAX / 4;
    rw_jarena_t *a = rw_calloc(1, sizeof(*a));
    a->chunk_bytes = RW_ROUND(chunk_bytes);
    return a;
}

static void free_list(rw_jchunk_t *c) {
    while (c) {
        rw_jchunk_t *next = c->next;
        chunk_free(c);
        c = next;
    }
}

void rw_jarena_destroy(rw_jarena_t *a) {
    if (!a)
        return;
    if (rw_jarena_cur == a)
        rw_jarena_cur = NULL;
    free_list(a->big);
    free_list(a->chunks);
    free(a);
}

void rw_jarena_begin(rw_jarena_t *a) { rw_jarena_cur = a; }

void rw_jarena_end(void) { rw_jarena_cur = NULL; }

void rw_jarena_reset(rw_jarena_t *a) {
    if (!a)
        return;
    a->spilled = false;
    free_list(a->big);
    a->big = NULL;
    /* Poison what was handed out (the chunks after cur were not touched since their last
     * poisoning), and free the chunks past the ones kept. */
    bool touched = a->cur != NULL;
    rw_jchunk_t *last = NULL;
    size_t i = 0;
    for (rw_jchunk_t *k = a->chunks; k && i < RW_JARENA_KEEP_CHUNKS; k = k->next, i++) {
        if (touched) {
            RW_POISON(chunk_data(k), chunk_data_bytes(k));
            touched = k != a->cur;
        }
        last = k;
    }
    if (last) {
        free_list(last->next);
        last->next = NULL;
    }
    a->cur = NULL;
    a->ptr = a->end = a->cur_lo = a->cur_hi = 0;
    a->used = 0;
}

size_t rw_jarena_used(const rw_jarena_t *a) { return a ? a->used : 0; }

size_t rw_jarena_kept(const rw_jarena_t *a) {
    size_t n = 0;
    for (const rw_jchunk_t *k = a ? a->chunks : NULL; k; k = k->next)
        n += a->chunk_bytes;
    return n;
}

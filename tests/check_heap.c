/* Unit tests for engine/heap.c: a heap grown in steps, whose new parts a thread of its own
 * faults in ahead of use (the pages are there before the process touches them, and what the
 * process wrote is left as it was). Each test runs in a process of its own (Check forks), so
 * that malloc's settings and heap are the test's. */
#include "heap.h"

#include "harness.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)

/* AddressSanitizer's allocator does not take memory from the heap: what these tests look at
 * is glibc malloc's. */
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_IS_MALLOCS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_IS_MALLOCS 0
#endif
#endif
#ifndef HEAP_IS_MALLOCS
#define HEAP_IS_MALLOCS 1
#endif

static size_t page_size(void) {
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

/* How many of the pages of [from, to) (page-aligned inward) are in memory. */
static size_t resident_pages(const char *from, const char *to, size_t *total) {
    size_t ps = page_size();
    uintptr_t a = ((uintptr_t)from + ps - 1) & ~(uintptr_t)(ps - 1);
    uintptr_t b = (uintptr_t)to & ~(uintptr_t)(ps - 1);
    ck_assert_uint_gt(b, a);
    size_t n = (b - a) / ps, in = 0;
    unsigned char *vec = malloc(n);
    ck_assert_ptr_nonnull(vec);
    ck_assert_int_eq(mincore((void *)a, b - a, vec), 0);
    for (size_t i = 0; i < n; i++)
        in += vec[i] & 1;
    free(vec);
    *total = n;
    return in;
}

/* Waits (up to a minute: the machine may be busy) until the filler has populated the heap
 * up to to. */
static void wait_filled(rw_heap_t *h, const char *to) {
    for (int i = 0; i < 6000 && (uintptr_t)rw_heap_filled_to(h) < (uintptr_t)to; i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    ck_assert_uint_ge((uintptr_t)rw_heap_filled_to(h), (uintptr_t)to);
}

/* A block of 24 MiB from a heap that grows 8 MiB at a time lies in the heap: its pages
 * are in memory once the filler has passed them, untouched by the test, and the bytes the
 * test wrote before are still there. The filler fills whole 2 MiB pages from the first past
 * where the heap ended at the start: the block may begin below it, by what the heap held
 * free at its top. */
START_TEST(test_heap_fills_ahead) {
    const char *first = (const char *)(((uintptr_t)sbrk(0) + 2 * MIB - 1) & ~(2 * MIB - 1));
    rw_heap_t *h = rw_heap_start(8 * MIB, 32 * MIB, true);
    char *p = malloc(24 * MIB);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < 4096; i++)
        p[i] = (char)(i * 7 + 1);
    memset(p + 12 * MIB, 0x5a, 100);
    rw_heap_grown(h);
    if (HEAP_IS_MALLOCS) {
        ck_assert_uint_le((uintptr_t)p + 24 * MIB, (uintptr_t)sbrk(0));
        wait_filled(h, p + 22 * MIB);
        const char *from = (uintptr_t)first > (uintptr_t)(p + 2 * MIB) ? first : p + 2 * MIB;
        size_t total, in = resident_pages(from, p + 22 * MIB, &total);
        ck_assert_uint_eq(in, total);
    }
    for (size_t i = 0; i < 4096; i++)
        ck_assert_int_eq(p[i], (char)(i * 7 + 1));
    for (size_t i = 0; i < 100; i++)
        ck_assert_int_eq(p[12 * MIB + i], 0x5a);
    free(p);
    rw_heap_stop(h);
}
END_TEST

/* The same without the filler: the pages the test did not touch are not in memory (what
 * the test above would see if the filler did nothing), and it populates nothing. */
START_TEST(test_heap_without_filler_leaves_pages) {
    rw_heap_t *h = rw_heap_start(8 * MIB, 32 * MIB, false);
    char *p = malloc(24 * MIB);
    ck_assert_ptr_nonnull(p);
    rw_heap_grown(h);
    ck_assert_ptr_null(rw_heap_filled_to(h));
    if (HEAP_IS_MALLOCS) {
        size_t total, in = resident_pages(p + 4 * MIB, p + 20 * MIB, &total);
        ck_assert_uint_lt(in, total / 2);
    }
    free(p);
    rw_heap_stop(h);
}
END_TEST

/* A stop while the filler has a long way to go returns (it waits for one piece at most),
 * the memory is the process's to use, and growing after nothing more is filled. */
START_TEST(test_heap_stop_while_filling) {
    rw_heap_t *h = rw_heap_start(8 * MIB, 32 * MIB, true);
    char *blocks[6];
    for (int i = 0; i < 6; i++) {
        blocks[i] = malloc(16 * MIB);
        ck_assert_ptr_nonnull(blocks[i]);
    }
    rw_heap_grown(h);
    rw_heap_stop(h);
    for (int i = 0; i < 6; i++) {
        memset(blocks[i], i + 1, 16 * MIB);
        ck_assert_int_eq(blocks[i][16 * MIB - 1], i + 1);
        free(blocks[i]);
    }
    rw_heap_stop(NULL); /* a no-op */
}
END_TEST

/* Calls with nothing grown since the last are cheap no-ops; the heap keeps working. */
START_TEST(test_heap_grown_without_growth) {
    rw_heap_t *h = rw_heap_start(8 * MIB, 32 * MIB, true);
    for (int i = 0; i < 1000; i++)
        rw_heap_grown(h);
    char *p = malloc(1000);
    ck_assert_ptr_nonnull(p);
    memset(p, 1, 1000);
    free(p);
    rw_heap_stop(h);
}
END_TEST

static Suite *heap_suite(void) {
    Suite *s = suite_create("heap");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_heap_fills_ahead);
    tcase_add_test(tc, test_heap_without_filler_leaves_pages);
    tcase_add_test(tc, test_heap_stop_while_filling);
    tcase_add_test(tc, test_heap_grown_without_growth);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main_around(heap_suite, NULL, NULL); }

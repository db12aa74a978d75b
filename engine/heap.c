/* A heap grown in steps, advised as huge pages and faulted in ahead: see heap.h. */
#include "heap.h"

#include "util.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((uintptr_t)2 << 20)

struct rw_heap {
    uintptr_t advised; /* the heap's whole huge pages are advised up to here */
    /* The filler: populates [filled, want) a huge page at a time, in address order. */
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uintptr_t filled, want;
    bool stop;
};

static void *filler(void *arg) {
    rw_heap_t *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->stop && h->filled >= h->want)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->stop)
            break;
        uintptr_t at = h->filled;
        pthread_mutex_unlock(&h->mu);
        /* One huge page a call, so that a stop waits for no more than one. The pages the
         * process touched first are left as they are: populating never changes contents. */
        int rc = madvise((void *)at, HUGE_PAGE, MADV_POPULATE_WRITE);
        pthread_mutex_lock(&h->mu);
        if (rc != 0) { /* a kernel without it, or no memory: the first touches fault as before */
            h->filled = 0; /* rw_heap_filled_to: NULL */
            h->stop = true;
            break;
        }
        h->filled = at + HUGE_PAGE;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

rw_heap_t *rw_heap_start(size_t step, size_t mmap_min, bool ahead) {
    rw_heap_t *h = rw_calloc(1, sizeof(*h));
    mallopt(M_TOP_PAD, (int)step);
    mallopt(M_TRIM_THRESHOLD, -1);            /* never given back: no shrinking, no growing again */
    mallopt(M_MMAP_THRESHOLD, (int)mmap_min); /* arrays as they grow stay in the heap */
    h->advised = ((uintptr_t)sbrk(0) + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    h->filled = h->want = h->advised;
    if (ahead) {
        pthread_mutex_init(&h->mu, NULL);
        pthread_cond_init(&h->cv, NULL);
        h->running = pthread_create(&h->thread, NULL, filler, h) == 0;
        if (!h->running) {
            pthread_cond_destroy(&h->cv);
            pthread_mutex_destroy(&h->mu);
        }
    }
    /* Grows the heap now, so that it is advised before use. The pointer goes through a
     * volatile so that the compiler cannot drop a malloc freed at once. */
    void *volatile grow = rw_malloc(step / 2);
    free(grow);
    rw_heap_grown(h);
    return h;
}

void rw_heap_grown(rw_heap_t *h) {
    uintptr_t end = (uintptr_t)sbrk(0) & ~(HUGE_PAGE - 1);
    if (end <= h->advised)
        return;
    (void)madvise((void *)h->advised, end - h->advised, MADV_HUGEPAGE); /* advice */
    h->advised = end;
    if (!h->running)
        return;
    pthread_mutex_lock(&h->mu);
    if (!h->stop) {
        h->want = end;
        pthread_cond_signal(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
}

const void *rw_heap_filled_to(rw_heap_t *h) {
    if (!h->running)
        return NULL;
    pthread_mutex_lock(&h->mu);
    uintptr_t to = h->filled;
    pthread_mutex_unlock(&h->mu);
    return (const void *)to;
}

void rw_heap_stop(rw_heap_t *h) {
    if (!h)
        return;
    if (h->running) {
        pthread_mutex_lock(&h->mu);
        h->stop = true;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
    }
    free(h);
}

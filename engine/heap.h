/* The heap of a process whose state only grows (`replay`): grown in steps and not given
 * back, its whole 2 MiB pages advised as transparent huge pages as it grows, and faulted in
 * ahead of use by a thread of its own.
 *
 * Why: the state's first touch of each page is a page fault in which the kernel gives the
 * process a zeroed page, and on a virtual machine the hypervisor may take part. For the
 * bench's 200,000 events the state grows to about 65 MB, and those faults were 0.02 to 0.17
 * s of system time of a 0.65 s run, the part that varied most from run to run. Huge pages
 * make them few (a few dozen, each zeroing 2 MiB); the filler thread makes them happen on
 * another core, while the process works: each time the heap grows, the thread asks the
 * kernel to populate the new part (MADV_POPULATE_WRITE), so that the process's own first
 * touches find the pages there. The work is the same, moved off the path of the batches;
 * a kernel without MADV_POPULATE_WRITE (before Linux 5.14) refuses it and the pages are
 * faulted in by first touch as before; a kernel that refuses the huge-page advice (THP
 * "never") leaves 4 KiB pages, which the thread fills the same way. What a machine charges for
 * either kind of fault is its own (docs/performance.md, "Replay's page faults", "The heap filled
 * ahead").
 *
 * One heap a process (malloc's main arena): start it once, before the state grows, from the
 * thread that will grow it. */
#ifndef RW_HEAP_H
#define RW_HEAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rw_heap rw_heap_t;

/* Sets malloc to grow the heap step bytes past what it needs each time, never to give it
 * back, and to keep allocations below mmap_min bytes in it; grows it now and advises it. The
 * heap is advised and filled from the first whole 2 MiB page past where it ended then. With ahead,
 * starts the filler thread (if the thread cannot start, the heap is only advised). Returns the heap
 * (never NULL: aborts on out-of-memory like rw_malloc). */
rw_heap_t *rw_heap_start(size_t step, size_t mmap_min, bool ahead);

/* Advises the heap grown since the last call, and hands it to the filler thread. Cheap when
 * the heap did not grow (no system call): call it between batches. */
void rw_heap_grown(rw_heap_t *h);

/* Where the filler thread has populated the heap up to, from where the heap started (NULL
 * without a filler, or when the kernel refused it). */
const void *rw_heap_filled_to(rw_heap_t *h);

/* Stops the filler thread (waiting for the piece in hand) and frees h. NULL: no-op. */
void rw_heap_stop(rw_heap_t *h);

#endif

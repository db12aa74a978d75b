/*
 * Per-batch timings of `run`'s loop, for latency work (docs/performance.md, "Latency at
 * half rate"). Built only with -DRW_BATCH_TRACE, for a measurement:
 *
 *   make BUILD=build/trace BIN=build/trace/bin CFLAGS=-DRW_BATCH_TRACE build/trace/tests/bench
 *   RW_BATCH_TRACE=/tmp/batches RW_BENCH_LAT_DUMP=/tmp/events RW_BENCH_ONLY=latency \
 *       build/trace/tests/bench
 *
 * Without it every function below is an empty inline: the engine as shipped pays nothing.
 * With it, each batch that held messages is kept in memory (no I/O in the loop) and
 * appended at the engine's exit to the file $RW_BATCH_TRACE names (a bench runs several
 * engines in one process: tell them apart by the clock), one line a batch:
 *
 *   N FIRST_OFFSET LAST_OFFSET OUTPUTS CPU_US T0 .. T11 C0 .. C11
 *
 * N messages, the offsets of its first and last message (of the first message's partition:
 * read it on a one-partition topic), the outputs its evaluation made, the engine thread's
 * CPU over the turn (µs), then at each point of rw_btrace_point_t the monotonic clock
 * (CLOCK_MONOTONIC, µs, as the bench's send times) and the thread's CPU clock (µs); 0 where
 * the batch did not pass that point (a batch with no write in flight has no READ_SENT).
 */
#ifndef RW_BTRACE_H
#define RW_BTRACE_H

#include <stdint.h>

typedef enum rw_btrace_point {
    RW_BT_CONSUME,   /* the turn asks for messages (it may wait for the first) */
    RW_BT_CONSUMED,  /* it has them */
    RW_BT_PREPARED,  /* parsed and planned */
    RW_BT_READ_SENT, /* its Redis read sent behind the write in flight */
    RW_BT_WRITE_ACK, /* the write in flight (and the read behind it) answered */
    RW_BT_FLY_DONE,  /* that batch's acknowledgements looked at, offsets committed */
    RW_BT_LOADED,    /* the read's answers taken */
    RW_BT_EVALUATED, /* evaluated */
    RW_BT_PRODUCED,  /* its alerts handed to the producer */
    RW_BT_WRITE_SENT,
    RW_BT_SENT, /* metrics, evictions */
    RW_BT_TURN_END,
    RW_BT_N
} rw_btrace_point_t;

#ifdef RW_BATCH_TRACE
/* The turn starts (before its consume); a batch of n messages was consumed (n 0: nothing is
 * kept of this turn); a point of the batch in hand; its outputs; the turn is over. */
void rw_btrace_turn(void);
void rw_btrace_batch(long n, int64_t first_offset, int64_t last_offset);
void rw_btrace_mark(rw_btrace_point_t p);
void rw_btrace_outputs(long n);
void rw_btrace_turn_end(void);
/* Writes what was kept to $RW_BATCH_TRACE (nothing when it is not set). */
void rw_btrace_dump(void);
#else
static inline void rw_btrace_turn(void) {}
static inline void rw_btrace_batch(long n, int64_t first_offset, int64_t last_offset) {
    (void)n;
    (void)first_offset;
    (void)last_offset;
}
static inline void rw_btrace_mark(rw_btrace_point_t p) { (void)p; }
static inline void rw_btrace_outputs(long n) { (void)n; }
static inline void rw_btrace_turn_end(void) {}
static inline void rw_btrace_dump(void) {}
#endif

#endif

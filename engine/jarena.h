/* A per-batch memory arena for jansson: while a thread is in arena mode, every allocation
 * jansson makes on that thread (values, object hashtables, strings, the parser's buffers)
 * is a bump allocation from the arena, and the whole batch is given back at once by
 * rw_jarena_reset() instead of one free() per allocation.
 *
 * How it works: rw_jarena_install() gives jansson an allocator pair (json_set_alloc_funcs).
 * The allocator looks at the calling thread's current arena (rw_jarena_begin): with one it
 * bump-allocates (16-byte aligned) from the arena's chunks, without one it calls malloc().
 * The free function tells the two apart by address: freeing memory that lies in a chunk of
 * a live arena does nothing, anything else goes to free(). So values parsed in arena mode may
 * be json_decref'd later, with arena mode off or on another thread, until the reset; and
 * values made outside arena mode are freed as usual even when decref'd in arena mode.
 *
 * THE RULE: a JSON value made in arena mode is borrowed from the arena, valid until the
 * next rw_jarena_reset() or rw_jarena_destroy() of that arena. Nothing may refer to it
 * afterwards: not a value kept across batches (a case record, a cache, a queued alert), not
 * a json_incref'd part of it set into a longer-lived object, not a string pointer from
 * json_string_value(). Anything that must survive is copied with json_deep_copy() (or
 * json_dumps) while arena mode is OFF on the copying thread, so that the copy is malloc'd.
 * (json_copy() is not enough: its members are the arena's values.)
 *
 * Release arena values with json_decref() before the reset, as without the arena: their
 * frees cost nothing, and a decref still frees what a value holds that is not the arena's
 * (members set into it with arena mode off, and the rare allocation made by malloc() in arena
 * mode, see RW_JARENA_MAX_CHUNKS), which would leak otherwise.
 *
 * Keep arena mode around parsing (json_loadb) and little else. In arena mode every jansson
 * allocation of the thread comes from the arena, including the text json_dumps() returns,
 * which the caller then must not free(). Turn arena mode off before making a value or a text
 * (json_dumps, json_pack, json_object...) that outlives the batch or is handed to free().
 *
 * Threads: an arena is used by one thread at a time (begin/alloc/reset/destroy are not
 * synchronised against each other on the same arena); other threads may keep using jansson
 * meanwhile (they get malloc() unless they are in arena mode with an arena of their own), and
 * may json_decref arena values they were handed, as long as that happens before the reset.
 *
 * Under AddressSanitizer the unused part of every chunk is poisoned, so that touching a
 * value after rw_jarena_reset() is reported as a use-after-poison. */
#ifndef RW_JARENA_H
#define RW_JARENA_H

#include <stdbool.h>
#include <stddef.h>

/* Chunk size when rw_jarena_new is given 0. */
#define RW_JARENA_DEFAULT_CHUNK ((size_t)256 * 1024)
/* A reset keeps at most this many chunks of an arena for reuse; allocations larger than a
 * chunk get a chunk of their own, which the reset frees. 64 default chunks hold a batch of
 * 4,096 events of up to 4 KiB parsed (an event of 300 bytes takes about 2.2 KiB): a batch's
 * chunks freed and allocated again every batch cost the engine more than the memory kept. */
#define RW_JARENA_KEEP_CHUNKS 64
/* The most chunks all live arenas of the process can have together. Past it an allocation
 * in arena mode is a plain malloc() (freed by json_decref, leaked when never decref'd). */
#define RW_JARENA_MAX_CHUNKS 1024

typedef struct rw_jarena rw_jarena_t;

/* Returns a new arena, empty, that grows by chunks of chunk_bytes (0: the default; at least
 * 4 KiB), free with rw_jarena_destroy. Aborts on out-of-memory, like rw_malloc. */
rw_jarena_t *rw_jarena_new(size_t chunk_bytes);
/* Frees the arena and every value allocated from it (the same rule as rw_jarena_reset).
 * Ends arena mode when a is the calling thread's current arena. NULL is a no-op. */
void rw_jarena_destroy(rw_jarena_t *a);

/* Gives jansson the arena-aware allocator pair. Call once per process at start-up, before
 * other threads use jansson (json_set_alloc_funcs is not thread-safe) and ideally before any
 * JSON value exists (values made before are freed correctly anyway: their memory is not an
 * arena's). Idempotent. Without it rw_jarena_begin has no effect on jansson. */
void rw_jarena_install(void);

/* Arena mode: the calling thread's jansson allocations now come from a, until
 * rw_jarena_end(). a is borrowed until then. Not nested: a second begin replaces the first. */
void rw_jarena_begin(rw_jarena_t *a);
/* Ends the calling thread's arena mode: its jansson allocations are malloc()'d again. */
void rw_jarena_end(void);

/* Every value allocated from a is gone: call only once nothing refers to them (see THE RULE
 * above; json_decref them first). The arena keeps its chunks (up to RW_JARENA_KEEP_CHUNKS)
 * and may be used again; a may be the current arena of the calling thread. NULL: no-op. */
void rw_jarena_reset(rw_jarena_t *a);

/* The bytes handed out by a since the last reset (each allocation rounded up to 16). */
size_t rw_jarena_used(const rw_jarena_t *a);
/* The bytes of the chunks a holds for reuse (after a reset: what the next batch fills
 * without an allocation). */
size_t rw_jarena_kept(const rw_jarena_t *a);
/* Whether every jansson allocation made in a since its last reset came from
 * it (installed, and none fell back to malloc): then values parsed in it need
 * no json_decref before the reset, which frees them all at once. */
bool rw_jarena_holds_all(const rw_jarena_t *a);

#endif

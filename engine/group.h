/* Whether the engines of a group agree on the ruleset they run: the engine
 * (engine.c) notes the heartbeats of the group's other engines from the audit
 * topic and asks which of them run another live ruleset. README, "Changing
 * rules without a restart", describes it. */
#ifndef RW_GROUP_H
#define RW_GROUP_H

#include <stddef.h>
#include <stdint.h>

/* The live rulesets the other engines of the group say they run (heartbeats
 * on the audit topic), to find when the group disagrees. */
typedef struct rw_group rw_group_t;
/* self: this engine's id (copied); its own heartbeats are ignored. */
rw_group_t *rw_group_new(const char *self);
void rw_group_destroy(rw_group_t *g);
/* Records that engine runs sha (its version) at now (monotonic ms); sha NULL:
 * the engine stopped. */
void rw_group_note(rw_group_t *g, const char *engine, const char *sha, const char *version,
                   int64_t now);
/* The number of engines heard from within stale_ms that run a live ruleset
 * other than sha, once they have done so for longer than grace_ms (a push
 * reaches engines at slightly different times). When not 0, why names one of
 * them. */
size_t rw_group_disagreeing(rw_group_t *g, const char *sha, int64_t now, int64_t stale_ms,
                            int64_t grace_ms, char *why, size_t whylen);

#endif

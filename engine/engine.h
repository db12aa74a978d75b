/* The engine (`riskwarn run`): Kafka in, alerts out, state in Redis. */
#ifndef RW_ENGINE_H
#define RW_ENGINE_H

#include "config.h"
#include "kafka.h"

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>

/* What a signal handler or another thread asks of a running engine. */
typedef struct rw_engine_ctl {
    atomic_int stop;   /* nonzero: finish the batch in hand, flush, commit, return */
    atomic_int reload; /* nonzero: re-read the rules file (SIGHUP); reset by the engine */
} rw_engine_ctl_t;

/* Runs until ctl->stop becomes nonzero. Returns RW_OK after a clean stop, RW_ERR_INPUT for
 * a configuration error found at start-up (said on stderr), RW_ERR_FAIL otherwise. cfg and
 * ctl are borrowed for the whole run. */
int rw_engine_run(const rw_config_t *cfg, rw_engine_ctl_t *ctl);

#endif

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

/* Why a peer hiredis could not talk to is not Redis: sends PING, and a TLS
 * ClientHello when PING gets no Redis answer. Fills why and returns 2 when the
 * peer wants TLS, 1 when it speaks something else, 0 when it answers like Redis or
 * cannot be reached (hiredis's own error says more then). In engine/check.c. */
int rw_redis_probe(const char *host, int port, int timeout_ms, char *why, size_t len);

#endif

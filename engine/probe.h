/* Network probes: what speaks on a host:port, so that a TLS-only or non-Redis (or
 * non-Kafka) peer is named as such at start-up and by `riskwarn check --connect`. */
#ifndef RW_PROBE_H
#define RW_PROBE_H

#include <stddef.h>
#include <sys/types.h>

/* Connects to host:port, sends data and reads the first bytes of the answer
 * into buf. Returns how many (0: closed without a word), or -1 when the peer
 * cannot be reached. */
ssize_t rw_probe_send(const char *host, int port, const void *data, size_t len, int timeout_ms,
                      unsigned char *buf, size_t cap);

/* A TLS 1.2 ClientHello without extensions: any TLS server answers it with a
 * handshake or an alert record (first bytes 0x16 or 0x15, then 0x03). */
#define RW_TLS_HELLO_LEN 52
extern const unsigned char rw_tls_hello[RW_TLS_HELLO_LEN];

/* What rw_probe_redis finds: an answer, not an error code. */
typedef enum rw_probe_verdict {
    RW_PROBE_REDIS = 0,     /* it answers like Redis, or cannot be reached (hiredis says more) */
    RW_PROBE_NOT_REDIS = 1, /* it speaks something else */
    RW_PROBE_TLS = 2        /* it wants TLS, which this build of hiredis lacks */
} rw_probe_verdict_t;

/* Why a peer hiredis could not talk to is not Redis: sends PING, and a TLS ClientHello when
 * PING gets no Redis answer. Fills why (len bytes) unless the verdict is RW_PROBE_REDIS. */
rw_probe_verdict_t rw_probe_redis(const char *host, int port, int timeout_ms, char *why,
                                  size_t len);

#endif

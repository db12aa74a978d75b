/* Network probes: what speaks on a host:port, so that a TLS-only or non-Redis (or
 * non-Kafka) peer is named as such at start-up and by `riskwarn check --connect`. */
#ifndef RW_PROBE_H
#define RW_PROBE_H

#include <stddef.h>
#include <sys/types.h>

/* Connects to host:port, sends data and reads the first bytes of the answer
 * into buf. Returns how many (0: closed without a word), or -1 when the peer
 * cannot be reached. */
ssize_t rw_net_probe(const char *host, int port, const void *data, size_t len, int timeout_ms,
                     unsigned char *buf, size_t cap);

/* A TLS 1.2 ClientHello without extensions: any TLS server answers it with a
 * handshake or an alert record (first bytes 0x16 or 0x15, then 0x03). */
#define RW_TLS_HELLO_LEN 52
extern const unsigned char rw_tls_hello[RW_TLS_HELLO_LEN];

#endif

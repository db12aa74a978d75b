/* Network probes: see probe.h. */
#include "probe.h"

#include "engine.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connects to host:port, sends data and reads the first bytes of the answer
 * into buf. Returns how many (0: closed without a word), or -1 when the peer
 * cannot be reached. */
ssize_t rw_probe_send(const char *host, int port, const void *data, size_t len, int timeout_ms,
                      unsigned char *buf, size_t cap) {
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(host, ps, &hints, &ai) || !ai)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0), soerr = 0;
    struct pollfd p = {fd, POLLOUT, 0};
    socklen_t sl = sizeof(soerr);
    ssize_t n = -1;
    if (fd >= 0 && (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) &&
        poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
        soerr == 0 && send(fd, data, len, MSG_NOSIGNAL) == (ssize_t)len) {
        p.events = POLLIN;
        n = poll(&p, 1, timeout_ms) == 1 ? recv(fd, buf, cap, 0) : 0;
        n = n < 0 ? 0 : n; /* reset: closed without a word */
    }
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return n;
}

/* A TLS 1.2 ClientHello without extensions: any TLS server answers it with a
 * handshake or an alert record (first bytes 0x16 or 0x15, then 0x03). */
const unsigned char rw_tls_hello[RW_TLS_HELLO_LEN] = {
    0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, /* random: */
    'r',  'i',  's',  'k',  'w',  'a',  'r',  'n',  '-',  'c',  'h',  'e', 'c', 'k',
    '-',  't',  'l',  's',  '-',  'p',  'r',  'o',  'b',  'e',  '-',  '-', '-', '-',
    '-',  '-',  '-',  0x00, 0x00, 0x04, 0xc0, 0x2f, 0x00, 0x2f, 0x01, 0x00};

rw_probe_verdict_t rw_probe_redis(const char *host, int port, int timeout_ms, char *why,
                                  size_t len) {
    unsigned char buf[64];
    ssize_t n = rw_probe_send(host, port, "PING\r\n", 6, timeout_ms, buf, sizeof(buf) - 1);
    if (n < 0 || (n > 0 && strchr("+-$:*", buf[0])))
        return RW_PROBE_REDIS;
    unsigned char tls[8];
    ssize_t t =
        rw_probe_send(host, port, rw_tls_hello, RW_TLS_HELLO_LEN, timeout_ms, tls, sizeof(tls));
    if (t >= 2 && (tls[0] == 0x15 || tls[0] == 0x16) && tls[1] == 0x03) {
        snprintf(why, len, "wants TLS: it dropped a plain PING and answered a TLS hello");
        return RW_PROBE_TLS;
    } else if (n == 0) {
        snprintf(why, len, "closed the connection without answering PING: not Redis");
    } else {
        for (ssize_t i = 0; i < n; i++)
            buf[i] = buf[i] >= 32 && buf[i] < 127 ? buf[i] : '.';
        buf[n] = 0;
        snprintf(why, len, "does not speak Redis: it answered \"%.40s\"", (char *)buf);
    }
    return RW_PROBE_NOT_REDIS;
}

/* tools/textbuf.h — growable text and socket-address formatting shared
 * by the host tools (services.c, ctl.c). Header-only so a test can
 * include several tool sources in one translation unit. */
#ifndef NS_TOOLS_TEXTBUF_H
#define NS_TOOLS_TEXTBUF_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

/* Text that grows as it is appended to. p is NULL until the first
 * append; on allocation failure appends are dropped and `failed` set.
 * The owner frees p. */
struct textbuf {
    char *p;
    size_t len, cap;
    int failed;
};

static inline void tb_printf(struct textbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void tb_printf(struct textbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->p && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->failed = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

/* "A.B.C.D:PORT" or "[IPV6]:PORT" as ss(8) prints it: "*:*" for no
 * address (an unconnected socket's peer), ":*" for port 0. `sa` is a
 * struct sockaddr_in or sockaddr_in6 (a union ns_sockaddr). */
static inline void fmt_sockaddr(char *out, size_t len, const void *sa)
{
    char ip[INET6_ADDRSTRLEN];
    const struct sockaddr_in *a = sa;
    const struct sockaddr_in6 *a6 = sa;
    uint16_t port;
    if (a->sin_family == AF_INET) {
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
    } else if (a->sin_family == AF_INET6) {
        char v6[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &a6->sin6_addr, v6, sizeof(v6));
        snprintf(ip, sizeof(ip), "[%.*s]", (int)sizeof(v6) - 3, v6);
        port = ntohs(a6->sin6_port);
    } else {
        snprintf(out, len, "*:*");
        return;
    }
    if (port)
        snprintf(out, len, "%s:%u", ip, port);
    else
        snprintf(out, len, "%s:*", ip);
}

/* "tcp", "udp", "raw" for a socket type. */
static inline const char *fmt_netid(int type)
{
    return type == SOCK_STREAM ? "tcp" : type == SOCK_DGRAM ? "udp" : "raw";
}

#endif

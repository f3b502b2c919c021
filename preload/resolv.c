/* preload/resolv.c — name resolution for programs under `netsock run`.
 *
 * glibc's resolver opens its sockets with its own internal calls, which
 * no preloaded library can reach: its queries would go out through the
 * kernel, not netsock. So getaddrinfo, gethostbyname (and _r, 2, 2_r),
 * gethostbyaddr (and _r) and getnameinfo are defined here, with a small
 * resolver whose sockets are ordinary socket(2) calls, hence netsock's:
 *
 *   - /etc/hosts first (as "hosts: files dns"), names compared without
 *     regard to case, every address of every matching line;
 *   - then DNS (RFC 1035) to the IPv4 nameservers of /etc/resolv.conf in
 *     order, over UDP (§4.2.1), and over TCP (§4.2.2) when an answer
 *     comes truncated (TC); `search`/`domain` and `options ndots: timeout:
 *     attempts:` as resolv.conf(5); CNAME chains followed (§3.6.2); the
 *     answer must carry our ID and our question (RFC 5452 §4.1 and §9.1).
 *
 * What differs from glibc: no NSS modules but files and dns (no mdns, no
 * myhostname), no caching, no EDNS, AF_UNSPEC asks for A records only
 * (the stack has no IPv6 yet: as glibc with AI_ADDRCONFIG on an IPv4-only
 * host); AF_INET6 asks for AAAA records. res_query and the rest of
 * libresolv still go through the kernel.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"
#include "run_proto.h"

#define RES_MAX_ADDRS 64 /* addresses kept from one answer (glibc keeps all that fit its buffer) */
#define RES_MAX_NS 3       /* MAXNS */
#define RES_MAX_SEARCH 6   /* MAXDNSRCH */
#define DNS_NAME_MAX 255
#define DNS_UDP_MAX 512    /* RFC 1035 §4.2.1, no EDNS */
#define DNS_TCP_MAX 65535

#define T_A 1
#define T_CNAME 5
#define T_PTR 12
#define T_AAAA 28

/* What a lookup found. */
struct res_result {
    int family;            /* AF_INET or AF_INET6 */
    int n;
    unsigned char addr[RES_MAX_ADDRS][16];
    char canon[DNS_NAME_MAX + 2];
};

/* ---- /etc/hosts -------------------------------------------------------------------------- */

static const char *hosts_path(void) { return "/etc/hosts"; }

/* Addresses of `name` (family AF_INET or AF_INET6) in /etc/hosts.
 * Returns how many were found. */
static int hosts_lookup(const char *name, int family, struct res_result *r)
{
    FILE *f = fopen(hosts_path(), "re");
    if (!f)
        return 0;
    char line[1024];
    r->n = 0;
    while (fgets(line, sizeof(line), f) && r->n < RES_MAX_ADDRS) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *save, *tok = strtok_r(line, " \t\r\n", &save);
        if (!tok)
            continue;
        unsigned char a[16];
        int af = inet_pton(AF_INET, tok, a) == 1 ? AF_INET : inet_pton(AF_INET6, tok, a) == 1 ? AF_INET6 : 0;
        if (af != family)
            continue;
        const char *first = NULL;
        bool match = false;
        for (char *n = strtok_r(NULL, " \t\r\n", &save); n; n = strtok_r(NULL, " \t\r\n", &save)) {
            if (!first)
                first = n;
            if (!strcasecmp(n, name))
                match = true;
        }
        if (!match)
            continue;
        if (r->n == 0)
            snprintf(r->canon, sizeof(r->canon), "%s", first);
        memcpy(r->addr[r->n++], a, 16);
    }
    fclose(f);
    r->family = family;
    return r->n;
}

/* The first name /etc/hosts gives address a (4 or 16 bytes). */
static bool hosts_reverse(int family, const void *a, char *out, size_t len)
{
    FILE *f = fopen(hosts_path(), "re");
    if (!f)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *save, *tok = strtok_r(line, " \t\r\n", &save);
        unsigned char b[16];
        if (!tok || inet_pton(family, tok, b) != 1 || memcmp(a, b, family == AF_INET ? 4 : 16))
            continue;
        char *n = strtok_r(NULL, " \t\r\n", &save);
        if (n) {
            snprintf(out, len, "%s", n);
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* ---- /etc/resolv.conf --------------------------------------------------------------------------- */

struct res_conf {
    struct in_addr ns[RES_MAX_NS];
    int n_ns;
    char search[RES_MAX_SEARCH][DNS_NAME_MAX + 1];
    int n_search;
    int ndots, timeout_s, attempts;
};

static void conf_load(struct res_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->ndots = 1;     /* resolv.conf(5) defaults */
    c->timeout_s = 5;
    c->attempts = 2;
    FILE *f = fopen("/etc/resolv.conf", "re");
    char line[1024];
    while (f && fgets(line, sizeof(line), f)) {
        char *save, *key = strtok_r(line, " \t\r\n", &save);
        if (!key || *key == '#' || *key == ';')
            continue;
        if (!strcmp(key, "nameserver")) {
            char *v = strtok_r(NULL, " \t\r\n", &save);
            struct in_addr a;
            /* IPv6 nameservers cannot be reached over this stack yet. */
            if (v && c->n_ns < RES_MAX_NS && inet_pton(AF_INET, v, &a) == 1)
                c->ns[c->n_ns++] = a;
        } else if (!strcmp(key, "search") || !strcmp(key, "domain")) {
            c->n_search = 0; /* the last of them wins */
            for (char *v = strtok_r(NULL, " \t\r\n", &save); v && c->n_search < RES_MAX_SEARCH;
                 v = strtok_r(NULL, " \t\r\n", &save)) {
                snprintf(c->search[c->n_search++], DNS_NAME_MAX + 1, "%s", v);
                if (!strcmp(key, "domain"))
                    break;
            }
        } else if (!strcmp(key, "options")) {
            for (char *v = strtok_r(NULL, " \t\r\n", &save); v; v = strtok_r(NULL, " \t\r\n", &save)) {
                if (!strncmp(v, "ndots:", 6))
                    c->ndots = atoi(v + 6) > 15 ? 15 : atoi(v + 6);
                else if (!strncmp(v, "timeout:", 8))
                    c->timeout_s = atoi(v + 8) < 1 ? 1 : atoi(v + 8) > 30 ? 30 : atoi(v + 8);
                else if (!strncmp(v, "attempts:", 9))
                    c->attempts = atoi(v + 9) < 1 ? 1 : atoi(v + 9) > 5 ? 5 : atoi(v + 9);
            }
        }
    }
    if (f)
        fclose(f);
    if (c->n_ns == 0) {
        c->ns[0].s_addr = htonl(INADDR_LOOPBACK); /* resolv.conf(5): the local host */
        c->n_ns = 1;
    }
}

/* ---- DNS messages (RFC 1035 §4.1) -------------------------------------------------------------- */

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static unsigned get16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }

/* A query for (name, type) with id: returns its length, or -1 for a name
 * that cannot be one (a label over 63 bytes, the whole over 255). */
static int dns_query(uint8_t *q, size_t cap, uint16_t id, const char *name, unsigned type)
{
    size_t nlen = strlen(name);
    if (nlen && name[nlen - 1] == '.')
        nlen--;
    if (nlen > 253 || 12 + nlen + 2 + 4 > cap)
        return -1;
    memset(q, 0, 12);
    put16(q, id);
    q[2] = 0x01; /* RD: recursion desired */
    put16(q + 4, 1);
    size_t o = 12;
    const char *p = name, *end = name + nlen;
    while (p < end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t l = (size_t)((dot ? dot : end) - p);
        if (l == 0 || l > 63)
            return -1;
        q[o++] = (uint8_t)l;
        memcpy(q + o, p, l);
        o += l;
        p += l + (dot ? 1 : 0);
    }
    q[o++] = 0;
    put16(q + o, type);
    put16(q + o + 2, 1); /* IN */
    return (int)(o + 4);
}

/* Read the (possibly compressed, §4.1.4) name at *off into out (dotted,
 * no trailing dot); *off moves past it. Returns 0, or -1 when malformed. */
static int dns_name(const uint8_t *m, size_t len, size_t *off, char *out, size_t cap)
{
    size_t o = *off, w = 0;
    bool jumped = false;
    for (int hops = 0; hops < 64; hops++) {
        if (o >= len)
            return -1;
        unsigned l = m[o];
        if (l == 0) {
            if (!jumped)
                *off = o + 1;
            if (w == 0 && cap)
                out[0] = 0;
            else if (w)
                out[w - 1] = 0; /* the last dot */
            return 0;
        }
        if ((l & 0xc0) == 0xc0) {
            if (o + 1 >= len)
                return -1;
            if (!jumped)
                *off = o + 2;
            jumped = true;
            o = ((l & 0x3f) << 8) | m[o + 1];
            continue;
        }
        if (l & 0xc0 || o + 1 + l > len || w + l + 1 > cap)
            return -1;
        memcpy(out + w, m + o + 1, l);
        w += l;
        out[w++] = '.';
        o += 1 + l;
    }
    return -1;
}

static bool name_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '.')
        la--;
    if (lb && b[lb - 1] == '.')
        lb--;
    return la == lb && !strncasecmp(a, b, la);
}

enum { DNS_OK, DNS_NXDOMAIN, DNS_NODATA, DNS_FAIL, DNS_TRUNC };

/* Take an answer to (qname, qtype) with id apart: addresses (or, for
 * PTR, the name in r->canon) following CNAMEs. Returns DNS_*, or -1 for
 * a message that is not the answer to our question. */
static int dns_parse(const uint8_t *m, size_t len, uint16_t id, const char *qname, unsigned qtype,
                     struct res_result *r)
{
    if (len < 12 || get16(m) != id || !(m[2] & 0x80) || ((m[2] >> 3) & 0xf) != 0)
        return -1;
    if (get16(m + 4) != 1)
        return -1;
    size_t off = 12;
    char name[DNS_NAME_MAX + 2];
    if (dns_name(m, len, &off, name, sizeof(name)) < 0 || off + 4 > len || !name_eq(name, qname) ||
        get16(m + off) != qtype || get16(m + off + 2) != 1)
        return -1;
    off += 4;
    if (m[2] & 0x02)
        return DNS_TRUNC;
    unsigned rcode = m[3] & 0xf;
    if (rcode == 3)
        return DNS_NXDOMAIN;
    if (rcode != 0)
        return DNS_FAIL;
    char target[DNS_NAME_MAX + 2];
    snprintf(target, sizeof(target), "%s", qname);
    unsigned an = get16(m + 6);
    r->n = 0;
    bool named = false;
    for (unsigned i = 0; i < an; i++) {
        if (dns_name(m, len, &off, name, sizeof(name)) < 0 || off + 10 > len)
            return DNS_FAIL;
        unsigned type = get16(m + off), cls = get16(m + off + 2), rdlen = get16(m + off + 8);
        off += 10;
        if (off + rdlen > len)
            return DNS_FAIL;
        if (cls == 1 && name_eq(name, target)) {
            if (type == T_CNAME) {
                size_t o2 = off;
                if (dns_name(m, len, &o2, target, sizeof(target)) < 0)
                    return DNS_FAIL;
            } else if (type == qtype && qtype == T_PTR) {
                size_t o2 = off;
                if (dns_name(m, len, &o2, r->canon, sizeof(r->canon)) == 0)
                    named = true;
            } else if (type == qtype && ((type == T_A && rdlen == 4) || (type == T_AAAA && rdlen == 16)) &&
                       r->n < RES_MAX_ADDRS) {
                memset(r->addr[r->n], 0, 16);
                memcpy(r->addr[r->n++], m + off, rdlen);
            }
        }
        off += rdlen;
    }
    if (qtype == T_PTR)
        return named ? DNS_OK : DNS_NODATA;
    if (!r->n)
        return DNS_NODATA;
    snprintf(r->canon, sizeof(r->canon), "%s", target);
    size_t cl = strlen(r->canon);
    if (cl && r->canon[cl - 1] == '.')
        r->canon[cl - 1] = 0;
    r->family = qtype == T_AAAA ? AF_INET6 : AF_INET;
    return DNS_OK;
}

/* ---- transports ------------------------------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Wait for fd (events) until deadline_ms: 1 ready, 0 timed out. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return 0;
    }
}

static int ns_socket_to(struct in_addr ns, int type, int64_t deadline_ms)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53), .sin_addr = ns};
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        if (errno != EINPROGRESS || !wait_fd(fd, POLLOUT, deadline_ms)) {
            close(fd);
            return -1;
        }
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* One question to one server over UDP: the answer's DNS_* (-1: none in time). */
static int ask_udp(struct in_addr ns, const uint8_t *q, size_t qlen, uint16_t id, const char *name,
                   unsigned type, int64_t deadline_ms, struct res_result *r)
{
    int fd = ns_socket_to(ns, SOCK_DGRAM, deadline_ms);
    if (fd < 0)
        return -1;
    int res = -1;
    if (send(fd, q, qlen, 0) == (ssize_t)qlen) {
        uint8_t a[DNS_UDP_MAX];
        while (res < 0 && wait_fd(fd, POLLIN, deadline_ms)) {
            ssize_t n = recv(fd, a, sizeof(a), 0);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    continue;
                break; /* ECONNREFUSED: nobody serves DNS there */
            }
            res = dns_parse(a, (size_t)n, id, name, type, r); /* -1: not ours, wait on */
        }
    }
    close(fd);
    return res;
}

static bool read_all(int fd, uint8_t *p, size_t len, int64_t deadline_ms)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv(fd, p + got, len - got, 0);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR) || !wait_fd(fd, POLLIN, deadline_ms))
            return false;
    }
    return true;
}

/* The same over TCP (two length bytes before each message, §4.2.2). */
static int ask_tcp(struct in_addr ns, const uint8_t *q, size_t qlen, uint16_t id, const char *name,
                   unsigned type, int64_t deadline_ms, struct res_result *r)
{
    int fd = ns_socket_to(ns, SOCK_STREAM, deadline_ms);
    if (fd < 0)
        return -1;
    uint8_t hdr[2];
    put16(hdr, (unsigned)qlen);
    struct iovec iov[2] = {{hdr, 2}, {(void *)(uintptr_t)q, qlen}};
    int res = -1;
    uint8_t *a = malloc(DNS_TCP_MAX);
    if (a && writev(fd, iov, 2) == (ssize_t)(qlen + 2) && read_all(fd, hdr, 2, deadline_ms)) {
        size_t len = get16(hdr);
        if (read_all(fd, a, len, deadline_ms))
            res = dns_parse(a, len, id, name, type, r);
    }
    free(a);
    close(fd);
    return res;
}

/* Ask the servers about one name: DNS_* (DNS_FAIL when nobody answered). */
static int ask_name(const struct res_conf *c, const char *name, unsigned type, struct res_result *r)
{
    uint16_t id;
    if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id))
        id = (uint16_t)now_ms();
    uint8_t q[DNS_NAME_MAX + 32];
    int qlen = dns_query(q, sizeof(q), id, name, type);
    if (qlen < 0)
        return DNS_NXDOMAIN;
    for (int attempt = 0; attempt < c->attempts; attempt++) {
        for (int i = 0; i < c->n_ns; i++) {
            int64_t deadline = now_ms() + c->timeout_s * 1000;
            int res = ask_udp(c->ns[i], q, (size_t)qlen, id, name, type, deadline, r);
            if (res == DNS_TRUNC)
                res = ask_tcp(c->ns[i], q, (size_t)qlen, id, name, type, deadline, r);
            if (res == DNS_OK || res == DNS_NXDOMAIN || res == DNS_NODATA)
                return res;
        }
    }
    return DNS_FAIL;
}

/* Look `name` up as resolv.conf says: as it is first when it has ndots
 * dots or more (or ends with a dot), then with each search domain, then
 * as it is. Returns 0 or an EAI_* error. */
static int dns_lookup(const char *name, unsigned type, struct res_result *r)
{
    struct res_conf c;
    conf_load(&c);
    size_t len = strlen(name);
    int dots = 0;
    for (const char *p = name; *p; p++)
        dots += *p == '.';
    bool absolute = len && name[len - 1] == '.';
    char cand[RES_MAX_SEARCH + 2][DNS_NAME_MAX + 2];
    int n = 0;
    bool plain_first = absolute || dots >= c.ndots;
    if (plain_first)
        snprintf(cand[n++], sizeof(cand[0]), "%s", name);
    for (int i = 0; !absolute && i < c.n_search; i++)
        if ((size_t)snprintf(cand[n], sizeof(cand[0]), "%s.%s", name, c.search[i]) < sizeof(cand[0]))
            n++;
    if (!plain_first)
        snprintf(cand[n++], sizeof(cand[0]), "%s", name);
    bool answered = false, nodata = false;
    for (int i = 0; i < n; i++) {
        int res = ask_name(&c, cand[i], type, r);
        if (res == DNS_OK)
            return 0;
        answered |= res == DNS_NXDOMAIN || res == DNS_NODATA;
        nodata |= res == DNS_NODATA;
    }
    return !answered ? EAI_AGAIN : nodata ? EAI_NODATA : EAI_NONAME;
}

/* hosts, then DNS. 0 or EAI_*. */
static int lookup(const char *name, int family, struct res_result *r)
{
    memset(r, 0, sizeof(*r));
    if (!*name)
        return EAI_NONAME;
    if (hosts_lookup(name, family, r))
        return 0;
    return dns_lookup(name, family == AF_INET6 ? T_AAAA : T_A, r);
}

/* The PTR name of an address (4 or 16 bytes): hosts, then DNS. */
static bool reverse(int family, const void *a, char *out, size_t len)
{
    if (hosts_reverse(family, a, out, len))
        return true;
    char q[DNS_NAME_MAX + 1];
    const unsigned char *b = a;
    if (family == AF_INET) {
        snprintf(q, sizeof(q), "%u.%u.%u.%u.in-addr.arpa.", b[3], b[2], b[1], b[0]);
    } else {
        size_t o = 0;
        for (int i = 15; i >= 0; i--)
            o += (size_t)snprintf(q + o, sizeof(q) - o, "%x.%x.", b[i] & 0xf, b[i] >> 4);
        snprintf(q + o, sizeof(q) - o, "ip6.arpa.");
    }
    struct res_result r;
    memset(&r, 0, sizeof(r));
    if (dns_lookup(q, T_PTR, &r) != 0 || !r.canon[0])
        return false;
    if (strlen(r.canon) >= len)
        return false;
    memcpy(out, r.canon, strlen(r.canon) + 1);
    return true;
}

/* ---- getaddrinfo ------------------------------------------------------------------------------- */

static int (*real_getaddrinfo)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
static int (*real_getnameinfo)(const struct sockaddr *, socklen_t, char *, socklen_t, char *, socklen_t, int);

/* glibc's function, looked up once. */
static void *next_get(void **slot, const char *name)
{
    if (!*slot)
        *slot = preload_next(name);
    return *slot;
}
#define NEXT(fn) ((__typeof__(real_##fn))next_get((void **)(void *)&real_##fn, #fn))

/* One entry of the list: one allocation holding the addrinfo and its
 * address, as glibc's, so that glibc's freeaddrinfo frees ours. */
static struct addrinfo *ai_new(int family, const void *addr, uint16_t port, int socktype, int protocol)
{
    struct addrinfo *ai = calloc(1, sizeof(*ai) + sizeof(struct sockaddr_in6));
    if (!ai)
        return NULL;
    ai->ai_family = family;
    ai->ai_socktype = socktype;
    ai->ai_protocol = protocol;
    ai->ai_addr = (struct sockaddr *)(ai + 1);
    if (family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)ai->ai_addr;
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        memcpy(&s->sin_addr, addr, 4);
        ai->ai_addrlen = sizeof(*s);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)ai->ai_addr;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(port);
        memcpy(&s->sin6_addr, addr, 16);
        ai->ai_addrlen = sizeof(*s);
    }
    return ai;
}

struct gai_type {
    int socktype, protocol;
    int port;
};

/* The socket types and ports an answer lists (glibc's gaih_inet_typeproto):
 * all three for a numeric or no service, the types the service exists for
 * by name. Returns how many, or -EAI_*. */
static int gai_types(const char *service, const struct addrinfo *h, struct gai_type out[3])
{
    static const struct gai_type all[3] = {
        {SOCK_STREAM, IPPROTO_TCP, 0}, {SOCK_DGRAM, IPPROTO_UDP, 0}, {SOCK_RAW, 0, 0}};
    long port = -1;
    if (service) {
        char *end;
        long v = strtol(service, &end, 10);
        if (*service && !*end && v >= 0 && v <= 65535)
            port = v;
        else if (h->ai_flags & AI_NUMERICSERV)
            return -EAI_NONAME;
    }
    int n = 0;
    for (int i = 0; i < 3; i++) {
        if (h->ai_socktype && h->ai_socktype != all[i].socktype)
            continue;
        if (h->ai_protocol && all[i].protocol && h->ai_protocol != all[i].protocol)
            continue;
        struct gai_type t = all[i];
        if (h->ai_socktype == SOCK_RAW && h->ai_protocol)
            t.protocol = h->ai_protocol;
        if (service && port < 0) {
            if (t.socktype == SOCK_RAW)
                continue; /* a service name means TCP or UDP */
            struct servent se, *sp = NULL;
            char buf[1024];
            if (getservbyname_r(service, t.protocol == IPPROTO_TCP ? "tcp" : "udp", &se, buf,
                                sizeof(buf), &sp) != 0 || !sp)
                continue;
            t.port = ntohs((uint16_t)sp->s_port);
        } else {
            t.port = port < 0 ? 0 : (int)port;
        }
        out[n++] = t;
    }
    if (!n)
        return service && port < 0 ? -EAI_SERVICE : -EAI_SOCKTYPE;
    return n;
}

/* Entries for every address of r (AF_INET ones as v4-mapped AF_INET6 when
 * `mapped`), one per socket type, appended to the list at *head. 0 or
 * EAI_MEMORY (the list then freed). */
static int gai_append(struct addrinfo **head, const struct res_result *r, bool mapped,
                      const struct gai_type *types, int nt)
{
    struct addrinfo **tail = head;
    while (*tail)
        tail = &(*tail)->ai_next;
    for (int i = 0; i < r->n; i++) {
        unsigned char m[16] = {[10] = 0xff, [11] = 0xff};
        bool map = mapped && r->family == AF_INET;
        if (map)
            memcpy(m + 12, r->addr[i], 4);
        for (int t = 0; t < nt; t++) {
            struct addrinfo *ai = ai_new(map ? AF_INET6 : r->family, map ? m : r->addr[i],
                                         (uint16_t)types[t].port, types[t].socktype,
                                         types[t].protocol);
            if (!ai) {
                freeaddrinfo(*head);
                *head = NULL;
                return EAI_MEMORY;
            }
            *tail = ai;
            tail = &ai->ai_next;
        }
    }
    return 0;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    if (!preload_active())
        return NEXT(getaddrinfo)(node, service, hints, res);
    struct addrinfo h = {0};
    if (hints)
        h = *hints;
    const int known = AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_V4MAPPED | AI_ALL |
                      AI_ADDRCONFIG | AI_NUMERICSERV | AI_IDN | AI_CANONIDN;
    if (h.ai_flags & ~known)
        return EAI_BADFLAGS;
    if ((h.ai_flags & AI_CANONNAME) && !node)
        return EAI_BADFLAGS;
    if (h.ai_family != AF_UNSPEC && h.ai_family != AF_INET && h.ai_family != AF_INET6)
        return EAI_FAMILY;
    if (!node && !service)
        return EAI_NONAME;
    struct gai_type types[3];
    int nt = gai_types(service, &h, types);
    if (nt < 0)
        return -nt;

    struct res_result r;
    memset(&r, 0, sizeof(r));
    struct addrinfo *head4 = NULL; /* what an A lookup added beside AAAA's */
    unsigned char a[16];
    if (!node) {
        bool v6 = h.ai_family == AF_INET6;
        r.family = v6 ? AF_INET6 : AF_INET;
        r.n = 1;
        memset(r.addr[0], 0, 16);
        if (!(h.ai_flags & AI_PASSIVE)) {
            if (v6)
                r.addr[0][15] = 1; /* ::1 */
            else
                memcpy(r.addr[0], &(struct in_addr){htonl(INADDR_LOOPBACK)}, 4);
        }
    } else if (inet_aton(node, (struct in_addr *)(void *)a) == 1) {
        if (h.ai_family == AF_INET6)
            return EAI_ADDRFAMILY;
        r.family = AF_INET;
        r.n = 1;
        memcpy(r.addr[0], a, 4);
        snprintf(r.canon, sizeof(r.canon), "%s", node);
    } else if (inet_pton(AF_INET6, node, a) == 1) {
        if (h.ai_family == AF_INET)
            return EAI_ADDRFAMILY;
        r.family = AF_INET6;
        r.n = 1;
        memcpy(r.addr[0], a, 16);
        snprintf(r.canon, sizeof(r.canon), "%s", node);
    } else if (h.ai_flags & AI_NUMERICHOST) {
        return EAI_NONAME;
    } else {
        /* By name. AF_INET6: AAAA records, and with AI_V4MAPPED the A
         * records as v4-mapped addresses when there are none (with AI_ALL
         * too), as glibc. AF_UNSPEC: A records, and first AAAA ones when
         * the stack has IPv6 addresses (what AI_ADDRCONFIG asks; RFC 6724
         * puts a global IPv6 destination first). */
        struct res_result r4;
        memset(&r4, 0, sizeof(r4));
        int e;
        if (h.ai_family == AF_INET6) {
            e = lookup(node, AF_INET6, &r);
            if ((h.ai_flags & AI_V4MAPPED) && (e || (h.ai_flags & AI_ALL)) &&
                lookup(node, AF_INET, &r4) == 0)
                e = 0;
        } else if (h.ai_family == AF_UNSPEC && getenv(RUN_ENV_INET6)) {
            int e6 = lookup(node, AF_INET6, &r);
            int e4 = lookup(node, AF_INET, &r4);
            e = e6 && e4 ? e4 : 0;
        } else {
            e = lookup(node, AF_INET, &r);
        }
        if (e)
            return e;
        if (!r.canon[0])
            memcpy(r.canon, r4.canon, sizeof(r.canon));
        /* v4-mapped for AF_INET6; AF_UNSPEC keeps them AF_INET. */
        int e2 = gai_append(&head4, &r4, h.ai_family == AF_INET6, types, nt);
        if (e2)
            return e2;
    }

    struct addrinfo *head = NULL, **tail = &head;
    if (gai_append(&head, &r, false, types, nt)) {
        freeaddrinfo(head4);
        return EAI_MEMORY;
    }
    for (tail = &head; *tail; tail = &(*tail)->ai_next)
        ;
    *tail = head4;
    if (!head) {
        *res = NULL;
        return EAI_NONAME;
    }
    if (head && (h.ai_flags & AI_CANONNAME)) {
        head->ai_canonname = strdup(r.canon[0] ? r.canon : node);
        if (!head->ai_canonname) {
            freeaddrinfo(head);
            return EAI_MEMORY;
        }
    }
    *res = head;
    return 0;
}

/* ---- getnameinfo -------------------------------------------------------------------------------- */

int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen, char *serv,
                socklen_t servlen, int flags)
{
    if (!preload_active() || !sa || !host || !hostlen || (flags & NI_NUMERICHOST))
        return NEXT(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
    const void *a;
    int family = sa->sa_family;
    if (family == AF_INET && salen >= sizeof(struct sockaddr_in))
        a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (family == AF_INET6 && salen >= sizeof(struct sockaddr_in6))
        a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    else
        return NEXT(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
    /* The service part is glibc's (it needs no network). */
    if (serv && servlen) {
        int e = NEXT(getnameinfo)(sa, salen, NULL, 0, serv, servlen, flags);
        if (e)
            return e;
    }
    char name[DNS_NAME_MAX + 1];
    if (reverse(family, a, name, sizeof(name))) {
        if (flags & NI_NOFQDN) {
            char *dot = strchr(name, '.');
            if (dot)
                *dot = 0;
        }
        if (strlen(name) >= hostlen)
            return EAI_OVERFLOW;
        strcpy(host, name);
        return 0;
    }
    if (flags & NI_NAMEREQD)
        return EAI_NONAME;
    return NEXT(getnameinfo)(sa, salen, host, hostlen, NULL, 0, flags | NI_NUMERICHOST);
}

/* ---- gethostbyname and gethostbyaddr ----------------------------------------------------------- */

/* Lay a hostent out in buf. 0, or ERANGE when buf is too small. */
static int fill_hostent(struct hostent *he, char *buf, size_t buflen, const char *name,
                        const struct res_result *r)
{
    size_t alen = r->family == AF_INET6 ? 16 : 4;
    size_t nlen = strlen(name) + 1;
    size_t need = sizeof(char *) * (size_t)(r->n + 2) + alen * (size_t)r->n + nlen + sizeof(char *);
    if (buflen < need + sizeof(char *))
        return ERANGE;
    char *p = buf;
    /* pointers first, aligned */
    size_t mis = (uintptr_t)p % sizeof(char *);
    if (mis)
        p += sizeof(char *) - mis;
    char **list = (char **)(void *)p;
    p += sizeof(char *) * (size_t)(r->n + 1);
    char **aliases = (char **)(void *)p;
    p += sizeof(char *);
    for (int i = 0; i < r->n; i++) {
        memcpy(p, r->addr[i], alen);
        list[i] = p;
        p += alen;
    }
    list[r->n] = NULL;
    aliases[0] = NULL;
    memcpy(p, name, nlen);
    he->h_name = p;
    he->h_aliases = aliases;
    he->h_addrtype = r->family;
    he->h_length = (int)alen;
    he->h_addr_list = list;
    return 0;
}

int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
                     struct hostent **result, int *h_errnop);
int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
                     struct hostent **result, int *h_errnop)
{
    static int (*real_gethostbyname2_r)(const char *, int, struct hostent *, char *, size_t,
                                        struct hostent **, int *);
    if (!preload_active())
        return NEXT(gethostbyname2_r)(name, af, ret, buf, buflen, result, h_errnop);
    *result = NULL;
    if (af != AF_INET && af != AF_INET6) {
        *h_errnop = NETDB_INTERNAL;
        errno = EAFNOSUPPORT;
        return EAFNOSUPPORT;
    }
    struct res_result r;
    memset(&r, 0, sizeof(r));
    unsigned char a[16];
    const char *canon = name;
    if (inet_pton(af, name, a) == 1) {
        r.family = af;
        r.n = 1;
        memcpy(r.addr[0], a, af == AF_INET ? 4 : 16);
    } else {
        int e = lookup(name, af, &r);
        if (e) {
            *h_errnop = e == EAI_AGAIN ? TRY_AGAIN : e == EAI_NODATA ? NO_DATA : HOST_NOT_FOUND;
            return 0;
        }
        if (r.canon[0])
            canon = r.canon;
    }
    int e = fill_hostent(ret, buf, buflen, canon, &r);
    if (e) {
        *h_errnop = NETDB_INTERNAL;
        errno = e;
        return e;
    }
    *result = ret;
    *h_errnop = NETDB_SUCCESS;
    return 0;
}

int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
                    struct hostent **result, int *h_errnop)
{
    return gethostbyname2_r(name, AF_INET, ret, buf, buflen, result, h_errnop);
}

static __thread struct hostent tls_he;
static __thread char tls_buf[sizeof(char *) * (RES_MAX_ADDRS + 4) + 16 * RES_MAX_ADDRS + DNS_NAME_MAX + 64];

struct hostent *gethostbyname2(const char *name, int af)
{
    struct hostent *res;
    int herr;
    int e = gethostbyname2_r(name, af, &tls_he, tls_buf, sizeof(tls_buf), &res, &herr);
    if (e || !res) {
        h_errno = herr;
        return NULL;
    }
    return res;
}

struct hostent *gethostbyname(const char *name) { return gethostbyname2(name, AF_INET); }

int gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *ret, char *buf,
                    size_t buflen, struct hostent **result, int *h_errnop)
{
    static int (*real_gethostbyaddr_r)(const void *, socklen_t, int, struct hostent *, char *, size_t,
                                       struct hostent **, int *);
    if (!preload_active())
        return NEXT(gethostbyaddr_r)(addr, len, type, ret, buf, buflen, result, h_errnop);
    *result = NULL;
    if (!((type == AF_INET && len == 4) || (type == AF_INET6 && len == 16))) {
        *h_errnop = NETDB_INTERNAL;
        errno = EINVAL;
        return EINVAL;
    }
    char name[DNS_NAME_MAX + 1];
    if (!reverse(type, addr, name, sizeof(name))) {
        *h_errnop = HOST_NOT_FOUND;
        return 0;
    }
    struct res_result r = {.family = type, .n = 1};
    memcpy(r.addr[0], addr, len);
    int e = fill_hostent(ret, buf, buflen, name, &r);
    if (e) {
        *h_errnop = NETDB_INTERNAL;
        errno = e;
        return e;
    }
    *result = ret;
    *h_errnop = NETDB_SUCCESS;
    return 0;
}

struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type)
{
    struct hostent *res;
    int herr;
    int e = gethostbyaddr_r(addr, len, type, &tls_he, tls_buf, sizeof(tls_buf), &res, &herr);
    if (e || !res) {
        h_errno = herr;
        return NULL;
    }
    return res;
}

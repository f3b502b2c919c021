/* tools/hostfwd.c — the --forward parser and the forward table
 * (hostfwd.h has the contracts). */
#include "hostfwd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

const char *hostfwd_proto_name(int proto)
{
    return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "?";
}

int hostfwd_proto_parse(const char *name)
{
    if (!strcmp(name, "tcp"))
        return IPPROTO_TCP;
    if (!strcmp(name, "udp"))
        return IPPROTO_UDP;
    return 0;
}

/* A port: 1 to 5 decimal digits, 1..65535, the whole of s[0..len). */
static int parse_port(const char *s, size_t len, uint16_t *out)
{
    if (len < 1 || len > 5)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int hostfwd_parse(const char *spec, struct hostfwd *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    const char *colon = strchr(spec, ':');
    char proto[8];
    size_t plen = colon ? (size_t)(colon - spec) : 0;
    if (!colon || plen >= sizeof(proto)) {
        snprintf(err, errlen, "'%s' is not PROTO:[HOSTADDR:]HOSTPORT:GUESTPORT", spec);
        return -EINVAL;
    }
    memcpy(proto, spec, plen);
    proto[plen] = '\0';
    f->proto = hostfwd_proto_parse(proto);
    if (!f->proto) {
        snprintf(err, errlen, "protocol '%s' is neither tcp nor udp", proto);
        return -EINVAL;
    }
    const char *rest = colon + 1;
    char addr[INET6_ADDRSTRLEN + 1] = "0.0.0.0";
    f->host_family = AF_INET;
    if (rest[0] == '[') {
        /* An IPv6 host address, in brackets as in URLs (RFC 3986 §3.2.2). */
        const char *close = strchr(rest, ']');
        if (!close || close[1] != ':' || (size_t)(close - rest - 1) >= sizeof(addr)) {
            snprintf(err, errlen, "'%s': an IPv6 host address is [ADDR] followed by ':'", spec);
            return -EINVAL;
        }
        memcpy(addr, rest + 1, (size_t)(close - rest - 1));
        addr[close - rest - 1] = '\0';
        f->host_family = AF_INET6;
        rest = close + 2;
    } else {
        /* HOSTADDR:HOSTPORT:GUESTPORT or HOSTPORT:GUESTPORT. */
        const char *c1 = strchr(rest, ':');
        const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2) {
            if ((size_t)(c1 - rest) >= sizeof(addr) || c1 == rest) {
                snprintf(err, errlen, "'%s': bad host address", spec);
                return -EINVAL;
            }
            memcpy(addr, rest, (size_t)(c1 - rest));
            addr[c1 - rest] = '\0';
            rest = c1 + 1;
        }
    }
    if (inet_pton(f->host_family, addr, f->host_addr) != 1) {
        snprintf(err, errlen, "host address '%s' is not a numeric %s address", addr,
                 f->host_family == AF_INET ? "IPv4" : "IPv6");
        return -EINVAL;
    }
    const char *sep = strchr(rest, ':');
    if (!sep || strchr(sep + 1, ':')) {
        snprintf(err, errlen, "'%s' is not PROTO:[HOSTADDR:]HOSTPORT:GUESTPORT", spec);
        return -EINVAL;
    }
    if (parse_port(rest, (size_t)(sep - rest), &f->host_port) < 0) {
        snprintf(err, errlen, "host port '%.*s' is not a port from 1 to 65535",
                 (int)(sep - rest), rest);
        return -EINVAL;
    }
    if (parse_port(sep + 1, strlen(sep + 1), &f->guest_port) < 0) {
        snprintf(err, errlen, "guest port '%s' is not a port from 1 to 65535", sep + 1);
        return -EINVAL;
    }
    return 0;
}

char *hostfwd_format(const struct hostfwd *f, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?", guest[INET_ADDRSTRLEN] = "";
    inet_ntop(f->host_family, f->host_addr, host, sizeof(host));
    if (f->guest_addr) {
        inet_ntop(AF_INET, &f->guest_addr, guest, sizeof(guest));
        strcat(guest, ":");
    }
    bool v6 = f->host_family == AF_INET6;
    snprintf(buf, len, "%s:%s%s%s:%u:%s%u", hostfwd_proto_name(f->proto), v6 ? "[" : "", host,
             v6 ? "]" : "", f->host_port, guest, f->guest_port);
    return buf;
}

static bool addr_is_any(const struct hostfwd *f)
{
    static const uint8_t zero[16];
    return !memcmp(f->host_addr, zero, f->host_family == AF_INET ? 4 : 16);
}

bool hostfwd_conflict(const struct hostfwd *a, const struct hostfwd *b)
{
    if (a->proto != b->proto || a->host_port != b->host_port || a->host_family != b->host_family)
        return false;
    size_t n = a->host_family == AF_INET ? 4 : 16;
    return addr_is_any(a) || addr_is_any(b) || !memcmp(a->host_addr, b->host_addr, n);
}

void hostfwd_table_init(struct hostfwd_table *t, unsigned max)
{
    memset(t, 0, sizeof(*t));
    t->max = max ? max : HOSTFWD_MAX_DEFAULT;
    t->next_id = 1;
}

void hostfwd_table_destroy(struct hostfwd_table *t)
{
    free(t->e);
    t->e = NULL;
    t->n = 0;
}

int hostfwd_add(struct hostfwd_table *t, const struct hostfwd *f, char *err, size_t errlen)
{
    char b[96], b2[96];
    if ((f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP) ||
        (f->host_family != AF_INET && f->host_family != AF_INET6) || !f->host_port ||
        !f->guest_port) {
        t->refused_bad++;
        snprintf(err, errlen, "a forward needs tcp or udp, an IPv4 or IPv6 host address and "
                              "ports from 1 to 65535");
        return -EINVAL;
    }
    for (unsigned i = 0; i < t->n; i++) {
        if (hostfwd_conflict(&t->e[i], f)) {
            t->refused_dup++;
            snprintf(err, errlen, "%s conflicts with forward %u (%s)",
                     hostfwd_format(f, b, sizeof(b)), t->e[i].id,
                     hostfwd_format(&t->e[i], b2, sizeof(b2)));
            return -EEXIST;
        }
    }
    if (t->n >= t->max) {
        t->refused_full++;
        snprintf(err, errlen, "the forward table is full (%u forwards)", t->max);
        return -ENOSPC;
    }
    if (!t->e) {
        t->e = calloc(t->max, sizeof(*t->e));
        if (!t->e) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
    }
    t->e[t->n] = *f;
    t->e[t->n].id = t->next_id++;
    return (int)t->e[t->n++].id;
}

int hostfwd_remove(struct hostfwd_table *t, unsigned id, char *err, size_t errlen)
{
    for (unsigned i = 0; i < t->n; i++) {
        if (t->e[i].id == id) {
            memmove(&t->e[i], &t->e[i + 1], (t->n - i - 1) * sizeof(t->e[0]));
            t->n--;
            return 0;
        }
    }
    snprintf(err, errlen, "no forward with id %u", id);
    return -ENOENT;
}

const struct hostfwd *hostfwd_find(const struct hostfwd_table *t, unsigned id)
{
    for (unsigned i = 0; i < t->n; i++)
        if (t->e[i].id == id)
            return &t->e[i];
    return NULL;
}

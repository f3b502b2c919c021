/* tools/dhcpd.c — the DHCP server (dhcpd.h has the model and the
 * contracts; RFC 2131 and RFC 2132 the rules, cited where they apply). */
#include "dhcpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/socket.h"

/* ---- wire ------------------------------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Take one option (code, len bytes at v) into m unless one of its code
 * came before (seen). Returns 0 or -DHCP_E_*. */
static int opt_take(struct dhcp_msg *m, uint8_t seen[32], uint8_t code, const uint8_t *v,
                    uint8_t len, uint8_t *overload)
{
    if (seen[code / 8] & (1u << (code % 8)))
        return 0;
    seen[code / 8] |= (uint8_t)(1u << (code % 8));
    switch (code) {
    case DHO_MSG_TYPE:
        if (len != 1)
            return -DHCP_E_BAD_VALUE;
        m->type = v[0];
        return 0;
    case DHO_REQUESTED_IP:
    case DHO_SERVER_ID:
    case DHO_LEASE_TIME:
        if (len != 4)
            return -DHCP_E_BAD_VALUE;
        *(code == DHO_REQUESTED_IP ? &m->requested_ip
                                   : code == DHO_SERVER_ID ? &m->server_id : &m->lease_time) =
            rd32(v);
        return 0;
    case DHO_MAX_SIZE:
        if (len != 2)
            return -DHCP_E_BAD_VALUE;
        m->max_size = rd16(v);
        return 0;
    case DHO_OVERLOAD:
        /* RFC 2132 §9.3: 1 file, 2 sname, 3 both; only in the options field. */
        if (len != 1 || v[0] < 1 || v[0] > 3 || !overload)
            return -DHCP_E_BAD_VALUE;
        *overload = v[0];
        return 0;
    case DHO_CLIENT_ID:
        /* RFC 2132 §9.14: minimum length 2 (a type and at least one byte). */
        if (len < 2 || len > DHCP_CLIENT_ID_MAX)
            return -DHCP_E_CLIENT_ID;
        memcpy(m->client_id, v, len);
        m->client_id_len = len;
        return 0;
    case DHO_PARAMS: {
        uint8_t n = len < DHCP_PARAMS_MAX ? len : DHCP_PARAMS_MAX;
        memcpy(m->params, v, n);
        m->n_params = n;
        return 0;
    }
    default:
        return 0; /* kept by nobody: skipped */
    }
}

/* Walk an option area of n bytes: PAD skipped, END stops; an area may end
 * without END (the padding after it is what clients send, and some send
 * none). overload is NULL outside the options field. */
static int opt_area(struct dhcp_msg *m, uint8_t seen[32], const uint8_t *p, size_t n,
                    uint8_t *overload)
{
    size_t i = 0;
    while (i < n) {
        uint8_t code = p[i];
        if (code == DHO_PAD) {
            i++;
            continue;
        }
        if (code == DHO_END)
            return 0;
        if (n - i < 2 || n - i - 2 < p[i + 1])
            return -DHCP_E_OPTION;
        uint8_t len = p[i + 1];
        int rc = opt_take(m, seen, code, p + i + 2, len, overload);
        if (rc < 0)
            return rc;
        i += 2u + len;
    }
    return 0;
}

int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (len < DHCP_MIN_LEN)
        return -DHCP_E_SHORT;
    m->op = buf[0];
    m->htype = buf[1];
    m->hlen = buf[2];
    m->hops = buf[3];
    m->xid = rd32(buf + 4);
    m->secs = rd16(buf + 8);
    m->flags = rd16(buf + 10);
    m->ciaddr = rd32(buf + 12);
    m->yiaddr = rd32(buf + 16);
    m->siaddr = rd32(buf + 20);
    m->giaddr = rd32(buf + 24);
    memcpy(m->chaddr, buf + 28, 16);
    if (m->hlen > 16)
        return -DHCP_E_HLEN;
    if (rd32(buf + DHCP_FIXED_LEN) != DHCP_MAGIC)
        return -DHCP_E_COOKIE;
    uint8_t seen[32] = {0}, overload = 0;
    int rc = opt_area(m, seen, buf + DHCP_MIN_LEN, len - DHCP_MIN_LEN, &overload);
    /* RFC 2131 §4.1: with option 52, file then sname hold options too. */
    if (rc == 0 && (overload & 1))
        rc = opt_area(m, seen, buf + 108, 128, NULL);
    if (rc == 0 && (overload & 2))
        rc = opt_area(m, seen, buf + 44, 64, NULL);
    return rc;
}

/* Append option code with len bytes of v at *p (bounds checked by the
 * caller's worst case: every reply's options fit DHCP_MAX_LEN). */
static uint8_t *opt_put(uint8_t *p, uint8_t code, const void *v, uint8_t len)
{
    p[0] = code;
    p[1] = len;
    memcpy(p + 2, v, len);
    return p + 2 + len;
}

static uint8_t *opt_put32(uint8_t *p, uint8_t code, uint32_t v)
{
    uint8_t b[4];
    wr32(b, v);
    return opt_put(p, code, b, 4);
}

size_t dhcp_emit(const struct dhcp_msg *m, const struct dhcp_reply_opts *o, uint8_t *buf,
                 size_t cap)
{
    /* Worst case: 240 + type 3 + server id 6 + lease, T1, T2 18 + mask,
     * router, dns 18 + mtu 4 + message 2 + 255 + end 1 < 576 - 28. */
    if (cap < DHCP_MAX_LEN - 28)
        return 0;
    memset(buf, 0, DHCP_BOOTP_MIN_LEN);
    buf[0] = m->op;
    buf[1] = m->htype;
    buf[2] = m->hlen;
    buf[3] = m->hops;
    wr32(buf + 4, m->xid);
    wr16(buf + 8, m->secs);
    wr16(buf + 10, m->flags);
    wr32(buf + 12, m->ciaddr);
    wr32(buf + 16, m->yiaddr);
    wr32(buf + 20, m->siaddr);
    wr32(buf + 24, m->giaddr);
    memcpy(buf + 28, m->chaddr, 16);
    memset(buf + 44, 0, DHCP_FIXED_LEN - 44);
    wr32(buf + DHCP_FIXED_LEN, DHCP_MAGIC);
    uint8_t *p = buf + DHCP_MIN_LEN;
    p = opt_put(p, DHO_MSG_TYPE, &o->type, 1);
    if (o->server_id)
        p = opt_put32(p, DHO_SERVER_ID, o->server_id);
    if (o->lease_s) {
        p = opt_put32(p, DHO_LEASE_TIME, o->lease_s);
        /* RFC 2131 §4.4.5: T1 0.5 and T2 0.875 of the lease. */
        p = opt_put32(p, DHO_T1, o->lease_s / 2);
        p = opt_put32(p, DHO_T2, (uint32_t)((uint64_t)o->lease_s * 7 / 8));
    }
    if (o->mask)
        p = opt_put32(p, DHO_SUBNET_MASK, o->mask);
    if (o->router)
        p = opt_put32(p, DHO_ROUTER, o->router);
    if (o->dns)
        p = opt_put32(p, DHO_DNS, o->dns);
    if (o->mtu) {
        uint8_t b[2];
        wr16(b, o->mtu);
        p = opt_put(p, DHO_MTU, b, 2);
    }
    if (o->message) {
        size_t n = strlen(o->message);
        p = opt_put(p, DHO_MESSAGE, o->message, (uint8_t)(n > 255 ? 255 : n));
    }
    *p++ = DHO_END;
    size_t len = (size_t)(p - buf);
    if (len < DHCP_BOOTP_MIN_LEN) {
        memset(p, 0, DHCP_BOOTP_MIN_LEN - len);
        len = DHCP_BOOTP_MIN_LEN;
    }
    return len;
}

/* ---- logic ------------------------------------------------------------------------------ */

void dhcpd_config_default(struct dhcpd_config *c, uint32_t net, unsigned prefix_len)
{
    uint32_t mask = prefix_len ? 0xffffffffu << (32 - prefix_len) : 0;
    net &= mask;
    *c = (struct dhcpd_config){
        .server = net + 2,
        .mask = mask,
        .router = net + 2,
        .dns = net + 3,
        .pool_first = net + 15,
        .pool_size = 16,
        .lease_s = 24 * 3600,
        .offer_hold_us = 60 * 1000000ull,
        .decline_hold_us = 600 * 1000000ull,
    };
}

static bool in_pool(const struct dhcpd_config *c, uint32_t a)
{
    return a - c->pool_first < c->pool_size;
}

int dhcpd_config_check(const struct dhcpd_config *c, const char **why)
{
    const char *w = NULL;
    uint32_t net = c->server & c->mask, last = c->pool_first + c->pool_size - 1;
    if (c->mask && ~c->mask & (~c->mask + 1))
        w = "the mask is not contiguous";
    else if (c->pool_size < 1 || c->pool_size > DHCPD_POOL_MAX)
        w = "the pool must hold 1 to 4096 addresses";
    else if ((c->pool_first & c->mask) != net || (last & c->mask) != net || last < c->pool_first)
        w = "the pool is not inside the server's network";
    else if (c->pool_first == net || last == (net | ~c->mask))
        w = "the pool holds the network or the broadcast address";
    else if (in_pool(c, c->server) || (c->router && in_pool(c, c->router)) ||
             (c->dns && in_pool(c, c->dns)))
        w = "the pool holds the server's, the router's or the DNS address";
    else if (c->lease_s < 1)
        w = "the lease time must be at least 1 second";
    if (why)
        *why = w;
    return w ? -EINVAL : 0;
}

/* One dotted quad of len bytes at v into *out (host order). */
static int parse_ip4(const char *v, size_t len, uint32_t *out)
{
    char b[16];
    struct in_addr a;
    if (len >= sizeof(b))
        return -1;
    memcpy(b, v, len);
    b[len] = '\0';
    if (inet_pton(AF_INET, b, &a) != 1)
        return -1;
    *out = ntohl(a.s_addr);
    return 0;
}

/* A decimal number from lo to hi, the whole of v[0..len). */
static int parse_num(const char *v, size_t len, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t n = 0;
    if (len < 1 || len > 10)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (n < lo || n > hi)
        return -1;
    *out = n;
    return 0;
}

int dhcpd_config_parse(const char *spec, struct dhcpd_config *c, char *err, size_t errlen)
{
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        const char *v = eq ? eq + 1 : p + len;
        size_t vlen = (size_t)(p + len - v);
        uint64_t n;
        int bad = 0;
        if (!eq) {
            bad = 1;
        } else if (klen == 4 && !memcmp(p, "pool", 4)) {
            const char *dash = memchr(v, '-', vlen);
            uint32_t first, last;
            bad = !dash || parse_ip4(v, (size_t)(dash - v), &first) < 0 ||
                  parse_ip4(dash + 1, (size_t)(v + vlen - dash - 1), &last) < 0 ||
                  last < first || last - first >= DHCPD_POOL_MAX;
            if (!bad) {
                c->pool_first = first;
                c->pool_size = last - first + 1;
            }
        } else if (klen == 6 && !memcmp(p, "router", 6)) {
            bad = parse_ip4(v, vlen, &c->router) < 0;
        } else if (klen == 3 && !memcmp(p, "dns", 3)) {
            bad = parse_ip4(v, vlen, &c->dns) < 0;
        } else if (klen == 5 && !memcmp(p, "lease", 5)) {
            bad = parse_num(v, vlen, 1, 0xffffffffu, &n) < 0;
            if (!bad)
                c->lease_s = (uint32_t)n;
        } else if (klen == 3 && !memcmp(p, "mtu", 3)) {
            bad = parse_num(v, vlen, 0, 65535, &n) < 0 || (n && n < 68);
            if (!bad)
                c->mtu = (uint16_t)n;
        } else {
            bad = 1;
        }
        if (bad) {
            snprintf(err, errlen,
                     "'%.*s' is not pool=FIRST-LAST, router=A, dns=A, lease=SECONDS or "
                     "mtu=68..65535",
                     (int)len, p);
            return -EINVAL;
        }
        p += len;
        if (*p == ',') {
            p++;
            if (!*p) {
                snprintf(err, errlen, "an empty item after the last ','");
                return -EINVAL;
            }
        }
    }
    return 0;
}

int dhcpd_server_init(struct dhcpd_server *s, const struct dhcpd_config *c)
{
    memset(s, 0, sizeof(*s));
    if (dhcpd_config_check(c, NULL) < 0)
        return -EINVAL;
    s->leases = calloc(c->pool_size, sizeof(*s->leases));
    if (!s->leases)
        return -ENOMEM;
    s->cfg = *c;
    return 0;
}

void dhcpd_server_destroy(struct dhcpd_server *s)
{
    free(s->leases);
    s->leases = NULL;
}

/* RFC 2131 §4.2: a client is its client identifier (61) when it sends
 * one, else its hardware type and address. */
struct client_key {
    uint8_t len;
    uint8_t b[DHCP_CLIENT_ID_MAX];
};

static void client_key(const struct dhcp_msg *m, struct client_key *k)
{
    if (m->client_id_len) {
        k->len = m->client_id_len;
        memcpy(k->b, m->client_id, k->len);
    } else {
        k->len = (uint8_t)(1 + m->hlen);
        k->b[0] = m->htype;
        memcpy(k->b + 1, m->chaddr, m->hlen);
    }
}

static bool lease_is(const struct dhcpd_lease *l, const struct client_key *k)
{
    return l->key_len == k->len && !memcmp(l->key, k->b, k->len);
}

/* Leases and offers past their end become free (the client is kept, so
 * that it gets the same address back, RFC 2131 §4.3.1); declined
 * addresses come back anonymous. */
static void expire(struct dhcpd_server *s, uint64_t now_us)
{
    for (unsigned i = 0; i < s->cfg.pool_size; i++) {
        struct dhcpd_lease *l = &s->leases[i];
        if (l->state != DHCPD_FREE && l->expires_us <= now_us) {
            if (l->state == DHCPD_DECLINED)
                l->key_len = 0;
            l->state = DHCPD_FREE;
        }
    }
}

/* The slot that belongs to client k (any state but DECLINED), or -1. */
static int find_client(const struct dhcpd_server *s, const struct client_key *k)
{
    for (unsigned i = 0; i < s->cfg.pool_size; i++)
        if (s->leases[i].state != DHCPD_DECLINED && lease_is(&s->leases[i], k))
            return (int)i;
    return -1;
}

/* A free slot for a new client: one no client remembers first, else the
 * first free one. -1 when the pool is full. */
static int find_free(const struct dhcpd_server *s)
{
    int any = -1;
    for (unsigned i = 0; i < s->cfg.pool_size; i++) {
        const struct dhcpd_lease *l = &s->leases[i];
        if (l->state != DHCPD_FREE)
            continue;
        if (!l->key_len)
            return (int)i;
        if (any < 0)
            any = (int)i;
    }
    return any;
}

/* Slot i may be given to client k: it is k's, or free. */
static bool slot_usable(const struct dhcpd_server *s, int i, const struct client_key *k)
{
    const struct dhcpd_lease *l = &s->leases[i];
    if (l->state == DHCPD_DECLINED)
        return false;
    return lease_is(l, k) || l->state == DHCPD_FREE;
}

static void slot_take(struct dhcpd_server *s, int i, const struct client_key *k,
                      const struct dhcp_msg *m, uint8_t state, uint64_t until_us)
{
    struct dhcpd_lease *l = &s->leases[i];
    l->state = state;
    l->key_len = k->len;
    memcpy(l->key, k->b, k->len);
    memcpy(l->mac, m->chaddr, 6);
    l->expires_us = until_us;
}

/* Build the reply of type to m with yiaddr, and where it goes (RFC 2131
 * §4.1). */
static int reply(struct dhcpd_server *s, const struct dhcp_msg *m, uint8_t type, uint32_t yiaddr,
                 bool with_lease, struct dhcpd_reply *r)
{
    const struct dhcpd_config *c = &s->cfg;
    struct dhcp_msg h = {
        .op = 2, /* BOOTREPLY */
        .htype = m->htype,
        .hlen = m->hlen,
        .xid = m->xid,
        .flags = m->flags,
        .yiaddr = yiaddr,
        .giaddr = m->giaddr,
    };
    memcpy(h.chaddr, m->chaddr, sizeof(h.chaddr));
    /* RFC 2131 §4.3.1 Table 3: ciaddr is 0 in an OFFER and a NAK, the
     * request's in an ACK. */
    if (type == DHCPACK)
        h.ciaddr = m->ciaddr;
    struct dhcp_reply_opts o = {.type = type, .server_id = c->server};
    if (type == DHCPNAK) {
        o.message = "requested address not available";
    } else {
        o.mask = c->mask;
        o.router = c->router;
        o.dns = c->dns;
        o.mtu = c->mtu;
        if (with_lease)
            o.lease_s = c->lease_s;
    }
    r->to_mac = false;
    r->dport = DHCP_CLIENT_PORT;
    if (m->giaddr) {
        /* §4.1: through a relay: to its port 67; a NAK with the broadcast
         * bit, for the relay to broadcast it. */
        r->dst = m->giaddr;
        r->dport = DHCP_SERVER_PORT;
        if (type == DHCPNAK)
            h.flags |= DHCP_FLAG_BROADCAST;
    } else if (type == DHCPNAK) {
        /* §4.3.2: "the server MUST broadcast the DHCPNAK message". */
        r->dst = 0xffffffffu;
    } else if (m->ciaddr) {
        /* §4.1: a client with an address (renewing, INFORM) is sent to. */
        r->dst = m->ciaddr;
    } else if (m->flags & DHCP_FLAG_BROADCAST) {
        r->dst = 0xffffffffu;
    } else {
        /* §4.1: to the client's hardware address and yiaddr. */
        r->dst = yiaddr;
        r->to_mac = true;
        memcpy(r->mac, m->chaddr, 6);
    }
    r->len = dhcp_emit(&h, &o, r->buf, sizeof(r->buf));
    if (type == DHCPOFFER)
        s->stats.offers++;
    else if (type == DHCPACK)
        s->stats.acks++;
    else
        s->stats.naks++;
    return 1;
}

static int nak(struct dhcpd_server *s, const struct dhcp_msg *m, struct dhcpd_reply *r)
{
    return reply(s, m, DHCPNAK, 0, false, r);
}

/* RFC 2131 §4.3.1: an offer: the client's address if it has one, else
 * the one it asks for if free, else a free one; none: no offer. */
static int on_discover(struct dhcpd_server *s, const struct dhcp_msg *m,
                       const struct client_key *k, uint64_t now_us, struct dhcpd_reply *r)
{
    const struct dhcpd_config *c = &s->cfg;
    int i = find_client(s, k);
    if (i < 0 && in_pool(c, m->requested_ip) &&
        slot_usable(s, (int)(m->requested_ip - c->pool_first), k))
        i = (int)(m->requested_ip - c->pool_first);
    if (i < 0)
        i = find_free(s);
    if (i < 0) {
        s->stats.no_address++;
        return 0;
    }
    if (s->leases[i].state != DHCPD_BOUND)
        slot_take(s, i, k, m, DHCPD_OFFERED, now_us + c->offer_hold_us);
    return reply(s, m, DHCPOFFER, dhcpd_lease_addr(s, (unsigned)i), true, r);
}

/* Bind slot i to the client and ACK it. A client has one address on the
 * network: another slot it held (an INIT-REBOOT to a new address) is
 * given up. */
static int bind_ack(struct dhcpd_server *s, int i, const struct client_key *k,
                    const struct dhcp_msg *m, uint64_t now_us, struct dhcpd_reply *r)
{
    for (unsigned j = 0; j < s->cfg.pool_size; j++)
        if ((int)j != i && s->leases[j].state != DHCPD_DECLINED && lease_is(&s->leases[j], k)) {
            s->leases[j].state = DHCPD_FREE;
            s->leases[j].key_len = 0;
        }
    slot_take(s, i, k, m, DHCPD_BOUND, now_us + (uint64_t)s->cfg.lease_s * 1000000u);
    return reply(s, m, DHCPACK, dhcpd_lease_addr(s, (unsigned)i), true, r);
}

/* RFC 2131 §4.3.2, by the client's state. The server is authoritative for
 * its network: an address it can give (the client's, or free) is ACKed in
 * INIT-REBOOT too, anything else on the network is NAKed. */
static int on_request(struct dhcpd_server *s, const struct dhcp_msg *m,
                      const struct client_key *k, uint64_t now_us, struct dhcpd_reply *r)
{
    const struct dhcpd_config *c = &s->cfg;
    if (m->server_id) {
        /* SELECTING: the client answers one server's offer. */
        int mine = find_client(s, k);
        if (m->server_id != c->server) {
            /* Not us: our offer is free again. */
            s->stats.drop_other_server++;
            if (mine >= 0 && s->leases[mine].state == DHCPD_OFFERED)
                s->leases[mine].state = DHCPD_FREE;
            return 0;
        }
        if (mine >= 0 && dhcpd_lease_addr(s, (unsigned)mine) == m->requested_ip)
            return bind_ack(s, mine, k, m, now_us, r);
        return nak(s, m, r);
    }
    uint32_t want = m->requested_ip ? m->requested_ip : m->ciaddr;
    /* INIT-REBOOT (requested IP, no ciaddr), RENEWING/REBINDING (ciaddr). */
    if (!want)
        return nak(s, m, r);
    if (in_pool(c, want) && slot_usable(s, (int)(want - c->pool_first), k)) {
        int i = (int)(want - c->pool_first);
        /* RENEWING/REBINDING: only a lease the client holds is extended. */
        if (!m->requested_ip && !lease_is(&s->leases[i], k))
            return nak(s, m, r);
        return bind_ack(s, i, k, m, now_us, r);
    }
    return nak(s, m, r);
}

int dhcpd_server_input(struct dhcpd_server *s, const uint8_t *buf, size_t len, uint64_t now_us,
                       struct dhcpd_reply *r)
{
    const struct dhcpd_config *c = &s->cfg;
    struct dhcp_msg m;
    s->stats.rx++;
    int rc = dhcp_parse(buf, len, &m);
    if (rc == -DHCP_E_COOKIE) {
        s->stats.drop_bootp++;
        return 0;
    }
    if (rc < 0) {
        s->stats.drop_malformed++;
        return 0;
    }
    /* Ethernet clients only: the reply's unicast needs a 6-byte MAC. */
    if (m.op != 1 || m.htype != 1 || m.hlen != 6) {
        s->stats.drop_not_request++;
        return 0;
    }
    if (!m.type) {
        s->stats.drop_bootp++;
        return 0;
    }
    expire(s, now_us);
    struct client_key k;
    client_key(&m, &k);
    switch (m.type) {
    case DHCPDISCOVER:
        s->stats.rx_discover++;
        return on_discover(s, &m, &k, now_us, r);
    case DHCPREQUEST:
        s->stats.rx_request++;
        return on_request(s, &m, &k, now_us, r);
    case DHCPDECLINE:
    case DHCPRELEASE: {
        bool decline = m.type == DHCPDECLINE;
        if (decline)
            s->stats.rx_decline++;
        else
            s->stats.rx_release++;
        /* RFC 2131 §4.3.3, §4.3.4: to this server only. */
        if (m.server_id != c->server) {
            s->stats.drop_other_server++;
            return 0;
        }
        uint32_t a = decline ? m.requested_ip : m.ciaddr;
        if (!in_pool(c, a) || !lease_is(&s->leases[a - c->pool_first], &k) ||
            s->leases[a - c->pool_first].state == DHCPD_DECLINED)
            return 0;
        struct dhcpd_lease *l = &s->leases[a - c->pool_first];
        if (decline) {
            /* §4.3.3: the address is in use by someone else: not leased
             * again for decline_hold_us. */
            l->state = DHCPD_DECLINED;
            l->key_len = 0;
            l->expires_us = now_us + c->decline_hold_us;
            s->stats.declined++;
        } else {
            /* §4.3.4: free, the client remembered for next time. */
            l->state = DHCPD_FREE;
            s->stats.released++;
        }
        return 0;
    }
    case DHCPINFORM:
        /* §4.3.5: the configuration without an address or a lease. */
        s->stats.rx_inform++;
        return reply(s, &m, DHCPACK, 0, false, r);
    default:
        s->stats.drop_bad_type++;
        return 0;
    }
}

/* ---- on a netsock stack ------------------------------------------------------------------ */

struct dhcpd {
    struct ns_stack *st;
    int ifindex;
    int fd;
    struct dhcpd_server srv;
};

struct dhcpd *dhcpd_new(struct ns_stack *st, int ifindex, const struct dhcpd_config *c, int *err,
                        const char **why)
{
    if (dhcpd_config_check(c, why) < 0) {
        *err = -EINVAL;
        return NULL;
    }
    struct dhcpd *d = calloc(1, sizeof(*d));
    if (!d) {
        *err = -ENOMEM;
        return NULL;
    }
    d->st = st;
    d->ifindex = ifindex;
    int rc = dhcpd_server_init(&d->srv, c);
    if (rc < 0) {
        free(d);
        *err = rc;
        return NULL;
    }
    int one = 1;
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(DHCP_SERVER_PORT)};
    d->fd = ns_socket(st, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (d->fd < 0 || ns_setsockopt(st, d->fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
        ns_setsockopt(st, d->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0 ||
        ns_bind(st, d->fd, (const struct sockaddr *)&any, sizeof(any)) < 0) {
        *err = -errno;
        if (d->fd >= 0)
            ns_close(st, d->fd);
        dhcpd_server_destroy(&d->srv);
        free(d);
        return NULL;
    }
    return d;
}

int dhcpd_fd(const struct dhcpd *d) { return d->fd; }

const struct dhcpd_server *dhcpd_server_of(const struct dhcpd *d) { return &d->srv; }

/* Room for the control messages of one datagram: IP_PKTINFO and more. */
union dgram_ctl {
    char buf[CMSG_SPACE(sizeof(struct in_pktinfo)) + 64];
    struct cmsghdr align;
};

/* Make *msg describe one datagram of len bytes at buf, to or from *sin,
 * with ctl as its control buffer: for a send (send_ifindex > 0) holding
 * exactly one IP_PKTINFO that names the interface, for a receive
 * (send_ifindex 0) all of ctl. */
static void dgram_msg(struct msghdr *msg, struct iovec *iov, struct sockaddr_in *sin, void *buf,
                      size_t len, union dgram_ctl *ctl, int send_ifindex)
{
    memset(ctl, 0, sizeof(*ctl));
    iov->iov_base = buf;
    iov->iov_len = len;
    *msg = (struct msghdr){
        .msg_name = sin,
        .msg_namelen = sizeof(*sin),
        .msg_iov = iov,
        .msg_iovlen = 1,
        .msg_control = ctl->buf,
        .msg_controllen = send_ifindex ? CMSG_SPACE(sizeof(struct in_pktinfo)) : sizeof(ctl->buf),
    };
    if (send_ifindex) {
        struct cmsghdr *cm = CMSG_FIRSTHDR(msg);
        cm->cmsg_level = IPPROTO_IP;
        cm->cmsg_type = IP_PKTINFO;
        cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
        struct in_pktinfo pi = {.ipi_ifindex = send_ifindex};
        memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
    }
}

/* The IP_PKTINFO of a received datagram into *out: true when it came. */
static bool dgram_pktinfo(struct msghdr *msg, struct in_pktinfo *out)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm))
        if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
            memcpy(out, CMSG_DATA(cm), sizeof(*out));
            return true;
        }
    return false;
}

/* Send r out of the served interface: IP_PKTINFO names it, so that the
 * limited broadcast leaves there whatever the routes say; a unicast to a
 * client without an address first tells the neighbour cache its MAC. */
static void send_reply(struct dhcpd *d, struct dhcpd_reply *r)
{
    struct in_addr dst = {.s_addr = htonl(r->dst)};
    if (r->to_mac && ns_neigh_set(d->st, d->ifindex, AF_INET, &dst, r->mac) < 0) {
        d->srv.stats.tx_errors++;
        return;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(r->dport), .sin_addr = dst};
    union dgram_ctl ctl;
    struct iovec iov;
    struct msghdr msg;
    dgram_msg(&msg, &iov, &to, r->buf, r->len, &ctl, d->ifindex);
    if (ns_sendmsg(d->st, d->fd, &msg, 0) < 0)
        d->srv.stats.tx_errors++;
}

int dhcpd_service(struct dhcpd *d)
{
    int n = 0;
    for (;;) {
        uint8_t buf[1500];
        union dgram_ctl ctl;
        struct sockaddr_in from;
        struct iovec iov;
        struct msghdr msg;
        dgram_msg(&msg, &iov, &from, buf, sizeof(buf), &ctl, 0);
        ssize_t len = ns_recvmsg(d->st, d->fd, &msg, 0);
        if (len < 0)
            return n; /* EAGAIN: all read */
        n++;
        struct in_pktinfo pi;
        if (!dgram_pktinfo(&msg, &pi) || pi.ipi_ifindex != d->ifindex) {
            d->srv.stats.drop_other_iface++;
            continue;
        }
        struct dhcpd_reply r;
        /* A datagram longer than buf was cut (MSG_TRUNC): parse what came. */
        size_t got = (size_t)len < sizeof(buf) ? (size_t)len : sizeof(buf);
        if (dhcpd_server_input(&d->srv, buf, got, ns_stack_now(d->st), &r) == 1)
            send_reply(d, &r);
    }
}

void dhcpd_free(struct dhcpd *d)
{
    if (!d)
        return;
    ns_close(d->st, d->fd);
    dhcpd_server_destroy(&d->srv);
    free(d);
}

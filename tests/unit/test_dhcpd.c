/* tests/unit/test_dhcpd.c — the DHCP server's wire code and logic
 * (tools/dhcpd.c) without a network: messages are built here byte by byte
 * (as RFC 2131 §2 lays them out, independently of dhcp_emit) and the
 * replies read back with dhcp_parse and by offset.
 *
 * Checked: the slirp4netns defaults for 10.0.2.0/24; configuration checks
 * and --dhcp-server's KEY=VALUE parser; parse of every kept option, option
 * overload (52) into file and sname, first occurrence wins, and each
 * malformed form refused with its reason; emit's layout and padding; the
 * exchange DISCOVER/OFFER/REQUEST/ACK with every option of the reply;
 * where replies go (RFC 2131 §4.1: broadcast bit, ciaddr, chaddr, relay,
 * NAK); REQUEST for another server, wrong address, INIT-REBOOT on and off
 * the network, RENEWING; RELEASE, DECLINE (the address held back), INFORM;
 * the pool full (no offer, counted) and leases expiring; random and
 * mutated messages only ever counted, never crashing.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "../../tools/dhcpd.c"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define SEC 1000000ull

/* ---- a client's messages, by hand ---- */

struct msg {
    uint8_t b[600];
    size_t len;
};

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* A BOOTREQUEST from MAC 02:00:00:00:00:mac_last with DHCP type `type`;
 * options follow through opt(). */
static void msg_start(struct msg *m, uint8_t type, uint32_t xid, uint8_t mac_last, uint16_t flags,
                      uint32_t ciaddr)
{
    memset(m, 0, sizeof(*m));
    m->b[0] = 1;
    m->b[1] = 1;
    m->b[2] = 6;
    put32(m->b + 4, xid);
    m->b[10] = (uint8_t)(flags >> 8);
    m->b[11] = (uint8_t)flags;
    put32(m->b + 12, ciaddr);
    m->b[28] = 0x02;
    m->b[33] = mac_last;
    put32(m->b + 236, 0x63825363u);
    m->len = 240;
    if (type) {
        m->b[m->len++] = 53;
        m->b[m->len++] = 1;
        m->b[m->len++] = type;
    }
}

static void opt(struct msg *m, uint8_t code, const void *v, uint8_t len)
{
    m->b[m->len++] = code;
    m->b[m->len++] = len;
    memcpy(m->b + m->len, v, len);
    m->len += len;
}

static void opt32(struct msg *m, uint8_t code, uint32_t v)
{
    uint8_t b[4];
    put32(b, v);
    opt(m, code, b, 4);
}

static void msg_end(struct msg *m)
{
    m->b[m->len++] = 255;
    while (m->len < 300)
        m->b[m->len++] = 0;
}

/* ---- the server ---- */

static void server_up(struct dhcpd_server *s, unsigned pool)
{
    struct dhcpd_config c;
    dhcpd_config_default(&c, IP(10, 0, 2, 0), 24);
    c.pool_size = pool;
    c.mtu = 1500;
    assert_int_equal(dhcpd_server_init(s, &c), 0);
}

/* Feed m; returns the reply's parse (type 0 when none came). */
static struct dhcp_msg feed(struct dhcpd_server *s, struct msg *m, uint64_t now_us,
                            struct dhcpd_reply *r)
{
    struct dhcp_msg out;
    memset(&out, 0, sizeof(out));
    memset(r, 0, sizeof(*r));
    if (dhcpd_server_input(s, m->b, m->len, now_us, r) == 1) {
        assert_true(r->len >= DHCP_BOOTP_MIN_LEN && r->len <= DHCP_MAX_LEN - 28);
        assert_int_equal(dhcp_parse(r->buf, r->len, &out), 0);
    }
    return out;
}

/* DISCOVER then REQUEST(SELECTING): the bound address. */
static uint32_t get_lease(struct dhcpd_server *s, uint8_t mac_last, uint64_t now_us)
{
    struct msg m;
    struct dhcpd_reply r;
    msg_start(&m, DHCPDISCOVER, 100 + mac_last, mac_last, DHCP_FLAG_BROADCAST, 0);
    msg_end(&m);
    struct dhcp_msg o = feed(s, &m, now_us, &r);
    if (o.type != DHCPOFFER)
        return 0;
    msg_start(&m, DHCPREQUEST, 100 + mac_last, mac_last, DHCP_FLAG_BROADCAST, 0);
    opt32(&m, DHO_REQUESTED_IP, o.yiaddr);
    opt32(&m, DHO_SERVER_ID, IP(10, 0, 2, 2));
    msg_end(&m);
    struct dhcp_msg a = feed(s, &m, now_us, &r);
    assert_int_equal(a.type, DHCPACK);
    assert_int_equal(a.yiaddr, o.yiaddr);
    return a.yiaddr;
}

static void test_defaults_slirp(void **state)
{
    (void)state;
    struct dhcpd_config c;
    dhcpd_config_default(&c, IP(10, 0, 2, 77), 24);
    assert_int_equal(c.server, IP(10, 0, 2, 2));
    assert_int_equal(c.router, IP(10, 0, 2, 2));
    assert_int_equal(c.dns, IP(10, 0, 2, 3));
    assert_int_equal(c.mask, IP(255, 255, 255, 0));
    assert_int_equal(c.pool_first, IP(10, 0, 2, 15));
    assert_int_equal(c.pool_size, 16);
    assert_int_equal(c.lease_s, 86400);
    assert_int_equal(c.mtu, 0);
    const char *why = "x";
    assert_int_equal(dhcpd_config_check(&c, &why), 0);
    assert_null(why);
}

static void test_config_check_and_parse(void **state)
{
    (void)state;
    struct dhcpd_config c, base;
    const char *why;
    char err[200];
    dhcpd_config_default(&base, IP(192, 0, 2, 0), 24);
    c = base;
    c.pool_first = IP(192, 0, 2, 250);
    c.pool_size = 6; /* .250 - .255: the broadcast address */
    assert_int_equal(dhcpd_config_check(&c, &why), -EINVAL);
    assert_non_null(strstr(why, "broadcast"));
    c = base;
    c.pool_first = IP(192, 0, 2, 1);
    assert_int_equal(dhcpd_config_check(&c, &why), -EINVAL); /* holds .2, the server */
    c = base;
    c.pool_first = IP(198, 51, 100, 10);
    assert_int_equal(dhcpd_config_check(&c, &why), -EINVAL);
    assert_non_null(strstr(why, "network"));
    c = base;
    c.pool_size = 0;
    assert_int_equal(dhcpd_config_check(&c, &why), -EINVAL);
    c = base;
    c.mask = 0xff00ff00u;
    assert_int_equal(dhcpd_config_check(&c, &why), -EINVAL);

    c = base;
    assert_int_equal(dhcpd_config_parse("pool=192.0.2.100-192.0.2.199,router=192.0.2.1,"
                                        "dns=192.0.2.53,lease=600,mtu=1400",
                                        &c, err, sizeof(err)),
                     0);
    assert_int_equal(c.pool_first, IP(192, 0, 2, 100));
    assert_int_equal(c.pool_size, 100);
    assert_int_equal(c.router, IP(192, 0, 2, 1));
    assert_int_equal(c.dns, IP(192, 0, 2, 53));
    assert_int_equal(c.lease_s, 600);
    assert_int_equal(c.mtu, 1400);
    assert_int_equal(dhcpd_config_check(&c, NULL), 0);
    c = base;
    assert_int_equal(dhcpd_config_parse("", &c, err, sizeof(err)), 0);
    assert_memory_equal(&c, &base, sizeof(c));
    static const char *const bad[] = {
        "pool=192.0.2.100",   "pool=192.0.2.9-192.0.2.8", "router=x", "lease=0", "mtu=67",
        "mtu=70000",          "bogus=1",                  "dns",      "lease=10,", ",",
        "pool=1.2.3.4-1.2.3", "lease=-5",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = base;
        err[0] = 0;
        assert_int_equal(dhcpd_config_parse(bad[i], &c, err, sizeof(err)), -EINVAL);
        assert_true(err[0] != 0);
    }
}

static void test_parse_options(void **state)
{
    (void)state;
    struct msg m;
    msg_start(&m, DHCPREQUEST, 0x01020304, 9, 0, 0);
    opt32(&m, DHO_REQUESTED_IP, IP(10, 0, 2, 20));
    opt32(&m, DHO_SERVER_ID, IP(10, 0, 2, 2));
    opt32(&m, DHO_LEASE_TIME, 3600);
    static const uint8_t cid[] = {1, 2, 0, 0, 0, 0, 9};
    opt(&m, DHO_CLIENT_ID, cid, sizeof(cid));
    static const uint8_t prl[] = {1, 3, 6, 26};
    opt(&m, DHO_PARAMS, prl, sizeof(prl));
    static const uint8_t mx[] = {0x05, 0xdc};
    opt(&m, DHO_MAX_SIZE, mx, 2);
    static const uint8_t unknown[] = {7, 7, 7};
    opt(&m, 200, unknown, 3);           /* unknown: skipped */
    opt32(&m, DHO_REQUESTED_IP, 12345); /* again: the first counts */
    m.b[m.len++] = DHO_PAD;
    msg_end(&m);
    struct dhcp_msg d;
    assert_int_equal(dhcp_parse(m.b, m.len, &d), 0);
    assert_int_equal(d.op, 1);
    assert_int_equal(d.xid, 0x01020304);
    assert_int_equal(d.type, DHCPREQUEST);
    assert_int_equal(d.requested_ip, IP(10, 0, 2, 20));
    assert_int_equal(d.server_id, IP(10, 0, 2, 2));
    assert_int_equal(d.lease_time, 3600);
    assert_int_equal(d.max_size, 1500);
    assert_int_equal(d.client_id_len, sizeof(cid));
    assert_memory_equal(d.client_id, cid, sizeof(cid));
    assert_int_equal(d.n_params, 4);
    assert_memory_equal(d.params, prl, 4);
    assert_int_equal(d.chaddr[5], 9);

    /* Option 52: the message type in file, the server id in sname. */
    msg_start(&m, 0, 7, 9, 0, 0);
    static const uint8_t ov[] = {3};
    opt(&m, DHO_OVERLOAD, ov, 1);
    msg_end(&m);
    m.b[108] = 53, m.b[109] = 1, m.b[110] = DHCPDISCOVER, m.b[111] = 255;
    m.b[44] = 54, m.b[45] = 4, put32(m.b + 46, IP(10, 0, 2, 2)), m.b[50] = 255;
    assert_int_equal(dhcp_parse(m.b, m.len, &d), 0);
    assert_int_equal(d.type, DHCPDISCOVER);
    assert_int_equal(d.server_id, IP(10, 0, 2, 2));
    /* Without option 52 the same file and sname are not options. */
    msg_start(&m, 0, 7, 9, 0, 0);
    msg_end(&m);
    m.b[108] = 53, m.b[109] = 1, m.b[110] = DHCPDISCOVER;
    assert_int_equal(dhcp_parse(m.b, m.len, &d), 0);
    assert_int_equal(d.type, 0);
    /* No END at all, options to the last byte: taken. */
    msg_start(&m, DHCPDISCOVER, 1, 1, 0, 0);
    assert_int_equal(dhcp_parse(m.b, m.len, &d), 0);
    assert_int_equal(d.type, DHCPDISCOVER);
}

static void test_parse_malformed(void **state)
{
    (void)state;
    struct msg m;
    struct dhcp_msg d;
    msg_start(&m, DHCPDISCOVER, 1, 1, 0, 0);
    msg_end(&m);
    assert_int_equal(dhcp_parse(m.b, 239, &d), -DHCP_E_SHORT);
    assert_int_equal(dhcp_parse(m.b, 0, &d), -DHCP_E_SHORT);
    m.b[236] ^= 1;
    assert_int_equal(dhcp_parse(m.b, m.len, &d), -DHCP_E_COOKIE);
    m.b[236] ^= 1;
    m.b[2] = 17;
    assert_int_equal(dhcp_parse(m.b, m.len, &d), -DHCP_E_HLEN);

    /* An option whose length runs past the end; a code with no length. */
    msg_start(&m, DHCPDISCOVER, 1, 1, 0, 0);
    m.b[m.len++] = 61;
    m.b[m.len++] = 40;
    memset(m.b + m.len, 1, 10);
    assert_int_equal(dhcp_parse(m.b, m.len + 10, &d), -DHCP_E_OPTION);
    msg_start(&m, DHCPDISCOVER, 1, 1, 0, 0);
    m.b[m.len++] = 50;
    assert_int_equal(dhcp_parse(m.b, m.len, &d), -DHCP_E_OPTION);

    /* Wrong lengths for fixed-size options. */
    static const struct {
        uint8_t code, len;
        int want;
    } bad[] = {
        {DHO_MSG_TYPE, 2, -DHCP_E_BAD_VALUE},   {DHO_REQUESTED_IP, 3, -DHCP_E_BAD_VALUE},
        {DHO_SERVER_ID, 5, -DHCP_E_BAD_VALUE},  {DHO_LEASE_TIME, 0, -DHCP_E_BAD_VALUE},
        {DHO_MAX_SIZE, 4, -DHCP_E_BAD_VALUE},   {DHO_OVERLOAD, 2, -DHCP_E_BAD_VALUE},
        {DHO_CLIENT_ID, 1, -DHCP_E_CLIENT_ID},  {DHO_CLIENT_ID, 65, -DHCP_E_CLIENT_ID},
    };
    uint8_t zeros[80] = {0};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        msg_start(&m, 0, 1, 1, 0, 0);
        opt(&m, bad[i].code, zeros, bad[i].len);
        msg_end(&m);
        assert_int_equal(dhcp_parse(m.b, m.len, &d), bad[i].want);
    }
    /* Overload value out of range; option 52 again inside file is
     * ignored (only the options field says what is overloaded). */
    msg_start(&m, 0, 1, 1, 0, 0);
    static const uint8_t four[] = {4};
    opt(&m, DHO_OVERLOAD, four, 1);
    msg_end(&m);
    assert_int_equal(dhcp_parse(m.b, m.len, &d), -DHCP_E_BAD_VALUE);
    msg_start(&m, 0, 1, 1, 0, 0);
    static const uint8_t one[] = {1};
    opt(&m, DHO_OVERLOAD, one, 1);
    msg_end(&m);
    m.b[108] = 52, m.b[109] = 1, m.b[110] = 2, m.b[111] = 53, m.b[112] = 1, m.b[113] = 3;
    m.b[44] = 53, m.b[45] = 1, m.b[46] = 1; /* sname: not read (52 in file is ignored) */
    assert_int_equal(dhcp_parse(m.b, m.len, &d), 0);
    assert_int_equal(d.type, DHCPREQUEST);
}

static void test_emit_layout(void **state)
{
    (void)state;
    struct dhcp_msg h = {.op = 2, .htype = 1, .hlen = 6, .xid = 0xdeadbeef, .flags = 0x8000,
                         .yiaddr = IP(10, 0, 2, 15), .giaddr = IP(192, 0, 2, 9)};
    h.chaddr[0] = 0x52;
    struct dhcp_reply_opts o = {.type = DHCPOFFER, .server_id = IP(10, 0, 2, 2), .lease_s = 1000,
                                .mask = IP(255, 255, 255, 0), .router = IP(10, 0, 2, 2),
                                .dns = IP(10, 0, 2, 3), .mtu = 1400};
    uint8_t buf[DHCP_MAX_LEN];
    assert_int_equal(dhcp_emit(&h, &o, buf, 100), 0); /* too small: refused */
    size_t len = dhcp_emit(&h, &o, buf, sizeof(buf));
    assert_int_equal(len, DHCP_BOOTP_MIN_LEN);
    assert_int_equal(buf[0], 2);
    assert_int_equal(rd32(buf + 4), 0xdeadbeef);
    assert_int_equal(rd16(buf + 10), 0x8000);
    assert_int_equal(rd32(buf + 16), IP(10, 0, 2, 15));
    assert_int_equal(rd32(buf + 24), IP(192, 0, 2, 9));
    assert_int_equal(buf[28], 0x52);
    assert_int_equal(rd32(buf + 236), DHCP_MAGIC);
    /* The options in order, END, then zeros. */
    static const uint8_t want[] = {
        53, 1, 2, 54, 4, 10, 0, 2, 2, 51, 4, 0, 0, 3, 232, 58, 4, 0, 0, 1, 244, 59, 4, 0, 0,
        3, 107, 1, 4, 255, 255, 255, 0, 3, 4, 10, 0, 2, 2, 6, 4, 10, 0, 2, 3, 26, 2, 5, 120, 255,
    };
    assert_memory_equal(buf + 240, want, sizeof(want));
    for (size_t i = 240 + sizeof(want); i < len; i++)
        assert_int_equal(buf[i], 0);
}

static void test_exchange(void **state)
{
    (void)state;
    struct dhcpd_server s;
    server_up(&s, 16);
    struct msg m;
    struct dhcpd_reply r;
    msg_start(&m, DHCPDISCOVER, 42, 1, DHCP_FLAG_BROADCAST, 0);
    static const uint8_t prl[] = {1, 3, 6, 26};
    opt(&m, DHO_PARAMS, prl, sizeof(prl));
    msg_end(&m);
    struct dhcp_msg o = feed(&s, &m, 0, &r);
    assert_int_equal(o.type, DHCPOFFER);
    assert_int_equal(o.op, 2);
    assert_int_equal(o.xid, 42);
    assert_int_equal(o.yiaddr, IP(10, 0, 2, 15)); /* libslirp's first */
    assert_int_equal(o.ciaddr, 0);
    assert_int_equal(o.server_id, IP(10, 0, 2, 2));
    assert_int_equal(o.lease_time, 86400);
    assert_int_equal(o.chaddr[5], 1);
    assert_int_equal(r.dst, 0xffffffffu);
    assert_int_equal(r.dport, 68);
    assert_false(r.to_mac);
    /* Every option of the offer, read by offset. */
    assert_int_equal(rd32(r.buf + 240 + 3 + 6 + 18 + 2), IP(255, 255, 255, 0));
    struct dhcp_msg full;
    assert_int_equal(dhcp_parse(r.buf, r.len, &full), 0);
    bool seen_mask = false, seen_router = false, seen_dns = false, seen_mtu = false;
    for (size_t i = 240; i < r.len && r.buf[i] != 255; i += 2u + r.buf[i + 1]) {
        uint8_t c = r.buf[i];
        if (c == 1)
            seen_mask = rd32(r.buf + i + 2) == IP(255, 255, 255, 0);
        if (c == 3)
            seen_router = rd32(r.buf + i + 2) == IP(10, 0, 2, 2);
        if (c == 6)
            seen_dns = rd32(r.buf + i + 2) == IP(10, 0, 2, 3);
        if (c == 26)
            seen_mtu = rd16(r.buf + i + 2) == 1500;
    }
    assert_true(seen_mask && seen_router && seen_dns && seen_mtu);
    assert_int_equal(s.leases[0].state, DHCPD_OFFERED);

    /* A second DISCOVER from the same client: the same address. */
    o = feed(&s, &m, SEC, &r);
    assert_int_equal(o.yiaddr, IP(10, 0, 2, 15));
    /* REQUEST without the broadcast bit, no ciaddr: unicast to chaddr. */
    msg_start(&m, DHCPREQUEST, 42, 1, 0, 0);
    opt32(&m, DHO_REQUESTED_IP, IP(10, 0, 2, 15));
    opt32(&m, DHO_SERVER_ID, IP(10, 0, 2, 2));
    msg_end(&m);
    struct dhcp_msg a = feed(&s, &m, 2 * SEC, &r);
    assert_int_equal(a.type, DHCPACK);
    assert_int_equal(a.yiaddr, IP(10, 0, 2, 15));
    assert_int_equal(a.lease_time, 86400);
    assert_true(r.to_mac);
    assert_int_equal(r.dst, IP(10, 0, 2, 15));
    assert_int_equal(r.mac[0], 0x02);
    assert_int_equal(r.mac[5], 1);
    assert_int_equal(s.leases[0].state, DHCPD_BOUND);
    assert_int_equal(s.leases[0].expires_us, 2 * SEC + 86400 * SEC);
    /* Another client gets the next address. */
    assert_int_equal(get_lease(&s, 2, 3 * SEC), IP(10, 0, 2, 16));
    assert_int_equal(s.stats.offers, 3);
    assert_int_equal(s.stats.acks, 2);
    assert_int_equal(s.stats.naks, 0);

    /* RENEWING: ciaddr, no server id, no requested IP: ACK to ciaddr. */
    msg_start(&m, DHCPREQUEST, 43, 1, 0, IP(10, 0, 2, 15));
    msg_end(&m);
    a = feed(&s, &m, 100 * SEC, &r);
    assert_int_equal(a.type, DHCPACK);
    assert_int_equal(a.ciaddr, IP(10, 0, 2, 15));
    assert_int_equal(r.dst, IP(10, 0, 2, 15));
    assert_false(r.to_mac);
    assert_int_equal(s.leases[0].expires_us, 100 * SEC + 86400 * SEC);
    /* Renewing someone else's address: NAK, broadcast. */
    msg_start(&m, DHCPREQUEST, 44, 1, 0, IP(10, 0, 2, 16));
    msg_end(&m);
    a = feed(&s, &m, 100 * SEC, &r);
    assert_int_equal(a.type, DHCPNAK);
    assert_int_equal(a.yiaddr, 0);
    assert_int_equal(a.lease_time, 0);
    assert_int_equal(r.dst, 0xffffffffu);
    dhcpd_server_destroy(&s);
}

static void test_request_cases(void **state)
{
    (void)state;
    struct dhcpd_server s;
    server_up(&s, 16);
    struct msg m;
    struct dhcpd_reply r;
    msg_start(&m, DHCPDISCOVER, 1, 1, 0, 0);
    msg_end(&m);
    struct dhcp_msg o = feed(&s, &m, 0, &r);
    assert_int_equal(o.type, DHCPOFFER);
    assert_true(r.to_mac); /* no broadcast bit, no ciaddr */

    /* SELECTING another server: silent, our offer freed. */
    msg_start(&m, DHCPREQUEST, 1, 1, 0, 0);
    opt32(&m, DHO_REQUESTED_IP, o.yiaddr);
    opt32(&m, DHO_SERVER_ID, IP(10, 0, 2, 200));
    msg_end(&m);
    o = feed(&s, &m, 0, &r);
    assert_int_equal(o.type, 0);
    assert_int_equal(s.stats.drop_other_server, 1);
    assert_int_equal(s.leases[0].state, DHCPD_FREE);

    /* SELECTING us for an address we did not offer it: NAK. */
    msg_start(&m, DHCPREQUEST, 1, 1, 0, 0);
    opt32(&m, DHO_REQUESTED_IP, IP(10, 0, 2, 20));
    opt32(&m, DHO_SERVER_ID, IP(10, 0, 2, 2));
    msg_end(&m);
    assert_int_equal(feed(&s, &m, 0, &r).type, DHCPNAK);

    /* INIT-REBOOT: a free pool address is given (authoritative). */
    msg_start(&m, DHCPREQUEST, 2, 3, 0, 0);
    opt32(&m, DHO_REQUESTED_IP, IP(10, 0, 2, 25));
    msg_end(&m);
    struct dhcp_msg a = feed(&s, &m, 0, &r);
    assert_int_equal(a.type, DHCPACK);
    assert_int_equal(a.yiaddr, IP(10, 0, 2, 25));
    /* The same client moving to another address gives up the first. */
    msg_start(&m, DHCPREQUEST, 2, 3, 0, 0);
    opt32(&m, DHO_REQUESTED_IP, IP(10, 0, 2, 26));
    msg_end(&m);
    assert_int_equal(feed(&s, &m, 0, &r).yiaddr, IP(10, 0, 2, 26));
    assert_int_equal(s.leases[10].state, DHCPD_FREE);
    assert_int_equal(s.leases[10].key_len, 0);
    assert_int_equal(s.leases[11].state, DHCPD_BOUND);
    msg_start(&m, DHCPREQUEST, 2, 3, 0, 0);
    opt32(&m, DHO_REQUESTED_IP, IP(10, 0, 2, 25));
    msg_end(&m);
    assert_int_equal(feed(&s, &m, 0, &r).yiaddr, IP(10, 0, 2, 25));
    /* ... but not to another client, nor an address off the pool. */
    msg_start(&m, DHCPREQUEST, 3, 4, 0, 0);
    opt32(&m, DHO_REQUESTED_IP, IP(10, 0, 2, 25));
    msg_end(&m);
    assert_int_equal(feed(&s, &m, 0, &r).type, DHCPNAK);
    msg_start(&m, DHCPREQUEST, 3, 4, 0, 0);
    opt32(&m, DHO_REQUESTED_IP, IP(192, 0, 2, 25));
    msg_end(&m);
    assert_int_equal(feed(&s, &m, 0, &r).type, DHCPNAK);
    assert_int_equal(r.dst, 0xffffffffu);
    /* A REQUEST with neither: NAK. */
    msg_start(&m, DHCPREQUEST, 3, 4, 0, 0);
    msg_end(&m);
    assert_int_equal(feed(&s, &m, 0, &r).type, DHCPNAK);

    /* Client identifier (61) names the client, not chaddr. */
    msg_start(&m, DHCPDISCOVER, 9, 5, DHCP_FLAG_BROADCAST, 0);
    static const uint8_t cid[] = {0, 'v', 'm', '1'};
    opt(&m, DHO_CLIENT_ID, cid, sizeof(cid));
    msg_end(&m);
    o = feed(&s, &m, 0, &r);
    msg_start(&m, DHCPDISCOVER, 9, 6, DHCP_FLAG_BROADCAST, 0); /* another MAC, same id */
    opt(&m, DHO_CLIENT_ID, cid, sizeof(cid));
    msg_end(&m);
    assert_int_equal(feed(&s, &m, 0, &r).yiaddr, o.yiaddr);

    /* Through a relay: to giaddr's port 67; its NAK with the broadcast bit. */
    msg_start(&m, DHCPDISCOVER, 10, 7, 0, 0);
    msg_end(&m);
    put32(m.b + 24, IP(10, 0, 2, 1));
    o = feed(&s, &m, 0, &r);
    assert_int_equal(o.giaddr, IP(10, 0, 2, 1));
    assert_int_equal(r.dst, IP(10, 0, 2, 1));
    assert_int_equal(r.dport, 67);
    msg_start(&m, DHCPREQUEST, 10, 7, 0, 0);
    msg_end(&m);
    put32(m.b + 24, IP(10, 0, 2, 1));
    a = feed(&s, &m, 0, &r);
    assert_int_equal(a.type, DHCPNAK);
    assert_int_equal(a.flags & DHCP_FLAG_BROADCAST, DHCP_FLAG_BROADCAST);
    assert_int_equal(r.dport, 67);
    dhcpd_server_destroy(&s);
}

static void test_release_decline_inform(void **state)
{
    (void)state;
    struct dhcpd_server s;
    server_up(&s, 2);
    struct msg m;
    struct dhcpd_reply r;
    uint32_t a1 = get_lease(&s, 1, 0);
    assert_int_equal(a1, IP(10, 0, 2, 15));
    /* RELEASE naming another server: ignored. */
    msg_start(&m, DHCPRELEASE, 5, 1, 0, a1);
    opt32(&m, DHO_SERVER_ID, IP(10, 0, 2, 9));
    msg_end(&m);
    assert_int_equal(dhcpd_server_input(&s, m.b, m.len, SEC, &r), 0);
    assert_int_equal(s.leases[0].state, DHCPD_BOUND);
    /* RELEASE from another client: ignored. */
    msg_start(&m, DHCPRELEASE, 5, 9, 0, a1);
    opt32(&m, DHO_SERVER_ID, IP(10, 0, 2, 2));
    msg_end(&m);
    assert_int_equal(dhcpd_server_input(&s, m.b, m.len, SEC, &r), 0);
    assert_int_equal(s.leases[0].state, DHCPD_BOUND);
    /* Its own: freed, and the client gets it back next time. */
    msg_start(&m, DHCPRELEASE, 5, 1, 0, a1);
    opt32(&m, DHO_SERVER_ID, IP(10, 0, 2, 2));
    msg_end(&m);
    assert_int_equal(dhcpd_server_input(&s, m.b, m.len, SEC, &r), 0);
    assert_int_equal(s.leases[0].state, DHCPD_FREE);
    assert_int_equal(s.stats.released, 1);
    assert_int_equal(get_lease(&s, 2, SEC), IP(10, 0, 2, 16)); /* .15 remembered for client 1 */
    assert_int_equal(get_lease(&s, 1, SEC), a1);

    /* DECLINE: .15 is in use by someone else; held back. */
    msg_start(&m, DHCPDECLINE, 6, 1, 0, 0);
    opt32(&m, DHO_REQUESTED_IP, a1);
    opt32(&m, DHO_SERVER_ID, IP(10, 0, 2, 2));
    msg_end(&m);
    assert_int_equal(dhcpd_server_input(&s, m.b, m.len, 2 * SEC, &r), 0);
    assert_int_equal(s.leases[0].state, DHCPD_DECLINED);
    assert_int_equal(s.stats.declined, 1);
    /* The pool (2) is now full: .15 declined, .16 bound. No offer, counted. */
    msg_start(&m, DHCPDISCOVER, 7, 3, DHCP_FLAG_BROADCAST, 0);
    msg_end(&m);
    assert_int_equal(feed(&s, &m, 3 * SEC, &r).type, 0);
    assert_int_equal(s.stats.no_address, 1);
    msg_start(&m, DHCPDISCOVER, 7, 1, DHCP_FLAG_BROADCAST, 0); /* the decliner too */
    msg_end(&m);
    assert_int_equal(feed(&s, &m, 3 * SEC, &r).type, 0);
    assert_int_equal(s.stats.no_address, 2);
    /* After decline_hold (10 min) .15 comes back. */
    msg_start(&m, DHCPDISCOVER, 7, 3, DHCP_FLAG_BROADCAST, 0);
    msg_end(&m);
    struct dhcp_msg o = feed(&s, &m, 2 * SEC + 600 * SEC, &r);
    assert_int_equal(o.type, DHCPOFFER);
    assert_int_equal(o.yiaddr, a1);

    /* INFORM: an ACK with the configuration but no address nor lease, to ciaddr. */
    msg_start(&m, DHCPINFORM, 8, 4, 0, IP(10, 0, 2, 100));
    msg_end(&m);
    o = feed(&s, &m, 700 * SEC, &r);
    assert_int_equal(o.type, DHCPACK);
    assert_int_equal(o.yiaddr, 0);
    assert_int_equal(o.lease_time, 0);
    assert_int_equal(o.server_id, IP(10, 0, 2, 2));
    assert_int_equal(r.dst, IP(10, 0, 2, 100));
    assert_int_equal(s.stats.rx_inform, 1);
    dhcpd_server_destroy(&s);
}

static void test_expiry(void **state)
{
    (void)state;
    struct dhcpd_server s;
    server_up(&s, 1);
    s.cfg.lease_s = 10;
    struct msg m;
    struct dhcpd_reply r;
    /* An offer not taken is free again after offer_hold (60 s). */
    msg_start(&m, DHCPDISCOVER, 1, 1, DHCP_FLAG_BROADCAST, 0);
    msg_end(&m);
    assert_int_equal(feed(&s, &m, 0, &r).type, DHCPOFFER);
    msg_start(&m, DHCPDISCOVER, 2, 2, DHCP_FLAG_BROADCAST, 0);
    msg_end(&m);
    assert_int_equal(feed(&s, &m, 59 * SEC, &r).type, 0);
    assert_int_equal(feed(&s, &m, 60 * SEC, &r).type, DHCPOFFER);
    /* A lease of 10 s: bound, then another client gets it once it ran out. */
    assert_int_equal(get_lease(&s, 2, 61 * SEC), IP(10, 0, 2, 15));
    msg_start(&m, DHCPDISCOVER, 3, 3, DHCP_FLAG_BROADCAST, 0);
    msg_end(&m);
    assert_int_equal(feed(&s, &m, 70 * SEC, &r).type, 0);
    assert_int_equal(feed(&s, &m, 71 * SEC, &r).type, DHCPOFFER);
    dhcpd_server_destroy(&s);
}

static void test_drops_counted(void **state)
{
    (void)state;
    struct dhcpd_server s;
    server_up(&s, 16);
    struct msg m;
    struct dhcpd_reply r;
    msg_start(&m, DHCPDISCOVER, 1, 1, 0, 0);
    msg_end(&m);
    m.b[0] = 2; /* a BOOTREPLY */
    assert_int_equal(dhcpd_server_input(&s, m.b, m.len, 0, &r), 0);
    assert_int_equal(s.stats.drop_not_request, 1);
    m.b[0] = 1;
    m.b[1] = 6; /* IEEE 802 */
    assert_int_equal(dhcpd_server_input(&s, m.b, m.len, 0, &r), 0);
    assert_int_equal(s.stats.drop_not_request, 2);
    msg_start(&m, 0, 1, 1, 0, 0); /* BOOTP: no type */
    msg_end(&m);
    assert_int_equal(dhcpd_server_input(&s, m.b, m.len, 0, &r), 0);
    assert_int_equal(s.stats.drop_bootp, 1);
    m.b[236] = 0;
    assert_int_equal(dhcpd_server_input(&s, m.b, m.len, 0, &r), 0);
    assert_int_equal(s.stats.drop_bootp, 2);
    msg_start(&m, DHCPOFFER, 1, 1, 0, 0);
    msg_end(&m);
    assert_int_equal(dhcpd_server_input(&s, m.b, m.len, 0, &r), 0);
    msg_start(&m, 99, 1, 1, 0, 0);
    msg_end(&m);
    assert_int_equal(dhcpd_server_input(&s, m.b, m.len, 0, &r), 0);
    assert_int_equal(s.stats.drop_bad_type, 2);
    assert_int_equal(dhcpd_server_input(&s, m.b, 100, 0, &r), 0);
    assert_int_equal(s.stats.drop_malformed, 1);
    assert_int_equal(s.stats.rx, 7);
    assert_int_equal(s.stats.offers + s.stats.acks + s.stats.naks, 0);
    dhcpd_server_destroy(&s);
}

/* Random bytes, and valid messages with random bytes changed: every one
 * is counted once as received, and each either answered or dropped. */
static void test_random_input(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(2131), x = seed | 1;
    struct dhcpd_server s;
    server_up(&s, 8);
    struct dhcpd_reply r;
    uint8_t buf[700];
    for (unsigned i = 0; i < 20000; i++) {
        size_t len;
        if (i % 2) {
            struct msg m;
            msg_start(&m, (uint8_t)(1 + i % 8), (uint32_t)i, (uint8_t)(i % 11), 0, 0);
            opt32(&m, DHO_REQUESTED_IP, IP(10, 0, 2, 15 + i % 9));
            opt32(&m, DHO_SERVER_ID, IP(10, 0, 2, 2));
            msg_end(&m);
            memcpy(buf, m.b, m.len);
            len = m.len;
            for (unsigned k = 0; k < 1 + i % 4; k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                buf[240 + x % (len - 240)] = (uint8_t)(x >> 24);
            }
        } else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            len = x % sizeof(buf);
            for (size_t k = 0; k < len; k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                buf[k] = (uint8_t)x;
            }
            if (len >= 240)
                put32(buf + 236, DHCP_MAGIC);
        }
        int rc = dhcpd_server_input(&s, buf, len, (uint64_t)i * 1000, &r);
        NS_ASSERT_SEED(rc == 0 || rc == 1);
        if (rc == 1) {
            struct dhcp_msg d;
            NS_ASSERT_SEED(dhcp_parse(r.buf, r.len, &d) == 0);
        }
    }
    const struct dhcpd_stats *st = &s.stats;
    assert_int_equal(st->rx, 20000);
    uint64_t handled = st->drop_malformed + st->drop_bootp + st->drop_not_request +
                       st->drop_bad_type + st->rx_discover + st->rx_request + st->rx_decline +
                       st->rx_release + st->rx_inform;
    assert_int_equal(handled, st->rx);
    assert_true(st->drop_malformed > 0 && st->offers > 0 && st->acks + st->naks > 0);
    dhcpd_server_destroy(&s);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_slirp),
        cmocka_unit_test(test_config_check_and_parse),
        cmocka_unit_test(test_parse_options),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_emit_layout),
        cmocka_unit_test(test_exchange),
        cmocka_unit_test(test_request_cases),
        cmocka_unit_test(test_release_decline_inform),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_drops_counted),
        cmocka_unit_test(test_random_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

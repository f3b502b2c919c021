/* tests/fuzz/fuzz_dhcp.c — libFuzzer target for the DHCP server
 * (tools/dhcpd.c): each input is a sequence of messages (2-byte
 * big-endian length, then that many bytes) fed to one server with a small
 * pool, one second apart, so that state carries from message to message
 * (offers, bindings, declines, expiry). Checked on every message: the
 * server answers at most once, a reply parses back, fits 548 bytes, says
 * BOOTREPLY with the request's xid and goes to an address its rules allow;
 * every message received is counted exactly once; the lease table never
 * holds a bound address twice for one client.
 *
 * Seeds: tests/fuzz/corpus/fuzz_dhcp (a DISCOVER, a REQUEST, and both in
 * a row). Run: make fuzz, or build-test/tests/fuzz_dhcp -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/dhcpd.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c))                                                              \
            abort();                                                           \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dhcpd_config c;
    dhcpd_config_default(&c, 0x0a000200u, 24);
    c.pool_size = 4;
    c.lease_s = 5;
    c.mtu = 1500;
    struct dhcpd_server s;
    CHECK(dhcpd_server_init(&s, &c) == 0);
    static struct dhcpd_reply r;
    uint64_t now = 0, n = 0;
    size_t off = 0;
    while (off + 2 <= size) {
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (len > size - off)
            len = size - off;
        /* An exact copy, so that a read past len is ASan's to see. */
        uint8_t *msg = malloc(len ? len : 1);
        CHECK(msg);
        memcpy(msg, data + off, len);
        off += len;
        int rc = dhcpd_server_input(&s, msg, len, now, &r);
        n++;
        CHECK(rc == 0 || rc == 1);
        CHECK(s.stats.rx == n);
        if (rc == 1) {
            struct dhcp_msg req, rep;
            CHECK(dhcp_parse(msg, len, &req) == 0);
            CHECK(dhcp_parse(r.buf, r.len, &rep) == 0);
            CHECK(r.len >= DHCP_BOOTP_MIN_LEN && r.len <= DHCP_MAX_LEN - 28);
            CHECK(rep.op == 2 && rep.xid == req.xid);
            CHECK(rep.type == DHCPOFFER || rep.type == DHCPACK || rep.type == DHCPNAK);
            CHECK(rep.server_id == c.server);
            /* RFC 2131 §4.1: a relay, the broadcast, ciaddr or yiaddr. */
            CHECK(r.dst == req.giaddr || r.dst == 0xffffffffu || r.dst == req.ciaddr ||
                  (r.to_mac && r.dst == rep.yiaddr));
            if (rep.yiaddr)
                CHECK(in_pool(&c, rep.yiaddr));
        }
        free(msg);
        /* One client never holds two addresses. */
        for (unsigned i = 0; i < c.pool_size; i++)
            for (unsigned j = i + 1; j < c.pool_size; j++) {
                const struct dhcpd_lease *x = &s.leases[i], *y = &s.leases[j];
                bool held = x->state == DHCPD_BOUND || x->state == DHCPD_OFFERED;
                bool held2 = y->state == DHCPD_BOUND || y->state == DHCPD_OFFERED;
                CHECK(!(held && held2 && x->key_len == y->key_len &&
                        !memcmp(x->key, y->key, x->key_len)));
            }
        now += 1000000;
    }
    const struct dhcpd_stats *st = &s.stats;
    CHECK(st->drop_malformed + st->drop_bootp + st->drop_not_request + st->drop_bad_type +
              st->rx_discover + st->rx_request + st->rx_decline + st->rx_release +
              st->rx_inform ==
          st->rx);
    dhcpd_server_destroy(&s);
    return 0;
}

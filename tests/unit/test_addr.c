/* tests/unit/test_addr.c — the address type and the flow key (base/addr.h):
 * the IPv4-mapped form and the conversions, equality across families,
 * wildcards, the pseudo-header checksum by family, and the keyed flow
 * hash TCP's connection table uses: it depends on the stack's secret, so
 * flows chosen to share one bucket of an unkeyed hash (the one the table
 * used before) spread out. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "base/addr.h"
#include "base/siphash.h"
#include "netsock/netsock.h"
#include "tcp/tcp.h"
#include "wire/bytes.h"
#include "wire/ipv6.h"

static void test_addr_ip4_mapped_form(void **state)
{
    (void)state;
    struct ns_addr a = ns_addr_ip4(0xc0000201u); /* 192.0.2.1 */
    static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
    assert_int_equal(a.family, AF_INET);
    assert_int_equal(a.zero, 0);
    assert_memory_equal(a.u.b, mapped, 16);
    assert_int_equal(ns_addr_to_ip4(&a), 0xc0000201u);
    struct in_addr in;
    inet_pton(AF_INET, "192.0.2.1", &in);
    struct ns_addr b = ns_addr_from_in(in);
    assert_true(ns_addr_eq(&a, &b));
    assert_int_equal(ns_addr_to_in(&b).s_addr, in.s_addr);
    char buf[48];
    assert_string_equal(ns_addr_ntop(&a, buf), "192.0.2.1");
    /* The same 16 bytes as AF_INET6 are another address. */
    struct in6_addr in6;
    memcpy(&in6, mapped, 16);
    struct ns_addr m6 = ns_addr_from_in6(&in6);
    assert_memory_equal(m6.u.b, a.u.b, 16);
    assert_false(ns_addr_eq(&a, &m6));
    struct in6_addr back;
    ns_addr_to_in6(&m6, &back);
    assert_memory_equal(&back, &in6, 16);
    /* An IPv6 address has no IPv4 value. */
    inet_pton(AF_INET6, "2001:db8::1", &in6);
    struct ns_addr v6 = ns_addr_from_in6(&in6);
    assert_int_equal(ns_addr_to_ip4(&v6), 0);
    assert_string_equal(ns_addr_ntop(&v6, buf), "2001:db8::1");
}

static void test_addr_wildcards(void **state)
{
    (void)state;
    struct ns_addr any4 = ns_addr_any(AF_INET), any6 = ns_addr_any(AF_INET6), none = {0};
    assert_true(ns_addr_is_any(&any4));
    assert_true(ns_addr_is_any(&any6));
    assert_true(ns_addr_is_any(&none));
    assert_false(ns_addr_eq(&any4, &any6));
    assert_false(ns_addr_eq(&any4, &none));
    struct ns_addr zero4 = ns_addr_ip4(INADDR_ANY), lo = ns_addr_ip4(INADDR_LOOPBACK);
    assert_true(ns_addr_eq(&any4, &zero4));
    assert_false(ns_addr_is_any(&lo));
    struct in6_addr in6;
    inet_pton(AF_INET6, "::1", &in6);
    struct ns_addr lo6 = ns_addr_from_in6(&in6);
    assert_false(ns_addr_is_any(&lo6));
}

static void test_flow_eq(void **state)
{
    (void)state;
    struct ns_flow a = ns_flow_ip4(0xc0000201u, 80, 0xc000020au, 40000, IPPROTO_TCP);
    struct ns_flow b = a;
    assert_true(ns_flow_eq(&a, &b));
    b.rport++;
    assert_false(ns_flow_eq(&a, &b));
    b = a;
    b.remote = ns_addr_ip4(0xc000020bu);
    assert_false(ns_flow_eq(&a, &b));
    b = a;
    b.local = ns_addr_ip4(0xc0000202u);
    assert_false(ns_flow_eq(&a, &b));
    b = a;
    b.lport = 81;
    assert_false(ns_flow_eq(&a, &b));
}

/* A TCP segment's checksum through ns_csum_pseudo verifies, and the
 * pseudo-header sums are pseudo4's and pseudo6's. */
static void test_csum_pseudo_by_family(void **state)
{
    (void)state;
    struct ns_addr s4 = ns_addr_ip4(0xc000020au), d4 = ns_addr_ip4(0xc0000201u);
    assert_int_equal(ns_csum_pseudo(&s4, &d4, 6, 40),
                     ns_csum_pseudo4(0xc000020au, 0xc0000201u, 6, 40));
    struct in6_addr a6, b6;
    inet_pton(AF_INET6, "2001:db8::10", &a6);
    inet_pton(AF_INET6, "2001:db8::1", &b6);
    struct ns_addr s6 = ns_addr_from_in6(&a6), d6 = ns_addr_from_in6(&b6);
    assert_int_equal(ns_csum_pseudo(&s6, &d6, 17, 70000), ns_csum_pseudo6(&s6.u.ip6, &d6.u.ip6,
                                                                         70000, 17));
    uint8_t seg[20] = {0x9c, 0x40, 0x00, 0x50, 1, 2, 3, 4, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff};
    const struct ns_addr *fam[2][2] = {{&s4, &d4}, {&s6, &d6}};
    for (int f = 0; f < 2; f++) {
        ns_wr16(seg + 16, 0);
        uint32_t sum = ns_csum_pseudo(fam[f][0], fam[f][1], 6, sizeof(seg));
        ns_wr16(seg + 16, ns_csum_fold(ns_csum_add(sum, seg, sizeof(seg))));
        assert_int_equal(ns_csum_fold(ns_csum_add(ns_csum_pseudo(fam[f][0], fam[f][1], 6,
                                                                 sizeof(seg)),
                                                  seg, sizeof(seg))),
                         0);
        if (f == 0) /* the same as the IPv4-only helper the wire layer has */
            assert_int_equal(ns_tcp_csum_ok(0xc000020au, 0xc0000201u, seg, sizeof(seg)), true);
    }
}

/* The bucket TCP's connection table gave a flow before it was keyed: a
 * fixed mix anyone can compute. */
static uint32_t unkeyed_bucket(uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
    uint64_t h = ((uint64_t)raddr << 32 | laddr) * 0x9e3779b97f4a7c15ull;
    h ^= ((uint64_t)rport << 16 | lport) * 0xc2b2ae3d27d4eb4full;
    h ^= h >> 29;
    return (uint32_t)h & 255;
}

static void test_flow_hash_keyed(void **state)
{
    (void)state;
    uint8_t k1[16], k2[16];
    for (int i = 0; i < 16; i++) {
        k1[i] = (uint8_t)(i * 17 + 1);
        k2[i] = (uint8_t)(i * 17 + 2);
    }
    struct ns_sipkey a = ns_sipkey_load(k1), b = ns_sipkey_load(k2);
    struct ns_flow f = ns_flow_ip4(0xc0000201u, 80, 0xc000020au, 40000, IPPROTO_TCP);
    struct ns_flow g = f;
    assert_true(ns_flow_hash(&a, &f) == ns_flow_hash(&a, &g)); /* equal flows, equal hashes */
    assert_true(ns_flow_hash(&a, &f) != ns_flow_hash(&b, &f)); /* the key matters */
    g.lport = 81;
    assert_true(ns_flow_hash(&a, &f) != ns_flow_hash(&a, &g));
    /* An IPv4 flow and the IPv6 flow of the same 16 bytes differ. */
    struct ns_flow v6 = f;
    v6.local.family = v6.remote.family = AF_INET6;
    assert_true(ns_flow_hash(&a, &f) != ns_flow_hash(&a, &v6));

    /* Aimed flows: every client port of one peer that the unkeyed mix put
     * in bucket 0 of a 256-bucket table (an attacker can compute them,
     * about 256 of 65535). Under the key they spread like random ones: no
     * bucket gets more than a small share. */
    unsigned count[256] = {0}, aimed = 0, most = 0;
    for (uint32_t port = 1; port <= 65535; port++) {
        if (unkeyed_bucket(0xc0000201u, 80, 0xc000020au, (uint16_t)port) != 0)
            continue;
        struct ns_flow h = ns_flow_ip4(0xc0000201u, 80, 0xc000020au, (uint16_t)port, IPPROTO_TCP);
        unsigned c = ++count[ns_flow_hash(&a, &h) & 255];
        most = c > most ? c : most;
        aimed++;
    }
    assert_true(aimed > 150);
    assert_true(most <= 8); /* all in one bucket before: `aimed` */
}

/* Each stack keys its table with a secret of its own, derived from its
 * ISN secret (no draw from its generator): stacks of other seeds put the
 * same flow elsewhere. */
static void test_conn_key_per_stack(void **state)
{
    (void)state;
    struct ns_config c;
    ns_config_default(&c);
    c.seed = 1;
    struct ns_stack *s1 = ns_stack_new(&c, 0);
    c.seed = 2;
    struct ns_stack *s2 = ns_stack_new(&c, 0);
    assert_non_null(s1);
    assert_non_null(s2);
    assert_true(s1->tcp->conn_key.k0 != s2->tcp->conn_key.k0 ||
                s1->tcp->conn_key.k1 != s2->tcp->conn_key.k1);
    /* Derived from the ISN secret, as tcp_init says. */
    assert_true(s1->tcp->conn_key.k0 == ns_siphash(s1->tcp->isn_key, "netsock conn-hash k0", 20));
    assert_true(s1->tcp->conn_key.k1 == ns_siphash(s1->tcp->isn_key, "netsock conn-hash k1", 20));
    ns_stack_free(s1);
    ns_stack_free(s2);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_ip4_mapped_form),
        cmocka_unit_test(test_addr_wildcards),
        cmocka_unit_test(test_flow_eq),
        cmocka_unit_test(test_csum_pseudo_by_family),
        cmocka_unit_test(test_flow_hash_keyed),
        cmocka_unit_test(test_conn_key_per_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_hostfwd.c — the --forward parser and the forward table
 * (tools/hostfwd.c): every accepted form (host address absent, IPv4,
 * IPv6 in brackets) and every refused one with its message; the format
 * read back by the parser; add/find/remove with ids that are never
 * reused; conflicts (same address, wildcard against a specific address,
 * per protocol and family) refused with the message naming the forward
 * in the way; the table's bound; every refusal counted. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "../../tools/hostfwd.c"

static struct hostfwd parse_ok(const char *spec)
{
    struct hostfwd f;
    char err[HOSTFWD_ERR_MAX] = "";
    int rc = hostfwd_parse(spec, &f, err, sizeof(err));
    if (rc != 0)
        fail_msg("'%s' refused: %s", spec, err);
    return f;
}

static void test_parse_forms(void **state)
{
    (void)state;
    struct hostfwd f = parse_ok("tcp:8080:80");
    assert_int_equal(f.proto, IPPROTO_TCP);
    assert_int_equal(f.host_family, AF_INET);
    static const uint8_t any4[4] = {0};
    assert_memory_equal(f.host_addr, any4, 4);
    assert_int_equal(f.host_port, 8080);
    assert_int_equal(f.guest_port, 80);
    assert_int_equal(f.guest_addr, 0);
    assert_int_equal(f.id, 0);

    f = parse_ok("udp:127.0.0.1:5353:53");
    assert_int_equal(f.proto, IPPROTO_UDP);
    static const uint8_t lo4[4] = {127, 0, 0, 1};
    assert_memory_equal(f.host_addr, lo4, 4);
    assert_int_equal(f.host_port, 5353);
    assert_int_equal(f.guest_port, 53);

    f = parse_ok("tcp:[2001:db8::1]:65535:1");
    assert_int_equal(f.host_family, AF_INET6);
    struct in6_addr a6;
    inet_pton(AF_INET6, "2001:db8::1", &a6);
    assert_memory_equal(f.host_addr, &a6, 16);
    assert_int_equal(f.host_port, 65535);
    assert_int_equal(f.guest_port, 1);
    f = parse_ok("udp:[::]:53:53");
    assert_int_equal(f.host_family, AF_INET6);
}

static void test_parse_refused(void **state)
{
    (void)state;
    static const struct {
        const char *spec, *msg;
    } bad[] = {
        {"", "is not PROTO"},
        {"tcp", "is not PROTO"},
        {"sctp:1:2", "neither tcp nor udp"},
        {"TCP:1:2", "neither tcp nor udp"},
        {"tcp:8080", "is not PROTO"},
        {"tcp:0:80", "host port '0'"},
        {"tcp:65536:80", "host port '65536'"},
        {"tcp:80:0", "guest port '0'"},
        {"tcp:80:", "guest port ''"},
        {"tcp::80", "host port ''"},
        {"tcp:+80:80", "host port '+80'"},
        {"tcp:80:80x", "guest port '80x'"},
        {"tcp:1.2.3:80:80", "not a numeric IPv4"},
        {"tcp:localhost:80:80", "not a numeric IPv4"},
        {"tcp::80:80", "bad host address"},
        {"tcp:1.2.3.4:80:80:1", "is not PROTO"},
        {"tcp:[::1:80:80", "[ADDR] followed by ':'"},
        {"tcp:[::1]80:80", "[ADDR] followed by ':'"},
        {"tcp:[1.2.3.4]:80:80", "not a numeric IPv6"},
        {"tcp:::1:80:80", "bad host address"},
        {"tcp:[::1]:80", "is not PROTO"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hostfwd f;
        char err[HOSTFWD_ERR_MAX] = "";
        assert_int_equal(hostfwd_parse(bad[i].spec, &f, err, sizeof(err)), -EINVAL);
        if (!strstr(err, bad[i].msg))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].spec, err, bad[i].msg);
    }
}

static void test_format_round_trip(void **state)
{
    (void)state;
    static const char *const specs[] = {"tcp:0.0.0.0:8080:80", "udp:192.0.2.1:53:5353",
                                        "tcp:[2001:db8::7]:443:8443", "udp:[::]:1:65535"};
    char buf[96];
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        struct hostfwd f = parse_ok(specs[i]);
        assert_string_equal(hostfwd_format(&f, buf, sizeof(buf)), specs[i]);
        struct hostfwd g = parse_ok(buf);
        assert_memory_equal(&f, &g, sizeof(f));
    }
    struct hostfwd f = parse_ok("tcp:8080:80");
    inet_pton(AF_INET, "10.0.2.100", &f.guest_addr);
    assert_string_equal(hostfwd_format(&f, buf, sizeof(buf)), "tcp:0.0.0.0:8080:10.0.2.100:80");
    /* Truncated, still terminated. */
    assert_string_equal(hostfwd_format(&f, buf, 6), "tcp:0");
}

static void test_table(void **state)
{
    (void)state;
    struct hostfwd_table t;
    hostfwd_table_init(&t, 3);
    char err[HOSTFWD_ERR_MAX];
    struct hostfwd a = parse_ok("tcp:127.0.0.1:8080:80");
    assert_int_equal(hostfwd_add(&t, &a, err, sizeof(err)), 1);
    /* Same port, other protocol, other address, other family: all fine. */
    struct hostfwd b = parse_ok("udp:127.0.0.1:8080:80");
    assert_int_equal(hostfwd_add(&t, &b, err, sizeof(err)), 2);
    struct hostfwd c = parse_ok("tcp:[::]:8080:80");
    assert_int_equal(hostfwd_add(&t, &c, err, sizeof(err)), 3);
    assert_int_equal(t.n, 3);
    /* Conflicts: the same, the wildcard over 127.0.0.1, [::1] under [::]. */
    static const char *const dups[] = {"tcp:127.0.0.1:8080:81", "tcp:0.0.0.0:8080:80",
                                       "tcp:[::1]:8080:80"};
    static const char *const named[] = {"forward 1 (tcp:127.0.0.1:8080:80)",
                                        "forward 1 (tcp:127.0.0.1:8080:80)",
                                        "forward 3 (tcp:[::]:8080:80)"};
    for (unsigned i = 0; i < 3; i++) {
        struct hostfwd d = parse_ok(dups[i]);
        err[0] = 0;
        assert_int_equal(hostfwd_add(&t, &d, err, sizeof(err)), -EEXIST);
        if (!strstr(err, named[i]))
            fail_msg("'%s': message '%s' does not name %s", dups[i], err, named[i]);
    }
    assert_int_equal(t.refused_dup, 3);
    /* Full. */
    struct hostfwd e = parse_ok("tcp:9090:90");
    assert_int_equal(hostfwd_add(&t, &e, err, sizeof(err)), -ENOSPC);
    assert_non_null(strstr(err, "full (3 forwards)"));
    assert_int_equal(t.refused_full, 1);
    /* Bad entries (from the API socket) refused. */
    struct hostfwd z = e;
    z.host_port = 0;
    assert_int_equal(hostfwd_add(&t, &z, err, sizeof(err)), -EINVAL);
    z = e;
    z.proto = 132;
    assert_int_equal(hostfwd_add(&t, &z, err, sizeof(err)), -EINVAL);
    assert_int_equal(t.refused_bad, 2);

    /* Remove, find; ids are not reused. */
    assert_non_null(hostfwd_find(&t, 2));
    assert_int_equal(hostfwd_remove(&t, 2, err, sizeof(err)), 0);
    assert_null(hostfwd_find(&t, 2));
    assert_int_equal(hostfwd_remove(&t, 2, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "no forward with id 2");
    assert_int_equal(hostfwd_add(&t, &e, err, sizeof(err)), 4);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.e[0].id, 1); /* in the order added */
    assert_int_equal(t.e[1].id, 3);
    assert_int_equal(t.e[2].id, 4);
    assert_int_equal(hostfwd_find(&t, 4)->host_port, 9090);
    /* Once removed, the port is free again. */
    assert_int_equal(hostfwd_remove(&t, 1, err, sizeof(err)), 0);
    assert_int_equal(hostfwd_add(&t, &a, err, sizeof(err)), 5);
    hostfwd_table_destroy(&t);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_refused),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

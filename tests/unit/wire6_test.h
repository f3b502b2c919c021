/* tests/unit/wire6_test.h — what test_wire6.c and test_icmp6_wire.c share:
 * the kernel's frames (wire6_frames.h) and small helpers over them.
 * Include after testutil.h. */
#ifndef NS_TEST_WIRE6_TEST_H
#define NS_TEST_WIRE6_TEST_H

#include "wire6_frames.h"

#include "wire/ipv6.h"

/* The IPv6 packet inside a captured Ethernet frame, and its length. */
#define IP6(f) ((f) + NS_ETH_HLEN)
#define IP6LEN(f) (sizeof(f) - NS_ETH_HLEN)

/* The address written as text (which must be one). */
static inline struct ns_ip6_addr A(const char *text)
{
    struct ns_ip6_addr a;
    assert_true(ns_ip6_aton(text, &a));
    return a;
}

/* a prints as text (RFC 5952). */
static inline void assert_addr(const struct ns_ip6_addr *a, const char *text)
{
    char buf[NS_IP6_ADDRSTRLEN];
    assert_string_equal(ns_ip6_ntoa(a, buf), text);
}

#endif

/* tests/unit/test_tcp_hash.c — the connection (4-tuple) hash doubles
 * incrementally (tcp_subr.c conn_grow): no insertion or removal moves
 * more than TCP_HASH_MIGRATE of the old table's chains, every connection
 * is found while a doubling is half done, the old table is gone before
 * the next doubling is due, and walking the table (tcp_hash_next, as
 * bind()'s port check does) visits every connection once, mid-doubling
 * too.
 *
 * The connections are bare control blocks (tcp_new) hashed under flows
 * from 192.0.2.1:80 to 198.51.100.x:port; nothing is sent.
 */
#include "tcpseg.h"

#define NCONN 5000u

static struct ns_flow conn_flow(uint32_t i)
{
    return ns_flow_ip4(FR_IP(192, 0, 2, 1), 80, FR_IP(198, 51, 100, 1 + (i % 200)),
                       (uint16_t)(10000 + i / 200), NS_IPPROTO_TCP);
}

/* Every one of the first n connections is found under its flow, and the
 * walk visits exactly n connections, each of them once. */
static void check_all(struct ns_stack *st, struct tcpcb **tp, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct ns_flow f = conn_flow(i);
        assert_ptr_equal(tcp_lookup(st, &f), tp[i]);
    }
    uint32_t seen = 0, pos = 0;
    for (struct tcpcb *c = tcp_hash_next(st->tcp, &pos, NULL); c; c = tcp_hash_next(st->tcp, &pos, c)) {
        assert_true(c->created_us == 0); /* not seen before (marked below) */
        c->created_us = 1;
        seen++;
    }
    assert_int_equal(seen, n);
    for (uint32_t i = 0; i < n; i++)
        tp[i]->created_us = 0;
}

static void test_incremental_doubling(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    struct tcp_table *tab = st->tcp;
    static struct tcpcb *tp[NCONN];
    uint32_t doublings = 0, checked_mid = 0;
    for (uint32_t i = 0; i < NCONN; i++) {
        tp[i] = tcp_new(st, false);
        assert_non_null(tp[i]);
        tp[i]->created_us = 0;
        tp[i]->sock.flow = conn_flow(i);
        uint32_t mask = tab->conn_mask, moved = tab->conn_moved;
        bool migrating = tab->conn_old != NULL;
        if (tab->nconn >= tab->conn_mask + 1)
            assert_null(tab->conn_old); /* the last doubling finished in time */
        tcp_hash_insert(tp[i]);
        if (tab->conn_mask != mask) {
            /* A doubling began: the old table stays, TCP_HASH_MIGRATE of
             * its chains moved, not all of them. */
            doublings++;
            assert_int_equal(tab->conn_mask, mask * 2 + 1);
            assert_non_null(tab->conn_old);
            assert_int_equal(tab->conn_old_mask, mask);
            assert_int_equal(tab->conn_moved, TCP_HASH_MIGRATE);
        } else if (migrating && tab->conn_old) {
            assert_int_equal(tab->conn_moved - moved, TCP_HASH_MIGRATE);
        }
        if (tab->conn_old && tab->conn_moved > tab->conn_old_mask / 2 && checked_mid < doublings) {
            check_all(st, tp, i + 1); /* half done */
            checked_mid = doublings;
        }
    }
    assert_true(doublings >= 4); /* 256 buckets to 8192 */
    assert_int_equal(checked_mid, doublings);
    check_all(st, tp, NCONN);
    /* Removals move chains too; every connection left is still found. */
    for (uint32_t i = 0; i < NCONN; i++) {
        tcp_hash_remove(tp[i]);
        struct ns_flow f = conn_flow(i);
        assert_null(tcp_lookup(st, &f));
        if (i % 997 == 0)
            for (uint32_t j = i + 1; j < NCONN; j++) {
                struct ns_flow g = conn_flow(j);
                assert_ptr_equal(tcp_lookup(st, &g), tp[j]);
            }
        tcp_free(tp[i]);
    }
    assert_int_equal(tab->nconn, 0);
    tt_free(t);
}

/* The stack freed mid-doubling takes every connection with it (ASan
 * would report the ones left in the old table). */
static void test_destroy_mid_doubling(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    for (uint32_t i = 0; i < 260; i++) { /* 256 buckets: doubling at the 257th */
        struct tcpcb *c = tcp_new(st, false);
        assert_non_null(c);
        c->sock.flow = conn_flow(i);
        c->flags |= TF_ORPHAN;
        tcp_hash_insert(c);
    }
    assert_non_null(st->tcp->conn_old);
    tt_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incremental_doubling),
        cmocka_unit_test(test_destroy_mid_doubling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

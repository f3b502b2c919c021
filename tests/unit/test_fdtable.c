/* tests/unit/test_fdtable.c — the descriptor table (socket/fdtable.c):
 * POSIX lowest-free allocation (as open() and socket() give descriptors),
 * checked against a plain scan over a long seeded run of allocations and
 * frees across several table growths, and the search's summary bitmap
 * kept exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "netsock/netsock.h"
#include "socket/fdtable.h"
#include "socket/sock.h"
#include "testutil.h"

#define N 20000

static int ref_lowest(const bool *used, int n)
{
    for (int i = 0; i < n; i++)
        if (!used[i])
            return i;
    return n;
}

static void test_lowest_free_matches_scan(void **state)
{
    (void)state;
    struct ns_config cfg;
    ns_config_default(&cfg);
    struct ns_stack *st = ns_stack_new(&cfg, 0);
    assert_non_null(st);
    static struct ns_sock socks[N];
    static bool used[N];
    int nused = 0;
    uint64_t r = ns_test_seed(7) | 1;
    for (int step = 0; step < 60000; step++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        /* Grow to about N, then churn around it (allocations favoured
         * early, frees favoured once full). */
        bool alloc = nused < 64 || (nused < N - 1 && (r % 100) < (uint64_t)(nused < N / 2 ? 70 : 50));
        if (alloc) {
            int want = ref_lowest(used, N);
            int fd = fd_alloc(st, &socks[want]);
            assert_int_equal(fd, want);
            used[fd] = true;
            nused++;
        } else {
            int fd = (int)((r >> 20) % N);
            while (!used[fd])
                fd = (fd + 1) % N;
            fd_free(st, fd);
            used[fd] = false;
            nused--;
        }
    }
    /* The summary bitmap says exactly which words are full. */
    struct fd_table *t = st->fds;
    for (int w = 0; w < t->cap / 64; w++)
        assert_int_equal(!!(t->full[w / 64] & (1ull << (w % 64))), t->used[w] == UINT64_MAX);
    for (int fd = 0; fd < N; fd++)
        if (used[fd])
            fd_free(st, fd);
    ns_stack_free(st);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lowest_free_matches_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

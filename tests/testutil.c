/* tests/testutil.c — see testutil.h. */
#include "testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t g_seed;
static int g_seed_set;
static const char *g_argv0 = "<test>";

uint64_t ns_test_seed(uint64_t fallback)
{
    const char *env = getenv("NETSOCK_SEED");
    g_seed = env && *env ? strtoull(env, NULL, 0) : fallback;
    g_seed_set = 1;
    return g_seed;
}

void ns_test_set_argv0(const char *argv0) { g_argv0 = argv0; }

void ns_test_fail_hint(void)
{
    if (g_seed_set)
        fprintf(stderr, "seed=%" PRIu64 "; replay: NETSOCK_SEED=%" PRIu64 " %s\n", g_seed, g_seed,
                g_argv0);
}

void ns_test_hexdump(const char *label, const void *data, size_t len)
{
    const unsigned char *p = data;
    fprintf(stderr, "%s (%zu bytes):", label, len);
    for (size_t i = 0; i < len; i++)
        fprintf(stderr, "%s%02x", i % 16 ? " " : "\n  ", p[i]);
    fprintf(stderr, "\n");
}

uint8_t *ns_test_dup_exact(const void *src, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    assert_non_null(p);
    if (len)
        memcpy(p, src, len);
    return p;
}

const char *ns_test_argv0(void) { return g_argv0; }

bool ns_test_progress_due(void)
{
    static struct timespec last;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (last.tv_sec == 0 && last.tv_nsec == 0)
        last = now;
    int64_t ms = (int64_t)(now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000;
    if (ms < NS_TEST_PROGRESS_S * 1000)
        return false;
    last = now;
    return true;
}

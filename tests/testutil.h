/* tests/testutil.h — shared helpers for cmocka tests.
 *
 * Seeds: simulated and randomized tests take their seed from the
 * environment variable NETSOCK_SEED (default: the test's fixed seed), and
 * print it with a replay command when they fail, e.g.
 *   NETSOCK_SEED=12345 ./build-test/tests/test_sim_ping
 */
#ifndef NS_TESTUTIL_H
#define NS_TESTUTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* The seed for this run: NETSOCK_SEED if set, else `fallback`. Registers
 * it so ns_test_fail_hint() can print it. */
uint64_t ns_test_seed(uint64_t fallback);

/* Print "seed=N; replay: NETSOCK_SEED=N <argv0>" to stderr. Called by
 * NS_ASSERT_SEED on failure; tests may call it directly. */
void ns_test_fail_hint(void);

/* Set from main(): the program name for replay hints. */
void ns_test_set_argv0(const char *argv0);

/* assert_true that prints the seed and replay command before failing. */
#define NS_ASSERT_SEED(cond)                                                   \
    do {                                                                       \
        if (!(cond)) {                                                         \
            ns_test_fail_hint();                                               \
            fail_msg("%s", #cond);                                             \
        }                                                                      \
    } while (0)

/* Long tests: true once NS_TEST_PROGRESS_S seconds of wall-clock time
 * have passed since the last true (the first time: since the first call),
 * so that a test can print a progress line every few seconds. A test
 * that runs past its ctest timeout is killed; its last progress line
 * (ctest shows the output) says what it was doing — the seed and the
 * scenario, and how to replay them. */
#define NS_TEST_PROGRESS_S 5
bool ns_test_progress_due(void);

/* The program name set by ns_test_set_argv0, for replay commands. */
const char *ns_test_argv0(void);

/* An exactly-sized heap copy of src[0..len) (a 1-byte block for len 0),
 * so that ASan catches any read of a parser past `len`. Free it. */
uint8_t *ns_test_dup_exact(const void *src, size_t len);

/* Byte-for-byte hex dump to stderr (for failing frame comparisons). */
void ns_test_hexdump(const char *label, const void *data, size_t len);

#endif

/* platform/clock.c — the platform clock (DESIGN.md "platform/": the only
 * code that reads clocks). See include/netsock/os.h. */
#include <time.h>

#include "netsock/os.h"

uint64_t ns_clock_now_us(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux; never goes
     * backwards, as a stack's `now` must not. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* platform/clock.c — the platform clock (platform/ is the only code that
 * reads clocks). See include/netsock/os.h. */
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

static uint64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t ns_clock_realtime_offset_us(void)
{
    /* The two reads bracket as tightly as they can; the offset is good to a
     * few microseconds. A real-time clock set before the boot time (no
     * RTC, 1970) gives 0 rather than wrapping. */
    uint64_t mono = clock_us(CLOCK_MONOTONIC);
    uint64_t real = clock_us(CLOCK_REALTIME);
    return real > mono ? real - mono : 0;
}

/* platform/platform.h — helpers shared by the OS devices in platform/.
 * Internal header. */
#ifndef NS_PLATFORM_H
#define NS_PLATFORM_H

#include <stdint.h>

/* A random locally administered unicast MAC from the OS random source
 * (getrandom; only platform/ may read it). */
void plat_random_mac(uint8_t mac[6]);

/* The MTU of kernel interface `ifname` (SIOCGIFMTU), or a negative errno. */
int plat_if_mtu(const char *ifname);

/* A device's tx_ready for a descriptor: now_us when fd is writable now
 * (poll(2) with no timeout), NS_TIME_NEVER when the loop must wait for
 * EPOLLOUT. */
uint64_t plat_fd_tx_ready(int fd, uint64_t now_us);

#endif

/* tools/nat.h — `netsock nat` (nat.c): user-mode networking for a network
 * namespace, in the shape of slirp4netns; docs/nat.md.
 *
 *   nat_netns.c   entering the guest's namespace, configuring it (rtnetlink)
 *   nat.c         the options, the connection tracking table, the relays
 */
#ifndef NS_TOOLS_NAT_H
#define NS_TOOLS_NAT_H

#include <stdint.h>

/* A network namespace named as slirp4netns names it: a PID (its
 * /proc/PID/ns/net) or a path (/run/netns/NAME, /proc/PID/ns/net).
 * Returns an O_RDONLY descriptor of it or -errno. */
int nat_netns_open(const char *spec);

/* setns(2) into target_fd, saving the current namespace in *saved_fd.
 * 0 or -errno (then nothing changed). */
int nat_netns_enter(int target_fd, int *saved_fd);

/* Back to the namespace nat_netns_enter saved (and close its descriptor).
 * 0 or -errno. */
int nat_netns_leave(int saved_fd);

/* In the current namespace: bring lo and ifname up (ifname with MTU mtu
 * when mtu > 0), add addr/prefix to ifname and a default route via gw
 * (addresses in network byte order), over rtnetlink. 0 or -errno (the
 * kernel's answer to the first request that failed). */
int nat_netns_configure(const char *ifname, uint32_t addr_be, unsigned prefix, uint32_t gw_be,
                        unsigned mtu);

#endif

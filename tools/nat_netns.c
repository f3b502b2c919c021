/* tools/nat_netns.c — `netsock nat`'s hold on the guest's network
 * namespace: entering it by PID or path, and configuring an interface
 * there over rtnetlink (RFC 3549; rtnetlink(7)), as `ip link set`, `ip
 * addr add` and `ip route add` would, without running them.
 */
#include "nat.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int nat_netns_open(const char *spec)
{
    char path[64];
    const char *p = spec;
    char *end;
    long pid = strtol(spec, &end, 10);
    if (*spec && !*end && pid > 0) {
        /* slirp4netns: a PID names /proc/PID/ns/net. */
        snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
        p = path;
    }
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int nat_netns_enter(int target_fd, int *saved_fd)
{
    *saved_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (*saved_fd < 0)
        return -errno;
    if (setns(target_fd, CLONE_NEWNET) < 0) {
        int err = -errno;
        close(*saved_fd);
        *saved_fd = -1;
        return err;
    }
    return 0;
}

int nat_netns_leave(int saved_fd)
{
    int rc = setns(saved_fd, CLONE_NEWNET) < 0 ? -errno : 0;
    close(saved_fd);
    return rc;
}

/* ---- rtnetlink ---------------------------------------------------------------------- */

struct nl_req {
    struct nlmsghdr h;
    char buf[256];
};

/* Append attribute type with len bytes of data to the request. */
static void nl_attr(struct nl_req *r, unsigned short type, const void *data, size_t len)
{
    struct rtattr *a = (struct rtattr *)((char *)&r->h + NLMSG_ALIGN(r->h.nlmsg_len));
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(a), data, len);
    r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Send one request and read its acknowledgement: 0 or the kernel's -errno. */
static int nl_talk(int fd, struct nl_req *r)
{
    static unsigned seq;
    r->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    r->h.nlmsg_seq = ++seq;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, &r->h, r->h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
        return -errno;
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0)
            return errno == EINTR ? nl_talk(fd, r) : -errno;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != r->h.nlmsg_seq || h->nlmsg_type != NLMSG_ERROR)
                continue;
            const struct nlmsgerr *e = NLMSG_DATA(h);
            return e->error; /* 0: the acknowledgement */
        }
    }
}

/* RTM_NEWLINK on ifindex: up, and the MTU when mtu > 0. */
static int nl_link_up(int fd, int ifindex, unsigned mtu)
{
    struct nl_req r;
    memset(&r, 0, sizeof(r));
    r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    r.h.nlmsg_type = RTM_NEWLINK;
    struct ifinfomsg *ifi = NLMSG_DATA(&r.h);
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = ifindex;
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    if (mtu)
        nl_attr(&r, IFLA_MTU, &mtu, sizeof(mtu));
    return nl_talk(fd, &r);
}

int nat_netns_configure(const char *ifname, uint32_t addr_be, unsigned prefix, uint32_t gw_be,
                        unsigned mtu)
{
    int ifindex = (int)if_nametoindex(ifname);
    if (!ifindex)
        return -ENODEV;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -errno;
    int rc = nl_link_up(fd, (int)if_nametoindex("lo"), 0); /* slirp4netns brings lo up too */
    if (rc == 0)
        rc = nl_link_up(fd, ifindex, mtu);
    if (rc == 0) {
        /* ip addr add ADDR/PREFIX dev IFNAME */
        struct nl_req r;
        memset(&r, 0, sizeof(r));
        r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
        r.h.nlmsg_type = RTM_NEWADDR;
        r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
        struct ifaddrmsg *ifa = NLMSG_DATA(&r.h);
        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = (unsigned char)prefix;
        ifa->ifa_index = (unsigned)ifindex;
        nl_attr(&r, IFA_LOCAL, &addr_be, 4);
        nl_attr(&r, IFA_ADDRESS, &addr_be, 4);
        rc = nl_talk(fd, &r);
    }
    if (rc == 0) {
        /* ip route add default via GW dev IFNAME */
        struct nl_req r;
        memset(&r, 0, sizeof(r));
        r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
        r.h.nlmsg_type = RTM_NEWROUTE;
        r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
        struct rtmsg *rt = NLMSG_DATA(&r.h);
        rt->rtm_family = AF_INET;
        rt->rtm_table = RT_TABLE_MAIN;
        rt->rtm_protocol = RTPROT_BOOT;
        rt->rtm_scope = RT_SCOPE_UNIVERSE;
        rt->rtm_type = RTN_UNICAST;
        nl_attr(&r, RTA_GATEWAY, &gw_be, 4);
        nl_attr(&r, RTA_OIF, &ifindex, sizeof(ifindex));
        rc = nl_talk(fd, &r);
    }
    close(fd);
    return rc;
}

/* net/addrconf.h — IPv6 autoconfiguration of one interface: stable
 * interface identifiers (RFC 7217), Duplicate Address Detection and
 * stateless address autoconfiguration (RFC 4862), router solicitation and
 * advertisement processing — the default router list, the prefix list,
 * the MTU option (RFC 4861 §6.3.4, §6.3.5, §6.3.7) —, redirects (RFC 4861
 * §8) and the MLDv2 listener (RFC 3810) for the groups NDP needs.
 *
 * Read first: RFC 4861 §6.3, RFC 4862 §5, RFC 7217 §5, RFC 3810 §6, and
 * docs/ipv6.md "Autoconfiguration".
 *
 * The engine keeps the state and the timers of one interface in a
 * `struct ac_if` the network layer embeds in its per-interface IPv6 state;
 * what it decides reaches the rest of the stack through `struct ac_ops`
 * (send an ICMPv6 message, an address became usable or went away, a
 * default router or an on-link prefix came or went, the link parameters
 * changed), so it owns no routes and no addresses table of its own beyond
 * what autoconfiguration needs, and it is tested by itself. Messages come
 * in already parsed and validated by src/wire (ns_ndp_parse,
 * ns_mld_query_parse): this code checks state only. Every table an
 * attacker on the link can fill (routers, prefixes, addresses, redirects,
 * groups) has a fixed size and a counter for what it refused.
 *
 * Defaults are Linux's sysctls (net.ipv6.conf.*): accept_ra 1,
 * dad_transmits 1, retrans_time 1 s, rtr_solicits 3 (RFC 4861 §10
 * MAX_RTR_SOLICITATIONS), rtr_solicit_interval 4 s, rtr_solicit_delay 1 s,
 * max_addresses 16, idgen_retries 3, idgen_delay 1 s, addr_gen_mode 3
 * (stable identifiers under a random per-interface secret).
 */
#ifndef NS_NET_ADDRCONF_H
#define NS_NET_ADDRCONF_H

#include <stdbool.h>
#include <stdint.h>

#include "base/stack.h"
#include "base/timer.h"
#include "wire/ipv6.h"

/* Bounds: fixed tables, each refusal counted (include/netsock/counters.h). */
#define AC_MAX_ADDRS 16      /* Linux max_addresses */
#define AC_MAX_ROUTERS 8     /* default routers from RAs */
#define AC_MAX_PREFIXES 16   /* on-link prefixes from RAs */
#define AC_MAX_REDIRECTS 16  /* destinations redirected */
#define AC_MAX_GROUPS (AC_MAX_ADDRS + 4) /* MLD groups joined */

/* RFC 4862 §5.5.3 (e): the two hours below which an RA cannot shorten a
 * valid lifetime (Linux MIN_VALID_LIFETIME). */
#define AC_TWO_HOURS_S 7200u
/* RFC 3810 §9.1, §9.11: robustness variable, unsolicited report interval. */
#define AC_MLD_ROBUSTNESS 2
#define AC_MLD_UNSOL_US 1000000ull
/* RFC 7217 §5, Linux idgen_retries / idgen_delay. */
#define AC_IDGEN_RETRIES 3
#define AC_IDGEN_DELAY_US 1000000ull

enum ac_gen_mode {
    AC_GEN_EUI64 = 0,   /* modified EUI-64 from the MAC (Linux addr_gen_mode 0) */
    AC_GEN_STABLE = 2,  /* RFC 7217 under the configured secret (mode 2) */
    AC_GEN_RANDOM = 3,  /* RFC 7217 under a secret drawn at init (mode 3) */
};

enum ac_addr_state {
    AC_ADDR_FREE = 0,
    AC_ADDR_WAIT,       /* created, waiting the random delay before DAD */
    AC_ADDR_TENTATIVE,  /* DAD probing (RFC 4862 §5.4) */
    AC_ADDR_PREFERRED,
    AC_ADDR_DEPRECATED, /* preferred lifetime over (RFC 4862 §5.5.4) */
};

/* How an address came to be. */
enum ac_origin {
    AC_ORIGIN_LINKLOCAL, /* fe80::/64 formed at enable (RFC 4862 §5.3) */
    AC_ORIGIN_SLAAC,     /* from a Prefix Information option (§5.5.3) */
    AC_ORIGIN_MANUAL,    /* added by the program: DAD only, no lifetimes */
};

/* What the engine tells the stack about an address. */
enum ac_addr_event {
    AC_EV_TENTATIVE,  /* exists, not usable yet: receive only DAD traffic */
    AC_EV_READY,      /* DAD passed: usable, preferred */
    AC_EV_DEPRECATED, /* usable for existing flows, not for new ones */
    AC_EV_REMOVED,    /* gone (valid lifetime over, DAD conflict, disable) */
};

struct ac_if;

struct ac_addr {
    struct ns_ip6_addr addr;
    uint8_t plen;
    uint8_t state;          /* enum ac_addr_state */
    uint8_t origin;         /* enum ac_origin */
    uint8_t dad_counter;    /* RFC 7217 §5 DAD_Counter */
    uint8_t probes_left;    /* DAD NSes still to send */
    uint8_t nonce[6];       /* RFC 7527 §4.1: recognises our own NS looped back */
    uint64_t preferred_until_us, valid_until_us; /* UINT64_MAX: infinite */
    struct ns_timer dad_timer, lft_timer;
    struct ac_if *ifp;
};

struct ac_router {
    bool used;
    struct ns_ip6_addr addr; /* link-local */
    uint64_t expires_us;
    struct ns_timer timer;
    struct ac_if *ifp;
};

struct ac_prefix {
    bool used;
    struct ns_ip6_addr prefix;
    uint8_t plen;
    uint64_t expires_us;     /* UINT64_MAX: infinite */
    struct ns_timer timer;
    struct ac_if *ifp;
};

struct ac_redirect {
    bool used;
    struct ns_ip6_addr dest, target;
    uint64_t stamp_us;       /* last refresh, for replacing the oldest */
};

struct ac_group {
    uint8_t refs;            /* 0: free, or leaving (reports left) */
    uint8_t unsol_left;      /* unsolicited reports still to send */
    bool leaving;            /* CHANGE_TO_INCLUDE {} being repeated */
    struct ns_ip6_addr group;
    struct ns_timer timer;   /* next unsolicited report or query answer */
    bool query_pending;      /* timer armed to answer a query */
    struct ac_if *ifp;
};

/* Link parameters an RA may set (RFC 4861 §6.3.4); 0 = not set by an RA. */
struct ac_params {
    uint8_t cur_hop_limit;
    uint32_t reachable_ms, retrans_ms;
    uint32_t mtu;            /* the link MTU in use (link MTU unless an RA lowered it) */
};

/* What the engine asks of the stack. ctx is ac_if.ctx. */
struct ac_ops {
    /* Send an ICMPv6 message (msg/len, checksum already computed over
     * src and dst) on this interface: hop limit 255 for NDP; for MLD
     * (mld true) hop limit 1 and a Router Alert Hop-by-Hop option.
     * Multicast destinations map to 33:33:... (RFC 2464 §7). */
    void (*output)(void *ctx, struct ac_if *ifp, const struct ns_ip6_addr *src,
                   const struct ns_ip6_addr *dst, const uint8_t *msg, size_t len, bool mld);
    void (*addr_event)(void *ctx, struct ac_if *ifp, const struct ac_addr *a,
                       enum ac_addr_event ev);
    /* A default router appeared (add) or went away. */
    void (*router_event)(void *ctx, struct ac_if *ifp, const struct ns_ip6_addr *router, bool add);
    /* An on-link prefix appeared or went away (RFC 4861 §6.3.4). */
    void (*prefix_event)(void *ctx, struct ac_if *ifp, const struct ns_ip6_addr *prefix,
                         uint8_t plen, bool add);
    /* An RA changed struct ac_params. May be NULL. */
    void (*params_event)(void *ctx, struct ac_if *ifp);
    /* The current first-hop router for dest (RFC 4861 §8.1), or false when
     * dest is on-link or unreachable. */
    bool (*first_hop)(void *ctx, struct ac_if *ifp, const struct ns_ip6_addr *dest,
                      struct ns_ip6_addr *router);
    /* A redirect was accepted: dest's next hop is now target (== dest:
     * on-link); target NULL: dest's redirect is forgotten (its entry was
     * replaced by a newer one, or the interface stopped). */
    void (*redirect_event)(void *ctx, struct ac_if *ifp, const struct ns_ip6_addr *dest,
                           const struct ns_ip6_addr *target);
};

/* Per-interface configuration (Linux net.ipv6.conf.IF.*). */
struct ac_config {
    uint8_t mac[NS_ETH_ALEN];   /* RFC 7217 Net_Iface; link-layer option */
    uint32_t link_mtu;
    bool accept_ra;             /* 1 */
    bool forwarding;            /* 0: RAs are accepted only when not forwarding */
    bool autoconf;              /* 1: form SLAAC addresses */
    uint8_t dad_transmits;      /* 1; 0 turns DAD off */
    uint8_t rtr_solicits;       /* 3 */
    uint8_t idgen_retries;      /* 3 */
    uint8_t max_addresses;      /* 16, at most AC_MAX_ADDRS */
    uint32_t retrans_ms;        /* 1000 */
    uint32_t rtr_solicit_interval_ms; /* 4000 */
    uint32_t rtr_solicit_delay_ms;    /* 1000 */
    uint8_t gen_mode;           /* enum ac_gen_mode, AC_GEN_RANDOM */
    uint8_t secret[16];         /* AC_GEN_STABLE: the stable_secret */
    const uint8_t *network_id;  /* RFC 7217 Network_ID, optional */
    size_t network_id_len;
};

/* Advertising as a router (RFC 4861 §6.2): what the RAs say. */
#define AC_ADV_MAX_PREFIXES 4
struct ac_adv_config {
    uint16_t router_lifetime_s;      /* AdvDefaultLifetime: 1800 (3 x MaxRtrAdvInterval) */
    uint32_t mtu;                    /* AdvLinkMTU: 0, no option */
    uint8_t cur_hop_limit;           /* AdvCurHopLimit: 64 */
    uint32_t min_interval_ms, max_interval_ms; /* MinRtrAdvInterval 200 s, MaxRtrAdvInterval 600 s */
    unsigned n_prefixes;
    struct ns_ndp_prefix prefixes[AC_ADV_MAX_PREFIXES]; /* AdvPrefixList */
};

/* RFC 4861 §10: router constants. */
#define AC_MAX_INITIAL_RTR_ADVERTISEMENTS 3
#define AC_MAX_INITIAL_RTR_ADVERT_INTERVAL_US 16000000ull
#define AC_MAX_RA_DELAY_TIME_US 500000ull
#define AC_MIN_DELAY_BETWEEN_RAS_US 3000000ull

struct ac_if {
    struct ns_stack *st;
    const struct ac_ops *ops;
    void *ctx;
    int ifindex;
    struct ac_config cfg;
    struct ac_params params;
    bool enabled;
    uint8_t rs_sent;
    struct ns_timer rs_timer;
    struct ac_addr addrs[AC_MAX_ADDRS];
    struct ac_router routers[AC_MAX_ROUTERS];
    struct ac_prefix prefixes[AC_MAX_PREFIXES];
    struct ac_redirect redirects[AC_MAX_REDIRECTS];
    struct ac_group groups[AC_MAX_GROUPS];
    struct ns_timer mld_general; /* answer to a General Query */
    /* Advertising (ac_adv_start): */
    bool adv_on;
    uint8_t adv_initial_left;     /* initial advertisements still to send */
    uint64_t adv_last_us;         /* last multicast RA, UINT64_MAX: none yet */
    struct ac_adv_config adv;
    struct ns_timer adv_timer;
};

/* Linux's defaults for an Ethernet interface with this MAC and MTU. */
void ac_config_default(struct ac_config *cfg, const uint8_t mac[NS_ETH_ALEN], uint32_t link_mtu);

/* Set up ifp (not enabled: sends nothing). A secret for AC_GEN_RANDOM is
 * drawn from the stack's generator here. */
void ac_init(struct ac_if *ifp, struct ns_stack *st, int ifindex, const struct ac_config *cfg,
             const struct ac_ops *ops, void *ctx);
/* Start IPv6 on the interface: join ff02::1 (never reported, RFC 3810
 * §6), form the link-local address and start its DAD; router
 * solicitation follows when it is ready (as Linux addrconf_dad_completed). */
void ac_enable(struct ac_if *ifp);
/* Stop: every address removed (AC_EV_REMOVED), routers and prefixes
 * withdrawn, groups left (with their reports), timers cancelled. */
void ac_disable(struct ac_if *ifp);

/* Cancel every timer of ifp and forget its state, sending nothing and
 * calling no op: for a stack being freed. */
void ac_destroy(struct ac_if *ifp);

/* RFC 7217 §5: the interface identifier (8 bytes) for prefix (its first
 * 64 bits) and dad_counter, RID = F(Prefix, Net_Iface, Network_ID,
 * DAD_Counter, secret_key) with F SipHash-2-4 keyed by the secret (a PRF:
 * nobody without the secret can compute it). Identifiers RFC 5453
 * reserves are skipped by raising the counter, as Linux
 * ipv6_generate_stable_address; *dad_counter is the counter used, and the
 * result false when the retries run out. */
bool ac_stable_iid(const struct ac_config *cfg, const struct ns_ip6_addr *prefix,
                   uint8_t *dad_counter, uint8_t iid[8]);
/* RFC 5453 §3, Linux ipv6_reserved_interfaceid: identifiers no address may use. */
bool ac_iid_reserved(const uint8_t iid[8]);

/* Add a manually configured address: DAD runs on it like on the others
 * (no lifetimes). -EEXIST, -ENOSPC (max_addresses), -EINVAL (multicast,
 * unspecified). */
int ac_addr_add(struct ac_if *ifp, const struct ns_ip6_addr *addr, uint8_t plen);
/* Remove an address (any origin): -ENOENT when it is not there. */
int ac_addr_del(struct ac_if *ifp, const struct ns_ip6_addr *addr);
/* The entry for addr in any state, or NULL. */
struct ac_addr *ac_addr_find(struct ac_if *ifp, const struct ns_ip6_addr *addr);
/* The interface's link-local address once DAD passed, or NULL. */
const struct ac_addr *ac_linklocal(const struct ac_if *ifp);
/* Addresses in use (any state but free). */
unsigned ac_addr_count(const struct ac_if *ifp);
unsigned ac_router_count(const struct ac_if *ifp);
unsigned ac_prefix_count(const struct ac_if *ifp);

/* Input, after src/wire's validation (ns_ndp_parse: hop limit 255, code,
 * lengths, options). ip is the IPv6 header the message came in. */
void ac_ra_input(struct ac_if *ifp, const struct ns_ip6_repr *ip, const struct ns_ndp_repr *ra);
/* Neighbor Solicitation: returns true when it was DAD traffic for one of
 * our tentative addresses and must not be answered (RFC 4862 §5.4.3). */
bool ac_ns_input(struct ac_if *ifp, const struct ns_ip6_repr *ip, const struct ns_ndp_repr *ns);
/* Neighbor Advertisement: true when its target is a tentative address of
 * ours (DAD failed, RFC 4862 §5.4.4) — the neighbour cache must not learn it. */
bool ac_na_input(struct ac_if *ifp, const struct ns_ip6_repr *ip, const struct ns_ndp_repr *na);
/* Redirect (RFC 4861 §8.1, §8.3): accepted only from the first-hop router
 * of its destination. Returns true when accepted. */
bool ac_redirect_input(struct ac_if *ifp, const struct ns_ip6_repr *ip,
                       const struct ns_ndp_repr *rd);
/* The next hop a redirect set for dest, if any. */
bool ac_redirect_lookup(const struct ac_if *ifp, const struct ns_ip6_addr *dest,
                        struct ns_ip6_addr *next_hop);

/* Advertise as a router on the interface (RFC 4861 §6.2.4): the first
 * AC_MAX_INITIAL_RTR_ADVERTISEMENTS at most 16 s apart, then one every
 * [min_interval, max_interval); from the link-local address, so they
 * start when it is ready. ac_adv_stop sends a final RA with Router
 * Lifetime 0 (§6.2.5). Whether the interface forwards is the caller's. */
void ac_adv_start(struct ac_if *ifp, const struct ac_adv_config *adv);
void ac_adv_stop(struct ac_if *ifp);
/* The defaults of RFC 4861 §6.2.1 with one prefix (on-link, autonomous,
 * valid 30 days, preferred 7 days). */
void ac_adv_config_default(struct ac_adv_config *adv, const struct ns_ip6_addr *prefix,
                           uint8_t plen);
/* A Router Solicitation while advertising (§6.2.6): a multicast RA after
 * a random delay up to MAX_RA_DELAY_TIME, no sooner than
 * MIN_DELAY_BETWEEN_RAS after the last one. Ignored when not advertising
 * (a host discards RSs, §6.2.6). */
void ac_rs_input(struct ac_if *ifp, const struct ns_ip6_repr *ip, const struct ns_ndp_repr *rs);

/* ---- MLDv2 listener (net/mld6.c) ----------------------------------------- */

/* Join group on the interface (reference counted): the first join sends
 * an unsolicited CHANGE_TO_EXCLUDE {} report and repeats it
 * AC_MLD_ROBUSTNESS - 1 times (RFC 3810 §6.1), except for groups RFC 3810
 * §6 says never to report (ff02::1, interface-local scope). -ENOSPC
 * (counted in mld_group_full) when the table is full. */
int ac_mld_join(struct ac_if *ifp, const struct ns_ip6_addr *group);
/* Leave: at the last reference, CHANGE_TO_INCLUDE {} reports (§6.1). */
void ac_mld_leave(struct ac_if *ifp, const struct ns_ip6_addr *group);
/* Joined (and not leaving)? */
bool ac_mld_joined(const struct ac_if *ifp, const struct ns_ip6_addr *group);
/* A Multicast Listener Query, parsed by ns_mld_query_parse (RFC 3810
 * §6.2): a General Query is answered with every group after a random
 * delay up to its Maximum Response Delay, a group-specific one with that
 * group. MLDv1 queries are counted and ignored (no MLDv1 compatibility
 * mode, §8). */
void ac_mld_query_input(struct ac_if *ifp, const struct ns_mld_query *q);
/* Cancel every MLD timer and free the groups, sending nothing. */
void ac_mld_reset(struct ac_if *ifp);

/* ---- wired to IPv6 (net/autoconf.c) ----------------------------------------------- */

/* The per-stack state: net_init / net_destroy (ac_destroy on every
 * interface: no frame, no event). */
int autoconf_init(struct ns_stack *st);
void autoconf_destroy(struct ns_stack *st);
/* Turn autoconfiguration on on the Ethernet interface ifindex (cfg NULL:
 * ac_config_default for its MAC and MTU): IPv6 on without the EUI-64
 * link-local (an existing one gives way), the engine's link-local through
 * DAD, RS, RAs taken, addresses added to the interface tentative and
 * made usable by DAD, routers and prefixes as routes, the link
 * parameters an RA sets, redirects as host routes; addresses added to
 * the interface later go through DAD too. 0, -ENODEV, -EOPNOTSUPP (not
 * Ethernet), -EALREADY, -ENOMEM. */
int autoconf_enable(struct ns_stack *st, int ifindex, const struct ac_config *cfg);
/* Start (adv) or stop (NULL) advertising on an autoconfigured interface:
 * 0 or -ENOENT. */
int autoconf_advertise(struct ns_stack *st, int ifindex, const struct ac_adv_config *adv);
/* The engine of interface ifindex, NULL when it has none. */
struct ac_if *autoconf_if(struct ns_stack *st, int ifindex);

#endif

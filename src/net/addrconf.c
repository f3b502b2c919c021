/* net/addrconf.c — IPv6 autoconfiguration of one interface: RFC 7217
 * identifiers, DAD and SLAAC (RFC 4862), router solicitation, RA
 * processing (RFC 4861 §6.3.4-§6.3.7) and redirects (§8). The contract
 * is in net/addrconf.h; the MLD listener is net/mld6.c.
 */
#include <errno.h>
#include <string.h>

#include "base/siphash.h"
#include "net/addrconf.h"

#define US_PER_MS 1000ull
#define US_PER_S 1000000ull
#define NONCE_OPT_LEN 8 /* RFC 3971 §5.3.2: type, length 1, 6 bytes of nonce */

void ac_config_default(struct ac_config *cfg, const uint8_t mac[NS_ETH_ALEN], uint32_t link_mtu)
{
    memset(cfg, 0, sizeof(*cfg));
    memcpy(cfg->mac, mac, NS_ETH_ALEN);
    cfg->link_mtu = link_mtu;
    cfg->accept_ra = true;
    cfg->autoconf = true;
    cfg->dad_transmits = 1;
    cfg->rtr_solicits = 3;
    cfg->idgen_retries = AC_IDGEN_RETRIES;
    cfg->max_addresses = AC_MAX_ADDRS;
    cfg->retrans_ms = 1000;
    cfg->rtr_solicit_interval_ms = 4000;
    cfg->rtr_solicit_delay_ms = 1000;
    cfg->gen_mode = AC_GEN_RANDOM;
}

/* ---- interface identifiers ------------------------------------------------- */

bool ac_iid_reserved(const uint8_t iid[8])
{
    static const uint8_t zero[8];
    /* RFC 5453 §3: the Subnet-Router anycast identifier (all zero). */
    if (memcmp(iid, zero, 8) == 0)
        return true;
    /* 0200:5EFF:FE00:0000-0200:5EFF:FEFF:FFFF, reserved (Proxy Mobile IPv6). */
    static const uint8_t pmip[5] = {0x02, 0x00, 0x5e, 0xff, 0xfe};
    if (memcmp(iid, pmip, sizeof(pmip)) == 0)
        return true;
    /* FDFF:FFFF:FFFF:FF80-FDFF:FFFF:FFFF:FFFF, subnet anycast (RFC 2526). */
    static const uint8_t anycast[7] = {0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    return memcmp(iid, anycast, sizeof(anycast)) == 0 && iid[7] >= 0x80;
}

bool ac_stable_iid(const struct ac_config *cfg, const struct ns_ip6_addr *prefix,
                   uint8_t *dad_counter, uint8_t iid[8])
{
    /* RFC 7217 §5: RID = F(Prefix, Net_Iface, Network_ID, DAD_Counter,
     * secret_key). The input is laid out as Prefix (8 bytes), Net_Iface
     * (the MAC, as Linux uses the permanent hardware address), DAD_Counter
     * (1 byte), then Network_ID: fixed widths before the one variable
     * field, so no two inputs serialize alike. */
    uint8_t data[8 + NS_ETH_ALEN + 1 + 64];
    size_t id_len = cfg->network_id_len < 64 ? cfg->network_id_len : 64;
    memcpy(data, prefix->b, 8);
    memcpy(data + 8, cfg->mac, NS_ETH_ALEN);
    if (id_len)
        memcpy(data + 8 + NS_ETH_ALEN + 1, cfg->network_id, id_len);
    for (;;) {
        data[8 + NS_ETH_ALEN] = *dad_counter;
        uint64_t h = ns_siphash(cfg->secret, data, 8 + NS_ETH_ALEN + 1 + id_len);
        for (int i = 0; i < 8; i++)
            iid[i] = (uint8_t)(h >> (56 - 8 * i));
        if (!ac_iid_reserved(iid))
            return true;
        /* Linux ipv6_generate_stable_address: a reserved identifier costs a
         * DAD attempt. */
        if (*dad_counter >= cfg->idgen_retries)
            return false;
        (*dad_counter)++;
    }
}

/* The address for prefix (64 bits) under the interface's generation mode. */
static bool make_addr(const struct ac_if *ifp, const struct ns_ip6_addr *prefix,
                      uint8_t *dad_counter, struct ns_ip6_addr *out)
{
    uint8_t iid[8];
    if (ifp->cfg.gen_mode == AC_GEN_EUI64)
        ns_ip6_iid_eui64(ifp->cfg.mac, iid);
    else if (!ac_stable_iid(&ifp->cfg, prefix, dad_counter, iid))
        return false;
    *out = ns_ip6_prefix_mask(prefix, 64);
    memcpy(out->b + 8, iid, 8);
    return true;
}

/* ---- small helpers -------------------------------------------------------------- */

static uint64_t now(const struct ac_if *ifp) { return ifp->st->now_us; }

static uint64_t until(const struct ac_if *ifp, uint32_t lifetime_s)
{
    return lifetime_s == NS_NDP_INFINITE ? UINT64_MAX : now(ifp) + lifetime_s * US_PER_S;
}

/* A random delay in [0, max_us) (0 when max_us is 0). */
static uint64_t jitter(struct ac_if *ifp, uint64_t max_us)
{
    return max_us ? ns_rng_below(&ifp->st->rng, max_us) : 0;
}

static uint64_t retrans_us(const struct ac_if *ifp)
{
    uint32_t ms = ifp->params.retrans_ms ? ifp->params.retrans_ms : ifp->cfg.retrans_ms;
    return ms * US_PER_MS;
}

static void send_ndp(struct ac_if *ifp, const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                     const struct ns_ndp_repr *r)
{
    uint8_t buf[NS_NDP_NA_LEN + 16];
    size_t n = ns_ndp_emit(src, dst, r, buf);
    ifp->ops->output(ifp->ctx, ifp, src, dst, buf, n, false);
}

/* ---- addresses -------------------------------------------------------------------- */

static void dad_timer_fn(void *ctx, struct ns_timer *t, uint64_t now_us);
static void lft_timer_fn(void *ctx, struct ns_timer *t, uint64_t now_us);
static void rs_start(struct ac_if *ifp);
static void adv_schedule(struct ac_if *ifp, uint64_t delay_us);
static void adv_timer_fn(void *ctx, struct ns_timer *t, uint64_t now_us);

unsigned ac_addr_count(const struct ac_if *ifp)
{
    unsigned n = 0;
    for (int i = 0; i < AC_MAX_ADDRS; i++)
        n += ifp->addrs[i].state != AC_ADDR_FREE;
    return n;
}

struct ac_addr *ac_addr_find(struct ac_if *ifp, const struct ns_ip6_addr *addr)
{
    for (int i = 0; i < AC_MAX_ADDRS; i++)
        if (ifp->addrs[i].state != AC_ADDR_FREE && ns_ip6_eq(&ifp->addrs[i].addr, addr))
            return &ifp->addrs[i];
    return NULL;
}

const struct ac_addr *ac_linklocal(const struct ac_if *ifp)
{
    for (int i = 0; i < AC_MAX_ADDRS; i++) {
        const struct ac_addr *a = &ifp->addrs[i];
        if (a->origin == AC_ORIGIN_LINKLOCAL &&
            (a->state == AC_ADDR_PREFERRED || a->state == AC_ADDR_DEPRECATED))
            return a;
    }
    return NULL;
}

static bool tentative(const struct ac_addr *a)
{
    return a->state == AC_ADDR_WAIT || a->state == AC_ADDR_TENTATIVE;
}

/* Arm the lifetime timer at the next of the preferred and valid ends. */
static void lft_arm(struct ac_addr *a)
{
    struct ns_wheel *w = &a->ifp->st->wheel;
    uint64_t next = a->valid_until_us;
    if (a->state == AC_ADDR_PREFERRED && a->preferred_until_us < next)
        next = a->preferred_until_us;
    if (next == UINT64_MAX)
        ns_timer_cancel(w, &a->lft_timer);
    else
        ns_timer_arm(w, &a->lft_timer, next);
}

/* Create an address entry (tentative) and start DAD after delay_us.
 * NULL when the table is full. */
static struct ac_addr *addr_create(struct ac_if *ifp, const struct ns_ip6_addr *addr, uint8_t plen,
                                   enum ac_origin origin, uint8_t dad_counter, uint64_t delay_us)
{
    unsigned max = ifp->cfg.max_addresses < AC_MAX_ADDRS ? ifp->cfg.max_addresses : AC_MAX_ADDRS;
    if (ac_addr_count(ifp) >= max)
        return NULL;
    struct ac_addr *a = NULL;
    for (int i = 0; i < AC_MAX_ADDRS && !a; i++)
        if (ifp->addrs[i].state == AC_ADDR_FREE)
            a = &ifp->addrs[i];
    memset(a, 0, sizeof(*a));
    a->ifp = ifp;
    a->addr = *addr;
    a->plen = plen;
    a->origin = (uint8_t)origin;
    a->dad_counter = dad_counter;
    a->preferred_until_us = a->valid_until_us = UINT64_MAX;
    a->state = AC_ADDR_WAIT;
    ns_timer_init(&a->dad_timer, dad_timer_fn);
    ns_timer_init(&a->lft_timer, lft_timer_fn);
    ifp->ops->addr_event(ifp->ctx, ifp, a, AC_EV_TENTATIVE);
    if (ifp->cfg.dad_transmits == 0)
        delay_us = 0; /* RFC 4862 §5.4: DupAddrDetectTransmits 0, no DAD */
    ns_timer_arm(&ifp->st->wheel, &a->dad_timer, now(ifp) + delay_us);
    return a;
}

/* Take a out of use: timers, its solicited-node group, the event. */
static void addr_remove(struct ac_addr *a)
{
    struct ac_if *ifp = a->ifp;
    ns_timer_cancel(&ifp->st->wheel, &a->dad_timer);
    ns_timer_cancel(&ifp->st->wheel, &a->lft_timer);
    if (a->state != AC_ADDR_WAIT) {
        struct ns_ip6_addr sn = ns_ip6_solicited_node(&a->addr);
        ac_mld_leave(ifp, &sn);
    }
    ifp->ops->addr_event(ifp->ctx, ifp, a, AC_EV_REMOVED);
    a->state = AC_ADDR_FREE;
}

/* DAD passed (or is off): the address becomes usable. */
static void dad_complete(struct ac_addr *a)
{
    struct ac_if *ifp = a->ifp;
    bool deprecated = a->preferred_until_us <= now(ifp);
    a->state = AC_ADDR_PREFERRED;
    ifp->ops->addr_event(ifp->ctx, ifp, a, AC_EV_READY);
    if (deprecated) {
        a->state = AC_ADDR_DEPRECATED;
        ifp->ops->addr_event(ifp->ctx, ifp, a, AC_EV_DEPRECATED);
    }
    lft_arm(a);
    /* Linux addrconf_dad_completed: the link-local address is ready, now
     * solicit routers (RFC 4861 §6.3.7; the random delay before the first
     * solicitation was the one before DAD, RFC 4862 §5.4.2). */
    if (a->origin == AC_ORIGIN_LINKLOCAL) {
        rs_start(ifp);
        if (ifp->adv_on)
            adv_schedule(ifp, 0);
    }
}

static void dad_send_ns(struct ac_addr *a)
{
    struct ac_if *ifp = a->ifp;
    /* RFC 4862 §5.4.2: from ::, to the target's solicited-node address;
     * RFC 7527 §4.1: with a Nonce option, to know our own NS if it comes
     * back. */
    uint8_t opt[NONCE_OPT_LEN] = {NS_NDP_OPT_NONCE, 1};
    memcpy(opt + 2, a->nonce, 6);
    struct ns_ndp_repr r = {.type = NS_ICMP6_NS, .target = a->addr, .opts = opt,
                            .opts_len = sizeof(opt)};
    struct ns_ip6_addr dst = ns_ip6_solicited_node(&a->addr);
    NS_STAT_INC(ifp->st, dad_ns_tx);
    send_ndp(ifp, &ns_ip6_unspecified, &dst, &r);
}

static void dad_timer_fn(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    (void)ctx;
    (void)now_us;
    struct ac_addr *a = NS_CONTAINER_OF(t, struct ac_addr, dad_timer);
    struct ac_if *ifp = a->ifp;
    if (a->state == AC_ADDR_WAIT) {
        /* RFC 4862 §5.4.2: join all-nodes (done at enable) and the
         * solicited-node group before the first probe; the random delay
         * before it delays the MLD report too. */
        struct ns_ip6_addr sn = ns_ip6_solicited_node(&a->addr);
        ac_mld_join(ifp, &sn);
        a->state = AC_ADDR_TENTATIVE;
        a->probes_left = ifp->cfg.dad_transmits;
        for (int i = 0; i < 6; i++)
            a->nonce[i] = (uint8_t)ns_rng_next(&ifp->st->rng);
    }
    if (a->probes_left == 0) {
        dad_complete(a);
        return;
    }
    a->probes_left--;
    dad_send_ns(a);
    /* RFC 4862 §5.4.2: RetransTimer between probes and after the last. */
    ns_timer_arm(&ifp->st->wheel, &a->dad_timer, now(ifp) + retrans_us(ifp));
}

/* RFC 4862 §5.4.5: a duplicate. The address is dropped; a stable one is
 * formed again with the next DAD_Counter (RFC 7217 §6), up to
 * idgen_retries times, idgen_delay later (Linux addrconf_dad_failure). */
static void dad_failed(struct ac_addr *a)
{
    struct ac_if *ifp = a->ifp;
    NS_STAT_INC(ifp->st, dad_conflict);
    struct ac_addr old = *a;
    addr_remove(a);
    if (old.origin == AC_ORIGIN_MANUAL || ifp->cfg.gen_mode == AC_GEN_EUI64)
        return;
    uint8_t counter = (uint8_t)(old.dad_counter + 1);
    struct ns_ip6_addr next;
    if (old.dad_counter >= ifp->cfg.idgen_retries || !make_addr(ifp, &old.addr, &counter, &next)) {
        NS_STAT_INC(ifp->st, dad_giveup);
        return;
    }
    struct ac_addr *n = addr_create(ifp, &next, old.plen, (enum ac_origin)old.origin, counter,
                                    AC_IDGEN_DELAY_US);
    if (!n)
        return;
    n->preferred_until_us = old.preferred_until_us;
    n->valid_until_us = old.valid_until_us;
    lft_arm(n);
}

static void lft_timer_fn(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    (void)ctx;
    struct ac_addr *a = NS_CONTAINER_OF(t, struct ac_addr, lft_timer);
    /* RFC 4862 §5.5.4: an address whose valid lifetime ends is removed;
     * one whose preferred lifetime ends is deprecated. */
    if (now_us >= a->valid_until_us) {
        addr_remove(a);
        return;
    }
    if (a->state == AC_ADDR_PREFERRED && now_us >= a->preferred_until_us) {
        a->state = AC_ADDR_DEPRECATED;
        a->ifp->ops->addr_event(a->ifp->ctx, a->ifp, a, AC_EV_DEPRECATED);
    }
    lft_arm(a);
}

int ac_addr_add(struct ac_if *ifp, const struct ns_ip6_addr *addr, uint8_t plen)
{
    if (plen > 128 || ns_ip6_is_multicast(addr) || ns_ip6_is_unspecified(addr))
        return -EINVAL;
    if (ac_addr_find(ifp, addr))
        return -EEXIST;
    uint64_t delay = jitter(ifp, ifp->cfg.rtr_solicit_delay_ms * US_PER_MS);
    return addr_create(ifp, addr, plen, AC_ORIGIN_MANUAL, 0, delay) ? 0 : -ENOSPC;
}

int ac_addr_del(struct ac_if *ifp, const struct ns_ip6_addr *addr)
{
    struct ac_addr *a = ac_addr_find(ifp, addr);
    if (!a)
        return -ENOENT;
    addr_remove(a);
    return 0;
}

/* ---- router solicitation (RFC 4861 §6.3.7) ------------------------------------- */

static bool accepts_ra(const struct ac_if *ifp)
{
    return ifp->cfg.accept_ra && !ifp->cfg.forwarding;
}

static void rs_send(struct ac_if *ifp)
{
    const struct ac_addr *ll = ac_linklocal(ifp);
    uint8_t opt[NS_NDP_OPT_LLADDR_LEN];
    struct ns_ndp_repr r = {.type = NS_ICMP6_RS};
    /* §4.1: the source link-layer address is included unless the source
     * is :: (§6.3.7 allows an RS from :: when no address is ready). */
    if (ll) {
        r.opts = opt;
        r.opts_len = ns_ndp_opt_lladdr_emit(opt, NS_NDP_OPT_SLLA, ifp->cfg.mac);
    }
    NS_STAT_INC(ifp->st, rs_tx);
    ifp->rs_sent++;
    send_ndp(ifp, ll ? &ll->addr : &ns_ip6_unspecified, &ns_ip6_all_routers, &r);
}

static void rs_timer_fn(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    (void)ctx;
    (void)now_us;
    struct ac_if *ifp = NS_CONTAINER_OF(t, struct ac_if, rs_timer);
    rs_send(ifp);
    /* §6.3.7: at most MAX_RTR_SOLICITATIONS, RTR_SOLICITATION_INTERVAL apart. */
    if (ifp->rs_sent < ifp->cfg.rtr_solicits)
        ns_timer_arm(&ifp->st->wheel, &ifp->rs_timer,
                     now(ifp) + ifp->cfg.rtr_solicit_interval_ms * US_PER_MS);
}

static void rs_start(struct ac_if *ifp)
{
    if (!accepts_ra(ifp) || ifp->cfg.rtr_solicits == 0)
        return;
    ifp->rs_sent = 0;
    rs_timer_fn(NULL, &ifp->rs_timer, now(ifp));
}

/* ---- enable / disable --------------------------------------------------------------- */

void ac_init(struct ac_if *ifp, struct ns_stack *st, int ifindex, const struct ac_config *cfg,
             const struct ac_ops *ops, void *ctx)
{
    memset(ifp, 0, sizeof(*ifp));
    ifp->st = st;
    ifp->ops = ops;
    ifp->ctx = ctx;
    ifp->ifindex = ifindex;
    ifp->cfg = *cfg;
    if (ifp->cfg.max_addresses > AC_MAX_ADDRS)
        ifp->cfg.max_addresses = AC_MAX_ADDRS;
    if (ifp->cfg.gen_mode == AC_GEN_RANDOM) {
        /* Linux addr_gen_mode 3: a secret of its own per interface. */
        for (int i = 0; i < 16; i += 8) {
            uint64_t r = ns_rng_next(&st->rng);
            memcpy(ifp->cfg.secret + i, &r, 8);
        }
    }
    ifp->params.mtu = cfg->link_mtu;
    ns_timer_init(&ifp->rs_timer, rs_timer_fn);
    ns_timer_init(&ifp->adv_timer, adv_timer_fn);
    for (int i = 0; i < AC_MAX_GROUPS; i++)
        ifp->groups[i].ifp = ifp;
    ac_mld_reset(ifp);
}

void ac_enable(struct ac_if *ifp)
{
    if (ifp->enabled)
        return;
    ifp->enabled = true;
    ac_mld_join(ifp, &ns_ip6_all_nodes);
    /* RFC 4862 §5.3: fe80::/64 and the interface identifier. */
    struct ns_ip6_addr ll = {{0xfe, 0x80}}, addr;
    uint8_t counter = 0;
    if (!make_addr(ifp, &ll, &counter, &addr))
        return;
    uint64_t delay = jitter(ifp, ifp->cfg.rtr_solicit_delay_ms * US_PER_MS);
    addr_create(ifp, &addr, 64, AC_ORIGIN_LINKLOCAL, counter, delay);
}

static void router_remove(struct ac_router *r);
static void prefix_remove(struct ac_prefix *p);

void ac_disable(struct ac_if *ifp)
{
    if (!ifp->enabled)
        return;
    ac_adv_stop(ifp); /* its last RA goes from the link-local address */
    for (int i = 0; i < AC_MAX_ADDRS; i++)
        if (ifp->addrs[i].state != AC_ADDR_FREE)
            addr_remove(&ifp->addrs[i]);
    for (int i = 0; i < AC_MAX_ROUTERS; i++)
        if (ifp->routers[i].used)
            router_remove(&ifp->routers[i]);
    for (int i = 0; i < AC_MAX_PREFIXES; i++)
        if (ifp->prefixes[i].used)
            prefix_remove(&ifp->prefixes[i]);
    for (int i = 0; i < AC_MAX_REDIRECTS; i++) {
        struct ac_redirect *r = &ifp->redirects[i];
        if (r->used && ifp->ops->redirect_event)
            ifp->ops->redirect_event(ifp->ctx, ifp, &r->dest, NULL);
        r->used = false;
    }
    ns_timer_cancel(&ifp->st->wheel, &ifp->rs_timer);
    ac_mld_leave(ifp, &ns_ip6_all_nodes);
    ac_mld_reset(ifp);
    ifp->params = (struct ac_params){.mtu = ifp->cfg.link_mtu};
    ifp->enabled = false;
}

void ac_destroy(struct ac_if *ifp)
{
    struct ns_wheel *w = &ifp->st->wheel;
    for (int i = 0; i < AC_MAX_ADDRS; i++) {
        ns_timer_cancel(w, &ifp->addrs[i].dad_timer);
        ns_timer_cancel(w, &ifp->addrs[i].lft_timer);
        ifp->addrs[i].state = AC_ADDR_FREE;
    }
    for (int i = 0; i < AC_MAX_ROUTERS; i++) {
        ns_timer_cancel(w, &ifp->routers[i].timer);
        ifp->routers[i].used = false;
    }
    for (int i = 0; i < AC_MAX_PREFIXES; i++) {
        ns_timer_cancel(w, &ifp->prefixes[i].timer);
        ifp->prefixes[i].used = false;
    }
    ns_timer_cancel(w, &ifp->rs_timer);
    ns_timer_cancel(w, &ifp->adv_timer);
    ac_mld_reset(ifp);
    ifp->adv_on = false;
    ifp->enabled = false;
}

/* ---- NS and NA during DAD (RFC 4862 §5.4.3, §5.4.4) ---------------------------- */

bool ac_ns_input(struct ac_if *ifp, const struct ns_ip6_repr *ip, const struct ns_ndp_repr *ns)
{
    struct ac_addr *a = ac_addr_find(ifp, &ns->target);
    if (!a || !tentative(a))
        return false;
    /* §5.4.3: an NS from a unicast source for a tentative address is
     * someone resolving it: not answered, not a conflict. */
    if (!ns_ip6_is_unspecified(&ip->src))
        return true;
    /* RFC 7527 §4.2: our own probe, looped back. */
    if (a->state == AC_ADDR_TENTATIVE && ns->nonce && ns->nonce_len >= 6 &&
        memcmp(ns->nonce, a->nonce, 6) == 0) {
        NS_STAT_INC(ifp->st, dad_looped);
        return true;
    }
    /* §5.4.3: another node is probing the same address. */
    dad_failed(a);
    return true;
}

bool ac_na_input(struct ac_if *ifp, const struct ns_ip6_repr *ip, const struct ns_ndp_repr *na)
{
    (void)ip;
    struct ac_addr *a = ac_addr_find(ifp, &na->target);
    if (!a || !tentative(a))
        return false;
    /* §5.4.4: an NA for a tentative address: it is a duplicate. */
    dad_failed(a);
    return true;
}

/* ---- the default router list (RFC 4861 §6.3.4) ----------------------------------- */

unsigned ac_router_count(const struct ac_if *ifp)
{
    unsigned n = 0;
    for (int i = 0; i < AC_MAX_ROUTERS; i++)
        n += ifp->routers[i].used;
    return n;
}

static void router_remove(struct ac_router *r)
{
    struct ac_if *ifp = r->ifp;
    ns_timer_cancel(&ifp->st->wheel, &r->timer);
    r->used = false;
    ifp->ops->router_event(ifp->ctx, ifp, &r->addr, false);
}

static void router_timer_fn(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    (void)ctx;
    (void)now_us;
    router_remove(NS_CONTAINER_OF(t, struct ac_router, timer));
}

static void ra_router(struct ac_if *ifp, const struct ns_ip6_addr *src, uint16_t lifetime_s)
{
    struct ac_router *r = NULL, *free_r = NULL;
    for (int i = 0; i < AC_MAX_ROUTERS; i++) {
        if (ifp->routers[i].used && ns_ip6_eq(&ifp->routers[i].addr, src))
            r = &ifp->routers[i];
        else if (!ifp->routers[i].used && !free_r)
            free_r = &ifp->routers[i];
    }
    /* §6.3.4: Router Lifetime 0 takes the router off the list at once. */
    if (lifetime_s == 0) {
        if (r)
            router_remove(r);
        return;
    }
    if (!r) {
        if (!free_r) {
            NS_STAT_INC(ifp->st, ra_router_full);
            return;
        }
        r = free_r;
        r->used = true;
        r->addr = *src;
        r->ifp = ifp;
        ns_timer_init(&r->timer, router_timer_fn);
        ifp->ops->router_event(ifp->ctx, ifp, src, true);
    }
    r->expires_us = now(ifp) + lifetime_s * US_PER_S;
    ns_timer_arm(&ifp->st->wheel, &r->timer, r->expires_us);
}

/* ---- the prefix list (RFC 4861 §6.3.4, §5.1) -------------------------------------- */

unsigned ac_prefix_count(const struct ac_if *ifp)
{
    unsigned n = 0;
    for (int i = 0; i < AC_MAX_PREFIXES; i++)
        n += ifp->prefixes[i].used;
    return n;
}

static void prefix_remove(struct ac_prefix *p)
{
    struct ac_if *ifp = p->ifp;
    ns_timer_cancel(&ifp->st->wheel, &p->timer);
    p->used = false;
    ifp->ops->prefix_event(ifp->ctx, ifp, &p->prefix, p->plen, false);
}

static void prefix_timer_fn(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    (void)ctx;
    (void)now_us;
    prefix_remove(NS_CONTAINER_OF(t, struct ac_prefix, timer));
}

static void ra_onlink(struct ac_if *ifp, const struct ns_ndp_prefix *pi)
{
    struct ns_ip6_addr pfx = ns_ip6_prefix_mask(&pi->prefix, pi->prefix_len);
    struct ac_prefix *p = NULL, *free_p = NULL;
    for (int i = 0; i < AC_MAX_PREFIXES; i++) {
        struct ac_prefix *q = &ifp->prefixes[i];
        if (q->used && q->plen == pi->prefix_len && ns_ip6_eq(&q->prefix, &pfx))
            p = q;
        else if (!q->used && !free_p)
            free_p = q;
    }
    /* §6.3.4: a known prefix gets the new valid lifetime; 0 times it out
     * now. An unknown one with lifetime 0 is ignored. */
    if (pi->valid_s == 0) {
        if (p)
            prefix_remove(p);
        return;
    }
    if (!p) {
        if (!free_p) {
            NS_STAT_INC(ifp->st, ra_prefix_full);
            return;
        }
        p = free_p;
        p->used = true;
        p->prefix = pfx;
        p->plen = pi->prefix_len;
        p->ifp = ifp;
        ns_timer_init(&p->timer, prefix_timer_fn);
        ifp->ops->prefix_event(ifp->ctx, ifp, &pfx, p->plen, true);
    }
    p->expires_us = until(ifp, pi->valid_s);
    if (p->expires_us == UINT64_MAX)
        ns_timer_cancel(&ifp->st->wheel, &p->timer);
    else
        ns_timer_arm(&ifp->st->wheel, &p->timer, p->expires_us);
}

/* ---- SLAAC (RFC 4862 §5.5.3) --------------------------------------------------------- */

static void ra_autoconf(struct ac_if *ifp, const struct ns_ndp_prefix *pi)
{
    /* §5.5.3 (d): prefix length + identifier length must be 128; our
     * identifiers are 64 bits (RFC 4291 §2.5.1). */
    if (pi->prefix_len != 64) {
        NS_STAT_INC(ifp->st, slaac_bad_plen);
        return;
    }
    struct ac_addr *a = NULL;
    for (int i = 0; i < AC_MAX_ADDRS && !a; i++) {
        struct ac_addr *b = &ifp->addrs[i];
        if (b->state != AC_ADDR_FREE && b->origin == AC_ORIGIN_SLAAC &&
            ns_ip6_prefix_eq(&b->addr, &pi->prefix, 64))
            a = b;
    }
    uint64_t t = now(ifp);
    if (!a) {
        /* §5.5.3 (d): a new prefix with a valid lifetime forms an address. */
        if (pi->valid_s == 0)
            return;
        uint8_t counter = 0;
        struct ns_ip6_addr addr;
        if (!make_addr(ifp, &pi->prefix, &counter, &addr)) {
            NS_STAT_INC(ifp->st, dad_giveup);
            return;
        }
        if (ac_addr_find(ifp, &addr))
            return; /* configured by hand already */
        uint64_t delay = jitter(ifp, ifp->cfg.rtr_solicit_delay_ms * US_PER_MS);
        a = addr_create(ifp, &addr, 64, AC_ORIGIN_SLAAC, counter, delay);
        if (!a) {
            NS_STAT_INC(ifp->st, slaac_addr_full);
            return;
        }
        NS_STAT_INC(ifp->st, slaac_addr_added);
        a->preferred_until_us = until(ifp, pi->preferred_s);
        a->valid_until_us = until(ifp, pi->valid_s);
        lft_arm(a);
        return;
    }
    /* §5.5.3 (e): the preferred lifetime is taken as sent. The valid one
     * as sent when it is over two hours or beyond what is left; else what
     * is left is kept when that is two hours or less, or else cut to two
     * hours — an unauthenticated RA cannot end an address sooner
     * (Linux addrconf_prefix_rcv_add_addr: max(received, min(left, 2 h))). */
    uint64_t recv_valid = until(ifp, pi->valid_s);
    uint64_t left = a->valid_until_us;
    uint64_t two_h = t + AC_TWO_HOURS_S * US_PER_S;
    uint64_t floor = left < two_h ? left : two_h;
    a->valid_until_us = recv_valid > floor ? recv_valid : floor;
    a->preferred_until_us = until(ifp, pi->preferred_s);
    if (a->state == AC_ADDR_DEPRECATED && a->preferred_until_us > t) {
        a->state = AC_ADDR_PREFERRED;
        ifp->ops->addr_event(ifp->ctx, ifp, a, AC_EV_READY);
    } else if (a->state == AC_ADDR_PREFERRED && a->preferred_until_us <= t) {
        a->state = AC_ADDR_DEPRECATED;
        ifp->ops->addr_event(ifp->ctx, ifp, a, AC_EV_DEPRECATED);
    }
    lft_arm(a);
}

static void ra_prefix(struct ac_if *ifp, const struct ns_ndp_opt *o)
{
    struct ns_ndp_prefix pi;
    /* Linux addrconf_prefix_rcv: short options, multicast and link-local
     * prefixes (RFC 4862 §5.5.3 b) and preferred > valid (§5.5.3 c) are
     * ignored, for on-link determination too. */
    if (ns_ndp_prefix_parse(o, &pi) < 0 || ns_ip6_is_multicast(&pi.prefix) ||
        ns_ip6_is_link_local(&pi.prefix) || pi.preferred_s > pi.valid_s) {
        NS_STAT_INC(ifp->st, ra_bad_prefix);
        return;
    }
    if (pi.flags & NS_NDP_PREFIX_ONLINK)
        ra_onlink(ifp, &pi);
    /* §5.5.3 (a): only with the autonomous flag. */
    if ((pi.flags & NS_NDP_PREFIX_AUTO) && ifp->cfg.autoconf)
        ra_autoconf(ifp, &pi);
}

void ac_ra_input(struct ac_if *ifp, const struct ns_ip6_repr *ip, const struct ns_ndp_repr *ra)
{
    /* Linux ipv6_accept_ra: accept_ra 1 takes RAs only when not forwarding. */
    if (!ifp->enabled || !accepts_ra(ifp)) {
        NS_STAT_INC(ifp->st, ra_ignored);
        return;
    }
    NS_STAT_INC(ifp->st, ra_rx);
    /* §6.3.7: a host stops soliciting once it has an advertisement. */
    ns_timer_cancel(&ifp->st->wheel, &ifp->rs_timer);
    ra_router(ifp, &ip->src, ra->router_lifetime_s);

    /* §6.3.4: non-zero fields set the link parameters. */
    bool changed = false;
    if (ra->cur_hop_limit && ra->cur_hop_limit != ifp->params.cur_hop_limit) {
        ifp->params.cur_hop_limit = ra->cur_hop_limit;
        changed = true;
    }
    if (ra->reachable_ms && ra->reachable_ms != ifp->params.reachable_ms) {
        ifp->params.reachable_ms = ra->reachable_ms;
        changed = true;
    }
    if (ra->retrans_ms && ra->retrans_ms != ifp->params.retrans_ms) {
        ifp->params.retrans_ms = ra->retrans_ms;
        changed = true;
    }
    if (ra->has_mtu) {
        /* §6.3.4: an MTU option is used when it is at least the IPv6
         * minimum (RFC 8200 §5) and no more than the link's (Linux
         * ndisc_router_discovery). */
        if (ra->mtu < NS_IP6_MIN_MTU || ra->mtu > ifp->cfg.link_mtu) {
            NS_STAT_INC(ifp->st, ra_bad_mtu);
        } else if (ra->mtu != ifp->params.mtu) {
            ifp->params.mtu = ra->mtu;
            changed = true;
        }
    }
    if (changed && ifp->ops->params_event)
        ifp->ops->params_event(ifp->ctx, ifp);

    struct ns_ndp_opt_iter it;
    struct ns_ndp_opt o;
    ns_ndp_opt_iter_init(&it, ra->opts, ra->opts_len);
    while (ns_ndp_opt_next(&it, &o) > 0)
        if (o.type == NS_NDP_OPT_PREFIX)
            ra_prefix(ifp, &o);
}

/* ---- redirects (RFC 4861 §8) ------------------------------------------------------- */

bool ac_redirect_input(struct ac_if *ifp, const struct ns_ip6_repr *ip,
                       const struct ns_ndp_repr *rd)
{
    /* Linux ndisc_redirect_rcv: a router does not take redirects. */
    if (ifp->cfg.forwarding) {
        NS_STAT_INC(ifp->st, redirect_ignored);
        return false;
    }
    /* §8.1: the Redirect must come from the current first-hop router for
     * its destination (the other checks are src/wire's). */
    struct ns_ip6_addr router;
    if (!ifp->ops->first_hop(ifp->ctx, ifp, &rd->dest, &router) || !ns_ip6_eq(&router, &ip->src)) {
        NS_STAT_INC(ifp->st, redirect_bad);
        return false;
    }
    /* §8.3: the destination's next hop becomes the target. */
    struct ac_redirect *e = NULL, *free_e = NULL, *oldest = NULL;
    for (int i = 0; i < AC_MAX_REDIRECTS && !e; i++) {
        struct ac_redirect *r = &ifp->redirects[i];
        if (r->used && ns_ip6_eq(&r->dest, &rd->dest))
            e = r;
        else if (!r->used && !free_e)
            free_e = r;
        else if (r->used && (!oldest || r->stamp_us < oldest->stamp_us))
            oldest = r;
    }
    if (!e && free_e) {
        e = free_e;
    } else if (!e) {
        e = oldest; /* the table is bounded: the oldest destination goes */
        NS_STAT_INC(ifp->st, redirect_evict);
        if (ifp->ops->redirect_event)
            ifp->ops->redirect_event(ifp->ctx, ifp, &e->dest, NULL);
    }
    e->used = true;
    e->dest = rd->dest;
    e->target = rd->target;
    e->stamp_us = now(ifp);
    NS_STAT_INC(ifp->st, redirect_rx);
    if (ifp->ops->redirect_event)
        ifp->ops->redirect_event(ifp->ctx, ifp, &rd->dest, &rd->target);
    return true;
}

bool ac_redirect_lookup(const struct ac_if *ifp, const struct ns_ip6_addr *dest,
                        struct ns_ip6_addr *next_hop)
{
    for (int i = 0; i < AC_MAX_REDIRECTS; i++) {
        const struct ac_redirect *r = &ifp->redirects[i];
        if (r->used && ns_ip6_eq(&r->dest, dest)) {
            *next_hop = r->target;
            return true;
        }
    }
    return false;
}

/* ---- advertising as a router (RFC 4861 §6.2) ------------------------------------ */

void ac_adv_config_default(struct ac_adv_config *adv, const struct ns_ip6_addr *prefix,
                           uint8_t plen)
{
    memset(adv, 0, sizeof(*adv));
    /* §6.2.1 defaults (radvd's too). */
    adv->max_interval_ms = 600000;
    adv->min_interval_ms = 200000; /* 0.33 x MaxRtrAdvInterval */
    adv->router_lifetime_s = 1800; /* 3 x MaxRtrAdvInterval */
    adv->cur_hop_limit = 64;
    if (prefix) {
        adv->n_prefixes = 1;
        adv->prefixes[0] = (struct ns_ndp_prefix){
            .prefix_len = plen, .flags = NS_NDP_PREFIX_ONLINK | NS_NDP_PREFIX_AUTO,
            .valid_s = 2592000, .preferred_s = 604800, .prefix = ns_ip6_prefix_mask(prefix, plen)};
    }
}

static void adv_send(struct ac_if *ifp, uint16_t router_lifetime_s)
{
    const struct ac_addr *ll = ac_linklocal(ifp);
    if (!ll)
        return; /* §6.2.2: RAs come from the link-local address */
    uint8_t opts[NS_NDP_OPT_LLADDR_LEN + NS_NDP_OPT_MTU_LEN +
                 AC_ADV_MAX_PREFIXES * NS_NDP_OPT_PREFIX_LEN];
    size_t n = ns_ndp_opt_lladdr_emit(opts, NS_NDP_OPT_SLLA, ifp->cfg.mac);
    if (ifp->adv.mtu)
        n += ns_ndp_opt_mtu_emit(opts + n, ifp->adv.mtu);
    for (unsigned i = 0; i < ifp->adv.n_prefixes && i < AC_ADV_MAX_PREFIXES; i++)
        n += ns_ndp_opt_prefix_emit(opts + n, &ifp->adv.prefixes[i]);
    struct ns_ndp_repr r = {.type = NS_ICMP6_RA, .cur_hop_limit = ifp->adv.cur_hop_limit,
                            .router_lifetime_s = router_lifetime_s, .opts = opts,
                            .opts_len = n};
    uint8_t buf[NS_NDP_RA_LEN + sizeof(opts)];
    size_t len = ns_ndp_emit(&ll->addr, &ns_ip6_all_nodes, &r, buf);
    NS_STAT_INC(ifp->st, ra_tx);
    ifp->adv_last_us = now(ifp);
    ifp->ops->output(ifp->ctx, ifp, &ll->addr, &ns_ip6_all_nodes, buf, len, false);
}

static void adv_schedule(struct ac_if *ifp, uint64_t delay_us)
{
    uint64_t at = now(ifp) + delay_us;
    if (!ns_timer_pending(&ifp->adv_timer) || ifp->adv_timer.expires_us > at)
        ns_timer_arm(&ifp->st->wheel, &ifp->adv_timer, at);
}

static void adv_timer_fn(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    (void)ctx;
    (void)now_us;
    struct ac_if *ifp = NS_CONTAINER_OF(t, struct ac_if, adv_timer);
    if (!ifp->adv_on || !ac_linklocal(ifp))
        return;
    adv_send(ifp, ifp->adv.router_lifetime_s);
    /* §6.2.4: the next one a random time in [Min, Max]RtrAdvInterval
     * away, at most 16 s for the first few. */
    uint64_t lo = ifp->adv.min_interval_ms * US_PER_MS, hi = ifp->adv.max_interval_ms * US_PER_MS;
    uint64_t next = lo + jitter(ifp, hi > lo ? hi - lo : 1);
    if (ifp->adv_initial_left) {
        ifp->adv_initial_left--;
        if (next > AC_MAX_INITIAL_RTR_ADVERT_INTERVAL_US)
            next = AC_MAX_INITIAL_RTR_ADVERT_INTERVAL_US;
    }
    ns_timer_arm(&ifp->st->wheel, &ifp->adv_timer, now(ifp) + next);
}

void ac_adv_start(struct ac_if *ifp, const struct ac_adv_config *adv)
{
    ifp->adv = *adv;
    if (ifp->adv.n_prefixes > AC_ADV_MAX_PREFIXES)
        ifp->adv.n_prefixes = AC_ADV_MAX_PREFIXES;
    ifp->adv_on = true;
    ifp->adv_initial_left = AC_MAX_INITIAL_RTR_ADVERTISEMENTS - 1;
    ifp->adv_last_us = UINT64_MAX;
    if (ac_linklocal(ifp))
        adv_schedule(ifp, 0);
}

void ac_adv_stop(struct ac_if *ifp)
{
    if (!ifp->adv_on)
        return;
    ifp->adv_on = false;
    ns_timer_cancel(&ifp->st->wheel, &ifp->adv_timer);
    /* §6.2.5: a final RA with Router Lifetime 0. */
    if (ifp->adv_last_us != UINT64_MAX)
        adv_send(ifp, 0);
}

void ac_rs_input(struct ac_if *ifp, const struct ns_ip6_repr *ip, const struct ns_ndp_repr *rs)
{
    (void)ip;
    (void)rs;
    /* §6.2.6: a host silently discards RSs. */
    if (!ifp->adv_on || !ac_linklocal(ifp))
        return;
    /* §6.2.6: a multicast answer after a random delay in [0,
     * MAX_RA_DELAY_TIME], and no sooner than MIN_DELAY_BETWEEN_RAS after
     * the last multicast RA. */
    uint64_t delay = jitter(ifp, AC_MAX_RA_DELAY_TIME_US + 1);
    if (ifp->adv_last_us != UINT64_MAX &&
        ifp->adv_last_us + AC_MIN_DELAY_BETWEEN_RAS_US > now(ifp) + delay)
        delay = ifp->adv_last_us + AC_MIN_DELAY_BETWEEN_RAS_US - now(ifp);
    adv_schedule(ifp, delay);
}

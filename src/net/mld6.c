/* net/mld6.c — the MLDv2 listener of one interface (RFC 3810 §6): the
 * groups NDP joins (all-nodes, the solicited-node group of each address),
 * unsolicited reports on join and leave, answers to queries. Every group
 * is joined in EXCLUDE mode with no sources (any-source), which is all
 * NDP needs; source filters are not kept. The contract is in
 * net/addrconf.h.
 */
#include <errno.h>
#include <string.h>

#include "net/addrconf.h"

#define US_PER_MS 1000ull

static void group_timer_fn(void *ctx, struct ns_timer *t, uint64_t now_us);
static void general_timer_fn(void *ctx, struct ns_timer *t, uint64_t now_us);

/* RFC 3810 §6: no reports for ff02::1 nor for scopes 0 and 1. */
static bool reportable(const struct ns_ip6_addr *g)
{
    return !ns_ip6_eq(g, &ns_ip6_all_nodes) && ns_ip6_mcast_scope(g) > 1;
}

/* The index of group g in the table (joined or leaving), or -1. */
static int group_index(const struct ac_if *ifp, const struct ns_ip6_addr *g)
{
    for (int i = 0; i < AC_MAX_GROUPS; i++) {
        const struct ac_group *m = &ifp->groups[i];
        if ((m->refs || m->leaving) && ns_ip6_eq(&m->group, g))
            return i;
    }
    return -1;
}

static struct ac_group *group_find(struct ac_if *ifp, const struct ns_ip6_addr *g)
{
    int i = group_index(ifp, g);
    return i < 0 ? NULL : &ifp->groups[i];
}

/* One report with n records of the given types (RFC 3810 §5.2), from the
 * link-local address once it is ready, else from :: (§5.2.13), to
 * ff02::16 (§5.2.14). */
static void send_report(struct ac_if *ifp, const struct ns_mld2_record *recs, size_t n)
{
    if (n == 0)
        return;
    uint8_t buf[NS_MLD2_REPORT_HLEN + AC_MAX_GROUPS * NS_MLD2_RECORD_HLEN];
    const struct ac_addr *ll = ac_linklocal(ifp);
    const struct ns_ip6_addr *src = ll ? &ll->addr : &ns_ip6_unspecified;
    size_t len = ns_mld2_report_emit(src, &ns_ip6_all_mld2_routers, recs, n, buf);
    NS_STAT_INC(ifp->st, mld_report_tx);
    ifp->ops->output(ifp->ctx, ifp, src, &ns_ip6_all_mld2_routers, buf, len, true);
}

static void send_one(struct ac_if *ifp, const struct ns_ip6_addr *g, uint8_t type)
{
    struct ns_mld2_record rec = {.type = type, .group = *g};
    send_report(ifp, &rec, 1);
}

/* §6.1: the state-change report now, repeated Robustness - 1 times at
 * random intervals in (0, Unsolicited Report Interval]. */
static void state_change(struct ac_group *m)
{
    struct ac_if *ifp = m->ifp;
    send_one(ifp, &m->group, m->leaving ? NS_MLD2_CHANGE_TO_INCLUDE : NS_MLD2_CHANGE_TO_EXCLUDE);
    m->unsol_left = AC_MLD_ROBUSTNESS - 1;
    m->query_pending = false;
    if (m->unsol_left)
        ns_timer_arm(&ifp->st->wheel, &m->timer,
                     ifp->st->now_us + 1 + ns_rng_below(&ifp->st->rng, AC_MLD_UNSOL_US));
    else if (m->leaving)
        m->leaving = false; /* done: the entry is free */
}

int ac_mld_join(struct ac_if *ifp, const struct ns_ip6_addr *group)
{
    struct ac_group *m = group_find(ifp, group);
    if (m && m->refs) {
        m->refs++;
        return 0;
    }
    if (!m) {
        for (int i = 0; i < AC_MAX_GROUPS && !m; i++)
            if (!ifp->groups[i].refs && !ifp->groups[i].leaving)
                m = &ifp->groups[i];
        if (!m) {
            NS_STAT_INC(ifp->st, mld_group_full);
            return -ENOSPC;
        }
        m->group = *group;
        m->ifp = ifp;
        ns_timer_init(&m->timer, group_timer_fn);
    }
    m->refs = 1;
    m->leaving = false;
    if (reportable(group))
        state_change(m);
    return 0;
}

void ac_mld_leave(struct ac_if *ifp, const struct ns_ip6_addr *group)
{
    struct ac_group *m = group_find(ifp, group);
    if (!m || !m->refs || --m->refs)
        return;
    ns_timer_cancel(&ifp->st->wheel, &m->timer);
    m->query_pending = false;
    m->unsol_left = 0;
    if (reportable(group)) {
        m->leaving = true;
        state_change(m);
    }
}

bool ac_mld_joined(const struct ac_if *ifp, const struct ns_ip6_addr *group)
{
    int i = group_index(ifp, group);
    return i >= 0 && ifp->groups[i].refs;
}

static void group_timer_fn(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    (void)ctx;
    (void)now_us;
    struct ac_group *m = NS_CONTAINER_OF(t, struct ac_group, timer);
    struct ac_if *ifp = m->ifp;
    if (m->unsol_left) {
        /* A retransmitted state change also answers a pending query: it
         * says the same thing. */
        send_one(ifp, &m->group, m->leaving ? NS_MLD2_CHANGE_TO_INCLUDE : NS_MLD2_CHANGE_TO_EXCLUDE);
        m->query_pending = false;
        if (--m->unsol_left)
            ns_timer_arm(&ifp->st->wheel, &m->timer,
                         ifp->st->now_us + 1 + ns_rng_below(&ifp->st->rng, AC_MLD_UNSOL_US));
        else if (m->leaving)
            m->leaving = false;
        return;
    }
    if (m->query_pending && m->refs) {
        /* §6.3: Current State Record for a group-specific query. */
        m->query_pending = false;
        send_one(ifp, &m->group, NS_MLD2_MODE_IS_EXCLUDE);
    }
}

static void general_timer_fn(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    (void)ctx;
    (void)now_us;
    struct ac_if *ifp = NS_CONTAINER_OF(t, struct ac_if, mld_general);
    /* §6.3: a General Query is answered with the current state of every
     * group, in one report (it fits: the table is small). */
    struct ns_mld2_record recs[AC_MAX_GROUPS];
    size_t n = 0;
    for (int i = 0; i < AC_MAX_GROUPS; i++) {
        const struct ac_group *m = &ifp->groups[i];
        if (m->refs && reportable(&m->group))
            recs[n++] = (struct ns_mld2_record){.type = NS_MLD2_MODE_IS_EXCLUDE, .group = m->group};
    }
    send_report(ifp, recs, n);
}

void ac_mld_query_input(struct ac_if *ifp, const struct ns_mld_query *q)
{
    if (q->version != 2) {
        NS_STAT_INC(ifp->st, mld_v1_ignored);
        return;
    }
    NS_STAT_INC(ifp->st, mld_query_rx);
    struct ns_wheel *w = &ifp->st->wheel;
    uint64_t t = ifp->st->now_us;
    /* §6.2: the answer goes after a random delay in [0, Maximum Response Delay). */
    uint64_t max_us = (uint64_t)q->max_resp_ms * US_PER_MS;
    uint64_t at = t + (max_us ? ns_rng_below(&ifp->st->rng, max_us) : 0);
    bool general_sooner = ns_timer_pending(&ifp->mld_general) && ifp->mld_general.expires_us <= at;
    if (ns_ip6_is_unspecified(&q->group)) {
        /* §6.2 rule 1: a pending General Query answer that is sooner stands. */
        if (!general_sooner)
            ns_timer_arm(w, &ifp->mld_general, at);
        return;
    }
    struct ac_group *m = group_find(ifp, &q->group);
    /* §6.2 rules 1-3: not a member, or a sooner answer covers it. A
     * group-and-source-specific query is answered like a group-specific
     * one: we listen to every source (EXCLUDE {}), which IS_EX {} says. */
    if (!m || !m->refs || !reportable(&q->group) || general_sooner)
        return;
    if (ns_timer_pending(&m->timer) && m->timer.expires_us <= at)
        return;
    m->query_pending = true;
    ns_timer_arm(w, &m->timer, at);
}

void ac_mld_reset(struct ac_if *ifp)
{
    struct ns_wheel *w = &ifp->st->wheel;
    for (int i = 0; i < AC_MAX_GROUPS; i++) {
        struct ac_group *m = &ifp->groups[i];
        if (ns_timer_pending(&m->timer))
            ns_timer_cancel(w, &m->timer);
        memset(m, 0, sizeof(*m));
        m->ifp = ifp;
        ns_timer_init(&m->timer, group_timer_fn);
    }
    if (ns_timer_pending(&ifp->mld_general))
        ns_timer_cancel(w, &ifp->mld_general);
    ns_timer_init(&ifp->mld_general, general_timer_fn);
}

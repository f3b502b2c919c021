/* tcp/cc/hystart.h — HyStart++ (RFC 9406), the slow start that congestion
 * control algorithms may use in place of RFC 5681's. See cc/hystart.c. */
#ifndef NS_TCP_CC_HYSTART_H
#define NS_TCP_CC_HYSTART_H

#include <stdbool.h>
#include <stdint.h>

struct tcpcb;

/* RFC 9406 §4.3 constants (times in microseconds). */
#define HYSTART_MIN_RTT_THRESH_US 4000u
#define HYSTART_MAX_RTT_THRESH_US 16000u
#define HYSTART_MIN_RTT_DIVISOR 8u
#define HYSTART_N_RTT_SAMPLE 8u
#define HYSTART_CSS_GROWTH_DIVISOR 4u
#define HYSTART_CSS_ROUNDS 5u
#define HYSTART_L 8u /* §4.3: L = 8 when not pacing (netsock does not pace) */
#define HYSTART_RTT_NONE UINT32_MAX /* "infinity" */

enum hystart_phase {
    HYSTART_OFF = 0, /* not used: switched off, or not the initial slow start */
    HYSTART_SS,      /* standard slow start, watching the RTT */
    HYSTART_CSS,     /* Conservative Slow Start */
    HYSTART_DONE,    /* left slow start (to congestion avoidance, or a loss) */
};

/* Per-connection state (in struct tcpcb; 28 bytes). */
struct tcp_hystart {
    uint32_t window_end;           /* the round ends when SND.UNA reaches this */
    uint32_t last_round_min_rtt_us;
    uint32_t cur_round_min_rtt_us;
    uint32_t css_baseline_min_rtt_us;
    uint32_t rtt_seen;             /* tp->rtt_samples already taken in */
    uint16_t rtt_sample_count;     /* samples in the current round */
    uint8_t phase;                 /* enum hystart_phase */
    uint8_t css_rounds;            /* rounds completed in CSS */
    bool round_started;
};

/* Start HyStart++ for a connection's initial slow start: SS when the
 * stack's switch (cfg.tcp_hystart) is on and ssthresh has its initial
 * "infinite" value, else OFF. Call from the algorithm's init, after it
 * set cwnd and ssthresh. */
void tcp_hystart_init(struct tcpcb *tp);
/* Whether slow start should go through tcp_hystart_slow_start(): SS or
 * CSS, and ssthresh still the initial one (§4.3: HyStart++ only for the
 * initial slow start). */
bool tcp_hystart_active(const struct tcpcb *tp);
/* One ACK in slow start: `acked` bytes newly acknowledged. Grows cwnd
 * (by min(acked, L*SMSS), divided by CSS_GROWTH_DIVISOR in CSS), takes in
 * the RTT sample the ACK gave (tp->last_rtt_us, when tp->rtt_samples
 * moved), moves between SS and CSS, and ends slow start after CSS_ROUNDS
 * rounds of CSS by setting ssthresh = cwnd. */
void tcp_hystart_slow_start(struct tcpcb *tp, uint32_t acked);
/* A congestion signal ended slow start (§4.2: the algorithm's own
 * response sets ssthresh): HyStart++ is done for this connection. */
void tcp_hystart_stop(struct tcpcb *tp);

#endif

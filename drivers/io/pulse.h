/* pulse.h - pulse inputs and KY pulse outputs: pure logic, no I/O.
 *
 * Pulse counting (the S0 / reed-contact outputs of water, gas, air, steam
 * and electricity meters, IEC 62053-31 for the electricity meters' S0):
 * each accepted pulse is one `weight` of the meter's quantity.  Contact
 * bounce is removed by a stable-time filter: a change of level counts only
 * when the line then stays at the new level for debounce_ns; a pulse is
 * counted at the time of the first edge of its chatter (the contact's real
 * closing time).
 *
 * Flow: from the time between the last two pulses (the meter's resolution
 * allows nothing finer); while no pulse comes the flow can only have fallen,
 * so it is bounded by weight / (time since the last pulse), and after
 * timeout_ns without a pulse it is 0.
 *
 * KY output: the reverse: an energy (or volume) total in, one pulse of
 * width_ns out per weight.  Pulses owed beyond what the output can give
 * (one per 2 * width_ns) wait and are given later, never dropped.
 */
#ifndef PQGATE_PULSE_H
#define PQGATE_PULSE_H

#include <stdint.h>

struct pulse_counter {
    int64_t debounce_ns;
    int64_t timeout_ns; /* flow falls to 0 after this long without a pulse */
    double weight;      /* quantity per pulse */
    int level;          /* confirmed logical level */
    int pending;        /* 1: a change to !level is waiting for confirmation */
    int64_t pending_ns; /* its last edge: stability is measured from here */
    int64_t onset_ns;   /* its first edge, chatter included: the pulse's time */
    int64_t cancel_ns;  /* when a waiting change last bounced back */
    uint64_t pulses;
    uint64_t bounces;         /* changes rejected by the filter */
    double total;             /* quantity counted, from the start value */
    int64_t last_ns, prev_ns; /* times of the last two pulses; 0: none */
};

/* Start from total (a persisted value) at level 0. */
void pulse_init(struct pulse_counter *c, double weight, int64_t debounce_ns,
                int64_t timeout_ns, double total);

/* An edge: the line is at level from t_ns on.  Edges must come in time
 * order.  Returns the number of pulses newly accepted (0 or 1). */
int pulse_edge(struct pulse_counter *c, int level, int64_t t_ns);

/* Confirm a waiting change once it has been stable for debounce_ns at
 * now_ns (call it from a timer; edges call it themselves).  Returns the
 * number of pulses newly accepted (0 or 1). */
int pulse_settle(struct pulse_counter *c, int64_t now_ns);

/* Flow in quantity per hour at now_ns (rules above). */
double pulse_flow_per_h(const struct pulse_counter *c, int64_t now_ns);

struct ky_output {
    double weight;    /* quantity per output pulse */
    int64_t width_ns; /* active time of a pulse (IEC 62053-31: >= 30 ms) */
    double base;      /* total at the last whole pulse owed */
    int primed;
    uint64_t owed; /* pulses not given yet */
    uint64_t given;
    int level;
    int64_t edge_ns; /* when the output last changed */
};

void ky_init(struct ky_output *k, double weight, int64_t width_ns);

/* A new total of the quantity (never decreasing; a decrease rebases). */
void ky_feed(struct ky_output *k, double total);

/* The output's level at now_ns; call at least every width_ns. */
int ky_tick(struct ky_output *k, int64_t now_ns);

#endif

/* pulse.c - pulse counting with a stable-time debounce, flow from pulse
 * intervals, and KY pulse outputs (pulse.h says the rules). */
#include "drivers/io/pulse.h"

#include <math.h>

#define NS_PER_H 3600e9

void pulse_init(struct pulse_counter *c, double weight, int64_t debounce_ns,
                int64_t timeout_ns, double total)
{
    *c = (struct pulse_counter){
        .debounce_ns = debounce_ns,
        .timeout_ns = timeout_ns,
        .weight = weight,
        .total = total,
    };
}

/* The waiting change has held long enough: make it the level. */
static int confirm(struct pulse_counter *c)
{
    c->pending = 0;
    c->level = !c->level;
    if (!c->level) {
        return 0;
    }
    c->pulses++;
    c->total += c->weight;
    c->prev_ns = c->last_ns;
    c->last_ns = c->onset_ns;
    return 1;
}

int pulse_settle(struct pulse_counter *c, int64_t now_ns)
{
    if (c->pending && now_ns - c->pending_ns >= c->debounce_ns) {
        return confirm(c);
    }
    return 0;
}

int pulse_edge(struct pulse_counter *c, int level, int64_t t_ns)
{
    int n = pulse_settle(c, t_ns);

    level = level ? 1 : 0;
    if (level == c->level) {
        if (c->pending) {
            c->pending = 0; /* back before it held: bounce */
            c->cancel_ns = t_ns;
            c->bounces++;
        }
        return n;
    }
    if (!c->pending) {
        /* a change right after a bounced one is the same chatter */
        int chatter = c->cancel_ns && t_ns - c->cancel_ns < c->debounce_ns &&
                      c->onset_ns && c->onset_ns <= c->cancel_ns;

        c->pending = 1;
        c->pending_ns = t_ns;
        c->onset_ns = chatter ? c->onset_ns : t_ns;
    }
    if (c->debounce_ns <= 0) {
        n += confirm(c);
    }
    return n;
}

double pulse_flow_per_h(const struct pulse_counter *c, int64_t now_ns)
{
    int64_t since, interval;

    if (c->last_ns == 0 || now_ns - c->last_ns >= c->timeout_ns) {
        return 0.0;
    }
    since = now_ns - c->last_ns;
    if (c->pending && !c->level && c->onset_ns > c->last_ns &&
        c->onset_ns - c->last_ns < since) {
        since = c->onset_ns - c->last_ns; /* a pulse is starting: it is not late */
    }
    interval = c->prev_ns ? c->last_ns - c->prev_ns : 0;
    if (interval <= 0 || since > interval) {
        interval = since; /* no pulse yet for longer than the last interval */
    }
    if (interval <= 0) {
        return 0.0;
    }
    return c->weight * NS_PER_H / (double) interval;
}

void ky_init(struct ky_output *k, double weight, int64_t width_ns)
{
    *k = (struct ky_output){.weight = weight, .width_ns = width_ns};
}

void ky_feed(struct ky_output *k, double total)
{
    double whole;

    if (!k->primed || total < k->base) {
        k->primed = 1;
        k->base = total;
        return;
    }
    whole = floor((total - k->base) / k->weight);
    if (whole >= 1) {
        k->owed += (uint64_t) whole;
        k->base += whole * k->weight;
    }
}

int ky_tick(struct ky_output *k, int64_t now_ns)
{
    if (k->level && now_ns - k->edge_ns >= k->width_ns) {
        k->level = 0;
        k->edge_ns = now_ns;
    } else if (!k->level && k->owed > 0 &&
               (k->given == 0 || now_ns - k->edge_ns >= k->width_ns)) {
        k->level = 1;
        k->edge_ns = now_ns;
        k->owed--;
        k->given++;
    }
    return k->level;
}

/* mb_plan.c - coalesce a profile's points into the fewest legal reads.
 *
 * Each point (and each scale-factor register) is a span [start, end) of
 * one function's addresses that must come whole from one read.  Per
 * function the spans are sorted and overlapping ones merged; then a read
 * starts at the first span and takes the following spans while the read
 * stays within the limit (max_regs registers, or 2000 bits: MB Application
 * Protocol V1.1b3, 6.1-6.4), each gap between spans is at most max_gap,
 * and the read does not cross a multiple of no_cross.
 *
 * Greedy is optimal here: every rule is "closed under sub-runs" (if spans
 * i..j fit one read, so does any i'..j' inside it), so a read that takes as
 * many spans as it can never leaves more spans to the rest than any other
 * plan's first read does; by induction no plan has fewer reads.
 */
#include <errno.h>
#include <stdlib.h>

#include "drivers/modbus/mb_profile.h"

struct span {
    int fn;
    int start, end; /* [start, end) */
};

static int cmp_span(const void *a, const void *b)
{
    const struct span *x = a, *y = b;

    if (x->fn != y->fn) {
        return x->fn - y->fn;
    }
    if (x->start != y->start) {
        return x->start - y->start;
    }
    return x->end - y->end;
}

/* Spans of every point and scale-factor register, sorted, overlaps merged.
 * Returns how many, or -ENOMEM; *out is malloc'd. */
static int collect(const struct mb_profile *prof, struct span **out)
{
    struct span *s = malloc((2 * prof->npoints + 1) * sizeof(*s));
    size_t n = 0, m = 0;

    if (!s) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < prof->npoints; i++) {
        const struct mb_point *p = &prof->points[i];

        s[n++] = (struct span){p->fn, p->addr, p->addr + p->count};
        if (p->sf_addr >= 0) {
            s[n++] = (struct span){p->fn, p->sf_addr, p->sf_addr + 1};
        }
    }
    qsort(s, n, sizeof(*s), cmp_span);
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && s[m - 1].fn == s[i].fn && s[i].start < s[m - 1].end) {
            if (s[i].end > s[m - 1].end) {
                s[m - 1].end = s[i].end;
            }
        } else {
            s[m++] = s[i];
        }
    }
    *out = s;
    return (int) m;
}

static int bit_fn(int fn)
{
    return fn == MB_FN_COILS || fn == MB_FN_DISCRETE;
}

static int crosses(int no_cross, int start, int end)
{
    return no_cross > 0 && start / no_cross != (end - 1) / no_cross;
}

int mb_plan(const struct mb_profile *prof, struct mb_read *out, size_t cap)
{
    struct span *s = NULL;
    int n = collect(prof, &s);
    int gap = prof->max_gap >= 0 ? prof->max_gap : 16; /* < 0: the default */
    int reads = 0;
    int i = 0;

    if (n < 0) {
        return n;
    }
    while (i < n) {
        int limit = bit_fn(s[i].fn)                                      ? MB_MAX_BITS
                    : prof->max_regs > 0 && prof->max_regs < MB_MAX_REGS ? prof->max_regs
                                                                         : MB_MAX_REGS;
        int no_cross = bit_fn(s[i].fn) ? 0 : prof->no_cross;
        int start = s[i].start, end = s[i].end;
        int j = i + 1;

        if (end - start > limit || crosses(no_cross, start, end)) {
            free(s);
            return -EINVAL; /* the loader refuses such a point */
        }
        while (j < n && s[j].fn == s[i].fn && s[j].start - end <= gap &&
               s[j].end - start <= limit && !crosses(no_cross, start, s[j].end)) {
            end = s[j].end;
            j++;
        }
        if ((size_t) reads < cap) {
            out[reads] = (struct mb_read){(uint8_t) s[i].fn, (uint16_t) start,
                                          (uint16_t) (end - start)};
        }
        reads++;
        i = j;
    }
    free(s);
    return reads;
}

size_t mb_plan_min_regs(const struct mb_profile *prof)
{
    struct span *s = NULL;
    int n = collect(prof, &s);
    size_t total = 0;

    for (int i = 0; i < n; i++) {
        total += (size_t) (s[i].end - s[i].start);
    }
    free(s);
    return total;
}

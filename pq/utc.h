/* utc.h - nanoseconds since 1970-01-01T00:00:00Z to and from calendar dates.
 *
 * One proleptic Gregorian calendar for every tier (COMTRADE files, capture
 * names, config times, reports), without gmtime's time_t range or locale.
 * Algorithms: H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"
 * (days_from_civil, civil_from_days), exact for every int64 day count a
 * nanosecond int64 can reach.
 */
#ifndef PQGATE_UTC_H
#define PQGATE_UTC_H

#include <stdint.h>

#define PQ_NS_PER_S 1000000000LL
#define PQ_DAY_NS   (86400LL * PQ_NS_PER_S)

/* A UTC instant broken down; month 1..12, day 1..31, nsec 0..999999999. */
struct pq_utc {
    int64_t year;
    unsigned month, day;
    unsigned hour, minute, second;
    int64_t nsec;
};

/* a / b rounded toward minus infinity; b > 0. */
static inline int64_t pq_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Days from 1970-01-01 to year-month-day (month 1..12, day 1..31; the day
 * is not checked against the month). */
int64_t pq_days_from_civil(int64_t year, unsigned month, unsigned day);

/* The calendar date and time of day of t_ns. */
void pq_utc_from_ns(int64_t t_ns, struct pq_utc *u);

#endif

/* utc.c - calendar dates of nanosecond times (see utc.h). */
#include "pq/utc.h"

int64_t pq_days_from_civil(int64_t year, unsigned month, unsigned day)
{
    int64_t y = year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned) (y - era * 400);
    unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + (int64_t) doe - 719468;
}

void pq_utc_from_ns(int64_t t_ns, struct pq_utc *u)
{
    int64_t days = pq_floor_div(t_ns, PQ_DAY_NS);
    int64_t in_day = t_ns % PQ_DAY_NS; /* not t - days * DAY: overflows at INT64_MIN */
    int64_t s;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned) (z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;

    if (in_day < 0) {
        in_day += PQ_DAY_NS;
    }
    s = in_day / PQ_NS_PER_S;
    u->day = doy - (153 * mp + 2) / 5 + 1;
    u->month = mp < 10 ? mp + 3 : mp - 9;
    u->year = (int64_t) yoe + era * 400 + (u->month <= 2);
    u->hour = (unsigned) (s / 3600);
    u->minute = (unsigned) (s / 60 % 60);
    u->second = (unsigned) (s % 60);
    u->nsec = in_day % PQ_NS_PER_S;
}

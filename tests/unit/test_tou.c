/* test_tou.c - time of use: the tariff at given UTC instants and the energy
 * per tariff over whole days, on both daylight-saving change days of
 * Europe/Paris, America/New_York and Australia/Adelaide (+09:30/+10:30) and
 * in Asia/Kolkata (+05:30); seasons across the new year, holidays, gaps. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "gateway/tou.h"
#include "gateway/tzif.h"
#include "pq/err.h"
#include "pq/utc.h"
#include "tests/unit/cfgtest.h"

#define assert_close(got, want, tol) close_at((got), (want), (tol), __FILE__, __LINE__)

static void close_at(double got, double want, double tol, const char *file, int line)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("got %.17g, want %.17g +- %g\n", got, want, tol);
        _fail(file, line);
    }
}

enum { OFFPEAK, PEAK, SHOULDER };

static int64_t utc_ns(int y, int mo, int d, int h, int mi)
{
    return (pq_days_from_civil(y, (unsigned) mo, (unsigned) d) * 86400 + h * 3600 +
            mi * 60) *
           PQ_NS_PER_S;
}

/* UTC ns of civil midnight of a date in zone z */
static int64_t local_midnight(const struct tzif *z, int y, int mo, int d)
{
    return tzif_utc_from_local(z, pq_days_from_civil(y, (unsigned) mo, (unsigned) d) *
                                      86400) *
           PQ_NS_PER_S;
}

static void add(struct tou_season *s, int type, int tariff, int from_min, int to_min)
{
    s->p[type][s->np[type]++] = (struct tou_period){tariff, from_min, to_min};
}

/* One season all year: weekdays peak 08:00-20:00; weekends peak
 * 17:00-21:00; off-peak the rest (wrapping midnight). */
static void calendar(struct tou_calendar *c, const struct tzif *z)
{
    struct tou_season *s = &c->season[0];

    memset(c, 0, sizeof(*c));
    c->tz = z;
    c->nseasons = 1;
    c->ntariffs = 3;
    c->default_tariff = -1;
    s->from_md = 101;
    s->to_md = 1231;
    add(s, TOU_WEEKDAY, PEAK, 8 * 60, 20 * 60);
    add(s, TOU_WEEKDAY, OFFPEAK, 20 * 60, 8 * 60);
    add(s, TOU_WEEKEND, PEAK, 17 * 60, 21 * 60);
    add(s, TOU_WEEKEND, OFFPEAK, 21 * 60, 17 * 60);
    add(s, TOU_HOLIDAY, OFFPEAK, 0, 24 * 60);
}

static struct tzif *load(const char *name)
{
    struct tzif *z = NULL;

    assert_int_equal(tzif_load(name, &z), 0);
    return z;
}

/* A meter at a constant kw from t0 to t1, its kWh counter read every
 * step_s seconds, split by tariff through the register the component uses. */
static void run_day(const struct tou_calendar *c, int64_t t0, int64_t t1, double kw,
                    int step_s, double kwh[3])
{
    struct tou_register r;

    memset(&r, 0, sizeof(r));
    for (int64_t t = t0; t <= t1; t += (int64_t) step_s * PQ_NS_PER_S) {
        tou_register_update(&r, c, kw * (double) (t - t0) / 3.6e12, t);
    }
    for (int k = 0; k < 3; k++) {
        kwh[k] = r.per_tariff[k];
    }
}

static void test_tou_paris_spring_day_has_23_hours_of_energy(void **state)
{
    struct tzif *z = load("Europe/Paris");
    struct tou_calendar c;
    struct tou_now now;
    double kwh[3];
    int64_t t0, t1;

    (void) state;
    calendar(&c, z);
    /* Sunday 2026-03-29: clocks go 02:00 CET -> 03:00 CEST at 01:00 UTC */
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 29, 14, 59), &now), OFFPEAK);
    assert_int_equal(now.day_type, TOU_WEEKEND);
    assert_int_equal(now.minute, 16 * 60 + 59);
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 29, 15, 0), NULL), PEAK); /* 17:00 CEST */
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 29, 19, 0), NULL), OFFPEAK);
    /* the day before, still CET: 17:00 is 16:00 UTC */
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 28, 15, 59), NULL), OFFPEAK);
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 28, 16, 0), NULL), PEAK);
    t0 = local_midnight(z, 2026, 3, 29);
    t1 = local_midnight(z, 2026, 3, 30);
    assert_true(t1 - t0 == 23 * 3600 * PQ_NS_PER_S);
    run_day(&c, t0, t1, 10.0, 10, kwh);
    assert_close(kwh[PEAK], 40.0, 1e-9);
    assert_close(kwh[OFFPEAK], 190.0, 1e-9);
    assert_close(kwh[PEAK] + kwh[OFFPEAK], 230.0, 1e-9);
    tzif_free(z);
}

static void test_tou_paris_autumn_day_has_25_hours_of_energy(void **state)
{
    struct tzif *z = load("Europe/Paris");
    struct tou_calendar c;
    double kwh[3];
    int64_t t0, t1;

    (void) state;
    calendar(&c, z);
    /* Sunday 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00 UTC */
    assert_int_equal(tou_at(&c, utc_ns(2026, 10, 25, 15, 59), NULL), OFFPEAK);
    assert_int_equal(tou_at(&c, utc_ns(2026, 10, 25, 16, 0), NULL), PEAK); /* 17:00 CET */
    assert_int_equal(tou_at(&c, utc_ns(2026, 10, 25, 19, 59), NULL), PEAK);
    assert_int_equal(tou_at(&c, utc_ns(2026, 10, 25, 20, 0), NULL), OFFPEAK);
    t0 = local_midnight(z, 2026, 10, 25);
    t1 = local_midnight(z, 2026, 10, 26);
    assert_true(t1 - t0 == 25 * 3600 * PQ_NS_PER_S);
    /* read every 7 s: readings do not fall on minute boundaries */
    run_day(&c, t0, t1 + 7 * PQ_NS_PER_S, 10.0, 7, kwh);
    assert_close(kwh[PEAK], 40.0, 1e-9);
    /* the last reading is at 90006 s (12858 x 7 s): 6 s past midnight */
    assert_close(kwh[OFFPEAK], 210.0 + 10.0 * 6 / 3600, 1e-9);
    tzif_free(z);
}

static void test_tou_new_york_change_days_have_23_and_25_hours(void **state)
{
    struct tzif *z = load("America/New_York");
    struct tou_calendar c;
    double kwh[3];

    (void) state;
    calendar(&c, z);
    /* Sunday 2026-03-08, EST -> EDT at 07:00 UTC; 17:00 EDT = 21:00 UTC */
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 8, 20, 59), NULL), OFFPEAK);
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 8, 21, 0), NULL), PEAK);
    run_day(&c, local_midnight(z, 2026, 3, 8), local_midnight(z, 2026, 3, 9), 6.0, 60,
            kwh);
    assert_close(kwh[PEAK], 24.0, 1e-9);
    assert_close(kwh[OFFPEAK], 6.0 * 19, 1e-9);
    /* Sunday 2026-11-01, EDT -> EST at 06:00 UTC; 17:00 EST = 22:00 UTC */
    assert_int_equal(tou_at(&c, utc_ns(2026, 11, 1, 21, 59), NULL), OFFPEAK);
    assert_int_equal(tou_at(&c, utc_ns(2026, 11, 1, 22, 0), NULL), PEAK);
    run_day(&c, local_midnight(z, 2026, 11, 1), local_midnight(z, 2026, 11, 2), 6.0, 60,
            kwh);
    assert_close(kwh[PEAK], 24.0, 1e-9);
    assert_close(kwh[OFFPEAK], 6.0 * 21, 1e-9);
    tzif_free(z);
}

static void test_tou_adelaide_half_hour_zone_with_dst(void **state)
{
    struct tzif *z = load("Australia/Adelaide");
    struct tou_calendar c;
    double kwh[3];

    (void) state;
    calendar(&c, z);
    /* Sunday 2026-04-05: 03:00 ACDT (+10:30) -> 02:00 ACST (+09:30): 25 h;
     * 17:00 ACST = 07:30 UTC */
    assert_int_equal(tou_at(&c, utc_ns(2026, 4, 5, 7, 29), NULL), OFFPEAK);
    assert_int_equal(tou_at(&c, utc_ns(2026, 4, 5, 7, 30), NULL), PEAK);
    run_day(&c, local_midnight(z, 2026, 4, 5), local_midnight(z, 2026, 4, 6), 1.0, 30,
            kwh);
    assert_close(kwh[PEAK] + kwh[OFFPEAK], 25.0, 1e-9);
    assert_close(kwh[PEAK], 4.0, 1e-9);
    /* Sunday 2026-10-04: 02:00 ACST -> 03:00 ACDT: 23 h; 17:00 ACDT = 06:30 UTC */
    assert_int_equal(tou_at(&c, utc_ns(2026, 10, 4, 6, 29), NULL), OFFPEAK);
    assert_int_equal(tou_at(&c, utc_ns(2026, 10, 4, 6, 30), NULL), PEAK);
    run_day(&c, local_midnight(z, 2026, 10, 4), local_midnight(z, 2026, 10, 5), 1.0, 30,
            kwh);
    assert_close(kwh[PEAK] + kwh[OFFPEAK], 23.0, 1e-9);
    assert_close(kwh[OFFPEAK], 19.0, 1e-9);
    tzif_free(z);
}

static void test_tou_kolkata_peak_starts_at_0230_utc(void **state)
{
    struct tzif *z = load("Asia/Kolkata");
    struct tou_calendar c;
    double kwh[3];

    (void) state;
    calendar(&c, z);
    /* Monday 2026-03-30: 08:00 IST = 02:30 UTC, 20:00 IST = 14:30 UTC */
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 30, 2, 29), NULL), OFFPEAK);
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 30, 2, 30), NULL), PEAK);
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 30, 14, 29), NULL), PEAK);
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 30, 14, 30), NULL), OFFPEAK);
    /* readings every 10 min on UTC boundaries: 02:30 falls between none */
    run_day(&c, local_midnight(z, 2026, 3, 30), local_midnight(z, 2026, 3, 31), 2.0, 600,
            kwh);
    assert_close(kwh[PEAK], 24.0, 1e-9);
    assert_close(kwh[OFFPEAK], 24.0, 1e-9);
    tzif_free(z);
}

static void test_tou_holiday_wins_over_weekday(void **state)
{
    struct tzif *z = load("Europe/Paris");
    struct tou_calendar c;
    struct tou_now now;

    (void) state;
    calendar(&c, z);
    c.holiday[c.nholidays++] = pq_days_from_civil(2026, 12, 25);
    c.holiday[c.nholidays++] = pq_days_from_civil(2026, 1, 1);
    tou_sort_holidays(&c);
    /* Friday 2026-12-25 12:00 CET: a holiday, all off-peak */
    assert_int_equal(tou_at(&c, utc_ns(2026, 12, 25, 11, 0), &now), OFFPEAK);
    assert_int_equal(now.day_type, TOU_HOLIDAY);
    /* Thursday 2026-12-24: a weekday, peak */
    assert_int_equal(tou_at(&c, utc_ns(2026, 12, 24, 11, 0), &now), PEAK);
    assert_int_equal(now.day_type, TOU_WEEKDAY);
    /* the holiday starts at civil midnight: 23:00 UTC the day before */
    assert_int_equal(tou_at(&c, utc_ns(2026, 12, 24, 23, 0), &now), OFFPEAK);
    assert_int_equal(now.day_type, TOU_HOLIDAY);
    tzif_free(z);
}

static void test_tou_season_across_new_year_picks_its_periods(void **state)
{
    struct tzif *z = load("Europe/Paris");
    struct tou_calendar c;
    struct tou_now now;

    (void) state;
    calendar(&c, z); /* season 0 becomes summer 04-01..10-31 */
    c.season[0].from_md = 401;
    c.season[0].to_md = 1031;
    c.nseasons = 2;
    c.season[1].from_md = 1101; /* winter: 11-01..03-31, shoulder all weekday */
    c.season[1].to_md = 331;
    add(&c.season[1], TOU_WEEKDAY, SHOULDER, 0, 24 * 60);
    assert_int_equal(tou_at(&c, utc_ns(2026, 1, 15, 12, 0), &now), SHOULDER);
    assert_int_equal(now.season, 1);
    assert_int_equal(tou_at(&c, utc_ns(2026, 12, 15, 12, 0), &now), SHOULDER);
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 31, 21, 59), &now), SHOULDER);
    assert_int_equal(now.season, 1);
    /* 2026-03-31 22:00 UTC is 04-01 00:00 CEST: summer, a Wednesday night */
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 31, 22, 0), &now), OFFPEAK);
    assert_int_equal(now.season, 0);
    tzif_free(z);
}

static void test_tou_gap_goes_to_default_or_none(void **state)
{
    struct tzif *z = load("UTC");
    struct tou_calendar c;

    (void) state;
    calendar(&c, z);
    c.season[0].np[TOU_WEEKDAY] = 1; /* only peak 08:00-20:00 */
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 30, 21, 0), NULL), -1);
    c.default_tariff = SHOULDER;
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 30, 21, 0), NULL), SHOULDER);
    assert_int_equal(tou_at(&c, utc_ns(2026, 3, 30, 9, 0), NULL), PEAK);
    tzif_free(z);
}

static void test_tou_split_refuses_backwards_and_overlong_spans(void **state)
{
    struct tzif *z = load("UTC");
    struct tou_calendar c;
    double frac[3] = {-1, -1, -1};
    int64_t t = utc_ns(2026, 3, 30, 0, 0);

    (void) state;
    calendar(&c, z);
    assert_int_equal(tou_split(&c, t, t - 1, frac), -EINVAL);
    assert_int_equal(tou_split(&c, t, t + TOU_SPLIT_MAX_NS + 1, frac), -EINVAL);
    assert_close(frac[0], -1, 0);
    assert_int_equal(tou_split(&c, t, t + PQ_DAY_NS, frac), 0);
    assert_close(frac[PEAK], 0.5, 1e-12);
    assert_close(frac[OFFPEAK], 0.5, 1e-12);
    tzif_free(z);
}

static void test_tou_register_ignores_counter_reset_and_first_reading(void **state)
{
    struct tzif *z = load("UTC");
    struct tou_calendar c;
    struct tou_register r;
    int64_t t = utc_ns(2026, 3, 30, 9, 0); /* Monday, peak */

    (void) state;
    calendar(&c, z);
    memset(&r, 0, sizeof(r));
    tou_register_update(&r, &c, 1000.0, t);
    assert_close(r.per_tariff[PEAK], 0, 0);
    tou_register_update(&r, &c, 1001.5, t + 60 * PQ_NS_PER_S);
    assert_close(r.per_tariff[PEAK], 1.5, 1e-12);
    tou_register_update(&r, &c, 3.0, t + 120 * PQ_NS_PER_S); /* reset */
    assert_close(r.per_tariff[PEAK], 1.5, 1e-12);
    tou_register_update(&r, &c, 4.0, t + 180 * PQ_NS_PER_S);
    assert_close(r.per_tariff[PEAK], 2.5, 1e-12);
    assert_close(r.per_tariff[OFFPEAK], 0, 0);
    tzif_free(z);
}

/* A reading that is not finite is skipped: it neither poisons a register
 * nor becomes a maximum demand. */
static void test_tou_register_and_demand_skip_infinite_and_nan_readings(void **state)
{
    struct tzif *z = load("UTC");
    struct tou_calendar c;
    struct tou_register r;
    struct tou_demand d;
    int64_t t = utc_ns(2026, 3, 30, 9, 0); /* Monday, peak */

    (void) state;
    calendar(&c, z);
    memset(&r, 0, sizeof(r));
    tou_demand_init(&d);
    tou_register_update(&r, &c, 1000.0, t);
    tou_register_update(&r, &c, INFINITY, t + 60 * PQ_NS_PER_S);
    tou_register_update(&r, &c, NAN, t + 90 * PQ_NS_PER_S);
    tou_register_update(&r, &c, 1001.0, t + 120 * PQ_NS_PER_S);
    assert_close(r.per_tariff[PEAK], 1.0, 1e-12);
    tou_demand_update(&d, &c, 40.0, t);
    tou_demand_update(&d, &c, INFINITY, t + 15 * 60 * PQ_NS_PER_S);
    tou_demand_update(&d, &c, NAN, t + 30 * 60 * PQ_NS_PER_S);
    assert_close(d.max[PEAK], 40.0, 0);
    assert_true(d.t_max_ns[PEAK] == t);
    tzif_free(z);
}

static void test_tou_demand_interval_belongs_to_its_last_instant(void **state)
{
    struct tzif *z = load("UTC");
    struct tou_calendar c;
    struct tou_demand d;

    (void) state;
    calendar(&c, z);
    tou_demand_init(&d);
    /* the 07:45-08:00 interval ends at 08:00: off-peak */
    tou_demand_update(&d, &c, 50.0, utc_ns(2026, 3, 30, 8, 0));
    tou_demand_update(&d, &c, 30.0, utc_ns(2026, 3, 30, 8, 15));
    tou_demand_update(&d, &c, 40.0, utc_ns(2026, 3, 30, 8, 30));
    tou_demand_update(&d, &c, 35.0, utc_ns(2026, 3, 30, 8, 45));
    assert_close(d.max[OFFPEAK], 50.0, 0);
    assert_close(d.max[PEAK], 40.0, 0);
    assert_true(d.t_max_ns[PEAK] == utc_ns(2026, 3, 30, 8, 30));
    assert_true(isnan(d.max[SHOULDER]));
    tzif_free(z);
}

/* ---- the tou: section through the config loader ---- */

static void test_tou_config_unknown_zone_overlap_and_gap_are_located(void **state)
{
    static const char text[] = "gateway: {id: t}\n"
                               "tou:\n"
                               "  timezone: Europe/Pariss\n"
                               "  holidays: [2026-12-25, 2026-02-30]\n"
                               "  seasons:\n"
                               "    - name: winter\n"
                               "      from: 11-01\n"
                               "      to: 03-31\n"
                               "      weekday:\n"
                               "        - {name: peak, from: \"08:00\", to: \"20:00\"}\n"
                               "        - {name: off, from: \"19:00\", to: \"07:00\"}\n"
                               "    - name: summer\n"
                               "      from: 04-01\n"
                               "      to: 10-30\n"
                               "      weekday:\n"
                               "        - {name: peak, from: \"08:00\", to: \"20:00\"}\n"
                               "        - {name: off, from: \"21:00\", to: \"08:00\"}\n";
    struct pqgate_cfg *cfg = NULL;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(cfgtest_load(text, &cfg, &d), -PQ_ECONFIG);
    assert_null(cfg);
    cfgtest_assert_error(
        &d, "t.yaml:3:13: tou.timezone: unknown time zone 'Europe/Pariss' (not in "
            "the tz database)");
    cfgtest_assert_error(&d,
                         "t.yaml:4:26: tou.holidays[1]: expected a date YYYY-MM-DD, got "
                         "'2026-02-30'");
    cfgtest_assert_error(&d, "t.yaml:6:5: tou.seasons: 10-31 is in no season");
    cfgtest_assert_error(
        &d, "t.yaml:11:29: tou.seasons[0].weekday[1].from: season 'winter' "
            "weekday: period 'off' (19:00-07:00) overlaps 'peak' (08:00-20:00) at "
            "19:00");
    cfgtest_assert_error(&d,
                         "t.yaml:10:9: tou.seasons[0].weekday: season 'winter' weekday: "
                         "07:00-08:00 has no tariff (cover the whole day or set "
                         "tou.default_tariff)");
    cfgtest_assert_error(&d,
                         "t.yaml:16:9: tou.seasons[1].weekday: season 'summer' weekday: "
                         "20:00-21:00 has no tariff (cover the whole day or set "
                         "tou.default_tariff)");
    cfg_diag_fini(&d);
}

static void test_tou_config_default_tariff_covers_gaps(void **state)
{
    static const char text[] =
        "gateway: {id: t}\n"
        "tou:\n"
        "  timezone: Australia/Adelaide\n"
        "  default_tariff: shoulder\n"
        "  holidays: [2026-01-26]\n"
        "  seasons:\n"
        "    - name: all\n"
        "      weekday: [{name: peak, from: \"16:00\", to: \"21:00\"}]\n";
    struct pqgate_cfg *cfg = NULL;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(cfgtest_load(text, &cfg, &d), 0);
    assert_int_equal(cfg->tou.holidays.n, 1);
    assert_string_equal(CFG_AT(cfg->tou.holidays, struct tou_date_cfg, 0)->date,
                        "2026-01-26");
    assert_string_equal(CFG_AT(cfg->tou.seasons, struct tou_season_cfg, 0)->to, "12-31");
    cfg_free(&pqgate_schema, cfg);
    cfg_diag_fini(&d);
}

static void test_tou_config_overlapping_seasons_are_named(void **state)
{
    static const char text[] = "gateway: {id: t}\n"
                               "tou:\n"
                               "  timezone: UTC\n"
                               "  seasons:\n"
                               "    - {name: a, from: 01-01, to: 06-30, weekday: "
                               "[{name: x, from: \"00:00\", to: \"24:00\"}]}\n"
                               "    - {name: b, from: 06-30, to: 12-31, weekday: "
                               "[{name: x, from: \"00:00\", to: \"24:00\"}]}\n";
    struct pqgate_cfg *cfg = NULL;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(cfgtest_load(text, &cfg, &d), -PQ_ECONFIG);
    cfgtest_assert_error(
        &d, "t.yaml:6:23: tou.seasons[1].from: season 'b' overlaps season 'a' on "
            "06-30");
    cfg_diag_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tou_paris_spring_day_has_23_hours_of_energy),
        cmocka_unit_test(test_tou_paris_autumn_day_has_25_hours_of_energy),
        cmocka_unit_test(test_tou_new_york_change_days_have_23_and_25_hours),
        cmocka_unit_test(test_tou_adelaide_half_hour_zone_with_dst),
        cmocka_unit_test(test_tou_kolkata_peak_starts_at_0230_utc),
        cmocka_unit_test(test_tou_holiday_wins_over_weekday),
        cmocka_unit_test(test_tou_season_across_new_year_picks_its_periods),
        cmocka_unit_test(test_tou_gap_goes_to_default_or_none),
        cmocka_unit_test(test_tou_split_refuses_backwards_and_overlong_spans),
        cmocka_unit_test(test_tou_register_ignores_counter_reset_and_first_reading),
        cmocka_unit_test(test_tou_register_and_demand_skip_infinite_and_nan_readings),
        cmocka_unit_test(test_tou_demand_interval_belongs_to_its_last_instant),
        cmocka_unit_test(test_tou_config_unknown_zone_overlap_and_gap_are_located),
        cmocka_unit_test(test_tou_config_default_tariff_covers_gaps),
        cmocka_unit_test(test_tou_config_overlapping_seasons_are_named),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

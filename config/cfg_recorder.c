/* cfg_recorder.c - the `recorders:`, `trends:` and `tou:` sections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "config/units.h"
#include "pq/err.h"
#include "pq/utc.h"

#define REC_MAX_CHANNELS 16 /* PM8000: 16 channels per recorder */
#define TOU_SEASONS_MAX  6
#define TOU_PERIODS_MAX  8
#define TOU_TARIFFS_MAX  32

static const char *const value_names[] = {"auto", "average", "last", "min", "max", NULL};
static const char *const mode_names[] = {"continuous", "stop_when_full", NULL};
static const char *const event_names[] = {"dip", "swell", "interruption",
                                          "rvc", "any",   NULL};

/* ---- parsers -------------------------------------------------------- */

static int two_digits(const char *s, int *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') {
        return -1;
    }
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return 0;
}

int cfg_parse_hhmm(const char *s, int *minute_out)
{
    int h, m;

    if (strlen(s) != 5 || s[2] != ':' || two_digits(s, &h) < 0 ||
        two_digits(s + 3, &m) < 0 || h > 24 || m > 59 || (h == 24 && m != 0)) {
        return -PQ_ECONFIG;
    }
    *minute_out = h * 60 + m;
    return 0;
}

static unsigned month_days(int64_t year, int month)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return days[month - 1] + (month == 2 && leap ? 1 : 0);
}

int cfg_parse_mmdd(const char *s, int *md_out)
{
    int m, d;

    if (strlen(s) != 5 || s[2] != '-' || two_digits(s, &m) < 0 ||
        two_digits(s + 3, &d) < 0 || m < 1 || m > 12 || d < 1 ||
        (unsigned) d > month_days(2000, m)) {
        return -PQ_ECONFIG;
    }
    *md_out = m * 100 + d;
    return 0;
}

int cfg_parse_date(const char *s, int64_t *days_out)
{
    int y1, y2, md;

    if (strlen(s) != 10 || s[4] != '-' || two_digits(s, &y1) < 0 ||
        two_digits(s + 2, &y2) < 0 || cfg_parse_mmdd(s + 5, &md) < 0 ||
        (unsigned) (md % 100) > month_days(y1 * 100 + y2, md / 100)) {
        return -PQ_ECONFIG;
    }
    *days_out =
        pq_days_from_civil(y1 * 100 + y2, (unsigned) (md / 100), (unsigned) (md % 100));
    return 0;
}

int cfg_parse_schedule(const char *s, struct cfg_schedule *out)
{
    static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    struct cfg_schedule r;
    char word[16], a[16], b[16];
    int n = sscanf(s, "%15s %15s %15s", word, a, b);
    int mm;

    memset(&r, 0, sizeof(r));
    if (n == 2 && strcmp(word, "hourly") == 0) {
        r.kind = CFG_SCHED_HOURLY;
        if (strlen(a) != 3 || a[0] != ':' || two_digits(a + 1, &mm) < 0 || mm > 59) {
            return -PQ_ECONFIG;
        }
        r.minute = mm;
    } else if (n == 2 && strcmp(word, "daily") == 0) {
        r.kind = CFG_SCHED_DAILY;
        if (cfg_parse_hhmm(a, &r.minute) < 0 || r.minute >= 1440) {
            return -PQ_ECONFIG;
        }
    } else if (n == 3 && strcmp(word, "weekly") == 0) {
        r.kind = CFG_SCHED_WEEKLY;
        r.wday = -1;
        for (int i = 0; i < 7; i++) {
            if (strncasecmp(a, days[i], 3) == 0 && strlen(a) >= 3) {
                r.wday = i;
            }
        }
        if (r.wday < 0 || cfg_parse_hhmm(b, &r.minute) < 0 || r.minute >= 1440) {
            return -PQ_ECONFIG;
        }
    } else if (n == 3 && strcmp(word, "monthly") == 0) {
        r.kind = CFG_SCHED_MONTHLY;
        if (strlen(a) > 2 || a[0] < '0' || a[0] > '9' ||
            (a[1] && (a[1] < '0' || a[1] > '9'))) {
            return -PQ_ECONFIG;
        }
        r.mday = a[1] ? (a[0] - '0') * 10 + (a[1] - '0') : a[0] - '0';
        if (r.mday < 1 || r.mday > 28 || cfg_parse_hhmm(b, &r.minute) < 0 ||
            r.minute >= 1440) {
            return -PQ_ECONFIG;
        }
    } else {
        return -PQ_ECONFIG;
    }
    *out = r;
    return 0;
}

int cfg_parse_rec_interval(const char *s, int64_t *ns_out)
{
    int64_t ns;

    if (strcmp(s, "half_cycle") == 0) {
        *ns_out = 0;
        return 0;
    }
    if (units_parse_duration(s, &ns) < 0 || ns < 200 * 1000000LL || ns > 31 * PQ_DAY_NS) {
        return -PQ_ECONFIG;
    }
    *ns_out = ns;
    return 0;
}

/* ---- recorders ------------------------------------------------------ */

/* A channel name or pattern: the name characters plus * and ?. */
static const char *valid_pattern(const void *v)
{
    const char *s = *(char *const *) v;
    size_t len = strlen(s);

    if (len == 0 || len > 95 || s[0] == '/' || s[len - 1] == '/' || strstr(s, "//") ||
        strspn(s,
               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/*?") !=
            len) {
        return "a channel name or pattern (letters, digits, '_', '.', '-', '/', '*', "
               "'?')";
    }
    return NULL;
}

static const char *valid_interval(const void *v)
{
    const char *s = *(char *const *) v;
    int64_t ns;

    return !*s || cfg_parse_rec_interval(s, &ns) == 0
               ? NULL
               : "half_cycle or a duration from 200ms to 31 days";
}

static const char *valid_schedule(const void *v)
{
    const char *s = *(char *const *) v;
    struct cfg_schedule c;

    return !*s || cfg_parse_schedule(s, &c) == 0
               ? NULL
               : "'hourly :MM', 'daily HH:MM', 'weekly DAY HH:MM' or 'monthly D HH:MM' "
                 "(D 1..28)";
}

static const char *valid_event(const void *v)
{
    const char *s = *(char *const *) v;

    for (size_t i = 0; event_names[i]; i++) {
        if (strcmp(s, event_names[i]) == 0) {
            return NULL;
        }
    }
    return !*s ? NULL : "dip, swell, interruption, rvc or any";
}

static const char *valid_optional_name(const void *v)
{
    const char *s = *(char *const *) v;

    return !*s ? NULL : cfg_valid_name(v);
}

static const struct cfg_field channel_fields[] = {
    {.key = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct rec_channel_cfg, name),
     .flags = CFG_REQUIRED,
     .valid = valid_pattern,
     .doc = "channel name, or a pattern with * and ?"},
    {0},
};

static const struct cfg_schema channel_schema = {
    .name = "a channel",
    .size = sizeof(struct rec_channel_cfg),
    .fields = channel_fields,
};

static const struct cfg_field trigger_fields[] = {
    {.key = "interval",
     .type = CFG_STRING,
     .offset = offsetof(struct rec_trigger_cfg, interval),
     .valid = valid_interval,
     .doc = "record every interval, aligned to UTC (15min: :00 :15 ...), or "
            "half_cycle: every update of the channels"},
    {.key = "schedule",
     .type = CFG_STRING,
     .offset = offsetof(struct rec_trigger_cfg, schedule),
     .valid = valid_schedule,
     .doc = "a snapshot at a calendar time in site time: 'daily 00:00', "
            "'weekly mon 06:00', 'monthly 1 00:00', 'hourly :30'"},
    {.key = "on_alarm",
     .type = CFG_STRING,
     .offset = offsetof(struct rec_trigger_cfg, on_alarm),
     .valid = valid_optional_name,
     .doc = "record for `duration` when this alarm goes active (channel "
            "alarm/<name>/active)"},
    {.key = "on_event",
     .type = CFG_STRING,
     .offset = offsetof(struct rec_trigger_cfg, on_event),
     .valid = valid_event,
     .doc = "record for `duration` on a PQ event: dip, swell, interruption, rvc, any"},
    {.key = "duration",
     .type = CFG_DURATION,
     .offset = offsetof(struct rec_trigger_cfg, duration_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 86400,
     .def = "10s",
     .doc = "how long an alarm, event or manual trigger records"},
    {.key = "manual",
     .type = CFG_BOOL,
     .offset = offsetof(struct rec_trigger_cfg, manual),
     .def = "false",
     .doc = "record on gateway/command/record = this recorder's index"},
    {0},
};

static const struct cfg_schema trigger_schema = {
    .name = "a trigger",
    .size = sizeof(struct rec_trigger_cfg),
    .fields = trigger_fields,
};

static const struct cfg_field recorder_fields[] = {
    {.key = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct recorder_cfg, name),
     .flags = CFG_REQUIRED,
     .valid = cfg_valid_name,
     .doc = "recorder name"},
    {.key = "channels",
     .type = CFG_LIST,
     .offset = offsetof(struct recorder_cfg, channels),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 1,
     .max = REC_MAX_CHANNELS,
     .sub = &channel_schema,
     .doc = "channel names or patterns; 16 channels at most once expanded"},
    {.key = "trigger",
     .type = CFG_STRUCT,
     .offset = offsetof(struct recorder_cfg, trigger),
     .sub = &trigger_schema,
     .doc = "what makes it record"},
    {.key = "value",
     .type = CFG_ENUM,
     .offset = offsetof(struct recorder_cfg, value),
     .def = "auto",
     .choices = value_names,
     .doc = "per interval: average, last, min or max (auto: average for "
            "intervals, last otherwise)"},
    {.key = "mode",
     .type = CFG_ENUM,
     .offset = offsetof(struct recorder_cfg, mode),
     .def = "continuous",
     .choices = mode_names,
     .doc = "continuous (the oldest rows go past depth) or stop_when_full"},
    {.key = "depth",
     .type = CFG_INT,
     .offset = offsetof(struct recorder_cfg, depth),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 10000000,
     .def = "10000",
     .doc = "rows kept"},
    {0},
};

static void check_recorder(struct cfg_ctx *ctx, void *obj)
{
    const struct recorder_cfg *r = obj;
    const struct rec_trigger_cfg *t = &r->trigger;

    if (!*t->interval && !*t->schedule && !*t->on_alarm && !*t->on_event && !t->manual) {
        cfg_error_at(ctx, &r->trigger,
                     "recorder '%s' has no trigger: set interval, schedule, on_alarm, "
                     "on_event or manual",
                     r->name);
    }
    if (r->value != REC_VALUE_AUTO && r->value != REC_VALUE_LAST &&
        (!*t->interval || strcmp(t->interval, "half_cycle") == 0)) {
        cfg_error_at(ctx, &r->value, "value '%s' needs an interval trigger",
                     value_names[r->value]);
    }
}

const struct cfg_schema recorder_schema = {
    .name = "a recorder",
    .size = sizeof(struct recorder_cfg),
    .fields = recorder_fields,
    .check = check_recorder,
};

/* ---- trends --------------------------------------------------------- */

static void check_trends(struct cfg_ctx *ctx, void *obj)
{
    const struct trends_cfg *t = obj;

    for (size_t i = 0; i < t->channels.n; i++) {
        const char **name =
            (const char **) &CFG_AT(t->channels, struct rec_channel_cfg, i)->name;

        if (strpbrk(*name, "*?")) {
            cfg_error_at(ctx, name, "a trend needs one channel name, not a pattern: '%s'",
                         *name);
        }
    }
}

static const struct cfg_field trends_fields[] = {
    {.key = "channels",
     .type = CFG_LIST,
     .offset = offsetof(struct trends_cfg, channels),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 64,
     .sub = &channel_schema,
     .doc = "channels with hourly, daily, weekly and monthly statistics and a "
            "forecast (trend/<channel>/...)"},
    {0},
};

const struct cfg_schema trends_schema = {
    .name = "trends",
    .size = sizeof(struct trends_cfg),
    .fields = trends_fields,
    .check = check_trends,
};

/* ---- tou ------------------------------------------------------------ */

static const char *valid_hhmm(const void *v)
{
    int m;

    return cfg_parse_hhmm(*(char *const *) v, &m) == 0 ? NULL
                                                       : "a time HH:MM, 00:00..24:00";
}

static const char *valid_mmdd(const void *v)
{
    int md;

    return cfg_parse_mmdd(*(char *const *) v, &md) == 0 ? NULL : "a date MM-DD";
}

static const char *valid_date(const void *v)
{
    int64_t d;

    return cfg_parse_date(*(char *const *) v, &d) == 0 ? NULL : "a date YYYY-MM-DD";
}

static const struct cfg_field period_fields[] = {
    {.key = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct tou_period_cfg, name),
     .flags = CFG_REQUIRED,
     .valid = cfg_valid_name,
     .doc = "tariff name (peak, offpeak ...)"},
    {.key = "from",
     .type = CFG_STRING,
     .offset = offsetof(struct tou_period_cfg, from),
     .flags = CFG_REQUIRED,
     .valid = valid_hhmm,
     .doc = "start, civil time HH:MM"},
    {.key = "to",
     .type = CFG_STRING,
     .offset = offsetof(struct tou_period_cfg, to),
     .flags = CFG_REQUIRED,
     .valid = valid_hhmm,
     .doc = "end (excluded), HH:MM; before from: past midnight; 24:00 ends the day"},
    {0},
};

static const struct cfg_schema period_schema = {
    .name = "a tariff period",
    .size = sizeof(struct tou_period_cfg),
    .fields = period_fields,
};

#define PERIOD_LIST(k, m, what)                                                      \
    {                                                                                \
        .key = k, .type = CFG_LIST, .offset = offsetof(struct tou_season_cfg, m),    \
        .flags = CFG_RANGE, .min = 0, .max = TOU_PERIODS_MAX, .sub = &period_schema, \
        .doc = what                                                                  \
    }

static const struct cfg_field season_fields[] = {
    {.key = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct tou_season_cfg, name),
     .flags = CFG_REQUIRED,
     .valid = cfg_valid_name,
     .doc = "season name"},
    {.key = "from",
     .type = CFG_STRING,
     .offset = offsetof(struct tou_season_cfg, from),
     .def = "01-01",
     .valid = valid_mmdd,
     .doc = "first day, MM-DD"},
    {.key = "to",
     .type = CFG_STRING,
     .offset = offsetof(struct tou_season_cfg, to),
     .def = "12-31",
     .valid = valid_mmdd,
     .doc = "last day, MM-DD (before from: the season spans the new year)"},
    PERIOD_LIST("weekday", weekday, "tariff periods Monday to Friday"),
    PERIOD_LIST("weekend", weekend,
                "tariff periods Saturday and Sunday (empty: as weekday)"),
    PERIOD_LIST("holiday", holiday, "tariff periods of holidays (empty: as weekend)"),
    {0},
};

static const struct cfg_schema season_schema = {
    .name = "a season",
    .size = sizeof(struct tou_season_cfg),
    .fields = season_fields,
};

static const struct cfg_field date_fields[] = {
    {.key = "date",
     .type = CFG_STRING,
     .offset = offsetof(struct tou_date_cfg, date),
     .flags = CFG_REQUIRED,
     .valid = valid_date,
     .doc = "a holiday, YYYY-MM-DD in site time"},
    {0},
};

static const struct cfg_schema date_schema = {
    .name = "a holiday",
    .size = sizeof(struct tou_date_cfg),
    .fields = date_fields,
};

/* Does the zone exist?  The daemon reads it fully at start (gateway/tzif.c);
 * here the file must exist and be a TZif file. */
static int zone_exists(const char *name)
{
    const char *dir = getenv("TZDIR");
    char path[512], magic[4];
    size_t len = strlen(name);
    FILE *f;
    int ok;

    if (len == 0 || len > 63 || name[0] == '/' || strstr(name, "..") ||
        strspn(name,
               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_+-") !=
            len) {
        return 0;
    }
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo",
             name);
    f = fopen(path, "rb");
    if (!f) {
        return 0;
    }
    ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    fclose(f);
    return ok;
}

/* Which periods of one day type cover each minute: an overlap is an
 * error; a gap is one too unless a default tariff takes it. */
static void check_day(struct cfg_ctx *ctx, const struct tou_season_cfg *s,
                      const struct cfg_list *l, const char *type, int has_default)
{
    signed char owner[1440];
    int gap_from = -1;

    memset(owner, -1, sizeof(owner));
    for (size_t i = 0; i < l->n; i++) {
        const struct tou_period_cfg *p = CFG_AT(*l, struct tou_period_cfg, i);
        int from, to;

        if (cfg_parse_hhmm(p->from, &from) < 0 || cfg_parse_hhmm(p->to, &to) < 0) {
            continue; /* reported by the field */
        }
        if (from == 1440) {
            cfg_error_at(ctx, &p->from, "a period cannot start at 24:00");
            continue;
        }
        if (to == from && !(from == 0 && to == 1440)) {
            cfg_error_at(ctx, &p->to, "period '%s' is empty (%s to %s)", p->name, p->from,
                         p->to);
            continue;
        }
        /* [from, to), wrapping past midnight when to <= from */
        for (int k = 0, len = from < to ? to - from : 1440 - from + to, told = 0; k < len;
             k++) {
            int m = (from + k) % 1440;

            if (owner[m] >= 0 && !told) {
                const struct tou_period_cfg *o =
                    CFG_AT(*l, struct tou_period_cfg, (size_t) owner[m]);

                cfg_error_at(
                    ctx, &p->from,
                    "season '%s' %s: period '%s' (%s-%s) overlaps '%s' (%s-%s) at "
                    "%02d:%02d",
                    s->name, type, p->name, p->from, p->to, o->name, o->from, o->to,
                    m / 60, m % 60);
                told = 1; /* once per period; it still covers its minutes */
            }
            owner[m] = (signed char) i;
        }
    }
    if (has_default || l->n == 0) {
        return;
    }
    for (int m = 0; m <= 1440; m++) {
        if (m < 1440 && owner[m] < 0 && gap_from < 0) {
            gap_from = m;
        } else if ((m == 1440 || owner[m] >= 0) && gap_from >= 0) {
            cfg_error_at(ctx, l,
                         "season '%s' %s: %02d:%02d-%02d:%02d has no tariff (cover the "
                         "whole day or set tou.default_tariff)",
                         s->name, type, gap_from / 60, gap_from % 60, m / 60, m % 60);
            return;
        }
    }
}

static int season_has(int from, int to, int md)
{
    return from <= to ? md >= from && md <= to : md >= from || md <= to;
}

/* Every day of a leap year in exactly one season. */
static void check_seasons(struct cfg_ctx *ctx, const struct tou_cfg *t)
{
    for (int m = 1; m <= 12; m++) {
        for (unsigned d = 1; d <= month_days(2000, m); d++) {
            int md = m * 100 + (int) d;
            const struct tou_season_cfg *first = NULL;

            for (size_t i = 0; i < t->seasons.n; i++) {
                const struct tou_season_cfg *s =
                    CFG_AT(t->seasons, struct tou_season_cfg, i);
                int from, to;

                if (cfg_parse_mmdd(s->from, &from) < 0 ||
                    cfg_parse_mmdd(s->to, &to) < 0) {
                    return;
                }
                if (!season_has(from, to, md)) {
                    continue;
                }
                if (first) {
                    cfg_error_at(ctx, &s->from,
                                 "season '%s' overlaps season '%s' on %02d-%02u", s->name,
                                 first->name, m, d);
                    return;
                }
                first = s;
            }
            if (!first) {
                cfg_error_at(ctx, &t->seasons, "%02d-%02u is in no season", m, d);
                return;
            }
        }
    }
}

static void count_tariffs(struct cfg_ctx *ctx, const struct tou_cfg *t)
{
    const char *names[TOU_TARIFFS_MAX];
    size_t n = 0;

    for (size_t i = 0; i < t->seasons.n; i++) {
        const struct tou_season_cfg *s = CFG_AT(t->seasons, struct tou_season_cfg, i);
        const struct cfg_list *lists[] = {&s->weekday, &s->weekend, &s->holiday};

        for (size_t k = 0; k < 3; k++) {
            for (size_t j = 0; j < lists[k]->n; j++) {
                const struct tou_period_cfg *p =
                    CFG_AT(*lists[k], struct tou_period_cfg, j);
                size_t q = 0;

                while (q < n && strcmp(names[q], p->name) != 0) {
                    q++;
                }
                if (q < n) {
                    continue;
                }
                if (n == TOU_TARIFFS_MAX) {
                    cfg_error_at(ctx, &p->name, "more than %d tariff names",
                                 TOU_TARIFFS_MAX);
                    return;
                }
                names[n++] = p->name;
            }
        }
    }
}

static void check_tou(struct cfg_ctx *ctx, void *obj)
{
    const struct tou_cfg *t = obj;
    int has_default = *t->default_tariff != '\0';

    if (!*t->timezone) {
        if (t->seasons.n > 0) {
            cfg_error_at(ctx, &t->timezone, "time of use needs the site's timezone");
        }
        return;
    }
    if (!zone_exists(t->timezone)) {
        cfg_error_at(ctx, &t->timezone, "unknown time zone '%s' (not in the tz database)",
                     t->timezone);
    }
    if (t->seasons.n == 0) {
        cfg_error_at(ctx, &t->seasons, "time of use needs at least one season");
        return;
    }
    check_seasons(ctx, t);
    for (size_t i = 0; i < t->seasons.n; i++) {
        const struct tou_season_cfg *s = CFG_AT(t->seasons, struct tou_season_cfg, i);

        if (s->weekday.n == 0 && !has_default) {
            cfg_error_at(ctx, &s->weekday, "season '%s' has no weekday tariffs", s->name);
        }
        check_day(ctx, s, &s->weekday, "weekday", has_default);
        check_day(ctx, s, &s->weekend, "weekend", has_default);
        check_day(ctx, s, &s->holiday, "holiday", has_default);
    }
    count_tariffs(ctx, t);
}

static const struct cfg_field tou_fields[] = {
    {.key = "timezone",
     .type = CFG_STRING,
     .offset = offsetof(struct tou_cfg, timezone),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 63,
     .doc = "the site's zone in the tz database (Europe/Paris); empty: no time of use"},
    {.key = "seasons",
     .type = CFG_LIST,
     .offset = offsetof(struct tou_cfg, seasons),
     .flags = CFG_RANGE,
     .min = 0,
     .max = TOU_SEASONS_MAX,
     .sub = &season_schema,
     .doc = "up to 6 seasons covering the year, each with its tariff periods"},
    {.key = "holidays",
     .type = CFG_LIST,
     .offset = offsetof(struct tou_cfg, holidays),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 256,
     .sub = &date_schema,
     .doc = "holiday dates, YYYY-MM-DD"},
    {.key = "default_tariff",
     .type = CFG_STRING,
     .offset = offsetof(struct tou_cfg, default_tariff),
     .valid = valid_optional_name,
     .doc = "tariff of minutes no period covers; empty: such gaps are errors"},
    {.key = "energy",
     .type = CFG_LIST,
     .offset = offsetof(struct tou_cfg, energy),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 16,
     .sub = &channel_schema,
     .doc = "energy counters split by tariff (empty: local/energy/kwh_del, kwh_rec, "
            "kvarh_del, kvarh_rec, kvah)"},
    {.key = "demand",
     .type = CFG_STRING,
     .offset = offsetof(struct tou_cfg, demand),
     .def = "local/demand/p/last",
     .valid = valid_pattern,
     .doc = "demand channel whose maximum is kept per tariff"},
    {0},
};

const struct cfg_schema tou_schema = {
    .name = "tou",
    .size = sizeof(struct tou_cfg),
    .fields = tou_fields,
    .check = check_tou,
};

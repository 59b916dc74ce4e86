/* comtrade_info.c - `pqgate comtrade-info FILE`: what a COMTRADE recording
 * holds, for a person: header, times (UTC and local), time quality, rates,
 * and per channel its scaling and what the data did (min, max, RMS;
 * transitions of status channels).
 *
 * The recording is read by the same loader as `pqgate analyze`, so every
 * revision and data format it accepts is summarised, and its error message
 * (file, line, field) is what the user sees.
 */
#include "gateway/comtrade_info.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/adc/comtrade_load.h"
#include "pq/comtrade.h"
#include "pq/utc.h"

#define EXIT_USAGE 2
#define ERR_MAX    1024

static const char usage[] = "Usage: pqgate comtrade-info FILE.cfg|FILE.cff\n";

/* ---- times ------------------------------------------------------------- */

/* ISO 8601 of t_ns + offset_min, with 6 fraction digits when the time is a
 * whole microsecond, else 9; zone "Z" or "+hh:mm". */
static void format_time(char *buf, size_t cap, int64_t t_ns, int offset_min, int utc)
{
    int a = offset_min < 0 ? -offset_min : offset_min;
    struct pq_utc u;
    char zone[16];

    pq_utc_from_ns(t_ns + (int64_t) offset_min * 60 * PQ_NS_PER_S, &u);
    if (utc) {
        snprintf(zone, sizeof(zone), "Z");
    } else {
        snprintf(zone, sizeof(zone), "%c%02d:%02d", offset_min < 0 ? '-' : '+', a / 60,
                 a % 60);
    }
    snprintf(buf, cap, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u.%0*" PRId64 "%s", u.year,
             u.month, u.day, u.hour, u.minute, u.second, u.nsec % 1000 ? 9 : 6,
             (int64_t) (u.nsec % 1000 ? u.nsec : u.nsec / 1000), zone);
}

static void format_offset(char *buf, size_t cap, int minutes)
{
    int a = minutes < 0 ? -minutes : minutes;

    snprintf(buf, cap, "UTC%c%02d:%02d", minutes < 0 ? '-' : '+', a / 60, a % 60);
}

static void print_time(const char *what, int64_t t_ns, const struct pq_comtrade *ct)
{
    char utc[64], local[64];

    format_time(utc, sizeof(utc), t_ns, 0, 1);
    if (ct->rev_year == 2013) {
        format_time(local, sizeof(local), t_ns, ct->local_code_min, 0);
        printf("%-15s %s (local %s)\n", what, utc, local);
    } else {
        printf("%-15s %s\n", what, utc);
    }
}

/* IEEE C37.118 time quality code, as C37.111-2013 7.4.12 uses it (1..B:
 * within 10^(n-10) s). */
static const char *tmq_text(int tmq, char *buf, size_t cap)
{
    static const char *const acc[] = {
        "",       "1 ns", "10 ns", "100 ns", "1 us", "10 us",
        "100 us", "1 ms", "10 ms", "100 ms", "1 s",  "10 s",
    };

    if (tmq < 0) {
        return "not stated";
    }
    if (tmq == 0) {
        return "0 (clock locked, normal operation)";
    }
    if (tmq <= 11) {
        snprintf(buf, cap, "%X (clock unlocked, within %s)", (unsigned) tmq, acc[tmq]);
        return buf;
    }
    if (tmq == 15) {
        return "F (clock failure: time not reliable)";
    }
    snprintf(buf, cap, "%X (reserved code)", (unsigned) tmq);
    return buf;
}

static const char *leapsec_text(int leapsec)
{
    switch (leapsec) {
    case 0:
        return "0 (none)";
    case 1:
        return "1 (one added)";
    case 2:
        return "2 (one subtracted)";
    case 3:
        return "3 (source cannot signal leap seconds)";
    default:
        return "not stated";
    }
}

/* ---- sections ------------------------------------------------------------ */

static void print_header(const char *path, const struct pq_comtrade *ct)
{
    char tc[16], lc[16], tq[48];

    printf("%-15s %s\n", "recording:", path);
    printf("%-15s %s\n", "station:", ct->station);
    printf("%-15s %s\n", "device:", ct->device);
    printf("%-15s C37.111-%d\n", "revision:", ct->rev_year);
    printf("%-15s %s\n", "format:", pq_comtrade_format_name(ct->format));
    print_time("start:", ct->start_ns, ct);
    print_time("trigger:", ct->trigger_ns, ct);
    printf("%-15s %.9g s after the start\n", "",
           (double) (ct->trigger_ns - ct->start_ns) * 1e-9);
    if (ct->rev_year == 2013) {
        format_offset(tc, sizeof(tc), ct->time_code_min);
        format_offset(lc, sizeof(lc), ct->local_code_min);
        printf("%-15s recorded in %s, local time %s\n", "time codes:", tc, lc);
    } else {
        printf("%-15s not stated before C37.111-2013: times as recorded\n",
               "time codes:");
    }
    printf("%-15s %s\n", "time quality:", tmq_text(ct->tmq, tq, sizeof(tq)));
    printf("%-15s %s\n", "leap second:", leapsec_text(ct->leapsec));
}

static void print_rates(const struct pq_comtrade *ct)
{
    double dur = 0;
    size_t i;

    if (ct->line_freq_hz > 0) {
        printf("%-15s %.9g Hz\n", "line frequency:", ct->line_freq_hz);
    } else {
        printf("%-15s unknown (0)\n", "line frequency:");
    }
    if (ct->nrates == 0) {
        printf("%-15s none: the timestamps give the times (timemult %.9g)\n",
               "sample rates:", ct->timemult);
    } else {
        uint64_t first = 1;

        printf("%-15s %zu\n", "sample rates:", ct->nrates);
        for (i = 0; i < ct->nrates; i++) {
            printf("%-15s %.9g Hz, samples %" PRIu64 "..%" PRIu64 "\n", "",
                   ct->rates[i].rate_hz, first, ct->rates[i].end_sample);
            first = ct->rates[i].end_sample + 1;
        }
    }
    if (ct->nsamples > 0) {
        double r = pq_comtrade_rate_at(ct, ct->nsamples - 1);

        dur = ct->t_s[ct->nsamples - 1] - ct->t_s[0] + (r > 0 ? 1 / r : 0);
    }
    printf("%-15s %zu over %.9g s\n", "samples:", ct->nsamples, dur);
    printf("%-15s %zu analog, %zu status\n", "channels:", ct->n_analog, ct->n_status);
}

struct stats {
    double min, max, rms;
    size_t missing;
};

static struct stats channel_stats(const struct pq_comtrade *ct, size_t k)
{
    struct stats s = {INFINITY, -INFINITY, NAN, 0};
    double sum = 0;
    size_t i, n = 0;

    for (i = 0; i < ct->nsamples; i++) {
        double v = ct->data[i * ct->n_analog + k];

        if (isnan(v)) {
            s.missing++;
            continue;
        }
        s.min = v < s.min ? v : s.min;
        s.max = v > s.max ? v : s.max;
        sum += v * v;
        n++;
    }
    if (n == 0) {
        s.min = s.max = NAN;
    } else {
        s.rms = sqrt(sum / (double) n);
    }
    return s;
}

static int name_width(const char *title, size_t n,
                      const char *(*name)(const void *, size_t), const void *arg)
{
    size_t w = strlen(title), i;

    for (i = 0; i < n; i++) {
        size_t l = strlen(name(arg, i));

        w = l > w ? l : w;
    }
    return (int) w;
}

static const char *analog_id(const void *arg, size_t i)
{
    return ((const struct pq_comtrade *) arg)->analog[i].id;
}

static const char *status_id(const void *arg, size_t i)
{
    return ((const struct pq_comtrade *) arg)->status_id[i];
}

static void print_analog(const struct pq_comtrade *ct)
{
    int w = name_width("id", ct->n_analog, analog_id, ct);
    size_t k;

    if (ct->n_analog == 0) {
        return;
    }
    printf("\nanalog channels (values in primary units):\n");
    printf("  %4s  %-*s  %-5s  %-6s  %11s  %11s  %2s  %13s  %13s  %13s  %s\n", "#", w,
           "id", "phase", "unit", "primary", "secondary", "PS", "min", "max", "rms",
           "missing");
    for (k = 0; k < ct->n_analog; k++) {
        const struct pq_ct_analog *a = &ct->analog[k];
        struct stats s = channel_stats(ct, k);

        printf("  %4zu  %-*s  %-5s  %-6s  %11.6g  %11.6g  %2c  %13.7g  %13.7g  %13.7g  "
               "%zu\n",
               k + 1, w, a->id, a->ph, a->unit, a->primary, a->secondary, a->ps, s.min,
               s.max, s.rms, s.missing);
    }
}

static void print_status(const struct pq_comtrade *ct)
{
    int w = name_width("id", ct->n_status, status_id, ct);
    size_t k, i;

    if (ct->n_status == 0) {
        return;
    }
    printf("\nstatus channels:\n");
    printf("  %4s  %-*s  %5s  %5s  %11s\n", "#", w, "id", "first", "last", "transitions");
    for (k = 0; k < ct->n_status; k++) {
        int first = ct->nsamples ? pq_comtrade_status_bit(ct, 0, k) : 0;
        int prev = first;
        size_t changes = 0;

        for (i = 1; i < ct->nsamples; i++) {
            int b = pq_comtrade_status_bit(ct, i, k);

            changes += b != prev;
            prev = b;
        }
        printf("  %4zu  %-*s  %5d  %5d  %11zu\n", k + 1, w, ct->status_id[k], first, prev,
               changes);
    }
}

int cmd_comtrade_info(int argc, char **argv)
{
    struct pq_comtrade *ct = NULL;
    char err[ERR_MAX];
    const char *path = NULL;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "pqgate comtrade-info: unknown option '%s'\n%s", argv[i],
                    usage);
            return EXIT_USAGE;
        }
        if (path) {
            fprintf(stderr, "pqgate comtrade-info: one file only, got '%s' too\n%s",
                    argv[i], usage);
            return EXIT_USAGE;
        }
        path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "pqgate comtrade-info: which file?\n%s", usage);
        return EXIT_USAGE;
    }
    if (comtrade_load(path, &ct, err, sizeof(err)) != 0) {
        fprintf(stderr, "pqgate comtrade-info: %s\n", err);
        return 1;
    }
    print_header(path, ct);
    print_rates(ct);
    print_analog(ct);
    print_status(ct);
    pq_comtrade_free(ct);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

/* main.c - the pqgate command line: one binary, one table of subcommands.
 *
 * Exit codes: 0 success, 1 failure (invalid config, runtime error), 2 usage.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/log.h"
#include "config/units.h"
#include "gateway/analyze.h"
#include "gateway/comtrade_info.h"
#include "gateway/daemon.h"
#include "gateway/mbserver.h"
#include "gateway/modbus_scan.h"
#include "pq/err.h"

#define EXIT_USAGE 2
#define MAX_SETS   64

#define DEFAULT_CONFIG PQGATE_SYSCONFDIR "/pqgate/pqgate.yaml"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *usage;
    const char *help;
};

static const struct command *find_command(const char *name);
static void print_commands(FILE *f);

/* Options shared by the commands that load a config. */
struct cfg_opts {
    const char *path;
    const char *sets[MAX_SETS];
    size_t nsets;
    int explain;
};

static int __attribute__((format(printf, 2, 3)))
usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "pqgate %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'pqgate help %s'.\n", cmd);
    return EXIT_USAGE;
}

/* Parse --config FILE, --set K=V (repeatable), --explain, and for
 * check-config one positional FILE.  Returns 0 or an exit code. */
static int parse_cfg_opts(const char *cmd, int argc, char **argv, int positional,
                          struct cfg_opts *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"explain", no_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->path = optarg;
            break;
        case 's':
            if (o->nsets == MAX_SETS) {
                return usage_error(cmd, "more than %d --set options", MAX_SETS);
            }
            if (!strchr(optarg, '=')) {
                return usage_error(cmd, "--set '%s': expected key.path=value", optarg);
            }
            o->sets[o->nsets++] = optarg;
            break;
        case 'e':
            o->explain = 1;
            break;
        case 'h':
            printf("%s\n", find_command(cmd)->usage);
            exit(0);
        default:
            return usage_error(cmd, "unknown or incomplete option '%s'",
                               argv[optind - 1]);
        }
    }
    if (positional && optind < argc && !o->path) {
        o->path = argv[optind++];
    }
    if (optind < argc) {
        return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    }
    if (!o->path && positional) {
        return usage_error(cmd, "%s", "which file? (pqgate check-config FILE)");
    }
    if (!o->path) {
        o->path = DEFAULT_CONFIG;
    }
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    struct cfg_opts o;
    struct daemon_opts d;
    int rc = parse_cfg_opts("run", argc, argv, 0, &o);

    if (rc) {
        return rc;
    }
    d.config_path = o.path;
    d.sets = o.sets;
    d.nsets = o.nsets;
    return daemon_run(&d);
}

static int cmd_check_config(int argc, char **argv)
{
    struct pqgate_cfg *cfg = NULL;
    struct cfg_diag diag;
    struct cfg_opts o;
    int rc = parse_cfg_opts("check-config", argc, argv, 1, &o);

    if (rc) {
        return rc;
    }
    cfg_diag_init(&diag);
    rc = pqgate_cfg_load(o.path, o.sets, o.nsets, &cfg, &diag);
    if (rc < 0) {
        cfg_diag_print(&diag, stderr);
        fprintf(stderr, "%s: %zu error%s\n", o.path, diag.n + diag.dropped,
                diag.n + diag.dropped == 1 ? "" : "s");
        cfg_diag_fini(&diag);
        return 1;
    }
    cfg_diag_fini(&diag);
    printf("# effective config of %s, defaults filled in\n", o.path);
    cfg_print(stdout, &pqgate_schema, cfg, o.explain);
    pqgate_cfg_free(cfg);
    return 0;
}

struct scan_opts {
    const char *plan, *config, *bus;
    int64_t first, last, timeout_ns;
    const char *sets[MAX_SETS];
    size_t nsets;
};

static int parse_scan_opts(int argc, char **argv, struct scan_opts *o)
{
    static const struct option longopts[] = {
        {"plan", required_argument, NULL, 'p'},
        {"config", required_argument, NULL, 'c'},
        {"bus", required_argument, NULL, 'b'},
        {"first", required_argument, NULL, 'f'},
        {"last", required_argument, NULL, 'l'},
        {"timeout", required_argument, NULL, 't'},
        {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "modbus-scan";
    int c;

    memset(o, 0, sizeof(*o));
    o->first = 1;
    o->last = 247;
    o->timeout_ns = 50000000;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            o->plan = optarg;
            break;
        case 'c':
            o->config = optarg;
            break;
        case 'b':
            o->bus = optarg;
            break;
        case 'f':
        case 'l':
            if (units_parse_int(optarg, c == 'f' ? &o->first : &o->last) < 0) {
                return usage_error(cmd, "--%s '%s': expected a unit id 1..247",
                                   c == 'f' ? "first" : "last", optarg);
            }
            break;
        case 't':
            if (units_parse_duration(optarg, &o->timeout_ns) < 0 || o->timeout_ns <= 0) {
                return usage_error(cmd, "--timeout '%s': expected a duration like 50ms",
                                   optarg);
            }
            break;
        case 's':
            if (o->nsets == MAX_SETS || !strchr(optarg, '=')) {
                return usage_error(cmd, "--set '%s': expected key.path=value", optarg);
            }
            o->sets[o->nsets++] = optarg;
            break;
        case 'h':
            printf("%s\n", find_command(cmd)->usage);
            exit(0);
        default:
            return usage_error(cmd, "unknown or incomplete option '%s'",
                               argv[optind - 1]);
        }
    }
    if (optind < argc) {
        return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    }
    if (!o->plan == !o->bus) {
        return usage_error(cmd, "%s", "give either --plan CONFIG or --bus NAME");
    }
    if (o->plan && o->config) {
        return usage_error(cmd, "%s", "--plan takes the config itself; drop --config");
    }
    if (o->first < 1 || o->last > 247 || o->first > o->last) {
        return usage_error(cmd, "unit ids %lld..%lld: expected 1 <= first <= last <= 247",
                           (long long) o->first, (long long) o->last);
    }
    return 0;
}

static int cmd_modbus_scan(int argc, char **argv)
{
    struct pqgate_cfg *cfg = NULL;
    struct cfg_diag diag;
    struct scan_opts o;
    const char *path;
    int rc = parse_scan_opts(argc, argv, &o);

    if (rc) {
        return rc;
    }
    path = o.plan ? o.plan : o.config ? o.config : DEFAULT_CONFIG;
    cfg_diag_init(&diag);
    if (pqgate_cfg_load(path, o.sets, o.nsets, &cfg, &diag) < 0) {
        cfg_diag_print(&diag, stderr);
        fprintf(stderr, "%s: %zu error%s\n", path, diag.n + diag.dropped,
                diag.n + diag.dropped == 1 ? "" : "s");
        cfg_diag_fini(&diag);
        return MODBUS_SCAN_ERROR;
    }
    cfg_diag_fini(&diag);
    if (o.plan) {
        rc = modbus_scan_plan(cfg, path, stdout, stderr);
    } else {
        rc = modbus_scan_bus(cfg, path, o.bus, (int) o.first, (int) o.last, o.timeout_ns,
                             stdout, stderr);
    }
    pqgate_cfg_free(cfg);
    return rc;
}

static int cmd_version(int argc, char **argv)
{
    (void) argc;
    (void) argv;
    printf("pqgate %s\n", PQGATE_VERSION);
    return 0;
}

/* pqgate help modbus-map [--config FILE]: docs/modbus-map.md's table, and
 * the device blocks of a config. */
static int help_modbus_map(int argc, char **argv)
{
    struct pqgate_cfg *cfg = NULL;
    struct cfg_diag diag;
    int rc;

    if (argc == 1) {
        return mbsrv_print_map(stdout, NULL, NULL) < 0;
    }
    if (argc != 3 || strcmp(argv[1], "--config") != 0) {
        return usage_error("help", "%s", "usage: pqgate help modbus-map [--config FILE]");
    }
    cfg_diag_init(&diag);
    if (pqgate_cfg_load(argv[2], NULL, 0, &cfg, &diag) < 0) {
        cfg_diag_print(&diag, stderr);
        cfg_diag_fini(&diag);
        return 1;
    }
    cfg_diag_fini(&diag);
    rc = mbsrv_print_map(stdout, cfg, argv[2]);
    pqgate_cfg_free(cfg);
    return rc < 0;
}

static int cmd_help(int argc, char **argv)
{
    const struct command *c;

    if (argc < 2) {
        printf("pqgate %s - power-quality meter and gateway for meter fleets\n\n"
               "Usage: pqgate COMMAND [OPTIONS]\n\nCommands:\n",
               PQGATE_VERSION);
        print_commands(stdout);
        printf(
            "\n'pqgate help COMMAND' describes one command; 'pqgate help config' prints\n"
            "the reference of every config key; 'pqgate help modbus-map [--config "
            "FILE]'\n"
            "the Modbus TCP register map.\n");
        return 0;
    }
    if (strcmp(argv[1], "config") == 0) {
        cfg_print_reference(stdout, &pqgate_schema);
        return 0;
    }
    if (strcmp(argv[1], "modbus-map") == 0) {
        return help_modbus_map(argc - 1, argv + 1);
    }
    c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "pqgate help: no command '%s'. Commands:\n", argv[1]);
        print_commands(stderr);
        return EXIT_USAGE;
    }
    printf("Usage: %s\n\n%s\n", c->usage, c->help);
    return 0;
}

static const struct command commands[] = {
    {"run", cmd_run, "run the gateway daemon",
     "pqgate run [--config FILE] [--set KEY.PATH=VALUE]...",
     "Runs the gateway in the foreground until SIGTERM or SIGINT.\n\n"
     "  --config FILE          the config file (default " DEFAULT_CONFIG ")\n"
     "  --set KEY.PATH=VALUE   override one value, e.g. --set meter.wiring=delta or\n"
     "                         --set buses[0].baud=9600; repeatable; validated like the\n"
     "                         file, and applied again on every reload\n\n"
     "Signals: SIGHUP reloads the config; a file with errors is reported and the\n"
     "running config stays in force.  SIGTERM and SIGINT stop cleanly.\n"
     "Under systemd (Type=notify) it reports READY, RELOADING, STOPPING and pings\n"
     "the watchdog.  Logs go to stderr with journald's <N> priority prefixes, or to\n"
     "syslog (logging.target)."},
    {"check-config", cmd_check_config, "validate a config and print it with defaults",
     "pqgate check-config FILE [--set KEY.PATH=VALUE]... [--explain]",
     "Validates FILE and prints the effective config as YAML, every default filled\n"
     "in.  Every error of the file is reported, one per line, as\n"
     "FILE:LINE:COLUMN: key.path: message, and the exit code is 1.\n\n"
     "  --set KEY.PATH=VALUE   as for 'run'\n"
     "  --explain              add each key's description as a comment"},
    {"analyze", cmd_analyze, "measure a COMTRADE recording, print JSON Lines or a report",
     "pqgate analyze FILE.cfg [--nominal-voltage V] [--nominal-frequency 50|60]\n"
     "       [--wiring wye|delta|single] [--aggregations 200ms,3s,10min,2h]\n"
     "       [--max-demand-current A] [--events] [--flicker] [--lamp 230v|120v]\n"
     "       [--report en50160|ieee519 [--format json|html] [--mv] [--island]\n"
     "        [--isc A --il A] [--edition 2014|2022]]",
     "Runs the gateway's metrology engine over a COMTRADE recording (IEEE C37.111\n"
     "1991/1999/2013: .cfg with .dat, or .cff; ASCII, BINARY, BINARY32, FLOAT32) and\n"
     "prints one JSON record per line on stdout: 'interval' records for each\n"
     "aggregation level asked for (IEC 61000-4-30: 10/12-cycle, 150/180-cycle,\n"
     "10-min, 2-h), 'freq10s' records, and an 'energy' record at the end.\n"
     "Aggregates still open at the end of the recording are printed with\n"
     "\"partial\":true.  docs/analyze.md describes every field.\n\n"
     "Channels: unit V or kV is a voltage, A or kA a current; the phase comes from\n"
     "the ph field (A, B, C, N or L1, L2, L3, N), otherwise from the channel order.\n"
     "Without options the nominal frequency is the closest of 50/60 Hz to the\n"
     "file's line frequency, the nominal voltage the standard voltage closest to\n"
     "the first second's RMS, and the wiring wye with three voltages, else single.\n\n"
     "  --max-demand-current A   IEEE 519 IL for the TDD (default: no TDD)\n"
     "  --events, --flicker      also print 'event' and 'flicker' records\n"
     "  --lamp 230v|120v         flickermeter lamp (default: by the frequency)\n\n"
     "Reports: with --report, analyze prints one compliance report of the whole\n"
     "recording instead of the records (events and flicker measured as needed).\n"
     "The observation period is the recording's span, however short; the report\n"
     "says when it is shorter than the standard's week and gives the number of\n"
     "valid values of every parameter.\n\n"
     "  --report en50160|ieee519 EN 50160:2010 or IEEE 519 evaluation\n"
     "  --format json|html       one JSON document (default), or one self-contained\n"
     "                           HTML page with the parameter table and plots\n"
     "  --mv, --island           EN 50160: MV network (Uc = the nominal voltage),\n"
     "                           system without synchronous connection\n"
     "  --isc A, --il A          IEEE 519: short-circuit and maximum demand load\n"
     "                           current at the PCC, for the current limits (--il\n"
     "                           defaults to --max-demand-current; without IL only\n"
     "                           the voltage is evaluated)\n"
     "  --edition 2014|2022      IEEE 519 edition (default 2022)"},
    {"comtrade-info", cmd_comtrade_info, "summarise a COMTRADE recording",
     "pqgate comtrade-info FILE.cfg|FILE.cff",
     "Prints what a COMTRADE recording (IEEE C37.111 1991/1999/2013: .cfg with\n"
     "its .dat, or .cff; ASCII, BINARY, BINARY32, FLOAT32) holds: station, device,\n"
     "revision, data format, start and trigger time in UTC and in local time (the\n"
     "2013 local_code), time quality and leap second, line frequency, sample\n"
     "rates, number of samples and duration; per analog channel its id, phase,\n"
     "unit, primary/secondary ratio, PS and the minimum, maximum and RMS of the\n"
     "recording in primary units; per status channel its first and last state\n"
     "and number of transitions.  A file that cannot be read is reported with\n"
     "the reader's message (file, line, field) and exit code 1."},
    {"modbus-scan", cmd_modbus_scan,
     "print the Modbus read plan, or find devices on a bus",
     "pqgate modbus-scan --plan CONFIG\n"
     "       pqgate modbus-scan [--config CONFIG] --bus NAME [--first 1] [--last 247]\n"
     "                          [--timeout 50ms]",
     "--plan CONFIG: for each device of every serial bus and TCP peer of CONFIG,\n"
     "its profile and the reads the poller makes each cycle (function, address+count,\n"
     "0-based protocol addresses), then the totals: reads per cycle, registers read,\n"
     "the minimum the register maps need, and their ratio.  SunSpec devices are\n"
     "planned at run time, once their model chain is known.\n\n"
     "--bus NAME: asks every unit id from --first to --last (default 1..247) on that\n"
     "serial bus of the config (default " DEFAULT_CONFIG "), each with\n"
     "--timeout (default 50ms), reads the device identification (function 43/14)\n"
     "of each that answers, and says which shipped profile fits: by the vendor and\n"
     "product code when offered, else by reading each profile's first registers\n"
     "(docs/modbus.md gives the rule).  Do not run it on a bus the daemon polls.\n\n"
     "  --set KEY.PATH=VALUE   override one config value, as for 'run'\n\n"
     "Exit codes: 0 done (with --bus: at least one device answered), 1 invalid\n"
     "config, profile error or the serial port could not be opened (the message\n"
     "says which), 2 usage, 3 the bus was scanned and no unit id answered."},
    {"version", cmd_version, "print the version", "pqgate version",
     "Prints pqgate's version."},
    {"help", cmd_help, "describe the commands", "pqgate help [COMMAND]",
     "Lists the commands, or describes one."},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

static void print_commands(FILE *f)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    }
}

int main(int argc, char **argv)
{
    const struct command *c;

    log_open("pqgate", LOG_TO_STDERR, LOG_INFO);
    if (argc < 2) {
        cmd_help(1, argv);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        return cmd_version(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        return cmd_help(argc - 1, argv + 1);
    }
    c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "pqgate: no command '%s'. Commands:\n", argv[1]);
        print_commands(stderr);
        return EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}

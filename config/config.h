/* config.h - the typed configuration of the pqgate daemon.
 *
 * Plain data filled by config/ from YAML through the schema tables in
 * config/cfg_*.c; the tiers read it (drivers take their own section, as
 * `const struct meter_cfg *`).  A loaded config is immutable: a reload loads
 * a new one and swaps it in only when all of it validated.
 *
 * Adding a section: a struct here, a schema table in its own cfg_<name>.c,
 * a member of struct pqgate_cfg and one line in the root table (config.c).
 */
#ifndef PQGATE_CONFIG_H
#define PQGATE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "config/schema.h"

/* gateway: identity */
struct gateway_cfg {
    char *id;   /* stable id: MQTT topics, channel names, fleet views */
    char *name; /* display name */
    char *site; /* free text: where the box is */
};

/* meter: the local metrology inputs */
enum meter_source {
    METER_SOURCE_NONE, /* no local meter: a pure Modbus gateway */
    METER_SOURCE_SIM,
    METER_SOURCE_REPLAY,
    METER_SOURCE_IIO,
};

enum meter_wiring {
    METER_WIRING_WYE,    /* 3 phases + neutral, 4 wires */
    METER_WIRING_DELTA,  /* 3 phases, 3 wires */
    METER_WIRING_SINGLE, /* 1 phase + neutral */
};

struct ratio_cfg {
    double primary;   /* V or A on the network side */
    double secondary; /* V or A at the meter terminals */
};

/* meter.sim: the signal generator (drivers/adc/adc_sim.c).  Values are on
 * the primary side (PT/CT ratios do not apply).  Angles in degrees. */
struct sim_phase_cfg {
    double voltage_pct;       /* of sim.voltage */
    double voltage_angle_deg; /* added to the phase's 0/-120/+120 */
    double current_pct;       /* of sim.current */
    double current_angle_deg; /* added to the current's lag */
};

struct sim_unbalance_cfg {
    struct sim_phase_cfg ph[3]; /* A, B, C */
};

struct sim_harmonic_cfg {
    int order;                /* 2..63 */
    double voltage_pct;       /* of the fundamental */
    double voltage_angle_deg; /* relative to order x the phase's fundamental */
    double current_pct;
    double current_angle_deg;
};

struct sim_interharmonic_cfg {
    double frequency_hz; /* absolute: does not follow the fundamental */
    double voltage_pct;
    double voltage_angle_deg;
    double current_pct;
    double current_angle_deg;
};

enum sim_scenario_kind {
    SIM_DIP,
    SIM_SWELL,
    SIM_INTERRUPTION,
    SIM_FREQUENCY_STEP,
    SIM_FLICKER,
    SIM_RVC,
    SIM_FAULT_UPSTREAM,   /* the voltage sags; the load's current with it */
    SIM_FAULT_DOWNSTREAM, /* the voltage sags; a lagging fault current adds */
};

enum sim_shape {
    SIM_SHAPE_SINE,
    SIM_SHAPE_SQUARE,
};

struct sim_scenario_cfg {
    int kind;            /* enum sim_scenario_kind */
    int64_t at_ns;       /* from frame 0 */
    int64_t duration_ns; /* 0: for good (frequency_step, flicker, rvc) */
    double level_pct;    /* RMS during the event, % of the normal value */
    char *phases;        /* "A", "BC", "ABC" */
    double step_hz;      /* frequency_step */
    double mod_hz;       /* flicker: modulation frequency */
    double dv_pct;       /* flicker: relative change dV/V, peak to peak */
    int shape;           /* flicker: enum sim_shape */
    int64_t ramp_ns;     /* rvc: length of the linear change */
    double fault_pct;    /* fault_downstream: fault current, % of the load's */
};

struct sim_cfg {
    double sample_rate_hz;
    double frequency_hz;
    double drift_hz_per_h;
    double voltage_v; /* phase RMS; 0: from meter.nominal_voltage */
    double current_a; /* phase RMS */
    double power_factor;
    int leading; /* current leads the voltage */
    struct sim_unbalance_cfg unbalance;
    struct cfg_list harmonics;      /* struct sim_harmonic_cfg */
    struct cfg_list interharmonics; /* struct sim_interharmonic_cfg */
    double noise_pct;
    int seed;
    struct cfg_list scenarios; /* struct sim_scenario_cfg */
    int neutral;               /* UN and IN channels (wye, single) */
    int realtime;
    char *start; /* UTC of frame 0 when not realtime */
};

/* meter.replay: a COMTRADE recording (drivers/adc/adc_replay.c) */
enum replay_pace {
    REPLAY_PACE_REALTIME,
    REPLAY_PACE_FAST,
};

struct replay_cfg {
    char *file; /* .cfg or .cff */
    int pace;   /* enum replay_pace */
    int loop;
};

/* meter.iio: a Linux IIO buffered ADC (drivers/adc/adc_iio.c) */
enum iio_role_cfg {
    IIO_ROLE_UA,
    IIO_ROLE_UB,
    IIO_ROLE_UC,
    IIO_ROLE_UN,
    IIO_ROLE_IA,
    IIO_ROLE_IB,
    IIO_ROLE_IC,
    IIO_ROLE_IN,
};

struct iio_channel_cfg {
    int role;      /* enum iio_role_cfg */
    char *channel; /* IIO channel id or name, "voltage0" */
    double gain;   /* V or A at the meter's terminals per V (A) at the ADC */
    double scale;  /* without device scale: V (A) per count */
    double offset; /* without device scale: counts added before scale */
};

struct iio_cfg {
    char *uri;    /* libiio context URI: "local:", "ip:192.168.2.1" */
    char *device; /* IIO device name or id */
    int buffer;   /* frames per refill */
    int kernel_buffers;
    double sample_rate_hz;    /* 0: read the device's sampling_frequency */
    int device_scale;         /* apply the device's scale and offset */
    struct cfg_list channels; /* struct iio_channel_cfg */
};

/* meter.flicker: the IEC 61000-4-15 lamp, or off */
enum flicker_cfg {
    FLICKER_AUTO, /* 230 V lamp on 50 Hz systems, 120 V lamp on 60 Hz */
    FLICKER_230V,
    FLICKER_120V,
    FLICKER_OFF,
};

/* meter.demand: demand registers of P, Q, S and the phase currents */
enum demand_method_cfg {
    DEMAND_BLOCK, /* = enum pq_demand_method */
    DEMAND_SLIDING,
    DEMAND_THERMAL,
};

struct demand_cfg {
    int method; /* enum demand_method_cfg */
    int64_t interval_ns;
    int subintervals; /* 0: cfg_demand_subintervals() chooses */
};

/* Sub-intervals in effect: as set, or 3 for sliding and 1 otherwise. */
int cfg_demand_subintervals(const struct demand_cfg *d);

struct meter_cfg {
    int source;               /* enum meter_source */
    double nominal_voltage_v; /* Udin: L-N for wye/single, L-L for delta */
    double nominal_frequency_hz;
    int wiring;                  /* enum meter_wiring */
    struct ratio_cfg pt;         /* voltage transformer */
    struct ratio_cfg ct;         /* current transformer */
    double max_demand_current_a; /* IEEE 519 IL for TDD; 0: no TDD */
    int flicker;                 /* enum flicker_cfg */
    struct demand_cfg demand;
    struct sim_cfg sim;
    struct replay_cfg replay;
    struct iio_cfg iio;
};

/* buses and peers: the Modbus fleet */
enum sunspec_cfg {
    SUNSPEC_OFF,
    SUNSPEC_AUTO, /* find the "SunS" header and model chain at start */
};

struct device_cfg {
    char *name;    /* channel prefix: "<bus>.<name>/" */
    int unit;      /* Modbus unit id */
    char *profile; /* register map (config/profiles/) */
    int64_t poll_ns;
    int64_t timeout_ns; /* 0: the bus's or peer's timeout */
    int retries;
    int64_t turnaround_ns;                  /* wait after this device's answer */
    int64_t backoff_min_ns, backoff_max_ns; /* quarantine; 0: poll, 60 s */
    int max_regs;                           /* longest read; 0: the profile's */
    int max_gap;                            /* -1: the profile's */
    int sunspec;                            /* enum sunspec_cfg */
};

enum serial_parity {
    PARITY_NONE,
    PARITY_EVEN,
    PARITY_ODD,
};

enum serial_rts {
    RTS_NONE, /* = enum mb_rts: the adapter switches direction itself */
    RTS_UP,   /* RTS high while sending */
    RTS_DOWN, /* RTS low while sending */
};

struct serial_bus_cfg {
    char *name;   /* "bus1" */
    char *device; /* "/dev/ttyS1" */
    int baud;
    int parity; /* enum serial_parity */
    int data_bits;
    int stop_bits;
    int rts;              /* enum serial_rts */
    int64_t rts_delay_ns; /* extra hold of RTS after the last byte */
    int64_t silent_ns;    /* inter-frame gap; 0: 3.5 characters (>= 1.75 ms) */
    int64_t timeout_ns;
    struct cfg_list devices; /* struct device_cfg */
};

struct tcp_peer_cfg {
    char *name;
    char *host;
    int port;
    int64_t timeout_ns;
    int64_t warmup_ns;       /* wait after connecting before the first request */
    struct cfg_list devices; /* struct device_cfg (unit ids behind the peer) */
};

/* events: dip, swell, interruption, RVC and current thresholds */
enum event_reference_cfg {
    EVENT_REF_FIXED,   /* % of the declared input voltage */
    EVENT_REF_SLIDING, /* % of the sliding reference (MV) */
};

struct events_cfg {
    int enabled;
    double dip_pct, swell_pct, interruption_pct, hysteresis_pct;
    int reference;                      /* enum event_reference_cfg */
    double rvc_pct, rvc_hysteresis_pct; /* rvc 0: off */
    double current_nominal_a;           /* 0: no current sags and swells */
    double current_sag_pct, current_swell_pct;
    int64_t burst_before_ns, burst_after_ns; /* RMS burst around each event */
};

/* capture: waveform captures to COMTRADE */
enum capture_format_cfg {
    CAPTURE_BINARY32,
    CAPTURE_FLOAT32,
    CAPTURE_ASCII,
};

struct capture_cfg {
    int on_events;  /* capture every dip, swell and interruption */
    char *dir;      /* where the .cfg/.dat pairs go */
    int format;     /* enum capture_format_cfg */
    int resolution; /* samples per cycle: 512, 256, 128, 64, 32 or 16 */
    int pre_cycles, post_cycles;
    int max_count; /* retention: oldest deleted first */
    uint64_t max_bytes;
};

/* compliance: continuous EN 50160 evaluation of the local meter */
enum en50160_network_cfg {
    EN50160_LV,
    EN50160_MV,
};

enum en50160_system_cfg {
    EN50160_SYNCHRONOUS, /* connected to an interconnected system */
    EN50160_ISLAND,
};

struct compliance_cfg {
    int en50160;  /* evaluate the current week continuously */
    int network;  /* enum en50160_network_cfg */
    int system;   /* enum en50160_system_cfg */
    int ieee519;  /* evaluate IEEE 519 over the current week */
    int edition;  /* 2014 or 2022 */
    double isc_a; /* short-circuit current at the PCC */
};

/* modbus_server: the Modbus TCP server (own map and serial gateway),
 * config/cfg_mbserver.c, docs/modbus-server.md */
struct mbserver_gateway_cfg {
    int enabled;              /* forward other unit ids to their bus */
    int64_t cache_max_age_ns; /* answer reads from the poller's cache; 0: off */
    int64_t timeout_ns;       /* response timeout of a forwarded request; 0: the
                                 device's own */
};

struct mbserver_write_cfg {
    int unit;  /* unit id the range applies to */
    int first; /* 0-based addresses, inclusive */
    int last;
    char *clients; /* "127.0.0.1, 10.0.0.0/8": IPv4 addresses or prefixes */
};

struct mbserver_cfg {
    int enabled;
    char *bind; /* IPv4 address to listen on */
    int port;
    int unit_id; /* the gateway's own map (0 answers it too) */
    int max_clients;
    int64_t idle_timeout_ns; /* close a silent client; 0: never */
    struct mbserver_gateway_cfg gateway;
    struct cfg_list writes; /* struct mbserver_write_cfg */
};

/* An IPv4 address or prefix, host byte order. */
struct cfg_cidr {
    uint32_t net;
    uint32_t mask;
};

/* Parse a list of IPv4 addresses and prefixes ("127.0.0.1, 10.0.0.0/8"),
 * separated by commas or blanks.  Writes up to cap items to out and returns
 * how many the list holds, or -PQ_ECONFIG.  cfg_mbserver.c. */
int cfg_cidr_list(const char *s, struct cfg_cidr *out, size_t cap);

/* virtual: channels computed from expressions (gateway/vchan.c) */
struct virtual_cfg {
    char *name;          /* channel name on the bus */
    char *unit;          /* of the result */
    char *expr;          /* config/expr.h */
    char *interval;      /* "on_change" or a duration */
    int64_t interval_ns; /* from interval (check hook); 0: on change */
};

/* alarms: setpoints, digital inputs, PQ events and logic (gateway/alarm.c) */
enum alarm_kind_cfg {
    ALARM_OVER,
    ALARM_UNDER,
    ALARM_DEVIATION,
    ALARM_DIGITAL,
    ALARM_EVENT,
    ALARM_LOGIC,
};

enum alarm_class_cfg {
    ALARM_CLASS_1S,
    ALARM_CLASS_HALF_CYCLE,
};

enum alarm_action_cfg {
    ALARM_ACT_LOG,
    ALARM_ACT_CAPTURE,
    ALARM_ACT_BURST,
    ALARM_ACT_OUTPUT,
    ALARM_ACT_EMAIL,
    ALARM_ACT_MQTT,
};

struct alarm_addr_cfg {
    char *address; /* an e-mail address */
};

struct alarm_email_action_cfg {
    struct cfg_list to; /* struct alarm_addr_cfg; empty: alarms_email.to */
};

/* One item of actions: "- log" or "- output: relay1" or "- email: {to: []}" */
struct alarm_action_item_cfg {
    char *kind;   /* log capture burst output email mqtt; "" when a key says it */
    char *output; /* output: the digital output's name (io/<name>/set) */
    struct alarm_email_action_cfg email;
    int action; /* enum alarm_action_cfg (check hook) */
};

struct alarm_event_item_cfg {
    int kind; /* enum pq_event_kind: dip swell interruption rvc ... */
};

struct alarm_cfg {
    char *name;
    char *priority; /* low medium high, or 1..255 */
    int klass;      /* enum alarm_class_cfg */
    int kind;       /* enum alarm_kind_cfg */
    char *channel;
    char *pickup, *dropout, *reference; /* "250 V", "5 %", a channel (reference) */
    int64_t pickup_delay_ns, dropout_delay_ns;
    int state;               /* digital: the input state that alarms */
    struct cfg_list events;  /* struct alarm_event_item_cfg */
    char *expr;              /* logic */
    struct cfg_list actions; /* struct alarm_action_item_cfg */
    /* filled by the check hook */
    int prio;                   /* 1..255 */
    double pickup_v, dropout_v; /* base SI unit, or % with *_pct */
    int pickup_pct, dropout_pct;
    double reference_v; /* when reference is a number */
    int reference_is_channel;
};

/* alarms_email: the SMTP server of the email action */
struct alarms_email_cfg {
    char *server; /* "smtp://host:port" or "smtps://..."; "": no email */
    char *from;
    struct cfg_list to; /* struct alarm_addr_cfg: default recipients */
    char *username;
    char *password_file; /* the password, first line of this file */
    int starttls;        /* require STARTTLS on smtp:// */
    int64_t timeout_ns;
    int queue; /* messages waiting at most; more are dropped and counted */
};

/* store: the onboard SQLite store (gateway/store.h) */
struct store_section_cfg {
    char *path;
    uint64_t budget_bytes;
    int64_t batch_ns;
};

/* security_log: where security entries go besides the store */
enum syslog_protocol_cfg {
    SYSLOG_UDP,
    SYSLOG_TCP,
};

struct syslog_remote_cfg {
    char *host; /* "": no remote collector */
    int port;
    int protocol; /* enum syslog_protocol_cfg */
    int facility; /* RFC 5424 facility code 0..23 (authpriv: 10) */
};

struct security_log_cfg {
    int syslog_local;
    int facility; /* code 0..23; syslog(3) takes it shifted: facility << 3 */
    struct syslog_remote_cfg remote;
};

extern const char *const cfg_syslog_facility_names[]; /* by code, NULL-ended */

/* recorders, trends, tou: data recorders, trend statistics and time of use
 * (config/cfg_recorder.c, gateway/recorder.c, gateway/toucomp.c) */
enum rec_value_cfg {
    REC_VALUE_AUTO, /* average for interval triggers, last otherwise */
    REC_VALUE_AVERAGE,
    REC_VALUE_LAST,
    REC_VALUE_MIN,
    REC_VALUE_MAX,
};

enum rec_mode_cfg {
    REC_MODE_CONTINUOUS,     /* circular: the oldest rows go past depth */
    REC_MODE_STOP_WHEN_FULL, /* stops at depth rows */
};

struct rec_channel_cfg {
    char *name; /* a channel name or a bus pattern (gateway/bus.h) */
};

struct rec_trigger_cfg {
    char *interval;      /* "", "half_cycle" (every update) or a duration */
    char *schedule;      /* "", "hourly :MM", "daily HH:MM", "weekly mon HH:MM",
                            "monthly DD HH:MM" in site time (tou.timezone) */
    char *on_alarm;      /* "": alarm name, channel alarm/<name>/active */
    char *on_event;      /* "": dip, swell, interruption, rvc or any */
    int64_t duration_ns; /* what an alarm, event or manual trigger records */
    int manual;          /* gateway/command/record = recorder index */
};

struct recorder_cfg {
    char *name;
    struct cfg_list channels; /* struct rec_channel_cfg, 1..16 after expansion */
    struct rec_trigger_cfg trigger;
    int value; /* enum rec_value_cfg */
    int mode;  /* enum rec_mode_cfg */
    int depth; /* rows kept */
};

struct trends_cfg {
    struct cfg_list channels; /* struct rec_channel_cfg: exact channel names */
};

struct tou_period_cfg {
    char *name;      /* tariff */
    char *from, *to; /* "HH:MM", civil time; to "24:00" ends the day */
};

struct tou_season_cfg {
    char *name;
    char *from, *to;         /* "MM-DD", inclusive; may wrap the year */
    struct cfg_list weekday; /* struct tou_period_cfg */
    struct cfg_list weekend; /* empty: as weekday */
    struct cfg_list holiday; /* empty: as weekend */
};

struct tou_date_cfg {
    char *date; /* "YYYY-MM-DD" */
};

struct tou_cfg {
    char *timezone;           /* "" : no time of use; recorder schedules in UTC */
    struct cfg_list seasons;  /* struct tou_season_cfg */
    struct cfg_list holidays; /* struct tou_date_cfg */
    char *default_tariff;     /* for uncovered minutes; "": gaps are errors */
    struct cfg_list energy;   /* struct rec_channel_cfg: counters to split */
    char *demand;             /* demand channel for the per-tariff maximum */
};

/* Schedules of recorders: a parsed trigger.schedule. */
enum cfg_schedule_kind {
    CFG_SCHED_HOURLY,
    CFG_SCHED_DAILY,
    CFG_SCHED_WEEKLY,
    CFG_SCHED_MONTHLY,
};

struct cfg_schedule {
    int kind;   /* enum cfg_schedule_kind */
    int minute; /* of the day (hourly: of the hour) */
    int wday;   /* weekly: 0 = Sunday */
    int mday;   /* monthly: 1..28 */
};

/* Parsers shared by the check hooks and the components (cfg_recorder.c);
 * each returns 0 or -PQ_ECONFIG with the output untouched. */
int cfg_parse_hhmm(const char *s, int *minute_out);   /* 00:00..24:00 */
int cfg_parse_mmdd(const char *s, int *md_out);       /* month * 100 + day */
int cfg_parse_date(const char *s, int64_t *days_out); /* days since 1970-01-01 */
int cfg_parse_schedule(const char *s, struct cfg_schedule *out);
/* trigger.interval: *ns_out 0 for "half_cycle" (every update) */
int cfg_parse_rec_interval(const char *s, int64_t *ns_out);

/* logging */
enum log_target_cfg {
    LOG_TARGET_STDERR,
    LOG_TARGET_SYSLOG,
};

struct logging_cfg {
    int level;           /* syslog level, LOG_EMERG..LOG_DEBUG */
    int target;          /* enum log_target_cfg */
    int64_t summary_ns;  /* log the live values this often; 0: never */
    char *channels_file; /* every channel as JSON, each second; "": none */
};

/* io: digital inputs and outputs (drivers/io) */
enum io_backend_cfg {
    IO_BACKEND_NONE,
    IO_BACKEND_GPIOD,
    IO_BACKEND_SIM,
};

struct io_input_cfg {
    char *name; /* "di1": channel io/<name>/state */
    int line;   /* line offset on the chip */
    int active_low;
    int64_t debounce_ns;
    double sim_rate_hz; /* sim backend: pulses per second */
    int sim_bounce;     /* sim backend: chatter transitions per edge */
};

struct io_output_cfg {
    char *name; /* "relay1": set by channel io/<name>/set */
    int line;
    int active_low;
};

struct io_cfg {
    int backend;             /* enum io_backend_cfg */
    char *chip;              /* gpiod: chip name, path or label */
    struct cfg_list inputs;  /* struct io_input_cfg */
    struct cfg_list outputs; /* struct io_output_cfg */
};

/* wages: metered water, air, gas, electricity, steam */
enum wages_kind_cfg {
    WAGES_WATER,
    WAGES_AIR,
    WAGES_GAS,
    WAGES_ELECTRICITY,
    WAGES_STEAM,
};

struct wages_cfg {
    char *name;    /* channels wages.<name>/... */
    int kind;      /* enum wages_kind_cfg */
    char *input;   /* a pulse input of io.inputs, or "" */
    char *channel; /* or a total read elsewhere (a Modbus device's counter) */
    double weight; /* quantity per pulse, in unit */
    char *unit;    /* m3, l, Nm3, kg, t, kWh, Wh (checked against kind) */
    int64_t flow_timeout_ns;
};

/* pulse_outputs: KY energy pulse outputs */
struct pulse_output_cfg {
    char *name;
    char *output;  /* an output of io.outputs */
    char *channel; /* the total it follows (local/energy/kwh_del) */
    double weight; /* quantity of channel per pulse */
    int64_t width_ns;
};

/* mqtt: forwarding to a broker through the durable outbox (docs/mqtt.md) */
enum mqtt_protocol_cfg {
    MQTT_PROTOCOL_311, /* MQTT 3.1.1 */
    MQTT_PROTOCOL_5,   /* MQTT 5.0 */
};

struct mqtt_tls_cfg {
    int enabled;
    char *cafile;        /* PEM file of trusted CAs */
    char *capath;        /* directory of trusted CAs (c_rehash) */
    char *certfile;      /* client certificate (PEM), "" for none */
    char *keyfile;       /* its private key */
    int verify_hostname; /* check the server name against the certificate */
};

struct mqtt_publish_cfg {
    char *channels;      /* bus pattern, as "local/u_rms/a" or with wildcards */
    int64_t interval_ns; /* 0: every update (on change) */
};

struct mqtt_cfg {
    int enabled;
    char *host;
    int port;
    int protocol;        /* enum mqtt_protocol_cfg */
    char *client_id;     /* "": "pqgate-<gateway id>" */
    char *username;      /* "": none */
    char *password;      /* literal password, or: */
    char *password_file; /* first line of this file */
    int64_t keepalive_ns;
    int64_t reconnect_min_ns, reconnect_max_ns;
    struct mqtt_tls_cfg tls;
    char *topic_prefix;      /* topics are <prefix>/<gateway id>/... */
    int max_inflight;        /* QoS 1 messages sent and not yet acknowledged */
    double replay_share_pct; /* of the window for the backlog while live waits */
    uint64_t max_message_bytes;
    int outbox_budget;       /* rows (messages) kept before the oldest are dropped */
    struct cfg_list publish; /* struct mqtt_publish_cfg */
    int aggregates_10min, aggregates_2h, events;
    char *alarms;               /* bus pattern of alarm channels, "" for none */
    int64_t energy_interval_ns; /* 0: off */
    int64_t health_interval_ns; /* 0: off */
};

struct pqgate_cfg {
    struct gateway_cfg gateway;
    struct meter_cfg meter;
    struct cfg_list buses; /* struct serial_bus_cfg */
    struct cfg_list peers; /* struct tcp_peer_cfg */
    struct events_cfg events;
    struct capture_cfg capture;
    struct compliance_cfg compliance;
    struct cfg_list recorders; /* struct recorder_cfg */
    struct trends_cfg trends;
    struct tou_cfg tou;
    struct mbserver_cfg modbus_server;
    struct logging_cfg logging;
    struct io_cfg io;
    struct cfg_list wages;         /* struct wages_cfg */
    struct cfg_list pulse_outputs; /* struct pulse_output_cfg */
    struct store_section_cfg store;
    struct security_log_cfg security_log;
    struct cfg_list virtuals; /* struct virtual_cfg */
    struct cfg_list alarms;   /* struct alarm_cfg */
    struct alarms_email_cfg alarms_email;
    struct mqtt_cfg mqtt;
};

extern const struct cfg_schema pqgate_schema;     /* the whole file */
extern const struct cfg_schema gateway_schema;    /* config.c */
extern const struct cfg_schema logging_schema;    /* config.c */
extern const struct cfg_schema meter_schema;      /* cfg_meter.c */
extern const struct cfg_schema sim_schema;        /* cfg_sim.c */
extern const struct cfg_schema serial_bus_schema; /* cfg_modbus.c */
extern const struct cfg_schema tcp_peer_schema;   /* cfg_modbus.c */
extern const struct cfg_schema events_schema;     /* cfg_events.c */
extern const struct cfg_schema capture_schema;    /* cfg_events.c */
extern const struct cfg_schema compliance_schema; /* cfg_compliance.c */
extern const struct cfg_schema mbserver_schema;   /* cfg_mbserver.c */
extern const struct cfg_schema io_schema;         /* cfg_io.c */
extern const struct cfg_schema wages_schema;      /* cfg_io.c */

extern const struct cfg_schema pqgate_schema;       /* the whole file */
extern const struct cfg_schema gateway_schema;      /* config.c */
extern const struct cfg_schema logging_schema;      /* config.c */
extern const struct cfg_schema meter_schema;        /* cfg_meter.c */
extern const struct cfg_schema sim_schema;          /* cfg_sim.c */
extern const struct cfg_schema serial_bus_schema;   /* cfg_modbus.c */
extern const struct cfg_schema tcp_peer_schema;     /* cfg_modbus.c */
extern const struct cfg_schema events_schema;       /* cfg_events.c */
extern const struct cfg_schema capture_schema;      /* cfg_events.c */
extern const struct cfg_schema compliance_schema;   /* cfg_compliance.c */
extern const struct cfg_schema recorder_schema;     /* cfg_recorder.c */
extern const struct cfg_schema trends_schema;       /* cfg_recorder.c */
extern const struct cfg_schema tou_schema;          /* cfg_recorder.c */
extern const struct cfg_schema io_schema;           /* cfg_io.c */
extern const struct cfg_schema wages_schema;        /* cfg_io.c */
extern const struct cfg_schema pulse_output_schema; /* cfg_io.c */
extern const struct cfg_schema virtual_schema;      /* cfg_alarm.c */
extern const struct cfg_schema alarm_schema;        /* cfg_alarm.c */
extern const struct cfg_schema alarms_email_schema; /* cfg_alarm.c */

extern const struct cfg_schema store_section_schema; /* cfg_store.c */
extern const struct cfg_schema security_log_schema;  /* cfg_store.c */
extern const struct cfg_schema mqtt_schema;          /* cfg_mqtt.c */

/* Rules across io, wages and pulse_outputs (names that must exist). */
void cfg_io_check(struct cfg_ctx *ctx, const struct pqgate_cfg *c);

/* Rules across virtual:, alarms: and alarms_email: (names unique, alarm
 * references, email server); called by the root check.  cfg_alarm.c. */
void cfg_alarm_check_root(struct cfg_ctx *ctx, const struct pqgate_cfg *c);

/* 1 if an alarm has the capture action (the meter then keeps a capture
 * writer even without capture.on_events).  cfg_alarm.c. */
int cfg_alarm_wants_capture(const struct pqgate_cfg *c);
/* 1 if an alarm has the action (enum alarm_action_cfg).  cfg_alarm.c. */
int cfg_alarm_wants(const struct pqgate_cfg *c, int action);

/* Load and validate the daemon's config file with --set overrides.
 * Returns 0 and the config in *out (free with pqgate_cfg_free()), or a
 * negative code with every error in diag. */
int pqgate_cfg_load(const char *path, const char *const *sets, size_t nsets,
                    struct pqgate_cfg **out, struct cfg_diag *diag);
void pqgate_cfg_free(struct pqgate_cfg *cfg); /* NULL is a no-op */

/* Rules shared by several sections: NULL if v (a char **) is a valid name
 * for channel prefixes and topics, else what is expected. */
const char *cfg_valid_name(const void *v);

/* NULL if v (a char **) is "" or a channel name (gateway/bus.h's rule), else
 * what is expected. */
const char *cfg_valid_channel(const void *v);

/* A UTC time as written in sim.start, "2024-01-01T00:00:00Z" (with an
 * optional fraction of up to 9 digits before the Z), to ns since the Unix
 * epoch.  Returns 0 or -PQ_ECONFIG with *ns_out untouched.  cfg_sim.c. */
int cfg_parse_utc(const char *s, int64_t *ns_out);

#endif

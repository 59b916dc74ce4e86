/* cfg_io.c - the `io:`, `wages:` and `pulse_outputs:` sections: digital
 * inputs and outputs, metered utilities (WAGES) and KY pulse outputs. */
#include <stddef.h>
#include <string.h>

#include "config/config.h"

static const char *const backend_names[] = {"none", "gpiod", "sim", NULL};
static const char *const kind_names[] = {"water",       "air",   "gas",
                                         "electricity", "steam", NULL};

static const struct cfg_field input_fields[] = {
    {.key = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct io_input_cfg, name),
     .flags = CFG_REQUIRED,
     .valid = cfg_valid_name,
     .doc = "input name, as in di1"},
    {.key = "line",
     .type = CFG_INT,
     .offset = offsetof(struct io_input_cfg, line),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1023,
     .doc = "line offset on the GPIO chip"},
    {.key = "active_low",
     .type = CFG_BOOL,
     .offset = offsetof(struct io_input_cfg, active_low),
     .def = "false",
     .doc = "the contact is closed when the line is low"},
    {.key = "debounce",
     .type = CFG_DURATION,
     .offset = offsetof(struct io_input_cfg, debounce_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1,
     .def = "5ms",
     .doc = "a change counts once the line held it this long (contact bounce)"},
    {.key = "sim_rate",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct io_input_cfg, sim_rate_hz),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1000,
     .unit = "Hz",
     .def = "0 Hz",
     .doc = "sim backend: pulses per second generated on this input"},
    {.key = "sim_bounce",
     .type = CFG_INT,
     .offset = offsetof(struct io_input_cfg, sim_bounce),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 20,
     .def = "2",
     .doc = "sim backend: chatter transitions at each edge"},
    {0},
};

static const struct cfg_schema input_schema = {
    .name = "a digital input",
    .size = sizeof(struct io_input_cfg),
    .fields = input_fields,
};

static const struct cfg_field output_fields[] = {
    {.key = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct io_output_cfg, name),
     .flags = CFG_REQUIRED,
     .valid = cfg_valid_name,
     .doc = "output name, as in relay1"},
    {.key = "line",
     .type = CFG_INT,
     .offset = offsetof(struct io_output_cfg, line),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1023,
     .doc = "line offset on the GPIO chip"},
    {.key = "active_low",
     .type = CFG_BOOL,
     .offset = offsetof(struct io_output_cfg, active_low),
     .def = "false",
     .doc = "the relay is energised when the line is low"},
    {0},
};

static const struct cfg_schema output_schema = {
    .name = "a digital output",
    .size = sizeof(struct io_output_cfg),
    .fields = output_fields,
};

/* Input and output names share one namespace (channels io/<name>/...). */
static void check_io(struct cfg_ctx *ctx, void *obj)
{
    const struct io_cfg *io = obj;
    size_t ni = io->inputs.n, n = ni + io->outputs.n;

    for (size_t i = 0; i < n; i++) {
        char *const *a = i < ni
                             ? &CFG_AT(io->inputs, struct io_input_cfg, i)->name
                             : &CFG_AT(io->outputs, struct io_output_cfg, i - ni)->name;

        for (size_t j = 0; j < i; j++) {
            char *const *b =
                j < ni ? &CFG_AT(io->inputs, struct io_input_cfg, j)->name
                       : &CFG_AT(io->outputs, struct io_output_cfg, j - ni)->name;

            if (strcmp(*a, *b) == 0) {
                cfg_error_at(ctx, a, "io name '%s' is already used", *a);
                break;
            }
        }
    }
    if (io->backend == IO_BACKEND_NONE && n > 0) {
        cfg_error_at(ctx, &io->backend,
                     "inputs and outputs need a backend (gpiod or sim)");
    }
    if (io->backend == IO_BACKEND_GPIOD && io->chip[0] == '\0') {
        cfg_error_at(ctx, &io->chip, "the gpiod backend needs a chip (gpiochip0)");
    }
}

static const struct cfg_field io_fields[] = {
    {.key = "backend",
     .type = CFG_ENUM,
     .offset = offsetof(struct io_cfg, backend),
     .def = "none",
     .choices = backend_names,
     .doc = "none, gpiod (Linux GPIO lines) or sim (generated pulses)"},
    {.key = "chip",
     .type = CFG_STRING,
     .offset = offsetof(struct io_cfg, chip),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 64,
     .doc = "gpiod: chip name, path or label (gpiochip0)"},
    {.key = "inputs",
     .type = CFG_LIST,
     .offset = offsetof(struct io_cfg, inputs),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 16,
     .sub = &input_schema,
     .doc = "digital inputs: state channels and pulse counting"},
    {.key = "outputs",
     .type = CFG_LIST,
     .offset = offsetof(struct io_cfg, outputs),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 16,
     .sub = &output_schema,
     .doc = "digital outputs: relays (alarm actions) and KY pulse outputs"},
    {0},
};

const struct cfg_schema io_schema = {
    .name = "io",
    .size = sizeof(struct io_cfg),
    .fields = io_fields,
    .check = check_io,
};

/* Units each kind may be counted in. */
static const char *const kind_units[][4] = {
    [WAGES_WATER] = {"m3", "l", NULL}, [WAGES_AIR] = {"Nm3", NULL},
    [WAGES_GAS] = {"m3", "Nm3", NULL}, [WAGES_ELECTRICITY] = {"kWh", "Wh", NULL},
    [WAGES_STEAM] = {"kg", "t", NULL},
};

static void check_wages(struct cfg_ctx *ctx, void *obj)
{
    const struct wages_cfg *w = obj;
    int ok = 0;

    if ((w->input[0] != '\0') == (w->channel[0] != '\0')) {
        cfg_error_at(ctx, &w->input,
                     "give exactly one of input (a pulse input) and "
                     "channel (a total read elsewhere)");
    }
    for (int i = 0; kind_units[w->kind][i]; i++) {
        ok |= strcmp(kind_units[w->kind][i], w->unit) == 0;
    }
    if (!ok) {
        cfg_error_at(ctx, &w->unit, "%s is counted in %s%s%s, not '%s'",
                     kind_names[w->kind], kind_units[w->kind][0],
                     kind_units[w->kind][1] ? " or " : "",
                     kind_units[w->kind][1] ? kind_units[w->kind][1] : "", w->unit);
    }
    if (w->input[0] && !(w->weight > 0)) {
        cfg_error_at(ctx, &w->weight, "a pulse input needs a weight > 0 (%s per pulse)",
                     w->unit);
    }
}

static const struct cfg_field wages_fields[] = {
    {.key = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct wages_cfg, name),
     .flags = CFG_REQUIRED,
     .valid = cfg_valid_name,
     .doc = "meter name: channels wages.<name>/..."},
    {.key = "kind",
     .type = CFG_ENUM,
     .offset = offsetof(struct wages_cfg, kind),
     .flags = CFG_REQUIRED,
     .choices = kind_names,
     .doc = "water, air, gas, electricity or steam"},
    {.key = "input",
     .type = CFG_STRING,
     .offset = offsetof(struct wages_cfg, input),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 32,
     .doc = "pulse input of io.inputs"},
    {.key = "channel",
     .type = CFG_STRING,
     .offset = offsetof(struct wages_cfg, channel),
     .valid = cfg_valid_channel,
     .flags = CFG_RANGE,
     .min = 0,
     .max = 95,
     .doc = "or: a channel holding the meter's total (a Modbus counter)"},
    {.key = "weight",
     .type = CFG_DOUBLE,
     .offset = offsetof(struct wages_cfg, weight),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1e6,
     .def = "0",
     .doc = "quantity per pulse, in unit"},
    {.key = "unit",
     .type = CFG_STRING,
     .offset = offsetof(struct wages_cfg, unit),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 1,
     .max = 8,
     .doc = "m3 or l (water), Nm3 (air), m3 or Nm3 (gas), kWh or Wh, kg or t (steam)"},
    {.key = "flow_timeout",
     .type = CFG_DURATION,
     .offset = offsetof(struct wages_cfg, flow_timeout_ns),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 86400,
     .def = "10min",
     .doc = "the flow reads 0 after this long without a pulse"},
    {0},
};

const struct cfg_schema wages_schema = {
    .name = "a metered utility",
    .size = sizeof(struct wages_cfg),
    .fields = wages_fields,
    .check = check_wages,
};

static const struct cfg_field pulse_output_fields[] = {
    {.key = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct pulse_output_cfg, name),
     .flags = CFG_REQUIRED,
     .valid = cfg_valid_name,
     .doc = "pulse output name"},
    {.key = "output",
     .type = CFG_STRING,
     .offset = offsetof(struct pulse_output_cfg, output),
     .flags = CFG_REQUIRED,
     .doc = "an output of io.outputs"},
    {.key = "channel",
     .type = CFG_STRING,
     .offset = offsetof(struct pulse_output_cfg, channel),
     .valid = cfg_valid_channel,
     .flags = CFG_REQUIRED,
     .doc = "the total it follows, as in local/energy/kwh_del"},
    {.key = "weight",
     .type = CFG_DOUBLE,
     .offset = offsetof(struct pulse_output_cfg, weight),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 1e-9,
     .max = 1e9,
     .doc = "quantity of the channel per pulse (0.001 kWh: 1000 pulses per kWh)"},
    {.key = "width",
     .type = CFG_DURATION,
     .offset = offsetof(struct pulse_output_cfg, width_ns),
     .flags = CFG_RANGE,
     .min = 0.03,
     .max = 1,
     .def = "50ms",
     .doc = "pulse width (IEC 62053-31: at least 30 ms)"},
    {0},
};

const struct cfg_schema pulse_output_schema = {
    .name = "a pulse output",
    .size = sizeof(struct pulse_output_cfg),
    .fields = pulse_output_fields,
};

static int find_name(const struct cfg_list *l, size_t stride_off, size_t size,
                     const char *name)
{
    for (size_t i = 0; i < l->n; i++) {
        const char *n =
            *(char *const *) ((const char *) l->items + i * size + stride_off);

        if (strcmp(n, name) == 0) {
            return (int) i;
        }
    }
    return -1;
}

void cfg_io_check(struct cfg_ctx *ctx, const struct pqgate_cfg *c)
{
    for (size_t i = 0; i < c->wages.n; i++) {
        const struct wages_cfg *w = CFG_AT(c->wages, struct wages_cfg, i);

        if (w->input[0] && find_name(&c->io.inputs, offsetof(struct io_input_cfg, name),
                                     sizeof(struct io_input_cfg), w->input) < 0) {
            cfg_error_at(ctx, &w->input, "no input '%s' in io.inputs", w->input);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(CFG_AT(c->wages, struct wages_cfg, j)->name, w->name) == 0) {
                cfg_error_at(ctx, &w->name, "meter name '%s' is already used", w->name);
            }
        }
    }
    for (size_t i = 0; i < c->pulse_outputs.n; i++) {
        const struct pulse_output_cfg *p =
            CFG_AT(c->pulse_outputs, struct pulse_output_cfg, i);

        if (find_name(&c->io.outputs, offsetof(struct io_output_cfg, name),
                      sizeof(struct io_output_cfg), p->output) < 0) {
            cfg_error_at(ctx, &p->output, "no output '%s' in io.outputs", p->output);
        }
    }
}

/* adc_iio.c - the "iio" sample source: a Linux IIO buffered ADC through
 * libiio 0.24 (docs/iio.md says how to run it on a board).
 *
 * Open: the context from meter.iio.uri ("local:" on the board; "ip:" reaches
 * an iiod), the device by name or id, the configured channels by id or
 * name (scan elements only), the device's "timestamp" scan element when it
 * has one, one buffer of meter.iio.buffer frames, and a first blocking
 * refill so that start_ns is known before adc_info() is asked.  After it the
 * buffer is made non-blocking when the backend allows (local does; the
 * network backend does not, and reads then wait up to one buffer).
 *
 * Values: IIO gives raw counts with a scale to millivolts (milliamps for
 * current channels) after adding offset (ABI: in_voltageY_scale, _offset).
 * Per channel, value = (raw + offset) * scale / 1000 * gain * ratio, where
 * ratio is PT primary/secondary for voltages and CT's for currents; without
 * device_scale, offset and scale (V per count) come from the config.
 *
 * Time and gaps: with a timestamp channel, frame times are the kernel's
 * (its current_timestamp_clock, brought to UTC), and a step between two
 * frames above 2 periods + 1 ms is a gap.  Without one, start_ns is the
 * system clock at the first refill minus that buffer's length, and a gap is
 * declared when the frames obtained fall behind the wall clock by more than
 * the kernel can queue (kernel_buffers + 1 buffers) beyond the smallest lag
 * of the last 10-20 s (so a few ppm between the ADC's crystal and the
 * system clock never add up to a false gap).  A gap makes adc_read()
 * return -PQ_EFRAME once, before the first frame after it (adc.h).
 */
#include <errno.h>
#include <iio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "drivers/adc/adc_impl.h"
#include "pq/err.h"

#define GAP_SLACK_NS  1000000LL     /* timestamps: beyond 2 periods */
#define LAG_WINDOW_NS 10000000000LL /* no timestamps: window of the smallest lag */

struct iio_chan {
    struct iio_channel *ch;
    const struct iio_data_format *fmt;
    double off; /* counts */
    double k;   /* V or A per count, primary */
};

struct iio_src {
    struct adc_info info;
    struct iio_context *ctx;
    struct iio_device *dev;
    struct iio_buffer *buf;
    struct iio_chan ch[ADC_MAX_CH];
    struct iio_channel *ts; /* timestamp scan element, or NULL */
    int64_t ts_to_utc_ns;   /* added to a kernel timestamp */
    int64_t gap_ns;         /* timestamp step that is a gap */
    int64_t prev_ts;        /* of the last frame delivered (or checked) */
    int have_prev;
    size_t nbuf, cur; /* frames in the buffer, next to deliver */
    int fd;
    /* without timestamps: how far the frames lag the wall clock */
    int64_t seg_t0_ns;   /* CLOCK_MONOTONIC of frame 0 of the segment */
    uint64_t seg_frames; /* obtained in this segment */
    double lag_min, lag_min_prev;
    int64_t win_t0_ns;
    double queue_frames; /* what the kernel holds before it drops */
    int gap_pending;
};

/* ---- samples ---------------------------------------------------------------- */

/* A sample at src in the host's int64: libiio converts byte order, shift
 * and sign extension into the sample's storage length. */
static int64_t sample_i64(const struct iio_chan *c, const void *src)
{
    union {
        int8_t i8;
        uint8_t u8;
        int16_t i16;
        uint16_t u16;
        int32_t i32;
        uint32_t u32;
        int64_t i64;
    } v = {0};

    iio_channel_convert(c->ch, &v, src);
    switch (c->fmt->length) {
    case 8:
        return c->fmt->is_signed ? v.i8 : v.u8;
    case 16:
        return c->fmt->is_signed ? v.i16 : v.u16;
    case 32:
        return c->fmt->is_signed ? v.i32 : (int64_t) v.u32;
    default:
        return v.i64;
    }
}

static int64_t frame_ts(const struct iio_src *p, size_t f)
{
    struct iio_chan c = {.ch = p->ts, .fmt = iio_channel_get_data_format(p->ts)};
    const char *first = iio_buffer_first(p->buf, p->ts);

    return sample_i64(&c, first + f * (size_t) iio_buffer_step(p->buf));
}

/* ---- open ------------------------------------------------------------------- */

static void teardown(struct iio_src *p)
{
    if (p->buf) {
        iio_buffer_destroy(p->buf);
        p->buf = NULL;
    }
    if (p->ctx) {
        iio_context_destroy(p->ctx);
        p->ctx = NULL;
    }
}

/* The sample rate: the configured one (written to the device when it has a
 * sampling_frequency, then read back), else the device's, a channel's or
 * its trigger's sampling_frequency. */
static int sample_rate(struct iio_src *p, const struct iio_cfg *c, double *fs)
{
    const struct iio_device *trig = NULL;
    int rc = -ENOENT;

    if (iio_device_find_attr(p->dev, "sampling_frequency")) {
        if (c->sample_rate_hz > 0) {
            rc = iio_device_attr_write_double(p->dev, "sampling_frequency",
                                              c->sample_rate_hz);
            if (rc < 0) {
                return rc;
            }
        }
        rc = iio_device_attr_read_double(p->dev, "sampling_frequency", fs);
    } else if (c->sample_rate_hz > 0) {
        *fs = c->sample_rate_hz;
        rc = 0;
    } else if (p->ch[0].ch && iio_channel_find_attr(p->ch[0].ch, "sampling_frequency")) {
        rc = iio_channel_attr_read_double(p->ch[0].ch, "sampling_frequency", fs);
    } else if (iio_device_get_trigger(p->dev, &trig) == 0 && trig &&
               iio_device_find_attr(trig, "sampling_frequency")) {
        rc = iio_device_attr_read_double(trig, "sampling_frequency", fs);
    }
    if (rc == -ENOENT) {
        return -PQ_ECONFIG; /* nowhere to learn the rate from: set sample_rate */
    }
    return rc < 0 ? rc : *fs > 0 && isfinite(*fs) ? 0 : -PQ_ECONFIG;
}

/* One configured channel into slot: found, enabled, its factors. */
static int setup_channel(struct iio_src *p, const struct meter_cfg *m,
                         const struct iio_channel_cfg *cc, struct iio_chan *slot)
{
    const struct ratio_cfg *r = cc->role <= IIO_ROLE_UN ? &m->pt : &m->ct;
    double scale = cc->scale, off = cc->offset;
    struct iio_channel *ch = iio_device_find_channel(p->dev, cc->channel, false);
    int rc;

    if (!ch || !iio_channel_is_scan_element(ch)) {
        return -PQ_ECONFIG;
    }
    slot->ch = ch;
    slot->fmt = iio_channel_get_data_format(ch);
    if (slot->fmt->repeat > 1 || slot->fmt->length > 64 || slot->fmt->length % 8) {
        return -PQ_ECONFIG;
    }
    if (m->iio.device_scale) {
        rc = iio_channel_attr_read_double(ch, "scale", &scale);
        if (rc < 0 && slot->fmt->with_scale) {
            scale = slot->fmt->scale;
        } else if (rc < 0) {
            return -PQ_ECONFIG; /* no scale: give one and device_scale: false */
        }
        scale /= 1000.0; /* mV (mA) per count */
        off = 0;
        if (iio_channel_find_attr(ch, "offset") &&
            (rc = iio_channel_attr_read_double(ch, "offset", &off)) < 0) {
            return rc;
        }
    }
    slot->off = off;
    slot->k = scale * cc->gain * r->primary / r->secondary;
    iio_channel_enable(ch);
    return 0;
}

/* The configured channels in role order (U then I, A B C N). */
static int setup_channels(struct iio_src *p, const struct meter_cfg *m)
{
    static const char *const clocks[] = {"realtime", "monotonic", "boottime"};
    static const clockid_t ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME};
    const struct cfg_list *l = &m->iio.channels;
    char clock[32] = "realtime";
    size_t n = 0;
    int rc;

    if (l->n == 0 || l->n > ADC_MAX_CH) {
        return -PQ_ECONFIG;
    }
    for (unsigned i = 0; i < iio_device_get_channels_count(p->dev); i++) {
        iio_channel_disable(iio_device_get_channel(p->dev, i));
    }
    for (int role = IIO_ROLE_UA; role <= IIO_ROLE_IN; role++) {
        for (size_t i = 0; i < l->n; i++) {
            const struct iio_channel_cfg *cc = CFG_AT(*l, struct iio_channel_cfg, i);

            if (cc->role != role) {
                continue;
            }
            rc = setup_channel(p, m, cc, &p->ch[n]);
            if (rc < 0) {
                return rc;
            }
            adc_info_set_channel(&p->info, n++, (enum adc_role) role, cc->channel);
        }
    }
    p->info.nch = n;
    p->ts = iio_device_find_channel(p->dev, "timestamp", false);
    if (p->ts && iio_channel_is_scan_element(p->ts) &&
        iio_channel_get_data_format(p->ts)->length == 64) {
        iio_channel_enable(p->ts);
        if (iio_device_find_attr(p->dev, "current_timestamp_clock")) {
            (void) iio_device_attr_read(p->dev, "current_timestamp_clock", clock,
                                        sizeof(clock));
        }
        for (size_t c = 1; c < sizeof(ids) / sizeof(ids[0]); c++) {
            if (strncmp(clock, clocks[c], strlen(clocks[c])) == 0 &&
                clock[strlen(clocks[c])] != '_') {
                p->ts_to_utc_ns = adc_clock_ns(CLOCK_REALTIME) - adc_clock_ns(ids[c]);
            }
        }
    } else {
        p->ts = NULL;
    }
    return 0;
}

static void segment_start(struct iio_src *p, int64_t now_mono)
{
    double fs = p->info.fs_hz;

    if (p->ts) {
        p->info.start_ns = frame_ts(p, p->cur) + p->ts_to_utc_ns;
        return;
    }
    p->info.start_ns =
        adc_clock_ns(CLOCK_REALTIME) - (int64_t) llround((double) p->nbuf * 1e9 / fs);
    p->seg_t0_ns = now_mono - (int64_t) llround((double) p->nbuf * 1e9 / fs);
    p->seg_frames = p->nbuf;
    p->lag_min = p->lag_min_prev = 0;
    p->win_t0_ns = now_mono;
}

/* After a refill without timestamps: did frames go missing? */
static void check_lag(struct iio_src *p, int64_t now)
{
    double lag, ref;

    p->seg_frames += p->nbuf;
    lag = (double) (now - p->seg_t0_ns) * p->info.fs_hz / 1e9 - (double) p->seg_frames;
    if (now - p->win_t0_ns >= LAG_WINDOW_NS) {
        p->lag_min_prev = p->lag_min;
        p->lag_min = lag;
        p->win_t0_ns = now;
    }
    p->lag_min = lag < p->lag_min ? lag : p->lag_min;
    ref = p->lag_min < p->lag_min_prev ? p->lag_min : p->lag_min_prev;
    if (lag - ref > p->queue_frames) {
        p->gap_pending = 1;
        segment_start(p, now);
    }
}

static int refill(struct iio_src *p, int first)
{
    ssize_t got = iio_buffer_refill(p->buf);
    int64_t now = adc_clock_ns(CLOCK_MONOTONIC);

    if (got < 0) {
        return (int) got;
    }
    p->nbuf = (size_t) got / (size_t) iio_buffer_step(p->buf);
    p->cur = 0;
    if (first) {
        segment_start(p, now);
    } else if (!p->ts && p->nbuf > 0) {
        check_lag(p, now);
    }
    return 0;
}

static int iio_open(struct adc *a, const struct meter_cfg *cfg)
{
    const struct iio_cfg *c = &cfg->iio;
    struct iio_src *p = a->priv;
    double fs = 0;
    int rc;

    p->fd = -1;
    errno = 0;
    p->ctx = iio_create_context_from_uri(c->uri);
    if (!p->ctx) {
        return errno ? -errno : -EIO;
    }
    p->dev = c->device && *c->device ? iio_context_find_device(p->ctx, c->device) : NULL;
    rc = p->dev ? setup_channels(p, cfg) : -PQ_ECONFIG;
    if (rc == 0) {
        rc = sample_rate(p, c, &fs);
    }
    if (rc < 0) {
        goto fail;
    }
    p->info.fs_hz = fs;
    p->info.realtime = 1;
    p->gap_ns = (int64_t) llround(2e9 / fs) + GAP_SLACK_NS;
    p->queue_frames = (double) (c->kernel_buffers + 1) * c->buffer;
    /* a first refill waits for a whole buffer: give it time */
    (void) iio_context_set_timeout(p->ctx, 2000 + (unsigned) (4e3 * c->buffer / fs));
    (void) iio_device_set_kernel_buffers_count(p->dev, (unsigned) c->kernel_buffers);
    errno = 0;
    p->buf = iio_device_create_buffer(p->dev, (size_t) c->buffer, false);
    if (!p->buf) {
        rc = errno ? -errno : -EIO;
        goto fail;
    }
    rc = refill(p, 1);
    if (rc < 0) {
        goto fail;
    }
    if (iio_buffer_set_blocking_mode(p->buf, false) == 0) {
        int fd = iio_buffer_get_poll_fd(p->buf);

        p->fd = fd >= 0 ? fd : -1;
    }
    return 0;

fail:
    teardown(p);
    return rc;
}

/* ---- read ------------------------------------------------------------------- */

/* Frames deliverable from p->cur before a gap, at most cap; 0 with the
 * gap's -PQ_EFRAME when the gap is right at p->cur. */
static int before_gap(struct iio_src *p, size_t cap, size_t *n)
{
    size_t f = p->cur;

    for (; f < p->nbuf && f - p->cur < cap; f++) {
        int64_t t = frame_ts(p, f);

        if (p->have_prev && t - p->prev_ts > p->gap_ns) {
            if (f == p->cur) {
                p->prev_ts = t;
                segment_start(p, 0);
                *n = 0;
                return -PQ_EFRAME;
            }
            break;
        }
        p->have_prev = 1;
        p->prev_ts = t;
    }
    *n = f - p->cur;
    return 0;
}

static int iio_read(struct adc *a, float *buf, size_t cap, size_t *n)
{
    struct iio_src *p = a->priv;
    size_t nch = p->info.nch, want;
    ptrdiff_t step;
    int rc;

    if (p->cur >= p->nbuf) {
        rc = refill(p, 0);
        if (rc == -EAGAIN) {
            return 0; /* nothing ready yet */
        }
        if (rc < 0) {
            return rc;
        }
    }
    if (p->gap_pending) {
        p->gap_pending = 0;
        return -PQ_EFRAME;
    }
    want = p->nbuf - p->cur < cap ? p->nbuf - p->cur : cap;
    if (p->ts && (rc = before_gap(p, want, &want)) < 0) {
        return rc;
    }
    step = iio_buffer_step(p->buf);
    for (size_t c = 0; c < nch; c++) {
        const struct iio_chan *ch = &p->ch[c];
        const char *src = (const char *) iio_buffer_first(p->buf, ch->ch) + p->cur * step;

        for (size_t f = 0; f < want; f++, src += step) {
            buf[f * nch + c] = (float) (((double) sample_i64(ch, src) + ch->off) * ch->k);
        }
    }
    p->cur += want;
    *n = want;
    return 0;
}

static int iio_info(const struct adc *a, struct adc_info *out)
{
    const struct iio_src *p = a->priv;

    *out = p->info;
    return 0;
}

static int iio_fd(const struct adc *a)
{
    const struct iio_src *p = a->priv;

    return p->fd;
}

static void iio_close(struct adc *a)
{
    teardown(a->priv);
}

const struct adc_ops adc_iio_ops = {
    .kind = "iio",
    .priv_size = sizeof(struct iio_src),
    .open = iio_open,
    .info = iio_info,
    .read = iio_read,
    .fd = iio_fd,
    .close = iio_close,
};

/* test_adc_iio.c - the "iio" sample source against a real libiio 0.24.
 *
 * No IIO hardware (nor the iio_dummy kernel module) exists on the build
 * machines, and libiio's XML backend describes devices but cannot read
 * attributes or stream buffers (ENOSYS: the first test shows it).  So the
 * source is opened with an "ip:127.0.0.1:PORT" URI on a small fake iiod
 * running in this process on loopback: libiio's own network backend then
 * does the real work (XML parsing, channel lookup, scale and offset reads,
 * the sample-rate write, kernel buffer count, buffer creation, refills,
 * demultiplexing and sample conversion); the fake server speaks iiod's text
 * protocol (PRINT, TIMEOUT, READ, WRITE, SET, OPEN, READBUF, CLOSE, EXIT)
 * and synthesises frames whose every value is known.
 *
 * What this cannot reach is libiio's local backend: sysfs attributes, the
 * /dev/iio:deviceN character device, its poll fd and non-blocking refills,
 * and a kernel fifo really overflowing.  docs/iio.md says how to check those
 * on a board.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <iio.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "drivers/adc/adc.h"
#include "drivers/adc/adc_impl.h"
#include "pq/err.h"

/* ---- the fake device ------------------------------------------------------- */

/* The DTD keeps libxml2 from complaining on stderr. */
#define DTD                                                                    \
    "<!DOCTYPE context [<!ELEMENT context (device | "                          \
    "context-attribute)*><!ELEMENT context-attribute EMPTY><!ELEMENT device "  \
    "(channel | attribute | debug-attribute | buffer-attribute)*><!ELEMENT "   \
    "channel (scan-element?, attribute*)><!ELEMENT attribute EMPTY><!ELEMENT " \
    "scan-element EMPTY><!ELEMENT debug-attribute EMPTY><!ELEMENT "            \
    "buffer-attribute EMPTY><!ATTLIST context name CDATA #REQUIRED "           \
    "version-major CDATA #REQUIRED version-minor CDATA #REQUIRED version-git " \
    "CDATA #REQUIRED description CDATA #IMPLIED><!ATTLIST context-attribute "  \
    "name CDATA #REQUIRED value CDATA #REQUIRED><!ATTLIST device id CDATA "    \
    "#REQUIRED name CDATA #IMPLIED label CDATA #IMPLIED><!ATTLIST channel id " \
    "CDATA #REQUIRED type (input|output) #REQUIRED name CDATA "                \
    "#IMPLIED><!ATTLIST scan-element index CDATA #REQUIRED format CDATA "      \
    "#REQUIRED scale CDATA #IMPLIED><!ATTLIST attribute name CDATA #REQUIRED " \
    "filename CDATA #IMPLIED><!ATTLIST debug-attribute name CDATA "            \
    "#REQUIRED><!ATTLIST buffer-attribute name CDATA #REQUIRED>]>"

#define CH16(n, name)                                                                \
    "<channel id=\"voltage" #n "\"" name " type=\"input\"><scan-element index=\"" #n \
    "\" format=\"le:s16/16&gt;&gt;0\" scale=\"0.305176\"/><attribute name=\"raw\" "  \
    "filename=\"in_voltage" #n "_raw\"/><attribute name=\"scale\" "                  \
    "filename=\"in_voltage" #n "_scale\"/><attribute name=\"offset\" "               \
    "filename=\"in_voltage" #n "_offset\"/></channel>"

#define XML_HEAD                                                                 \
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>" DTD                             \
    "<context name=\"network\" version-major=\"0\" version-minor=\"24\" "        \
    "version-git=\"fake\" description=\"fake iiod\"><device id=\"iio:device0\" " \
    "name=\"ad7606-8\">"

#define XML_V7                                                           \
    "<channel id=\"voltage7\" type=\"input\"><scan-element index=\"7\" " \
    "format=\"le:s24/32&gt;&gt;0\"/><attribute name=\"scale\" "          \
    "filename=\"in_voltage7_scale\"/></channel><channel id=\"temp\" "    \
    "type=\"input\"><attribute name=\"raw\" filename=\"in_temp_raw\"/></channel>"

#define XML_TS                                                            \
    "<channel id=\"timestamp\" type=\"input\"><scan-element index=\"8\" " \
    "format=\"le:S64/64&gt;&gt;0\"/></channel>"

#define XML_TAIL                                                               \
    "<attribute name=\"sampling_frequency\" filename=\"sampling_frequency\"/>" \
    "<attribute name=\"current_timestamp_clock\" "                             \
    "filename=\"current_timestamp_clock\"/></device></context>"

/* An AD7606-like device: 7 16-bit channels, one 24-bit in 32 (to check
 * sign extension), a channel that is not a scan element, and the timestamp
 * or not. */
static const char xml_ts[] = XML_HEAD CH16(0, " name=\"ua_in\"") CH16(1, "") CH16(2, "")
    CH16(3, "") CH16(4, "") CH16(5, "") CH16(6, "") XML_V7 XML_TS XML_TAIL;
static const char xml_no_ts[] = XML_HEAD CH16(0, " name=\"ua_in\"") CH16(1, "")
    CH16(2, "") CH16(3, "") CH16(4, "") CH16(5, "") CH16(6, "") XML_V7 XML_TAIL;

#define NCH_DEV 9
#define TS0_NS  1700000000000000000LL

struct fake {
    int lfd, port;
    pthread_t acceptor;
    pthread_t conn[16];
    int fd[17]; /* of each connection; one spare */
    int nconn;
    pthread_mutex_t lock;
    const char *xml;
    int with_ts;
    double fs;              /* the device's sampling_frequency */
    char written_fs[32];    /* what WRITE set it to, "" if never */
    uint64_t next;          /* next frame the ADC produces */
    uint64_t gap_at, gap_n; /* frames gap_at.. are followed by gap_n lost ones */
    uint32_t mask;
    char cmds[4096]; /* every command seen, one per line */
};

static struct fake fk;

/* The signal: frame s (counting lost ones) of scan index i. */
static int32_t raw_of(uint64_t s, int i)
{
    if (i == 7) { /* 24-bit: big, both signs */
        return (int32_t) ((s * 12345 + 777) % 8000000) - 4000000;
    }
    return (int32_t) ((s * 37 + (uint64_t) i * 1000) % 4000) - 2000;
}

static int64_t ts_of(uint64_t s)
{
    return TS0_NS + (int64_t) llround((double) s * 1e9 / fk.fs);
}

static size_t storage(int i)
{
    return i == 8 ? 8 : i == 7 ? 4 : 2;
}

/* One frame of the channels in mask, laid out as the kernel does (each
 * sample aligned to its size) and as libiio expects. */
static size_t put_frame(uint8_t *out, uint64_t s)
{
    size_t off = 0;

    for (int i = 0; i < NCH_DEV; i++) {
        size_t len = storage(i);
        uint8_t b[8];

        if (!(fk.mask & (1u << i))) {
            continue;
        }
        off = (off + len - 1) / len * len;
        if (i == 8) {
            int64_t t = ts_of(s);

            memcpy(b, &t, 8); /* little-endian host */
        } else {
            int32_t v = raw_of(s, i);

            memcpy(b, &v, 4);
            if (i == 7) {
                b[3] = 0xab; /* junk above bit 23: libiio must sign-extend */
            }
        }
        memcpy(out + off, b, len);
        off += len;
    }
    return off;
}

static const char *attr_value(const char *chan, const char *attr, char *buf, size_t cap)
{
    if (!chan) {
        if (strcmp(attr, "sampling_frequency") == 0) {
            snprintf(buf, cap, "%.15g", fk.fs);
            return buf;
        }
        if (strcmp(attr, "current_timestamp_clock") == 0) {
            return "realtime";
        }
        return NULL;
    }
    if (strcmp(attr, "scale") ==
        0) { /* mV per count: 10 V over 15 bits, or 20 V / 2^24 */
        return strcmp(chan, "voltage7") == 0 ? "0.001192092896" : "0.30517578125";
    }
    if (strcmp(attr, "offset") == 0) {
        return strcmp(chan, "voltage1") == 0 ? "-12" : "0";
    }
    return NULL;
}

static void reply(FILE *f, long code)
{
    fprintf(f, "%ld\n", code);
    fflush(f);
}

static void note(const char *line)
{
    size_t len = strlen(fk.cmds);

    snprintf(fk.cmds + len, sizeof(fk.cmds) - len, "%s\n", line);
}

static void readbuf(FILE *f, unsigned long nbytes)
{
    uint8_t frame[64];
    size_t fsize = put_frame(frame, 0);
    unsigned long nframes = fsize ? nbytes / fsize : 0;
    uint8_t *data = malloc(nbytes ? nbytes : 1);

    for (unsigned long k = 0; k < nframes; k++) {
        uint64_t s = fk.next++;

        if (s >= fk.gap_at) {
            s += fk.gap_n;
        }
        put_frame(data + k * fsize, s);
    }
    fprintf(f, "%lu\n%08" PRIx32 "\n", nbytes, fk.mask);
    fwrite(data, 1, nbytes, f);
    fflush(f);
    free(data);
}

/* Answer one command, its words in w[0..nw); f is the connection. */
static void command(FILE *f, char **w, int nw)
{
    char val[64];
    const char *v;
    unsigned long n;

    if (strcmp(w[0], "PRINT") == 0) {
        fprintf(f, "%zu\n%s\n", strlen(fk.xml), fk.xml);
        fflush(f);
    } else if (strcmp(w[0], "READ") == 0 &&
               (nw == 3 || (nw == 5 && !strcmp(w[2], "INPUT")))) {
        v = nw == 5 ? attr_value(w[3], w[4], val, sizeof(val))
                    : attr_value(NULL, w[2], val, sizeof(val));
        if (v) {
            fprintf(f, "%zu\n%s\n", strlen(v), v);
            fflush(f);
        } else {
            reply(f, -ENOENT);
        }
    } else if (strcmp(w[0], "WRITE") == 0 && nw == 4 &&
               (n = strtoul(w[3], NULL, 10)) < 32) {
        char data[32] = "";

        if (fread(data, 1, n, f) == n) {
            snprintf(fk.written_fs, sizeof(fk.written_fs), "%s", data);
            fk.fs = strtod(data, NULL);
        }
        reply(f, (long) n);
    } else if (strcmp(w[0], "OPEN") == 0 && nw >= 4) {
        fk.mask = (uint32_t) strtoul(w[3], NULL, 16);
        reply(f, 0);
    } else if (strcmp(w[0], "READBUF") == 0 && nw == 3) {
        readbuf(f, strtoul(w[2], NULL, 10));
    } else if (!strcmp(w[0], "TIMEOUT") || !strcmp(w[0], "SET") ||
               !strcmp(w[0], "CLOSE")) {
        reply(f, 0);
    } else {
        reply(f, -EINVAL);
    }
}

/* One client connection: a command per line, as iiod 0.24 reads them. */
static void *serve(void *arg)
{
    FILE *f = fdopen(*(int *) arg, "r+");
    char line[512];

    while (f && fgets(line, sizeof(line), f)) {
        char *w[8], *save = NULL;
        int nw = 0;

        line[strcspn(line, "\r\n")] = '\0';
        if (!*line) {
            continue;
        }
        if (strcmp(line, "EXIT") == 0) {
            break;
        }
        pthread_mutex_lock(&fk.lock);
        note(line);
        for (char *t = strtok_r(line, " ", &save); t && nw < 8;
             t = strtok_r(NULL, " ", &save)) {
            w[nw++] = t;
        }
        if (nw > 0) {
            command(f, w, nw);
        }
        pthread_mutex_unlock(&fk.lock);
    }
    if (f) {
        fclose(f);
    }
    return NULL;
}

static void *accept_loop(void *arg)
{
    (void) arg;
    for (;;) {
        int c = accept(fk.lfd, NULL, NULL);

        if (c < 0) {
            return NULL; /* closed by fake_stop() */
        }
        pthread_mutex_lock(&fk.lock);
        fk.fd[fk.nconn] = c;
        if (fk.nconn < 16 &&
            pthread_create(&fk.conn[fk.nconn], NULL, serve, &fk.fd[fk.nconn]) == 0) {
            fk.nconn++;
        } else {
            close(c);
        }
        pthread_mutex_unlock(&fk.lock);
    }
}

static void fake_start(const char *xml)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);

    memset(&fk, 0, sizeof(fk));
    pthread_mutex_init(&fk.lock, NULL);
    fk.xml = xml;
    fk.fs = 25600;
    fk.gap_at = UINT64_MAX;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fk.lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fk.lfd >= 0);
    assert_int_equal(bind(fk.lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    assert_int_equal(listen(fk.lfd, 8), 0);
    assert_int_equal(getsockname(fk.lfd, (struct sockaddr *) &sa, &len), 0);
    fk.port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&fk.acceptor, NULL, accept_loop, NULL), 0);
}

/* After every client closed: join everything. */
static void fake_stop(void)
{
    shutdown(fk.lfd, SHUT_RDWR);
    close(fk.lfd);
    pthread_join(fk.acceptor, NULL);
    for (int i = 0; i < fk.nconn; i++) {
        pthread_join(fk.conn[i], NULL);
    }
    pthread_mutex_destroy(&fk.lock);
}

/* ---- helpers ------------------------------------------------------------------ */

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        fail_msg("got %.17g, want %.17g +- %g", got, want, tol);
    }
}

static struct meter_cfg *load_meter(const char *yaml, struct cfg_diag *d)
{
    void *obj = NULL;

    cfg_diag_init(d);
    (void) cfg_load(&meter_schema, "t.yaml", (const uint8_t *) yaml, strlen(yaml), NULL,
                    0, &obj, d);
    return obj;
}

/* Open an iio source on the fake with the channels and extra keys given. */
static int open_iio_dev(const char *dev, const char *extra, const char *channels,
                        struct adc **a)
{
    char yaml[2048];
    struct cfg_diag d;
    struct meter_cfg *m;
    int rc;

    snprintf(yaml, sizeof(yaml),
             "source: iio\n"
             "pt: {primary: 20 kV, secondary: 100 V}\n"
             "ct: {primary: 200 A, secondary: 5 A}\n"
             "iio:\n"
             "  uri: 'ip:127.0.0.1:%d'\n"
             "  device: %s\n"
             "  buffer: 256\n"
             "%s"
             "  channels:\n%s",
             fk.port, dev, extra, channels);
    m = load_meter(yaml, &d);
    cfg_diag_print(&d, stderr);
    assert_non_null(m);
    cfg_diag_fini(&d);
    rc = adc_open(m, a);
    cfg_free(&meter_schema, m);
    return rc;
}

static int open_iio(const char *extra, const char *channels, struct adc **a)
{
    return open_iio_dev("ad7606-8", extra, channels, a);
}

/* IN on the 24-bit channel listed first, UA by its name, UB with an
 * offset: output comes in role order. */
static const char *const chans = "    - {role: in, channel: voltage7, gain: 2}\n"
                                 "    - {role: ua, channel: ua_in, gain: 1.5}\n"
                                 "    - {role: ub, channel: voltage1}\n"
                                 "    - {role: ia, channel: voltage4, gain: 0.25}\n";

/* Expected primary value of output channel c at frame s. */
static double expected(int c, uint64_t s)
{
    static const int idx[] = {0, 1, 4, 7};
    static const double gain[] = {1.5, 1, 0.25, 2};
    double ratio = c < 2 ? 20000.0 / 100 : 200.0 / 5;
    double scale = idx[c] == 7 ? 0.001192092896 : 0.30517578125;
    double off = idx[c] == 1 ? -12 : 0;

    return ((double) raw_of(s, idx[c]) + off) * scale / 1000 * gain[c] * ratio;
}

static void assert_frames(const float *buf, size_t n, uint64_t s0)
{
    for (size_t j = 0; j < n * 4; j++) {
        double want = expected((int) (j % 4), s0 + j / 4);

        if (!(fabs(buf[j] - want) <= 1e-6 * fabs(want) + 1e-9)) {
            fail_msg("frame %zu channel %zu: got %.9g, want %.9g", j / 4, j % 4,
                     (double) buf[j], want);
        }
    }
}

/* ---- tests --------------------------------------------------------------------- */

/* Why the fake iiod: the XML backend has no attributes and no buffers. */
static void test_iio_xml_backend_cannot_stream(void **state)
{
    struct iio_context *ctx = iio_create_xml_context_mem(xml_ts, strlen(xml_ts));
    struct iio_device *dev;
    struct iio_channel *ch;
    double v = 0;

    (void) state;
    assert_non_null(ctx);
    dev = iio_context_find_device(ctx, "ad7606-8");
    assert_non_null(dev);
    ch = iio_device_find_channel(dev, "ua_in", false);
    assert_non_null(ch);
    assert_true(iio_channel_attr_read_double(ch, "scale", &v) < 0);
    iio_channel_enable(ch);
    errno = 0;
    assert_null(iio_device_create_buffer(dev, 16, false));
    assert_int_equal(errno, ENOSYS);
    iio_context_destroy(ctx);
}

static void test_iio_reads_scaled_channels_in_role_order(void **state)
{
    static const int roles[] = {ADC_UA, ADC_UB, ADC_IA, ADC_IN};
    static const char *const names[] = {"ua_in", "voltage1", "voltage4", "voltage7"};
    struct adc_info info;
    struct adc *a = NULL;
    float buf[1000 * 4];
    size_t done = 0, n;

    (void) state;
    fake_start(xml_ts);
    assert_int_equal(open_iio("", chans, &a), 0);
    assert_int_equal(adc_info(a, &info), 0);
    assert_int_equal(info.nch, 4);
    assert_close(info.fs_hz, 25600, 0);
    assert_int_equal(info.realtime, 1);
    assert_int_equal(info.start_ns, TS0_NS); /* the first frame's timestamp */
    for (int c = 0; c < 4; c++) {
        assert_int_equal(info.role[c], roles[c]);
        assert_string_equal(info.name[c], names[c]);
        assert_string_equal(info.unit[c], c < 2 ? "V" : "A");
    }
    /* reads cut across buffer boundaries (256 frames each) */
    while (done < 1000) {
        size_t want = 1000 - done < 100 ? 1000 - done : 100;

        assert_int_equal(adc_read(a, buf + done * 4, want, &n), 0);
        done += n;
    }
    assert_frames(buf, 1000, 0);
    assert_true(buf[3] < 0 || buf[7] < 0 || buf[11] < 0); /* 24-bit negatives survived */
    adc_close(a);
    fake_stop(); /* joins the server: its log is complete */
    assert_non_null(strstr(fk.cmds, "OPEN iio:device0 256 00000193\n")); /* 0,1,4,7,ts */
    assert_non_null(strstr(fk.cmds, "SET iio:device0 BUFFERS_COUNT 4\n"));
    assert_non_null(strstr(fk.cmds, "READ iio:device0 INPUT voltage1 offset\n"));
    assert_non_null(strstr(fk.cmds, "CLOSE iio:device0\n"));
}

static void test_iio_configured_rate_is_written_then_read_back(void **state)
{
    struct adc_info info;
    struct adc *a = NULL;

    (void) state;
    fake_start(xml_ts);
    assert_int_equal(open_iio("  sample_rate: 12.8 kHz\n", chans, &a), 0);
    assert_int_equal(adc_info(a, &info), 0);
    assert_close(info.fs_hz, 12800, 0);
    adc_close(a);
    fake_stop();
    assert_string_equal(fk.written_fs, "12800.000000");
}

static void test_iio_without_device_scale_uses_the_configured_one(void **state)
{
    struct adc *a = NULL;
    float buf[10 * 2];
    size_t n;

    (void) state;
    fake_start(xml_ts);
    assert_int_equal(
        open_iio("  device_scale: false\n",
                 "    - {role: ua, channel: voltage2, scale: 0.001, offset: 5}\n"
                 "    - {role: ic, channel: voltage3, scale: 0.5, gain: 10}\n",
                 &a),
        0);
    assert_int_equal(adc_read(a, buf, 10, &n), 0);
    assert_int_equal(n, 10);
    for (size_t k = 0; k < n; k++) {
        assert_close(buf[k * 2], (raw_of(k, 2) + 5) * 0.001 * 200, 1e-4);
        assert_close(buf[k * 2 + 1], raw_of(k, 3) * 0.5 * 10 * 40, 1e-2);
    }
    adc_close(a);
    fake_stop();
    assert_null(strstr(fk.cmds, "scale"));
}

/* A jump in the timestamps: -PQ_EFRAME once, then a new segment whose
 * start is the first frame after the gap. */
static void test_iio_timestamp_gap_restarts_the_stream(void **state)
{
    struct adc_info info;
    struct adc *a = NULL;
    float buf[600 * 4];
    size_t n, done = 0;
    int rc;

    (void) state;
    fake_start(xml_ts);
    pthread_mutex_lock(&fk.lock);
    fk.gap_at = 500;
    fk.gap_n = 1000;
    pthread_mutex_unlock(&fk.lock);
    assert_int_equal(open_iio("", chans, &a), 0);
    while (done < 500) {
        assert_int_equal(adc_read(a, buf + done * 4, 600 - done, &n), 0);
        assert_true(n > 0);
        done += n;
    }
    assert_int_equal(done, 500); /* stops right before the gap */
    assert_frames(buf, 500, 0);
    rc = adc_read(a, buf, 600, &n);
    assert_int_equal(rc, -PQ_EFRAME);
    assert_int_equal(n, 0);
    assert_int_equal(adc_info(a, &info), 0);
    assert_int_equal(info.start_ns, ts_of(1500));
    done = 0;
    while (done < 300) {
        assert_int_equal(adc_read(a, buf + done * 4, 300 - done, &n), 0);
        done += n;
    }
    assert_frames(buf, 300, 1500);
    adc_close(a);
    fake_stop();
}

static int64_t fake_mono_ns, fake_real_ns;

static int64_t fake_clock(clockid_t clock)
{
    return clock == CLOCK_MONOTONIC ? fake_mono_ns : fake_real_ns;
}

/* Without timestamps: the wall clock running ahead of the frames by more
 * than the kernel can queue means frames were lost. */
static void test_iio_without_timestamps_a_lag_beyond_the_queue_is_a_gap(void **state)
{
    struct adc_info info;
    struct adc *a = NULL;
    float buf[256 * 4];
    size_t n;

    (void) state;
    fake_start(xml_no_ts);
    fake_mono_ns = 1000000000LL;
    fake_real_ns = 1600000000000000000LL;
    adc_clock_ns = fake_clock;
    assert_int_equal(open_iio("  kernel_buffers: 2\n", chans, &a), 0);
    assert_int_equal(adc_info(a, &info), 0);
    /* stamped by the clock at the first refill, less the buffer's length */
    assert_int_equal(info.start_ns, 1600000000000000000LL - 10000000);
    /* ten buffers at the pace of the clock: no gap */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(adc_read(a, buf, 256, &n), 0);
        assert_int_equal(n, 256);
        fake_mono_ns += 10000000; /* 256 frames at 25.6 kHz */
        fake_real_ns += 10000000;
    }
    /* a stall of 3 buffers is within the queue (2 + 1 buffers) */
    fake_mono_ns += 30000000;
    assert_int_equal(adc_read(a, buf, 256, &n), 0);
    assert_int_equal(n, 256);
    /* a stall beyond it is a gap */
    fake_mono_ns += 200000000;
    fake_real_ns += 240000000;
    assert_int_equal(adc_read(a, buf, 256, &n), -PQ_EFRAME);
    assert_int_equal(n, 0);
    assert_int_equal(adc_info(a, &info), 0);
    assert_int_equal(info.start_ns, fake_real_ns - 10000000);
    assert_int_equal(adc_read(a, buf, 256, &n), 0);
    assert_int_equal(n, 256);
    assert_frames(buf, 256, (uint64_t) 256 * 11); /* the buffer that showed the gap */
    adc_close(a);
    adc_clock_ns = adc_clock_system;
    fake_stop();
}

static void test_iio_open_errors_leave_nothing_open(void **state)
{
    struct adc *a = (struct adc *) 0x1;
    int port;

    (void) state;
    fake_start(xml_ts);
    /* no such channel; not a scan element; no such device */
    assert_int_equal(open_iio("", "    - {role: ua, channel: voltage9}\n", &a),
                     -PQ_ECONFIG);
    assert_int_equal(open_iio("", "    - {role: ua, channel: temp}\n", &a), -PQ_ECONFIG);
    assert_int_equal(open_iio_dev("ad9999", "", chans, &a), -PQ_ECONFIG);
    assert_ptr_equal(a, (struct adc *) 0x1);
    port = fk.port;
    fake_stop();
    /* nothing listening any more */
    fk.port = port;
    assert_true(open_iio("", chans, &a) < 0);
    assert_ptr_equal(a, (struct adc *) 0x1);
}

static void test_iio_config_rules(void **state)
{
    struct cfg_diag d;
    struct meter_cfg *m;

    (void) state;
    m = load_meter("source: iio\n", &d);
    assert_null(m);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.msgs[0], "t.yaml:1:1: iio.device is required with source iio");
    assert_string_equal(
        d.msgs[1], "t.yaml:1:1: iio.channels: at least one is required with source iio");
    cfg_diag_fini(&d);
    m = load_meter("iio:\n  channels:\n    - {role: ua, channel: voltage0}\n"
                   "    - {role: ua, channel: voltage0}\n",
                   &d);
    assert_null(m);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.msgs[0],
                        "t.yaml:4:14: iio.channels[1].role: role ua is already "
                        "given to channel voltage0");
    assert_string_equal(d.msgs[1],
                        "t.yaml:4:27: iio.channels[1].channel: channel voltage0 is "
                        "already listed");
    cfg_diag_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iio_xml_backend_cannot_stream),
        cmocka_unit_test(test_iio_reads_scaled_channels_in_role_order),
        cmocka_unit_test(test_iio_configured_rate_is_written_then_read_back),
        cmocka_unit_test(test_iio_without_device_scale_uses_the_configured_one),
        cmocka_unit_test(test_iio_timestamp_gap_restarts_the_stream),
        cmocka_unit_test(test_iio_without_timestamps_a_lag_beyond_the_queue_is_a_gap),
        cmocka_unit_test(test_iio_open_errors_leave_nothing_open),
        cmocka_unit_test(test_iio_config_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* capture.c - capture ring in the acquisition thread, files in a writer
 * thread.
 *
 * The ring's done callback runs in the acquisition thread and only queues
 * the finished buffer; the writer thread writes it (temporary file, fsync,
 * rename: a .cfg present means a complete recording), applies the
 * retention, and hands the buffer back with pq_capture_release(), which is
 * safe from any thread.
 */
#include "gateway/capture.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timex.h>

#include "config/config.h"
#include "config/log.h"
#include "drivers/adc/adc.h"
#include "gateway/capture_files.h"
#include "pq/capture.h"
#include "pq/comtrade.h"
#include "pq/comtrade_write.h"
#include "pq/err.h"

#define NBUFS 4
#define NTEXT 8 /* texts waiting for the writer */

struct text {
    char name[96];
    char *body;
};

struct gw_capture {
    struct capture_cfg cc; /* dir copied */
    char *dir;
    char station[PQ_CT_NAME_MAX];
    struct adc_info info;
    struct pq_ct_analog_desc analog[ADC_MAX_CH];
    struct pq_capture_fmt fmt;
    struct pq_capture *ring;
    int64_t next_ns;    /* time of the next frame fed */
    char **alarm_names; /* by alarm tag - 1; set before the first trigger */
    size_t nalarm_names;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pq_capture_buf *queue[NBUFS]; /* finished, to write */
    size_t nqueue;
    struct text texts[NTEXT];
    size_t ntexts;
    int stop;
    pthread_t writer;
    int started;
};

static const char *const phase_of_role[] = {"A", "B", "C", "N", "A", "B", "C", "N", ""};

static void on_done(void *ctx, struct pq_capture_buf *buf)
{
    struct gw_capture *c = ctx;

    pthread_mutex_lock(&c->lock);
    if (c->nqueue < NBUFS) { /* NBUFS buffers exist: always room */
        c->queue[c->nqueue++] = buf;
    }
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void write_one(struct gw_capture *c, struct pq_capture_buf *b)
{
    static const int formats[] = {PQ_CT_BINARY32, PQ_CT_FLOAT32, PQ_CT_ASCII};
    struct pq_ct_desc d;
    char stem[128], err[512];
    int rc;

    memset(&d, 0, sizeof(d));
    d.station = c->station;
    d.device = "pqgate " PQGATE_VERSION;
    d.rev_year = 2013;
    d.format = formats[c->cc.format];
    d.n_analog = c->info.nch;
    d.analog = c->analog;
    capture_files_desc(&d, b);
    capture_file_stem_label(stem, sizeof(stem), b,
                            b->why.reason == PQ_CAPTURE_ALARM && b->why.tag >= 1 &&
                                    b->why.tag <= c->nalarm_names
                                ? c->alarm_names[b->why.tag - 1]
                                : NULL);
    rc = capture_files_write(c->dir, stem, &d, b->data, b->status, err, sizeof(err));
    if (rc < 0) {
        LOGF(LOG_ERR, "capture", "%s", err);
    } else {
        int gone = capture_retention(c->dir, (size_t) c->cc.max_count, c->cc.max_bytes);

        LOGF(LOG_NOTICE, "capture",
             "wrote %s/%s.cfg (%zu samples x %zu channels at %.0f Hz)%s", c->dir, stem,
             b->nsamples, b->nch, b->rate_hz, gone > 0 ? ", oldest removed" : "");
    }
    pq_capture_release(c->ring, b);
}

/* Write text to dir/name through a temporary file and a rename. */
static void write_text(struct gw_capture *c, const struct text *t)
{
    char path[4200], tmp[4210];
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "%s/%s", c->dir, t->name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    ok = f && fputs(t->body, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0) {
        ok = 0;
    }
    if (!ok || rename(tmp, path) < 0) {
        LOGF(LOG_ERR, "capture", "%s: %s", path, pq_strerror(-errno));
        (void) remove(tmp);
        return;
    }
    LOGF(LOG_INFO, "capture", "wrote %s", path);
}

int gw_capture_save_text(struct gw_capture *c, const char *name, const char *text)
{
    char *body = strdup(text);
    int rc = 0;

    if (!body) {
        return -ENOMEM;
    }
    pthread_mutex_lock(&c->lock);
    if (c->ntexts == NTEXT) {
        rc = -PQ_EFULL;
    } else {
        snprintf(c->texts[c->ntexts].name, sizeof(c->texts[0].name), "%s", name);
        c->texts[c->ntexts++].body = body;
        body = NULL;
        pthread_cond_signal(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
    free(body);
    return rc;
}

static void *writer(void *arg)
{
    struct gw_capture *c = arg;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (c->nqueue == 0 && c->ntexts == 0 && !c->stop) {
            pthread_cond_wait(&c->cond, &c->lock);
        }
        if (c->ntexts > 0) {
            struct text t = c->texts[0];

            memmove(c->texts, c->texts + 1, --c->ntexts * sizeof(c->texts[0]));
            pthread_mutex_unlock(&c->lock);
            write_text(c, &t);
            free(t.body);
            pthread_mutex_lock(&c->lock);
            continue;
        }
        if (c->nqueue == 0) {
            break; /* stopping, nothing left */
        }
        {
            struct pq_capture_buf *b = c->queue[0];

            memmove(c->queue, c->queue + 1, --c->nqueue * sizeof(c->queue[0]));
            pthread_mutex_unlock(&c->lock);
            write_one(c, b);
            pthread_mutex_lock(&c->lock);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

int gw_capture_new(const struct capture_cfg *cc, const struct adc_info *info,
                   double f_nominal_hz, const char *station, struct gw_capture **out)
{
    struct gw_capture *c = calloc(1, sizeof(*c));
    struct pq_capture_cfg pc;
    int rc;

    if (!c) {
        return -ENOMEM;
    }
    c->cc = *cc;
    c->info = *info;
    c->dir = strdup(cc->dir);
    snprintf(c->station, sizeof(c->station), "%s", station);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    for (size_t ch = 0; ch < info->nch; ch++) {
        c->analog[ch] = (struct pq_ct_analog_desc){
            .id = c->info.name[ch],
            .ph = phase_of_role[info->role[ch] <= ADC_OTHER ? info->role[ch] : ADC_OTHER],
            .unit = c->info.unit[ch],
            .ps = 'P',
        };
    }
    c->fmt = (struct pq_capture_fmt){(unsigned) cc->resolution, (unsigned) cc->pre_cycles,
                                     (unsigned) cc->post_cycles};
    memset(&pc, 0, sizeof(pc));
    pc.fs_hz = info->fs_hz;
    pc.f_nom_hz = f_nominal_hz;
    pc.nch = info->nch;
    pc.nbufs = NBUFS;
    pc.fmts = &c->fmt;
    pc.nfmts = 1;
    rc = !c->dir ? -ENOMEM : make_dir(cc->dir);
    if (rc < 0) {
        LOGF(LOG_ERR, "capture", "%s: %s", cc->dir, pq_strerror(rc));
    }
    if (rc == 0) {
        rc = pq_capture_new(&pc, on_done, c, &c->ring);
        if (rc < 0) {
            LOGF(LOG_ERR, "capture", "%d x (%d + %d) cycles at %.6g Hz: %s",
                 cc->resolution, cc->pre_cycles, cc->post_cycles, info->fs_hz,
                 pq_strerror(rc));
        }
    }
    if (rc == 0) {
        rc = -pthread_create(&c->writer, NULL, writer, c);
        c->started = rc == 0;
    }
    if (rc < 0) {
        gw_capture_free(c);
        return rc;
    }
    c->next_ns = info->start_ns;
    *out = c;
    return 0;
}

void gw_capture_feed(struct gw_capture *c, const float *frames, size_t n, int64_t t_ns)
{
    (void) pq_capture_feed(c->ring, frames, NULL, n, t_ns);
}

/* The clock's quality as IEEE C37.118 codes it, from the kernel's NTP/PTP
 * state: 0xF when unsynchronised, else the smallest n with an estimated
 * error within 10^(n-10) s (1 ns .. 10 s). */
static int clock_tmq(void)
{
    struct timex tx;
    double err_s;
    int st;

    memset(&tx, 0, sizeof(tx));
    st = adjtimex(&tx);
    if (st < 0 || st == TIME_ERROR || (tx.status & STA_UNSYNC)) {
        return 0xF;
    }
    err_s = (double) tx.esterror / 1e6;
    for (int n = 1; n <= 0xB; n++) {
        if (err_s <= 1e-10 * pow(10.0, n)) {
            return n;
        }
    }
    return 0xB;
}

int gw_capture_set_alarm_names(struct gw_capture *c, const char *const *names, size_t n)
{
    c->alarm_names = calloc(n ? n : 1, sizeof(*c->alarm_names));
    if (!c->alarm_names) {
        return -ENOMEM;
    }
    c->nalarm_names = n;
    for (size_t i = 0; i < n; i++) {
        c->alarm_names[i] = strdup(names[i]);
        if (!c->alarm_names[i]) {
            return -ENOMEM; /* the rest stay NULL; gw_capture_free() frees */
        }
    }
    return 0;
}

int gw_capture_trigger(struct gw_capture *c, int64_t t_ns, int reason, uint32_t tag)
{
    struct pq_capture_why why = {.reason = reason, .tag = tag, .tmq = clock_tmq()};
    uint64_t seq;
    int rc = pq_capture_trigger(c->ring, 0, t_ns, &why, &seq);

    if (rc < 0) {
        LOGF(LOG_WARNING, "capture", "trigger refused: %s", pq_strerror(rc));
    }
    return rc;
}

void gw_capture_free(struct gw_capture *c)
{
    if (!c) {
        return;
    }
    if (c->started) {
        pthread_mutex_lock(&c->lock);
        c->stop = 1;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->writer, NULL);
    }
    pq_capture_free(c->ring);
    for (size_t i = 0; i < c->ntexts; i++) {
        free(c->texts[i].body);
    }
    for (size_t i = 0; i < c->nalarm_names; i++) {
        free(c->alarm_names[i]);
    }
    free(c->alarm_names);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c->dir);
    free(c);
}

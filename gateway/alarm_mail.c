/* alarm_mail.c - a ring of fixed-size messages and one thread that hands
 * them to libcurl's SMTP client. */
#include "gateway/alarm_mail.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "config/log.h"
#include "pq/err.h"

#define MAIL_TO_MAX      16
#define MAIL_ADDR_MAX    256
#define MAIL_SUBJECT_MAX 200
#define MAIL_BODY_MAX    2000

struct mail {
    char to[MAIL_TO_MAX][MAIL_ADDR_MAX];
    size_t nto;
    char subject[MAIL_SUBJECT_MAX + 1];
    char body[MAIL_BODY_MAX + 1];
};

struct alarm_mail {
    const struct alarms_email_cfg *cfg;
    char password[256];
    struct mail *ring;
    size_t cap, head, n; /* n messages from head */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int started;
    atomic_int stop;
    struct alarm_mail_stats stats; /* under lock */
};

/* ---- one message --------------------------------------------------------------- */

struct upload {
    char
        text[MAIL_BODY_MAX + MAIL_SUBJECT_MAX + MAIL_TO_MAX * (MAIL_ADDR_MAX + 4) + 1024];
    size_t len, off;
};

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *ctx)
{
    struct upload *u = ctx;
    size_t n = size * nmemb;

    if (n > u->len - u->off) {
        n = u->len - u->off;
    }
    memcpy(buf, u->text + u->off, n);
    u->off += n;
    return n;
}

static int progress_cb(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                       curl_off_t un)
{
    struct alarm_mail *m = ctx;

    (void) dt;
    (void) dn;
    (void) ut;
    (void) un;
    return atomic_load(&m->stop) ? 1 : 0; /* non-zero aborts the transfer */
}

/* RFC 5322 3.3: the Date field, "Sat, 21 Nov 2026 18:00:00 +0000". */
static void build_message(const struct alarm_mail *m, const struct mail *ml,
                          struct upload *u)
{
    char date[64], to[MAIL_TO_MAX * (MAIL_ADDR_MAX + 4)];
    time_t now = time(NULL);
    struct tm tm;
    size_t tl = 0;
    int len;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    to[0] = '\0';
    for (size_t i = 0; i < ml->nto && tl < sizeof(to); i++) {
        int n = snprintf(to + tl, sizeof(to) - tl, "%s<%s>", i ? ", " : "", ml->to[i]);

        tl += n > 0 ? (size_t) n : 0;
    }
    len = snprintf(u->text, sizeof(u->text),
                   "Date: %s\r\nFrom: <%s>\r\nTo: %s\r\nSubject: %s\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
                   date, m->cfg->from, to, ml->subject, ml->body);
    u->len = len < 0                           ? 0
             : (size_t) len >= sizeof(u->text) ? sizeof(u->text) - 1
                                               : (size_t) len;
    u->off = 0;
}

static int send_one(struct alarm_mail *m, const struct mail *ml)
{
    const struct alarms_email_cfg *c = m->cfg;
    struct upload *u = malloc(sizeof(*u));
    struct curl_slist *rcpt = NULL;
    char from[MAIL_ADDR_MAX + 2];
    CURL *curl;
    CURLcode res = CURLE_OUT_OF_MEMORY;

    curl = u ? curl_easy_init() : NULL;
    if (!curl) {
        free(u);
        return -ENOMEM;
    }
    build_message(m, ml, u);
    snprintf(from, sizeof(from), "<%s>", c->from);
    for (size_t i = 0; i < ml->nto; i++) {
        struct curl_slist *r = curl_slist_append(rcpt, ml->to[i]);

        if (!r) {
            goto out;
        }
        rcpt = r;
    }
    curl_easy_setopt(curl, CURLOPT_URL, c->server);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(curl, CURLOPT_READDATA, u);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) (c->timeout_ns / 1000000));
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, m);
    curl_easy_setopt(curl, CURLOPT_USE_SSL,
                     c->starttls ? (long) CURLUSESSL_ALL : (long) CURLUSESSL_TRY);
    if (*c->username) {
        curl_easy_setopt(curl, CURLOPT_USERNAME, c->username);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, m->password);
    }
    res = curl_easy_perform(curl);
    if (res != CURLE_OK) {
        LOGF(LOG_WARNING, "alarm", "email '%s' to %s not sent: %s", ml->subject,
             ml->to[0], curl_easy_strerror(res));
    }
out:
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(curl);
    free(u);
    return res == CURLE_OK ? 0 : -EIO;
}

/* ---- worker -------------------------------------------------------------------- */

static void *worker(void *arg)
{
    struct alarm_mail *m = arg;
    struct mail *ml = malloc(sizeof(*ml));

    if (!ml) {
        LOGF(LOG_ERR, "alarm", "email worker: out of memory");
        return NULL;
    }
    pthread_mutex_lock(&m->lock);
    while (!atomic_load(&m->stop)) {
        int rc;

        if (m->n == 0) {
            pthread_cond_wait(&m->wake, &m->lock);
            continue;
        }
        *ml = m->ring[m->head];
        m->head = (m->head + 1) % m->cap;
        m->n--;
        pthread_mutex_unlock(&m->lock);
        rc = send_one(m, ml);
        pthread_mutex_lock(&m->lock);
        if (rc == 0) {
            m->stats.sent++;
        } else {
            m->stats.failed++;
        }
    }
    pthread_mutex_unlock(&m->lock);
    free(ml);
    return NULL;
}

static int read_password(struct alarm_mail *m)
{
    FILE *f;

    if (!*m->cfg->password_file) {
        return 0;
    }
    f = fopen(m->cfg->password_file, "re");
    if (!f) {
        int rc = -errno;

        LOGF(LOG_ERR, "alarm", "alarms_email.password_file %s: %s", m->cfg->password_file,
             pq_strerror(rc));
        return rc;
    }
    if (!fgets(m->password, sizeof(m->password), f)) {
        m->password[0] = '\0';
    }
    m->password[strcspn(m->password, "\r\n")] = '\0';
    fclose(f);
    return 0;
}

int alarm_mail_new(const struct alarms_email_cfg *cfg, struct alarm_mail **out)
{
    struct alarm_mail *m = calloc(1, sizeof(*m));
    int rc;

    if (!m) {
        return -ENOMEM;
    }
    m->cfg = cfg;
    m->cap = (size_t) cfg->queue;
    m->ring = calloc(m->cap, sizeof(*m->ring));
    atomic_init(&m->stop, 0);
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->wake, NULL);
    rc = m->ring ? read_password(m) : -ENOMEM;
    if (rc == 0) {
        /* curl_global_init() is idempotent after the first call and not
         * thread-safe: this runs on the main thread at start */
        rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ENOMEM;
    }
    if (rc == 0) {
        rc = -pthread_create(&m->thread, NULL, worker, m);
        m->started = rc == 0;
    }
    if (rc < 0) {
        alarm_mail_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void alarm_mail_free(struct alarm_mail *m)
{
    if (!m) {
        return;
    }
    if (m->started) {
        pthread_mutex_lock(&m->lock);
        atomic_store(&m->stop, 1);
        m->stats.dropped += m->n;
        m->n = 0;
        pthread_cond_signal(&m->wake);
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->thread, NULL);
    }
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->wake);
    memset(m->password, 0, sizeof(m->password));
    free(m->ring);
    free(m);
}

int alarm_mail_send(struct alarm_mail *m, const char *const *to, size_t nto,
                    const char *subject, const char *body)
{
    const struct cfg_list *deflt = &m->cfg->to;
    struct mail *ml;
    int rc = 0;

    pthread_mutex_lock(&m->lock);
    if (m->n == m->cap) {
        m->stats.dropped++;
        rc = -PQ_EFULL;
        goto out;
    }
    ml = &m->ring[(m->head + m->n) % m->cap];
    ml->nto = 0;
    for (size_t i = 0; i < (nto ? nto : deflt->n) && ml->nto < MAIL_TO_MAX; i++) {
        const char *addr =
            nto ? to[i] : CFG_AT(*deflt, struct alarm_addr_cfg, i)->address;

        snprintf(ml->to[ml->nto++], MAIL_ADDR_MAX, "%s", addr);
    }
    if (ml->nto == 0) {
        m->stats.dropped++;
        rc = -EINVAL;
        goto out;
    }
    snprintf(ml->subject, sizeof(ml->subject), "%s", subject);
    snprintf(ml->body, sizeof(ml->body), "%s", body);
    m->n++;
    m->stats.queued++;
    pthread_cond_signal(&m->wake);
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

void alarm_mail_stats(struct alarm_mail *m, struct alarm_mail_stats *out)
{
    pthread_mutex_lock(&m->lock);
    *out = m->stats;
    pthread_mutex_unlock(&m->lock);
}

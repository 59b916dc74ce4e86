/* alarm_mail.h - the email action of the alarms: SMTP through libcurl from
 * one worker thread.
 *
 * alarm_mail_send() copies the message into a bounded queue (sized by
 * alarms_email.queue) and returns at once; the worker sends the messages in
 * order, each within alarms_email.timeout.  When the queue is full the new
 * message is dropped and counted (the event log has the alarm anyway).  TLS:
 * smtps:// is TLS from the start; smtp:// with starttls requires STARTTLS,
 * otherwise it is used when the server offers it.  RFC 5321 (SMTP), RFC 5322
 * (message format).
 */
#ifndef PQGATE_ALARM_MAIL_H
#define PQGATE_ALARM_MAIL_H

#include <stddef.h>
#include <stdint.h>

struct alarm_mail;
struct alarms_email_cfg;

struct alarm_mail_stats {
    uint64_t queued, sent, failed, dropped;
};

/* Start the worker for cfg (which must outlive it).  Reads the password
 * file now.  Returns 0 and *out, or a negative code (logged). */
int alarm_mail_new(const struct alarms_email_cfg *cfg, struct alarm_mail **out);

/* Stop the worker: a message being sent is abandoned at libcurl's next
 * progress call (well under a second); what is still queued is dropped and
 * counted.  NULL is a no-op. */
void alarm_mail_free(struct alarm_mail *m);

/* Queue a message to the addresses to[0..nto) (nto 0: alarms_email.to).
 * Subject and body are copied (truncated to 200 and 2000 bytes).  Returns
 * 0 or -PQ_EFULL (dropped, counted).  Any thread. */
int alarm_mail_send(struct alarm_mail *m, const char *const *to, size_t nto,
                    const char *subject, const char *body);

void alarm_mail_stats(struct alarm_mail *m, struct alarm_mail_stats *out);

#endif

/* capture_files.h - waveform captures on disk: COMTRADE files written from
 * finished captures, and their retention by count and size.
 *
 * Blocking file I/O: call it from the capture writer thread, never from
 * acquisition.  Nothing here keeps state; any thread may call any function.
 *
 * Layout: one recording per stem in one directory, "<stem>.cfg" and
 * "<stem>.dat" (C37.111 pairs).  Stems from capture_file_stem() sort in
 * trigger order.  Files are written as "<name>.tmp" and renamed, the .dat
 * first, so a .cfg present means a complete recording.
 */
#ifndef PQGATE_CAPTURE_FILES_H
#define PQGATE_CAPTURE_FILES_H

#include <stddef.h>
#include <stdint.h>

struct pq_capture_buf;
struct pq_ct_desc;

/* "20260304T050607.123456Z_event_42": the trigger time (UTC, us), the
 * reason and the capture's seq.  Returns the length (as snprintf). */
int capture_file_stem(char *buf, size_t cap, const struct pq_capture_buf *b);

#define CAPTURE_LABEL_MAX 48 /* characters of a label kept in a file name */

/* The same with label (an alarm's name) after the reason:
 * "20260304T050607.123456Z_alarm_dip_a_42".  NULL or "": as
 * capture_file_stem().  The label is cleaned by capture_file_label(). */
int capture_file_stem_label(char *buf, size_t cap, const struct pq_capture_buf *b,
                            const char *label);

/* name made safe for a file name into dst (cap > 0 bytes): every character
 * other than a letter, a digit, '_', '-' or '.' becomes '_', a leading '.'
 * too, and at most CAPTURE_LABEL_MAX characters are kept. */
void capture_file_label(char *dst, size_t cap, const char *name);

/* Fill what a capture says of its recording: rate, nsamples, line
 * frequency, start and trigger time, tmq, and the counts of channels.  The
 * caller sets station, device, format, the channel descriptions and the
 * time codes (left as they were). */
void capture_files_desc(struct pq_ct_desc *d, const struct pq_capture_buf *b);

/* Write d with frames (d->nsamples x d->n_analog, primary units) and status
 * (NULL: none set) as dir/stem.cfg and dir/stem.dat.  Returns 0, or a
 * negative code with a message naming the file in err (NUL-terminated, at
 * most errcap bytes): -PQ_ECONFIG (d rejected), -errno (I/O), -ENOMEM.
 * Nothing is left behind on error. */
int capture_files_write(const char *dir, const char *stem, const struct pq_ct_desc *d,
                        const float *frames, const uint16_t *status, char *err,
                        size_t errcap);

/* Delete the oldest recordings in dir until at most max_count remain and
 * they take at most max_bytes together (0: no limit on that).  A recording
 * is the files sharing a stem with the extension cfg, dat, cff, hdr or inf
 * in any letter case (an orphan .dat is one too); its age is its newest
 * file's modification time, then its stem.  Other files (".tmp" included)
 * are neither counted nor touched.  Returns the number of recordings
 * deleted, or -errno (the directory unreadable, an unlink refused). */
int capture_retention(const char *dir, size_t max_count, uint64_t max_bytes);

#endif

/* names.h - rules for names that every tier shares: channel names (the
 * channel bus, config files, profiles, expressions) and the "did you mean"
 * distance of error messages.  Pure functions, no allocation. */
#ifndef PQGATE_NAMES_H
#define PQGATE_NAMES_H

#include <stddef.h>

/* 1 if s[0..len) is a valid channel name of at most max_len bytes: segments
 * of [A-Za-z0-9_.-], none empty, separated by single '/'. */
int names_channel_valid(const char *s, size_t len, size_t max_len);

/* 1 if c may appear in a channel name segment. */
int names_channel_char(int c);

/* Levenshtein distance of a[0..la) and b[0..lb); SIZE_MAX when either is
 * longer than 64 bytes (only short words are compared). */
size_t names_edit_distance(const char *a, size_t la, const char *b, size_t lb);

#endif

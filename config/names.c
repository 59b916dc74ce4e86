/* names.c - channel names and edit distance (names.h). */
#include "config/names.h"

#include <stdint.h>

int names_channel_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

int names_channel_valid(const char *s, size_t len, size_t max_len)
{
    size_t seg = 0; /* length of the current segment */

    if (!s || len == 0 || len > max_len) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '/') {
            if (seg == 0) {
                return 0; /* leading or double '/' */
            }
            seg = 0;
        } else if (names_channel_char((unsigned char) s[i])) {
            seg++;
        } else {
            return 0;
        }
    }
    return seg > 0; /* trailing '/' */
}

size_t names_edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t row[65];

    if (la > 64 || lb > 64) {
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

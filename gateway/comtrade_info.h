/* comtrade_info.h - `pqgate comtrade-info FILE`: a human summary of any
 * COMTRADE recording (.cfg with its .dat, or a 2013 .cff). */
#ifndef PQGATE_COMTRADE_INFO_H
#define PQGATE_COMTRADE_INFO_H

/* argv[0] is "comtrade-info".  Prints the summary on stdout.  Returns the
 * exit code: 0, 1 (unreadable or malformed recording: the reader's message
 * on stderr), 2 (usage). */
int cmd_comtrade_info(int argc, char **argv);

#endif

/* analyze.h - `pqgate analyze`: the meter over a COMTRADE recording, JSON
 * Lines out (DESIGN.md, "The analysis contract"). */
#ifndef PQGATE_ANALYZE_H
#define PQGATE_ANALYZE_H

/* argv[0] is "analyze".  Returns the exit code: 0, 1 (unreadable or
 * unusable recording), 2 (usage). */
int cmd_analyze(int argc, char **argv);

#endif

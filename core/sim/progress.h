/*
 * progress.h: a progress line on stderr for runs over a second when stderr
 * is a terminal: simulated time reached and events per second.  Feed it to
 * loom_replay as the observer; loom_progress_done clears the line and
 * frees the handle.
 */
#ifndef LOOM_PROGRESS_H
#define LOOM_PROGRESS_H

#include "replay.h"

typedef struct loom_progress loom_progress;
loom_progress *loom_progress_start(void); /* NULL when stderr is no terminal */
void loom_progress_observer(loom_progress *p, loom_observer *obs);
void loom_progress_done(loom_progress *p); /* clears the line; frees p; NULL is a no-op */

#endif

/*
 * sim_testutil.h: helpers shared by the core/sim tests: a scratch folder
 * made with mkdtemp and removed at the end, small text files in it, whole
 * files read back, and a configuration loaded from a network and a system
 * text.
 *
 * st_path() returns one of a few rotating static buffers (valid until the
 * fourth next call); st_slurp() returns malloc'd text the caller frees.
 */
#ifndef LOOM_SIM_TESTUTIL_H
#define LOOM_SIM_TESTUTIL_H

#include <stddef.h>

#include "config.h"

/* Creates the scratch folder (cmocka group setup) / removes it (teardown). */
int st_setup(void **state);
int st_teardown(void **state);

const char *st_dir(void);                 /* the scratch folder */
const char *st_path(const char *name);    /* "<dir>/<name>" */
void st_put(const char *name, const char *text); /* writes <dir>/<name> */
char *st_slurp(const char *path);         /* whole file, NUL-terminated; NULL if absent */

/* Writes net.yml and sys.yaml from the texts and loads them with the
 * given --set overrides; returns loom_cfg_load's status, err filled. */
int st_load(loom_cfg *cfg, const char *net_text, const char *sys_text,
            const char *const *sets, int nsets, loom_err *err);

#endif

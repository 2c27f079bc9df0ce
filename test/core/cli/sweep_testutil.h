/*
 * sweep_testutil.h: what the tests of `loom sweep`'s parts share: a scratch
 * folder, whole files in and out, and a spec loaded from text.
 *
 * The tests are linked with -Wl,--wrap=malloc,calloc,realloc,free (see
 * meson.build): every allocation loom's own code makes goes through
 * cmocka's test_malloc, so each test also fails on a block it leaves
 * behind.  Allocations inside shared libraries (libyaml, libcsv, libc) are
 * theirs and are not counted.
 */
#ifndef LOOM_SWEEP_TESTUTIL_H
#define LOOM_SWEEP_TESTUTIL_H

#include <stddef.h>

#include "sweep_int.h"

/* Group setup/teardown: a fresh folder under /tmp, removed with its files. */
int su_setup(void **state);
int su_teardown(void **state);
/* "<scratch>/<name>", valid until the 8th next call. */
const char *su_path(const char *name);
/* Writes text to <scratch>/name; returns its path (as su_path). */
const char *su_put(const char *name, const char *text);
/* The whole file <scratch>/name, or NULL; the caller frees it. */
char *su_read(const char *name);
/* Writes text as <scratch>/name and loads it as a spec; returns
 * sw_spec_load's code, err filled. */
int su_spec(sw_spec *s, const char *name, const char *text, loom_err *err);

#endif

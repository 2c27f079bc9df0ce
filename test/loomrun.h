/*
 * loomrun.h: running the loom binary from end-to-end tests (test/e2e,
 * test/workloads).  A run's stdout and stderr go to DIR/stdout and
 * DIR/stderr and are read back into loomrun_out and loomrun_err.  The
 * binary is LOOM_BIN, which each test executable defines.
 */
#ifndef LOOM_TEST_LOOMRUN_H
#define LOOM_TEST_LOOMRUN_H

#include <stddef.h>
#include <sys/types.h>

extern char loomrun_out[1 << 16]; /* stdout of the last run */
extern char loomrun_err[1 << 16]; /* stderr of the last run */

/* Limits each run gets (set before starting it): loom is killed by
 * SIGALRM after loomrun_alarm_s seconds (default 240, so a regression that
 * hangs fails the test instead of hanging it; 0: none), and its address
 * space is capped at loomrun_as_limit bytes (0: none; not under ASan,
 * whose shadow memory needs terabytes of address space). */
extern unsigned loomrun_alarm_s;
extern unsigned long long loomrun_as_limit;

/* The file's bytes (at most cap - 1) into buf, NUL-terminated; "" if absent. */
void loomrun_slurp(const char *path, char *buf, size_t cap);
/* Writes text to path; aborts the test program if it cannot. */
void loomrun_write(const char *path, const char *text);
/* A JSON file loom wrote (a report, a timeline), parsed (json_decref it);
 * aborts the test program, naming the file, the line and the reason, if it
 * cannot be read as JSON (jansson also refuses invalid UTF-8). */
struct json_t *loomrun_json(const char *path);
/* Its step time (ns), the same way. */
double loomrun_step_ns(const char *json);

/* A scratch folder per test program: cmocka group setup and teardown.
 * loomrun_setup makes /tmp/loom-e2e-XXXXXX into loomrun_tmp;
 * loomrun_teardown removes it and everything in it. */
extern char loomrun_tmp[256];
int loomrun_setup(void **state);
int loomrun_teardown(void **state);
/* "loomrun_tmp/name" in one of 8 rotating buffers (valid for 8 calls). */
char *loomrun_path(const char *name);
/* Copies a file byte for byte; aborts the test program if it cannot. */
void loomrun_copy(const char *from, const char *to);

/* Starts loom with args (NULL-terminated, without argv[0]); returns its pid. */
pid_t loomrun_startv(const char *dir, const char *const *args);
/* Waits for it, reads its output; returns its exit code (128 + signal). */
int loomrun_wait(const char *dir, pid_t pid);
/* Both, with the arguments listed and NULL at the end. */
int loomrun_run(const char *dir, const char *first, ...);

#endif

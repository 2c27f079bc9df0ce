/*
 * sweep_int.h: the parts of `loom sweep` (docs/SWEEP.md), private to them.
 *
 *   sweep_spec.c   the spec: base run, axes and zip groups read from YAML;
 *                  configuration i, its key and what it runs (sw_spec_*,
 *                  sw_conf_*)
 *   sweep_check.c  every value loaded once in-process before anything runs
 *                  (sw_spec_check)
 *   sweep_csv.c    the results CSV: header, rows, reading it back on
 *                  resume, a torn last line, --retry-failed (sw_csv_*)
 *   sweep_run.c    the libev loop of worker processes, timeouts, signals
 *                  and the progress bar (sw_run, sw_run_sync)
 *   cmd_sweep.c    the command: options, help, and the order of the above
 *
 * Invariants (each file states the ones it keeps):
 *  - A configuration is identified by its key, a 64-bit FNV-1a hash of its
 *    axis keys and value texts; the spec by the hash of its base run and
 *    axis names (the CSV's "spec" column).  Adding values to an axis keeps
 *    the keys of the configurations already run, so a grown sweep resumes.
 *  - The CSV holds only whole lines, each appended by one write() and
 *    fsync'd; no row depends on -j, timing or completion order.
 *
 * Ownership: sw_spec_load fills a spec the caller frees with sw_spec_free
 * (also after a failed load); sw_conf_build fills a conf freed with
 * sw_conf_free; the argv arrays are freed with free() alone (their strings
 * belong to the spec and the conf); sw_csv_load fills rows freed with
 * sw_csv_free.
 */
#ifndef LOOM_SWEEP_INT_H
#define LOOM_SWEEP_INT_H

#include <ev.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "sbuf.h"

#define SW_MAX_CONFS 100000000LL /* 10^8: 800 MB of keys; more is surely a typo */
#define SW_ERR_TEXT_MAX 400      /* bytes of a worker's first stderr line kept */

/* ---- sweep_spec.c --------------------------------------------------------- */

enum sw_ax_kind { AX_SET, AX_WORKLOAD, AX_NETWORK, AX_SYSTEM, AX_COMM, AX_GEN };

typedef struct sw_axis {
    char *key;   /* column name: a --set key, a file key or gen.FLAG */
    int kind;    /* enum sw_ax_kind */
    char **vals; /* each value as YAML flow text (a file axis: the path as written) */
    int line;    /* line in the spec, for messages */
} sw_axis;

typedef struct sw_group {
    int first; /* index of its first axis in sw_spec.axes */
    int naxes; /* axes that advance together (1: a plain axis) */
    int len;   /* values of each of them */
} sw_group;

typedef struct sw_spec {
    const char *path;   /* the spec file, as given (not owned) */
    char *dir;          /* its directory: relative paths in it start there */
    char *base[4];      /* workload, network, system, comm-group as written (or NULL) */
    int noctrl;         /* ignore-ctrl-deps: true */
    char *gen;          /* `loom gen` generator (micro, llm) in place of workload, or NULL */
    char **genflags;    /* its flags: name, value, name, value, ... */
    int ngenflags;      /* names in genflags */
    char **sets;        /* base overrides "key=value", in file order */
    int nsets;          /* entries in sets */
    sw_axis *axes;      /* every axis, group by group */
    int naxes;          /* entries in axes */
    sw_group *groups;   /* cartesian factors; the last varies fastest */
    int ngroups;        /* entries in groups */
    long long nconf;    /* product of the groups' lengths */
    uint64_t hash;      /* base run and axis names: the CSV's "spec" column */
} sw_spec;

/* What one configuration runs: its input files resolved against the spec's
 * directory and its --set list (the base's, then the axes'). */
typedef struct sw_conf {
    char *file[4]; /* workload prefix (NULL with gen), network, system, comm-group */
    char **gargs;  /* `loom gen` flags: "--name", "value", ... */
    int ngargs;    /* entries in gargs */
    char **sets;   /* "key=value" */
    int nsets;     /* entries in sets */
} sw_conf;

/* Reads the spec at path; errors name the file, the line and the key
 * (LOOM_EUSAGE).  s->path keeps the pointer. */
int sw_spec_load(sw_spec *s /* OUT */, const char *path, loom_err *err);
void sw_spec_free(sw_spec *s);

/* Position of configuration i along each group (pos has s->ngroups
 * entries); configurations are numbered as nested loops, the last group
 * varying fastest. */
void sw_conf_pos(const sw_spec *s, long long i, int *pos /* OUT */);
/* Axis a's value (text) at pos. */
const char *sw_conf_val(const sw_spec *s, const int *pos, int a);
/* The configuration's key: FNV-1a of every axis key and value text. */
uint64_t sw_conf_key(const sw_spec *s, const int *pos);
/* "k=v k=v" for messages and --dry-run, appended to b. */
void sw_conf_describe(const sw_spec *s, const int *pos, sbuf *b);

void sw_conf_build(const sw_spec *s, const int *pos, sw_conf *c /* OUT */);
/* 1 when the spec's generator writes its own system file beside the trace
 * (PREFIX.system.yaml, which names PREFIX.comm.json): `loom gen llm`.  Such
 * a spec may leave out `system`. */
int sw_gen_system(const sw_spec *s);
/* What the generator wrote to prefix, for a configuration of such a spec:
 * its system file where the configuration names none, else its comm-group
 * file where the configuration names none (the role-named groups the trace
 * uses).  Nothing for other generators. */
void sw_conf_generated(const sw_spec *s, sw_conf *c, const char *prefix);
void sw_conf_free(sw_conf *c);
/* argv of `loom gen` for c, writing the trace to prefix. */
const char **sw_conf_gen_argv(const sw_spec *s, const sw_conf *c, const char *prefix);
/* argv of `loom run` for c, replaying workload (c->file[0], or a generated
 * trace's prefix) and writing its JSON report to json. */
const char **sw_conf_run_argv(const sw_spec *s, const sw_conf *c, const char *workload,
                              const char *json);

/* ---- sweep_check.c -------------------------------------------------------- */

/* Loads the base run and every value of every axis in-process as `loom
 * run` would (and runs the generator once per gen value), so a bad key,
 * value or file stops the sweep naming the axis before anything runs. */
int sw_spec_check(const sw_spec *s, int quiet, loom_err *err);

/* ---- sweep_csv.c ---------------------------------------------------------- */

/* The fixed columns after the key and the axes: status, exit_code, ranks,
 * step_time_ns, then a mean and a max column per rank field marked
 * LOOM_SHOW_SWEEP (core/sim/report.c), then error and spec. */
enum { C_STATUS, C_EXIT, C_RANKS, C_STEP, C_FIGURES };
int sw_csv_nfixed(void); /* how many fixed columns in all */

/* A row already in the CSV. */
typedef struct sw_done {
    uint64_t key; /* configuration key */
    int ok;       /* status was "ok" */
} sw_done;

/* The CSV read back: its rows, and the parser's state while reading. */
typedef struct sw_csv {
    const sw_spec *s;  /* the spec whose columns and hash the rows must carry */
    const char *path;  /* for messages */
    int retry;         /* --retry-failed: drop the rows not ok */
    loom_err *err;     /* where a bad file is reported */
    sw_done *rows;     /* rows kept, sorted by key after sw_csv_load */
    size_t nrows;      /* entries in rows */
    size_t caprows;    /* allocated */
    long rec;          /* records seen; 0 is the header */
    long dropped;      /* rows dropped by --retry-failed */
    sbuf kept;         /* header and kept rows, re-serialized (only with retry) */
    char **f;          /* fields of the record being read */
    int nf;            /* entries in f */
    size_t capf;       /* allocated */
} sw_csv;

/* One field appended to b, a comma first unless `first`; quoted only when
 * it must be (RFC 4180, by libcsv). */
void sw_csv_field(sbuf *b, const char *s, int first);
/* The header line of s's CSV. */
void sw_csv_header(const sw_spec *s, sbuf *b);
/* The row line of configuration idx: status ("ok", "failed", "crashed",
 * "timeout"), exit code, the figures of report (a `loom run --json` root;
 * NULL for a row that is not ok) and err (control characters become
 * spaces, so the row is one line). */
void sw_csv_row(const sw_spec *s, long long idx, const char *status, int code,
                json_t *report, const char *err, sbuf *b);

/* Reads r->path (absent or empty: no rows).  With fix (fd: the file open
 * for writing), a partial last line left by a killed sweep is truncated
 * away and, with r->retry, the rows not ok are removed by rewriting the
 * file (renamed into place: then reopen fd).  Sorts r->rows by key. */
int sw_csv_load(sw_csv *r, int fd, int fix, int quiet);
/* The row of key, or NULL. */
const sw_done *sw_csv_find(const sw_csv *r, uint64_t key);
void sw_csv_free(sw_csv *r);

typedef struct sw_run_state sw_run_state;
/* Shard k of n: the configurations i with i mod n == k (keys[i] their
 * keys).  Those without a row in r go to sw->todo (malloc'd, in index
 * order; the caller frees it); sw->total, skipped and old_bad count the
 * shard, its rows found and those of them not ok. */
void sw_csv_plan(const sw_csv *r, const uint64_t *keys, long k, long n, sw_run_state *sw);

/* Opens r->path for appending under an exclusive lock (LOOM_EIO when
 * another sweep holds it), reads its rows into r as sw_csv_load does, and
 * writes the header to a new or empty file.  Returns the descriptor, or -1
 * with r->err set. */
int sw_csv_open(sw_csv *r, int quiet);
/* Appends n bytes with one write() and fsyncs them: 0, or -1 with errno. */
int sw_csv_append(int fd, const char *buf, size_t n);

/* ---- sweep_run.c ---------------------------------------------------------- */

typedef struct sw_job sw_job;

/* A sweep being run: the caller fills the settings and the work; sw_run
 * fills the counts. */
struct sw_run_state {
    const sw_spec *spec;     /* what to run */
    const char *out;         /* the CSV path, for messages */
    int outfd;               /* O_APPEND descriptor of it, locked */
    int jobs;                /* -j */
    double timeout;          /* seconds; 0: none */
    int bar;                 /* draw the progress bar */
    long long *todo;         /* configurations to run, in index order */
    long long ntodo;         /* entries in todo */
    long long total;         /* this shard's configurations */
    long long skipped;       /* already in the CSV */
    long long old_bad;       /* this shard's rows already in the CSV, not ok */
    double t0;               /* start, monotonic seconds */
    /* filled by sw_run: */
    long long n_ok, n_failed, n_timeout, n_crashed; /* rows written now */
    int interrupted;         /* the signal that stopped us, or 0 */
    loom_err err;            /* a fatal error (the CSV cannot be written) */
    /* private to sweep_run.c: */
    long long next;          /* next entry of todo to start */
    sw_job *slot;            /* job slots */
    int running;             /* busy slots */
    char tmpdir[PATH_MAX];   /* workers' JSON files and generated traces */
    struct ev_loop *loop;    /* libev's default loop */
    ev_timer bar_w;          /* redraws the progress bar */
    ev_signal sig_w[3];      /* SIGINT, SIGTERM, SIGHUP */
};

/* Runs sw->todo on a libev loop, appending one row per finished
 * configuration; returns 0 or sw->err.code. */
int sw_run(sw_run_state *sw);
/* Monotonic seconds. */
double sw_now(void);
/* Runs /proc/self/exe with argv to its end; returns its exit code (128 +
 * the signal if one killed it) and the first line of its stderr. */
int sw_run_sync(const char *const *argv, char *line /* OUT */, size_t cap);
/* Removes a directory of plain files (a generated trace). */
void sw_rm_dir(const char *dir);

#endif

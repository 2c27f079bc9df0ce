/*
 * cmds.h: the commands of the loom binary, one file each (cmd_<name>.c),
 * and the table main() dispatches through.
 *
 * Every command takes argv from its own name on (argv[0] = "run",
 * "sweep", ...) and returns the process exit code (docs/CLI.md): 0 ok,
 * 1 internal error, 2 usage or configuration, 3 trace, 4 simulation,
 * 5 output.  A new command is one new file and one line in cmds.c.
 */
#ifndef LOOM_CMDS_H
#define LOOM_CMDS_H

typedef struct loom_cmd {
    const char *name;               /* argv[1] that selects it */
    int (*fn)(int argc, char **argv); /* argv[0] is the name */
} loom_cmd;

/* { NULL, NULL }-terminated, in the order `loom --help` lists them. */
extern const loom_cmd loom_cmds[];

int loom_cmd_run(int argc, char **argv);          /* cmd_run.c */
/* run with ASTRA-sim's log as the default output: an ASTRA-sim command line */
int loom_cmd_run_astra(int argc, char **argv);    /* cmd_run.c */
int loom_cmd_trace(int argc, char **argv);        /* cmd_trace.c: info, validate */
int loom_cmd_convert_text(int argc, char **argv); /* cmd_convert_text.c; argv[0] "convert-text" */
int loom_cmd_topo(int argc, char **argv);         /* cmd_topo.c */
int loom_cmd_compare(int argc, char **argv);      /* cmd_compare.c */
int loom_cmd_gen(int argc, char **argv);          /* cmd_gen.c: gen micro */
int loom_cmd_gen_llm(int argc, char **argv);      /* cmd_gen_llm.c; argv[0] "llm" */
int loom_cmd_calibrate(int argc, char **argv);    /* cmd_calibrate.c */
/* The work of `loom calibrate --runs` (cmd_calibrate.c), the profile named
 * name (checked by the caller); an exit code. */
int loom_calibrate(const char *runs, const char *out, const char *name, const char *work,
                   int quiet);
/* `loom calibrate --kineto`: the profile fitted to a Kineto capture's
 * matrix-product kernels by shape (calibrate_kineto.c); an exit code. */
typedef struct loom_calk_opts {
    const char *kineto;  /* the capture */
    const char *device;  /* catalog device that ran it */
    const char *devices; /* extra catalog, or NULL */
    const char *dtype;   /* the GEMMs' math (compute-dtype) */
    const char *out;     /* the profile */
    const char *name;    /* its name (checked by the caller) */
    int quiet;
} loom_calk_opts;
int loom_calibrate_kineto(const loom_calk_opts *o);
int loom_cmd_devices(int argc, char **argv);      /* cmd_devices.c */
int loom_cmd_import(int argc, char **argv);       /* cmd_import.c: import pytorch */

/* The long options of `loom gen GENERATOR` as getopt_long reads them
 * ({NULL, ...}-ended), or NULL for an unknown generator: a sweep's gen
 * recipe names its flags by these exact names (getopt_long would also take
 * an abbreviation, e.g. --network-o for --network-out). */
struct option;
const struct option *loom_gen_options(const char *generator); /* cmd_gen.c */
const struct option *loom_gen_llm_options(void);              /* cmd_gen_llm.c */

/* `loom sweep SPEC [options]` (cmd_sweep.c; docs/SWEEP.md).  A sweep spec
 * names a base run and axes over --set keys and input files; each
 * configuration runs as a child `loom run` on a libev loop, one CSV row
 * appended and fsync'd per finished configuration, so a killed sweep
 * resumes where it stopped.  Exit: 0 every configuration has an ok row,
 * 4 some row is not ok, 2 usage or spec error, 5 the CSV cannot be
 * written, 130/143 interrupted by SIGINT/SIGTERM. */
int loom_cmd_sweep(int argc, char **argv);

#endif

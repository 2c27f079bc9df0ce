#include "cmds.h"

/*
 * cmd_sweep.c: `loom sweep SPEC [options]` (docs/SWEEP.md): its options
 * and help, and the order of the work: read and check the spec
 * (sweep_spec.c, sweep_check.c), open and read back the CSV
 * (sweep_csv.c), list this shard's configurations not yet done, run them
 * (sweep_run.c), and sum up.  sweep_int.h maps the parts.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cliutil.h"
#include "sweep_int.h"

typedef struct sw_opts {
    const char *spec;  /* SPEC.yaml */
    const char *out;   /* --out, or NULL */
    long jobs;         /* -j */
    long shard_k;      /* --shard K/N: this shard, 0-based */
    long shard_n;      /* and how many */
    double timeout;    /* --timeout seconds; 0: none */
    int dry;           /* --dry-run */
    int quiet;         /* --quiet */
    int retry;         /* --retry-failed */
} sw_opts;

static void sweep_help(FILE *o)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    fprintf(o,
            "usage: loom sweep SPEC.yaml --out RESULTS.csv [options]\n"
            "       loom sweep SPEC.yaml --dry-run [--out RESULTS.csv] [--shard K/N]\n"
            "\n"
            "Runs every configuration of a sweep spec (docs/SWEEP.md): a base run (a trace\n"
            "or a `loom gen` recipe) and axes over --set keys, input files and generator\n"
            "flags, combined as a cartesian product, with zip groups whose lists advance\n"
            "together.  A `loom gen llm` recipe runs on the system file its generator\n"
            "writes unless the spec names one.  Each configuration runs as a child\n"
            "`loom run`; one CSV row is appended (and fsync'd) as each finishes, in\n"
            "completion order.  Rerunning the same command resumes: configurations whose\n"
            "rows are already in the CSV are skipped, and a partial last line left by a\n"
            "killed sweep is dropped first.\n"
            "\n"
            "options:\n"
            "  -o, --out FILE        the results CSV (required unless --dry-run); created\n"
            "                        with a header row when missing, else appended to\n"
            "  -j, --jobs N          worker processes at once, N >= 1 (default: the online\n"
            "                        CPUs, %ld here)\n"
            "      --shard K/N       run only configurations whose index i has i mod N = K;\n"
            "                        K is 0-based, 0 <= K < N (default 0/1: all)\n"
            "      --timeout SECONDS wall-clock seconds one configuration may run before it\n"
            "                        is killed and recorded with status \"timeout\"\n"
            "                        (default 0: no limit)\n"
            "      --retry-failed    run again the configurations whose rows are not \"ok\"\n"
            "                        (their rows are removed from the CSV first)\n"
            "      --dry-run         list this shard's configurations, one per line: index,\n"
            "                        key, axis values (and \"done\" when --out has its row);\n"
            "                        checks the spec, runs nothing\n"
            "  -q, --quiet           no progress bar, warnings or summary on stderr\n"
            "  -h, --help            this help\n"
            "\n"
            "CSV columns: key, one per axis, status (ok, failed, crashed, timeout),\n"
            "exit_code, ranks, step_time_ns, compute/exposed_comm/idle mean and max over\n"
            "ranks (ns), error (first line of the worker's stderr), spec (hash of the base\n"
            "run and axis names).  The progress bar is drawn on stderr only when it is a\n"
            "terminal.\n"
            "\n"
            "exit codes: 0 every configuration has an ok row, 4 every configuration has a\n"
            "row but some are not ok, 2 usage or spec error, 5 the CSV cannot be written,\n"
            "130/143 interrupted by SIGINT/SIGTERM (finished rows are kept).\n",
            cpus > 0 ? cpus : 1);
}

/* A decimal integer.  Not loom_opt_int: sweep's messages name what the
 * number means (workers, K/N), and K and N are read from one argument. */
static int parse_count(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

/* --shard K/N; a usage error (2) or 0. */
static int parse_shard(const char *arg, sw_opts *o)
{
    const char *slash = strchr(arg, '/');
    char kbuf[32];
    if (slash == NULL || (size_t)(slash - arg) >= sizeof kbuf)
        return loom_usage("sweep", "--shard %s: expected K/N, e.g. 0/4 (K is 0-based)", arg);
    memcpy(kbuf, arg, (size_t)(slash - arg));
    kbuf[slash - arg] = '\0';
    if (parse_count(kbuf, &o->shard_k) < 0 || parse_count(slash + 1, &o->shard_n) < 0 ||
        o->shard_n < 1 || o->shard_k < 0 || o->shard_k >= o->shard_n)
        return loom_usage("sweep", "--shard %s: expected K/N with N >= 1 and 0 <= K < N (K is "
                                   "0-based)", arg);
    return 0;
}

/* --timeout SECONDS (0: none; a fraction allowed); a usage error (2) or 0. */
static int parse_timeout(const char *arg, double *out)
{
    char *end;
    errno = 0;
    double t = strtod(arg, &end);
    if (errno || end == arg || *end || !(t >= 0) || t > 1e9)
        return loom_usage("sweep", "--timeout %s: expected seconds >= 0 (0: no limit)", arg);
    *out = t;
    return 0;
}

/* The command line into o: -1 to go on, else the exit code (help: 0). */
static int parse_opts(int argc, char **argv, sw_opts *o /* OUT */)
{
    enum { O_SHARD = 256, O_DRY, O_TIMEOUT, O_RETRY };
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"jobs", required_argument, NULL, 'j'},
        {"shard", required_argument, NULL, O_SHARD},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"retry-failed", no_argument, NULL, O_RETRY},
        {"dry-run", no_argument, NULL, O_DRY},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (sw_opts){.jobs = sysconf(_SC_NPROCESSORS_ONLN), .shard_n = 1};
    if (o->jobs < 1)
        o->jobs = 1;
    optind = 1;
    opterr = 0;
    int c, rc;
    while ((c = getopt_long(argc, argv, ":o:j:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o->out = optarg; break;
        case 'j':
            if (parse_count(optarg, &o->jobs) < 0 || o->jobs < 1 || o->jobs > 4096)
                return loom_usage("sweep", "-j %s: expected a number of workers, 1 to 4096",
                                  optarg);
            break;
        case O_SHARD:
            if ((rc = parse_shard(optarg, o)) != 0)
                return rc;
            break;
        case O_TIMEOUT:
            if ((rc = parse_timeout(optarg, &o->timeout)) != 0)
                return rc;
            break;
        case O_RETRY: o->retry = 1; break;
        case O_DRY: o->dry = 1; break;
        case 'q': o->quiet = 1; break;
        case 'h': sweep_help(stdout); return 0;
        case ':': return loom_usage("sweep", "option '%s' needs a value", argv[optind - 1]);
        default: return loom_usage("sweep", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return loom_usage("sweep", "%s",
                          "expects a sweep spec: loom sweep SPEC.yaml --out RESULTS.csv");
    if (optind + 1 < argc)
        return loom_usage("sweep", "unexpected argument '%s'", argv[optind + 1]);
    if (!o->dry && o->out == NULL)
        return loom_usage("sweep", "%s", "needs --out RESULTS.csv (or --dry-run)");
    o->spec = argv[optind];
    return -1;
}

static int cmp_key(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every configuration's key.  Distinct values make distinct keys unless
 * FNV-1a collides: two equal keys are an internal error. */
static uint64_t *all_keys(const sw_spec *s, loom_err *err)
{
    int *pos = loom_xcalloc((size_t)s->ngroups, sizeof *pos);
    uint64_t *keys = loom_xmalloc((size_t)s->nconf * sizeof *keys);
    uint64_t *sorted = loom_xmalloc((size_t)s->nconf * sizeof *sorted);
    for (long long i = 0; i < s->nconf; i++) {
        sw_conf_pos(s, i, pos);
        sorted[i] = keys[i] = sw_conf_key(s, pos);
    }
    qsort(sorted, (size_t)s->nconf, sizeof *sorted, cmp_key);
    for (long long i = 1; i < s->nconf; i++)
        if (sorted[i] == sorted[i - 1])
            loom_err_set(err, LOOM_EINTERNAL, "%s: two configurations hash to key %016llx",
                         s->path, (unsigned long long)sorted[i]);
    free(sorted);
    free(pos);
    return keys;
}

/* --dry-run: this shard's configurations, one line each, with "done" (or
 * "done (not ok)") where the CSV has the row. */
static void dry_list(const sw_spec *s, const sw_csv *rd, const uint64_t *keys, const sw_opts *o)
{
    int *pos = loom_xcalloc((size_t)s->ngroups, sizeof *pos);
    sbuf line = {0};
    for (long long i = o->shard_k; i < s->nconf; i += o->shard_n) {
        const sw_done *d = sw_csv_find(rd, keys[i]);
        sw_conf_pos(s, i, pos);
        line.n = 0;
        sw_conf_describe(s, pos, &line);
        printf("%lld %016llx %s%s\n", i, (unsigned long long)keys[i], line.p,
               d ? (d->ok ? " done" : " done (not ok)") : "");
    }
    free(line.p);
    free(pos);
}

static void summary(const sw_spec *s, const sw_opts *o, const sw_run_state *sw)
{
    long long bad = sw->n_failed + sw->n_timeout + sw->n_crashed;
    if (o->dry)
        fprintf(stderr, "loom sweep: %lld configuration%s in shard %ld/%ld of %lld; %lld "
                        "already in %s\n", sw->total, sw->total == 1 ? "" : "s", o->shard_k,
                o->shard_n, s->nconf, sw->skipped, o->out ? o->out : "(no --out)");
    else
        fprintf(stderr, "loom sweep: %s%lld configuration%s (shard %ld/%ld of %lld): %lld run "
                        "(%lld ok, %lld failed, %lld crashed, %lld timeout), %lld already in "
                        "%s; %.1f s\n", sw->interrupted ? "interrupted: " : "", sw->total,
                sw->total == 1 ? "" : "s", o->shard_k, o->shard_n, s->nconf,
                sw->n_ok + bad, sw->n_ok, sw->n_failed, sw->n_crashed, sw->n_timeout,
                sw->skipped, o->out, sw_now() - sw->t0);
}

int loom_cmd_sweep(int argc, char **argv)
{
    sw_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    loom_set_quiet(o.quiet);

    loom_err err = {0};
    sw_spec spec;
    rc = sw_spec_load(&spec, o.spec, &err);
    if (rc == 0)
        rc = sw_spec_check(&spec, o.quiet, &err);
    if (rc < 0) {
        sw_spec_free(&spec);
        return loom_fail(&err);
    }

    /* the CSV: lock it, drop a torn last line, read the rows already there */
    int fd = -1;
    sw_csv rd = {.s = &spec, .path = o.out, .retry = o.retry, .err = &err};
    if (o.out && !o.dry)
        fd = sw_csv_open(&rd, o.quiet);
    else if (o.out)
        sw_csv_load(&rd, -1, 0, o.quiet);
    sw_run_state sw = {.spec = &spec, .out = o.out, .outfd = fd, .jobs = (int)o.jobs,
                       .timeout = o.timeout, .bar = !o.quiet && !o.dry && isatty(2),
                       .t0 = sw_now()};
    uint64_t *keys = err.code ? NULL : all_keys(&spec, &err);
    if (!err.code) {
        sw_csv_plan(&rd, keys, o.shard_k, o.shard_n, &sw);
        if (o.dry)
            dry_list(&spec, &rd, keys, &o);
    }
    free(keys);
    if (!err.code && !o.dry && sw_run(&sw) < 0)
        err = sw.err;
    free(sw.todo);
    if (!err.code && !o.quiet)
        summary(&spec, &o, &sw);
    if (!err.code) {
        if (sw.interrupted)
            rc = 128 + sw.interrupted;
        else if (!o.dry && (sw.n_failed + sw.n_timeout + sw.n_crashed + sw.old_bad) > 0)
            rc = 4;
    }
    if (fd >= 0)
        close(fd);
    sw_csv_free(&rd);
    sw_spec_free(&spec);
    if (err.code)
        return loom_fail(&err);
    return rc;
}

/*
 * cmd_calibrate.c: `loom calibrate`, a software-stack profile fitted to
 * measured runs (docs/VALIDATION.md, "Stack profiles").
 *
 * Input: a CSV (read with libcsv) with the columns id, seconds, network
 * and gen: a run's name, its measured seconds per iteration, the network
 * file (relative paths are relative to the CSV's folder) and the `loom gen
 * llm` flags that describe it (separated by spaces).
 *
 * Each run is generated once and replayed twice, with every compute node's
 * time scaled by 1 and by 2, which gives the line through both points,
 *     T_i(s) = a_i + b_i s,   a_i = 2 T_i(1) - T_i(2),   b_i = T_i(2) - T_i(1),
 * a step that is compute-bound in part b_i and not at all in a_i.  The
 * profile's compute-time-scale s minimises the squared relative errors,
 *     s = sum (b_i/m_i)(1 - a_i/m_i) / sum (b_i/m_i)^2     (m_i measured),
 * and, with three runs or more, a second fit adds step-overhead-us c, time
 * per step outside the trace (T_i = a_i + b_i s + c); it is kept only when
 * it predicts the runs left out better (calibrate_fit.c).  Leave-one-out
 * predicts each run with the fit to the others, and a third replay of
 * every run at s reports the fit as loom really replays it (T is linear in
 * s only while the schedule's overlaps keep their shape).  The profile is
 * written as YAML that `gen llm --stack FILE` and the system key `stack`
 * read (core/sim/config_stack.c).  `--kineto` fits the same key to
 * measured kernels by shape instead (calibrate_kineto.c).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "cmds.h"

#include <csv.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calibrate_fit.h"
#include "cliutil.h"
#include "config.h"
#include "outfile.h"
#include "replay.h"
#include "sbuf.h"

typedef struct cal_run {
    char *id, *network, *gen; /* from the CSV; network resolved */
    double measured;          /* seconds */
    double t1, t2, ts;        /* replayed seconds at scale 1, 2 and the fit */
} cal_run;

typedef struct cal_csv {
    const char *path;
    cal_run *runs;
    int n, cap;
    int col[4];   /* header position of id, seconds, network, gen */
    int row, field;
    char *cell[4];
    loom_err *err;
} cal_csv;

static const char *const cal_cols[4] = {"id", "seconds", "network", "gen"};

/* A run id names a folder and a profile name is written bare into YAML:
 * letters, digits, '.', '_', '-', not starting with '.'. */
static int plain_name(const char *s)
{
    return *s && s[0] != '.' &&
           !s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")];
}

static void cal_field(void *s, size_t len, void *arg)
{
    cal_csv *c = arg;
    char *v = loom_xmalloc(len + 1);
    memcpy(v, s, len);
    v[len] = '\0';
    if (c->row == 0) {
        for (int k = 0; k < 4; k++)
            if (strcmp(v, cal_cols[k]) == 0)
                c->col[k] = c->field;
        free(v);
    } else {
        int k;
        for (k = 0; k < 4 && c->col[k] != c->field; k++)
            ;
        if (k < 4) {
            free(c->cell[k]);
            c->cell[k] = v;
        } else {
            free(v);
        }
    }
    c->field++;
}

/* The first gen flag calibrate must own (-o/--out, -h/--help), copied
 * into buf, or NULL. */
static const char *owned_flag(const char *gen, char *buf, size_t n)
{
    char *g = loom_xstrdup(gen);
    const char *hit = NULL;
    for (char *sv, *t = strtok_r(g, " \t", &sv); t && !hit; t = strtok_r(NULL, " \t", &sv))
        if (!strcmp(t, "-h") || !strcmp(t, "--help") || !strncmp(t, "-o", 2) ||
            !strcmp(t, "--out") || !strncmp(t, "--out=", 6)) {
            snprintf(buf, n, "%s", t);
            hit = buf;
        }
    free(g);
    return hit;
}

/* Takes the row's cells (id, network, gen) into a new run. */
static void add_run(cal_csv *c, double measured)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 8;
        c->runs = loom_xrealloc(c->runs, (size_t)c->cap * sizeof *c->runs);
    }
    cal_run *r = &c->runs[c->n++];
    memset(r, 0, sizeof *r);
    r->id = c->cell[0];
    r->network = c->cell[2];
    r->gen = c->cell[3];
    r->measured = measured;
    c->cell[0] = c->cell[2] = c->cell[3] = NULL;
}

static void cal_record(int term, void *arg)
{
    (void)term;
    cal_csv *c = arg;
    if (c->row++ == 0 || c->err->code) {
        for (int k = 0; k < 4 && !c->err->code; k++)
            if (c->col[k] < 0)
                loom_err_set(c->err, LOOM_EUSAGE, "%s: the header lacks the column '%s' (columns: "
                             "id, seconds, network, gen)", c->path, cal_cols[k]);
        c->field = 0;
        return;
    }
    char *end = NULL;
    double m = c->cell[1] ? strtod(c->cell[1], &end) : 0;
    const char *id = c->cell[0], *owned = NULL;
    int dup = 0;
    for (int i = 0; id && i < c->n; i++)
        dup |= strcmp(c->runs[i].id, id) == 0;
    char flag[64];
    if (c->cell[3])
        owned = owned_flag(c->cell[3], flag, sizeof flag);
    if (!id || !c->cell[2] || !c->cell[3] || !end || *end || !(m > 0) || !isfinite(m))
        loom_err_set(c->err, LOOM_EUSAGE, "%s: row %d: needs an id, seconds > 0, a network and "
                     "gen flags", c->path, c->row);
    else if (!plain_name(id))
        loom_err_set(c->err, LOOM_EUSAGE, "%s: row %d: id '%s': letters, digits, '.', '_' and "
                     "'-' only (it names the run's folder)", c->path, c->row, id);
    else if (dup)
        loom_err_set(c->err, LOOM_EUSAGE, "%s: row %d: id '%s' twice", c->path, c->row, id);
    else if (owned)
        loom_err_set(c->err, LOOM_EUSAGE, "%s: row %d: gen flag '%s': calibrate chooses where "
                     "each run is written (and --help writes nothing)", c->path, c->row, owned);
    else
        add_run(c, m);
    for (int k = 0; k < 4; k++) {
        free(c->cell[k]);
        c->cell[k] = NULL;
    }
    c->field = 0;
}

/* Reads the runs; network paths relative to the CSV's folder. */
static int read_runs(const char *path, cal_csv *c, loom_err *err)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    c->err = err;
    for (int k = 0; k < 4; k++)
        c->col[k] = -1;
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return loom_err_set(err, LOOM_EIO, "%s: cannot open: %s", path, strerror(errno));
    sbuf tb = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0)
        sb_add(&tb, chunk, got);
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(tb.p);
        return loom_err_set(err, LOOM_EIO, "%s: cannot read: %s", path, strerror(errno));
    }
    char *text = tb.p ? tb.p : loom_xstrdup("");
    size_t len = tb.n;
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL);
    if (csv_parse(&p, text, len, cal_field, cal_record, c) != len && !err->code)
        loom_err_set(err, LOOM_EUSAGE, "%s: not CSV: %s", path, csv_strerror(csv_error(&p)));
    if (!err->code && csv_fini(&p, cal_field, cal_record, c) != 0)
        loom_err_set(err, LOOM_EUSAGE, "%s: not CSV: %s", path, csv_strerror(csv_error(&p)));
    csv_free(&p);
    free(text);
    for (int k = 0; k < 4; k++)
        free(c->cell[k]);
    if (!err->code && c->n == 0)
        loom_err_set(err, LOOM_EUSAGE, "%s: no runs", path);
    const char *slash = strrchr(path, '/');
    for (int i = 0; !err->code && slash && i < c->n; i++) {
        cal_run *r = &c->runs[i];
        if (r->network[0] == '/')
            continue;
        sbuf b = {0};
        sb_printf(&b, "%.*s/%s", (int)(slash - path), path, r->network);
        free(r->network);
        r->network = b.p;
    }
    return err->code ? err->code : 0;
}

static void free_runs(cal_csv *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->runs[i].id);
        free(c->runs[i].network);
        free(c->runs[i].gen);
    }
    free(c->runs);
}

/* gen llm with the run's flags into DIR/step; 0 or an exit code. */
static int gen_run(const cal_run *r, const char *prefix)
{
    char *copy = loom_xstrdup(r->gen);
    char *argv[256];
    int argc = 0;
    argv[argc++] = "llm";
    for (char *sv, *t = strtok_r(copy, " \t", &sv); t; t = strtok_r(NULL, " \t", &sv)) {
        if (argc == 250) {
            free(copy);
            return loom_usage("calibrate", "run '%s': more than 248 gen flags", r->id);
        }
        argv[argc++] = t;
    }
    argv[argc++] = "--out";
    argv[argc++] = (char *)prefix;
    argv[argc++] = "-q";
    argv[argc] = NULL;
    int rc = loom_cmd_gen_llm(argc, argv);
    free(copy);
    return rc;
}

/* The step in seconds with every compute node's time x scale (the
 * system file's own stack profile, if any, is left out). */
static int replay_at(const cal_run *r, const char *prefix, double scale, double *sec, loom_err *err)
{
    char sys[4200];
    snprintf(sys, sizeof sys, "%s.system.yaml", prefix);
    loom_cfg_files f = {.network = r->network, .system = sys};
    loom_cfg cfg;
    if (loom_cfg_load(&cfg, &f, err) < 0)
        return err->code;
    loom_cfg_drop_stack(&cfg);
    cfg.compute_scale = scale;
    loom_replay_opts ro = {.prefix = prefix, .max_stuck = 8};
    loom_result res;
    int rc = loom_replay(&cfg, &ro, &res, err);
    if (rc == 0) {
        *sec = (double)res.step_time / SIM_PS_PER_S;
        loom_result_free(&res);
    }
    loom_cfg_free(&cfg);
    return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

/* Mean and max |e| over n errors. */
static void err_stats(const double *e, int n, double *mean, double *max)
{
    *mean = *max = 0;
    for (int i = 0; i < n; i++) {
        *mean += fabs(e[i]) / n;
        *max = fabs(e[i]) > *max ? fabs(e[i]) : *max;
    }
}

/* The profile's YAML: the fit (s and, when kept, c), the runs and both
 * fits' leave-one-out errors as comments, then `fit`. */
static char *profile_text(const char *name, const char *runs, const cal_run *r, int n,
                          const cal_fit *one, const cal_fit *two, int keep, const double *loo1,
                          const double *loo2)
{
    sbuf b = {0};
    cal_fit f = keep ? *two : *one;
    const double *loo = keep ? loo2 : loo1;
    double *e = loom_xcalloc((size_t)n, sizeof *e);
    for (int i = 0; i < n; i++)
        e[i] = (r[i].ts + f.c) / r[i].measured - 1;
    double mae, mx, lmae, lmx, m1, x1, m2, x2;
    err_stats(e, n, &mae, &mx);
    err_stats(loo, n, &lmae, &lmx);
    err_stats(loo1, n, &m1, &x1);
    err_stats(loo2, n, &m2, &x2);
    sb_printf(&b, "# A software-stack profile written by `loom calibrate --runs %s`\n"
                  "# (docs/VALIDATION.md, \"Stack profiles\"): every compute node's modelled\n"
                  "# time x compute-time-scale%s.  Per run: measured s, replayed s at the\n"
                  "# profile, error; leave-one-out error (the profile fitted without the run).\n",
              runs, keep ? ", and step-overhead-us after each\n# rank's last node" : "");
    for (int i = 0; i < n; i++) { /* one run leaves none out: no loo column */
        sb_printf(&b, "#   %-16s %10.4f %10.4f %+7.2f%%", r[i].id, r[i].measured,
                  r[i].ts + f.c, 100 * e[i]);
        if (n > 1)
            sb_printf(&b, "  loo %+7.2f%%", 100 * loo[i]);
        sb_str(&b, "\n");
    }
    if (n >= 3) /* both fits, and why one was kept */
        sb_printf(&b, "# scale alone: %.6f, leave-one-out mean %.2f%%, max %.2f%%\n"
                      "# scale %.6f and %.1f us a step: leave-one-out mean %.2f%%, max %.2f%%\n"
                      "# kept: %s\n",
                  one->s, 100 * m1, 100 * x1, two->s, two->c * 1e6, 100 * m2, 100 * x2,
                  keep ? "the step overhead (it predicts the runs left out better)"
                  : two->c > 0 ? "the scale alone (the overhead does not predict the runs "
                                 "left out better)"
                               : "the scale alone (the overhead fits as zero)");
    sb_printf(&b, "stack: %s\ncompute-time-scale: %.6f\n", name, f.s);
    if (keep)
        sb_printf(&b, "step-overhead-us: %.1f\n", f.c * 1e6);
    sb_printf(&b, "fit:\n  runs: %d\n  mean-abs-error: %.4f\n  max-abs-error: %.4f\n", n, mae,
              mx);
    if (n > 1)
        sb_printf(&b, "  loo-mean-abs-error: %.4f\n  loo-max-abs-error: %.4f\n", lmae, lmx);
    free(e);
    return b.p;
}

/* One run: generated, replayed at x1 and x2; 0 or an exit code. */
static int measure_run(cal_run *r, const char *dir, loom_err *err)
{
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "%s/%s/step", dir, r->id);
    int rc = gen_run(r, prefix);
    if (rc != 0)
        return loom_err_set(err, rc == 2 ? LOOM_EUSAGE : -rc, "run '%s': gen llm %s failed (exit %d)", r->id,
                            r->gen, rc);
    if ((rc = replay_at(r, prefix, 1, &r->t1, err)) < 0 ||
        (rc = replay_at(r, prefix, 2, &r->t2, err)) < 0)
        return rc;
    return 0;
}

int loom_calibrate(const char *runs, const char *out, const char *name, const char *work,
                   int quiet)
{
    loom_err err = {0};
    loom_outset *set = loom_outset_create();
    int k = loom_outset_add(set, out, "-o");
    loom_outset_input(set, runs, "--runs");
    cal_csv c;
    memset(&c, 0, sizeof c);
    char tmp[64] = "";
    int rc = loom_outset_check(set, &err);
    if (rc == 0)
        rc = read_runs(runs, &c, &err);
    struct stat wst;
    int we = work && stat(work, &wst) != 0 ? errno : 0;
    if (rc == 0 && work && (we || !S_ISDIR(wst.st_mode)))
        rc = loom_err_set(&err, LOOM_EUSAGE, "--work %s: %s", work,
                          we ? strerror(we) : "not a folder");
    if (rc == 0 && work == NULL) {
        snprintf(tmp, sizeof tmp, "/tmp/loom-calibrate-XXXXXX");
        if (mkdtemp(tmp) == NULL)
            rc = loom_err_set(&err, LOOM_EIO, "cannot make a work folder: %s", strerror(errno));
        work = tmp;
    }
    for (int i = 0; rc == 0 && i < c.n; i++) {
        if (!quiet)
            fprintf(stderr, "calibrate: %s (%d of %d)\n", c.runs[i].id, i + 1, c.n);
        rc = measure_run(&c.runs[i], work, &err);
    }
    cal_point *pt = loom_xcalloc((size_t)(c.n ? c.n : 1), sizeof *pt);
    double *loo1 = loom_xcalloc((size_t)(c.n ? c.n : 1), sizeof *loo1);
    double *loo2 = loom_xcalloc((size_t)(c.n ? c.n : 1), sizeof *loo2);
    for (int i = 0; i < c.n; i++)
        pt[i] = (cal_point){2 * c.runs[i].t1 - c.runs[i].t2, c.runs[i].t2 - c.runs[i].t1,
                            c.runs[i].measured};
    cal_fit one = {0, 0}, two = {0, 0};
    int keep = rc == 0 ? cal_choose(pt, c.n, &one, &two, loo1, loo2) : 0;
    double s = keep ? two.s : one.s;
    if (rc == 0 && !(s > 0 && s <= 1000))
        rc = loom_err_set(&err, LOOM_EUSAGE, "%s: the fitted compute-time-scale %.4g is out of "
                          "(0, 1000]: the runs' measured times are not explained by compute",
                          runs, s);
    if (rc == 0 && keep && two.c > 1000)
        rc = loom_err_set(&err, LOOM_EUSAGE, "%s: the fitted step overhead %.4g s is over "
                          "1000 s: the runs' measured times are not explained by their steps",
                          runs, two.c);
    for (int i = 0; rc == 0 && i < c.n; i++) {
        char prefix[4200];
        snprintf(prefix, sizeof prefix, "%s/%s/step", work, c.runs[i].id);
        rc = replay_at(&c.runs[i], prefix, s, &c.runs[i].ts, &err);
    }
    if (rc == 0) {
        char *text = profile_text(name, runs, c.runs, c.n, &one, &two, keep, loo1, loo2);
        if (!quiet)
            fputs(text, stdout);
        rc = loom_outset_text(set, k, text, strlen(text), &err);
        free(text);
        if (rc == 0)
            rc = loom_outset_commit(set, &err);
    }
    if (tmp[0])
        nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(pt);
    free(loo1);
    free(loo2);
    free_runs(&c);
    loom_outset_free(set);
    return rc < 0 ? loom_fail(&err) : 0;
}

static void cal_help(FILE *o)
{
    fputs("usage: loom calibrate --runs FILE.csv -o PROFILE.yaml [--name NAME] [--work DIR] [-q]\n"
          "       loom calibrate --kineto TRACE.json[.gz] --device NAME --dtype T -o PROFILE.yaml\n"
          "                      [--devices FILE] [--name NAME] [-q]\n"
          "\n"
          "Fits a software-stack profile (docs/VALIDATION.md, \"Stack profiles\") and writes\n"
          "PROFILE.yaml for `gen llm --stack PROFILE.yaml` (or the system key `stack`),\n"
          "printing the fit and the leave-one-out error.\n"
          "\n"
          "--runs: measured training runs.  Each run of the CSV (columns id, seconds,\n"
          "network, gen: its measured seconds per iteration, a network file relative to the\n"
          "CSV, and the `loom gen llm` flags that describe it) is generated and replayed\n"
          "with compute times x1 and x2; the scale minimises the squared relative errors over\n"
          "the runs, and each run is replayed once more at it.  With three runs or more, a\n"
          "second fit adds step-overhead-us (time a step outside the trace, after each\n"
          "rank's last node); the profile keeps it only when it predicts each run left out\n"
          "better than the scale alone.\n"
          "\n"
          "--kineto: measured kernels by shape.  In a torch.profiler capture taken with\n"
          "record_shapes=True, every kernel a matrix product launched (aten::mm, addmm, bmm,\n"
          "baddbmm, matmul, linear, by their Input Dims) is compared with the kernel model's\n"
          "time for that shape on --device at --dtype; the scale minimises the squared\n"
          "relative errors over the ops.  With 10 or more launches the GPU waited for, the\n"
          "profile also gets host-launch-us, the median interval between such consecutive\n"
          "launches of one host thread (docs/MODEL.md 12, \"The host\").\n"
          "\n"
          "  --runs FILE      the measured runs (CSV)\n"
          "  --kineto FILE    the capture (Kineto JSON, gzip or plain)\n"
          "  --device NAME    with --kineto: the catalog device it ran on (loom devices)\n"
          "  --devices FILE   with --kineto: an extra device catalog\n"
          "  --dtype T        with --kineto: the GEMMs' math: bf16, fp16, fp8, tf32 (fp32\n"
          "                   inputs with TF32 allowed) or fp32\n"
          "  -o, --out FILE   the profile (YAML)\n"
          "  --name NAME      the profile's name (default: FILE's name without .yaml)\n"
          "  --work DIR       with --runs: where the runs are generated (default: a\n"
          "                   temporary folder, removed at the end)\n"
          "  -q, --quiet      no table\n"
          "\n"
          "exit: 0 ok, 2 usage, a bad CSV, gen flags gen llm refuses or an unknown device,\n"
          "3 a capture that cannot be read or has no shaped matrix product, 4-5 a run that\n"
          "cannot be replayed or a profile that cannot be written.\n",
          o);
}

int loom_cmd_calibrate(int argc, char **argv)
{
    enum { O_KINETO = 256, O_DEVICE, O_DEVICES, O_DTYPE };
    static const struct option opts[] = {
        {"runs", required_argument, NULL, 'r'}, {"out", required_argument, NULL, 'o'},
        {"name", required_argument, NULL, 'n'}, {"work", required_argument, NULL, 'w'},
        {"quiet", no_argument, NULL, 'q'},      {"help", no_argument, NULL, 'h'},
        {"kineto", required_argument, NULL, O_KINETO},
        {"device", required_argument, NULL, O_DEVICE},
        {"devices", required_argument, NULL, O_DEVICES},
        {"dtype", required_argument, NULL, O_DTYPE},
        {NULL, 0, NULL, 0},
    };
    const char *runs = NULL, *out = NULL, *name = NULL, *work = NULL;
    loom_calk_opts ko = {0};
    int quiet = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'r': runs = optarg; break;
        case 'o': out = optarg; break;
        case 'n': name = optarg; break;
        case 'w': work = optarg; break;
        case 'q': quiet = 1; break;
        case O_KINETO: ko.kineto = optarg; break;
        case O_DEVICE: ko.device = optarg; break;
        case O_DEVICES: ko.devices = optarg; break;
        case O_DTYPE: ko.dtype = optarg; break;
        case 'h': cal_help(stdout); return 0;
        case ':': return loom_usage("calibrate", "option '%s' needs a value", argv[optind - 1]);
        default: return loom_usage("calibrate", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return loom_usage("calibrate", "unexpected argument '%s'", argv[optind]);
    if (!out || !!runs == !!ko.kineto)
        return loom_usage("calibrate", "%s", "needs --runs FILE.csv or --kineto TRACE (one of "
                          "them) and -o PROFILE.yaml");
    if (runs && (ko.device || ko.devices || ko.dtype))
        return loom_usage("calibrate", "%s", "--device, --devices and --dtype go with --kineto");
    char nm[256]; /* the profile's name: --name, else the file's without .yaml */
    if (name == NULL) {
        const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
        snprintf(nm, sizeof nm, "%.*s", (int)strcspn(base, "."), base);
        name = nm;
    }
    if (!plain_name(name))
        return loom_usage("calibrate", "profile name '%s': letters, digits, '.', '_' and '-' "
                          "only (it is written bare into the YAML; choose one with --name)", name);
    if (runs)
        return loom_calibrate(runs, out, name, work, quiet);
    if (!ko.device || !ko.dtype)
        return loom_usage("calibrate", "%s", "--kineto needs --device NAME and --dtype T (the "
                          "device the capture ran on, the GEMMs' math)");
    if (work)
        return loom_usage("calibrate", "%s", "--work goes with --runs");
    ko.out = out;
    ko.name = name;
    ko.quiet = quiet;
    return loom_calibrate_kineto(&ko);
}

/*
 * End-to-end tests of `loom sweep`: run the binary on small specs over the
 * shipped examples and check the CSV it writes.  Step times are checked
 * against `loom run` on the same settings and, for the ring all-reduce,
 * against the closed form of docs/MODEL.md written out here.  The CSV is
 * read back with the small RFC 4180 reader below, not with the library
 * loom writes it with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loomrun.h"

#define EX SRCDIR "/examples"
#define RING EX "/allreduce_ring8"

static char tmpdir[256];
static char so_path[300], se_path[300]; /* where runs write stdout and stderr */

/* ---- helpers -------------------------------------------------------------- */

static char *tpath(const char *name)
{
    static char buf[64][512]; /* a ring: a path stays valid for 64 calls */
    static int k;
    char *p = buf[k++ % 64];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = '\0';
    fclose(f);
    return b;
}

/* ---- an RFC 4180 reader: records of fields -------------------------------- */

typedef struct csv {
    char ***rows; /* rows[r][f]; rows[0] is the header */
    int *nf;      /* fields per row */
    int n;        /* rows */
    int torn;     /* the text does not end in a newline */
} csv;

static csv csv_read(const char *path)
{
    csv c = {0};
    char *t = read_all(path);
    if (t == NULL)
        fail_msg("%s: cannot read", path);
    size_t len = strlen(t);
    c.torn = len > 0 && t[len - 1] != '\n';
    const char *p = t;
    while (*p) {
        char **f = NULL;
        int nf = 0;
        for (;;) { /* one field */
            char *v = malloc(strlen(p) + 1);
            size_t k = 0;
            if (*p == '"') {
                for (p++; *p; p++) {
                    if (*p == '"' && p[1] == '"')
                        v[k++] = *p++;
                    else if (*p == '"')
                        break;
                    else
                        v[k++] = *p;
                }
                if (*p != '"')
                    fail_msg("%s: unterminated quoted field", path);
                p++;
            } else
                while (*p && *p != ',' && *p != '\n' && *p != '\r')
                    v[k++] = *p++;
            v[k] = '\0';
            f = realloc(f, (size_t)(nf + 1) * sizeof *f);
            f[nf++] = v;
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == '\r')
                p++;
            if (*p == '\n')
                p++;
            break;
        }
        c.rows = realloc(c.rows, (size_t)(c.n + 1) * sizeof *c.rows);
        c.nf = realloc(c.nf, (size_t)(c.n + 1) * sizeof *c.nf);
        c.rows[c.n] = f;
        c.nf[c.n++] = nf;
    }
    free(t);
    return c;
}

static void csv_free(csv *c)
{
    for (int r = 0; r < c->n; r++) {
        for (int f = 0; f < c->nf[r]; f++)
            free(c->rows[r][f]);
        free(c->rows[r]);
    }
    free(c->rows);
    free(c->nf);
}

static int col(const csv *c, const char *name)
{
    for (int f = 0; f < c->nf[0]; f++)
        if (strcmp(c->rows[0][f], name) == 0)
            return f;
    fail_msg("no column %s", name);
    return -1;
}

/* Every row has the header's field count; returns the number of rows. */
static int check_shape(const csv *c)
{
    assert_true(c->n >= 1);
    assert_false(c->torn);
    for (int r = 1; r < c->n; r++)
        if (c->nf[r] != c->nf[0])
            fail_msg("row %d has %d fields, header %d", r, c->nf[r], c->nf[0]);
    return c->n - 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The keys --dry-run lists (second word of each line), sorted. */
static int dry_keys(const char *spec, const char *shard, char keys[][17], int cap)
{
    int rc = shard ? loomrun_run(tmpdir, "sweep", spec, "--dry-run", "--shard", shard, NULL)
                   : loomrun_run(tmpdir, "sweep", spec, "--dry-run", NULL);
    if (rc != 0)
        fail_msg("--dry-run: exit %d: %s", rc, loomrun_err);
    int n = 0;
    for (char *l = strtok(loomrun_out, "\n"); l; l = strtok(NULL, "\n")) {
        long long idx;
        char key[32];
        assert_int_equal(sscanf(l, "%lld %31s", &idx, key), 2);
        assert_int_equal(strlen(key), 16);
        assert_true(n < cap);
        memcpy(keys[n++], key, 17);
    }
    qsort(keys, (size_t)n, 17, (int (*)(const void *, const void *))strcmp);
    return n;
}

/* Sorted data rows of a CSV as lines, for comparing two sweeps. */
static int sorted_lines(const char *path, char ***out)
{
    char *t = read_all(path);
    assert_non_null(t);
    char **l = NULL;
    int n = 0;
    char *save;
    strtok_r(t, "\n", &save); /* header */
    for (char *s = strtok_r(NULL, "\n", &save); s; s = strtok_r(NULL, "\n", &save)) {
        l = realloc(l, (size_t)(n + 1) * sizeof *l);
        l[n++] = strdup(s);
    }
    free(t);
    qsort(l, (size_t)n, sizeof *l, cmp_str);
    *out = l;
    return n;
}

static void free_lines(char **l, int n)
{
    for (int i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

/* A spec over the 8-NPU ring all-reduce example, with axes appended. */
static const char *ring_spec(const char *name, const char *axes)
{
    char text[4096];
    snprintf(text, sizeof text,
             "workload: %s/all_reduce\nnetwork: %s/network.yml\nsystem: %s/system.json\n%s",
             RING, RING, RING, axes);
    const char *p = tpath(name);
    loomrun_write(p, text);
    return p;
}

/* ---- the closed form of a ring all-reduce (docs/MODEL.md) ---------------- */

/* p ranks, N bytes, link B bytes/s, hop latency L ns, endpoint delay d ns,
 * local memory M bytes/s, W waves (= splits with one active chunk): each of
 * the 2(p-1) steps takes W*(L + d) + (N/p)/B, and the p-1 reduce-scatter
 * steps add 3(N/p)/M for the reduction. */
static double ring_ar_ns(int p, double N, double B, double L, double d, double M, int W)
{
    double m = N / p;
    return (p - 1) * (W * (L + d) + m / B * 1e9 + 3 * m / M * 1e9) +
           (p - 1) * (W * (L + d) + m / B * 1e9);
}

/* ---- tests ---------------------------------------------------------------- */

/* Rows equal `loom run` on the same settings, and the ring rows equal the
 * closed form. */
static void test_rows_match_run(void **state)
{
    (void)state;
    const char *spec = ring_spec("small.yaml",
                                 "axes:\n"
                                 "  network.bandwidth[0]: [25, 50, 100]\n"
                                 "  system.preferred-dataset-splits: [1, 4]\n");
    const char *out = tpath("small.csv");
    int rc = loomrun_run(tmpdir, "sweep", spec, "-j", "2", "--out", out, "--quiet", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    assert_string_equal(loomrun_err, ""); /* --quiet: nothing on stderr */
    csv c = csv_read(out);
    assert_int_equal(check_shape(&c), 6);
    int cb = col(&c, "network.bandwidth[0]"), cs = col(&c, "system.preferred-dataset-splits");
    int cst = col(&c, "step_time_ns"), cstat = col(&c, "status");
    int ccm = col(&c, "compute_mean_ns"), cem = col(&c, "exposed_comm_mean_ns"),
        cex = col(&c, "exposed_comm_max_ns"), cim = col(&c, "idle_max_ns");
    for (int r = 1; r < c.n; r++) {
        char **f = c.rows[r];
        assert_string_equal(f[cstat], "ok");
        assert_string_equal(f[col(&c, "ranks")], "8");
        char s1[64], s2[64];
        snprintf(s1, sizeof s1, "network.bandwidth[0]=%s", f[cb]);
        snprintf(s2, sizeof s2, "system.preferred-dataset-splits=%s", f[cs]);
        rc = loomrun_run(tmpdir, "run", "-w", RING "/all_reduce", "-n", RING "/network.yml", "-s",
                      RING "/system.json", "--set", s1, "--set", s2, "--json", tpath("r.json"),
                      "-q", NULL);
        assert_int_equal(rc, 0);
        json_t *j = loomrun_json(tpath("r.json"));
        double run_ns = json_number_value(json_object_get(j, "step_time_ns"));
        /* the same number, to the last printed digit */
        assert_true(strtod(f[cst], NULL) == run_ns);
        json_t *r0 = json_array_get(json_object_get(j, "ranks"), 0);
        assert_true(fabs(strtod(f[cex], NULL) -
                         json_number_value(json_object_get(r0, "exposed_comm_ns"))) < 1e-6);
        json_decref(j);
        /* a lone all-reduce: every rank is exposed communication throughout */
        assert_true(strtod(f[ccm], NULL) == 0);
        assert_true(fabs(strtod(f[cem], NULL) - run_ns) < 1e-3);
        assert_true(strtod(f[cim], NULL) == 0);
        double want = ring_ar_ns(8, 1048576.0, strtod(f[cb], NULL) * 1073741824.0, 500, 10,
                                 1600e9, atoi(f[cs]));
        if (fabs(run_ns - want) > 0.002)
            fail_msg("bw %s splits %s: sweep %.3f ns, closed form %.3f ns", f[cb], f[cs], run_ns,
                     want);
    }
    csv_free(&c);
}

/* Over 1,024 ranks a run's JSON summarises its ranks (docs/REPORT.md): the
 * sweep reads the mean and max from rank_summary.  2,048 ranks of one ring
 * all-reduce: every rank is exposed communication for the whole step (the
 * closed form with 2,048 ranks), never computing nor idle. */
static void test_many_ranks_summary(void **state)
{
    (void)state;
    int rc = loomrun_run(tmpdir, "gen", "micro", "-c", "all_reduce", "-b", "1048576", "-r", "2048",
                         "-o", tpath("ar2048/ar"), "-q", NULL);
    assert_int_equal(rc, 0);
    loomrun_write(tpath("ring2048.yml"),
                  "topology: [ Ring ]\nnpus_count: [ 2048 ]\nbandwidth: [ 50 ]\nlatency: [ 500 ]\n");
    char text[4096];
    snprintf(text, sizeof text,
             "workload: %s\nnetwork: %s\nsystem: %s/system.json\n"
             "axes:\n  system.preferred-dataset-splits: [1]\n",
             tpath("ar2048/ar"), tpath("ring2048.yml"), RING);
    loomrun_write(tpath("big.yaml"), text);
    rc = loomrun_run(tmpdir, "sweep", tpath("big.yaml"), "--out", tpath("big.csv"), "--quiet", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    csv c = csv_read(tpath("big.csv"));
    assert_int_equal(check_shape(&c), 1);
    char **f = c.rows[1];
    assert_string_equal(f[col(&c, "status")], "ok");
    assert_string_equal(f[col(&c, "ranks")], "2048");
    double step = strtod(f[col(&c, "step_time_ns")], NULL);
    double want = ring_ar_ns(2048, 1048576.0, 50 * 1073741824.0, 500, 10, 1600e9, 1);
    if (fabs(step - want) > 0.002)
        fail_msg("sweep %.3f ns, closed form %.3f ns", step, want);
    assert_true(fabs(strtod(f[col(&c, "exposed_comm_mean_ns")], NULL) - step) < 1e-3);
    assert_true(fabs(strtod(f[col(&c, "exposed_comm_max_ns")], NULL) - step) < 1e-3);
    assert_true(strtod(f[col(&c, "compute_mean_ns")], NULL) == 0);
    assert_true(strtod(f[col(&c, "idle_max_ns")], NULL) == 0);
    csv_free(&c);
}

/* -j 1 and -j 3 write the same set of rows, byte for byte. */
static void test_jobs_same_rows(void **state)
{
    (void)state;
    const char *spec = ring_spec("j.yaml",
                                 "axes:\n"
                                 "  network.bandwidth[0]: [10, 20, 40, 80]\n"
                                 "  - system.all-reduce-implementation: [[ring], [direct], "
                                 "[halvingDoubling]]\n");
    /* a list under a mapping is not valid YAML: the spec is refused */
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "--out", tpath("j0.csv"), NULL), 2);
    spec = ring_spec("j.yaml",
                     "axes:\n"
                     "  network.bandwidth[0]: [10, 20, 40, 80]\n"
                     "  system.all-reduce-implementation: [[ring], [direct], [halvingDoubling]]\n"
                     "  system.preferred-dataset-splits: [1, 2]\n");
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "-j", "1", "--out", tpath("j1.csv"), "-q", NULL), 0);
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "-j", "3", "--out", tpath("j3.csv"), "-q", NULL), 0);
    char **a, **b;
    int na = sorted_lines(tpath("j1.csv"), &a), nb = sorted_lines(tpath("j3.csv"), &b);
    assert_int_equal(na, 24);
    assert_int_equal(nb, 24);
    for (int i = 0; i < na; i++)
        assert_string_equal(a[i], b[i]);
    free_lines(a, na);
    free_lines(b, nb);
    char *h1 = read_all(tpath("j1.csv")), *h3 = read_all(tpath("j3.csv"));
    assert_memory_equal(h1, h3, strcspn(h1, "\n") + 1); /* the same header */
    free(h1);
    free(h3);
}

/* Every configuration of spec appears in the CSV exactly once. */
static void assert_complete(const char *spec, const char *out, int expect)
{
    static char keys[4096][17];
    int n = dry_keys(spec, NULL, keys, 4096);
    assert_int_equal(n, expect);
    csv c = csv_read(out);
    assert_int_equal(check_shape(&c), expect);
    char **got = malloc(sizeof *got * (size_t)(c.n - 1));
    for (int r = 1; r < c.n; r++)
        got[r - 1] = c.rows[r][0];
    qsort(got, (size_t)(c.n - 1), sizeof *got, cmp_str);
    for (int i = 0; i < n; i++)
        assert_string_equal(got[i], keys[i]);
    free(got);
    csv_free(&c);
}

static int count_lines(const char *path)
{
    char *t = read_all(path);
    int n = 0;
    for (char *p = t; p && *p; p++)
        n += *p == '\n';
    free(t);
    return n;
}

/* SIGKILL the sweep once `rows` rows are in the CSV; returns the rows then. */
static int kill_after_rows(const char *const *args, const char *out, int rows, int sig)
{
    pid_t pid = loomrun_startv(tmpdir, args);
    int n = 0;
    for (int tries = 0; tries < 20000; tries++) { /* at most 20 s */
        n = count_lines(out) - 1;
        if (n >= rows)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, sig);
    int rc = loomrun_wait(tmpdir, pid);
    if (sig == SIGKILL)
        assert_int_equal(rc, 128 + SIGKILL);
    else
        assert_int_equal(rc, 128 + sig); /* the sweep's own exit code for it */
    return count_lines(out) - 1;
}

static const char *big_spec(void)
{
    /* 60 configurations of the 32-rank MLP: long enough to be killed halfway */
    const char *p = tpath("big.yaml");
    loomrun_write(p, "workload: " EX "/mlp_dgx_h100/MLP_ModelParallel\n"
                  "network: " EX "/mlp_dgx_h100/network.yml\n"
                  "system: " EX "/mlp_dgx_h100/system.json\n"
                  "axes:\n"
                  "  network.bandwidth[1]: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]\n"
                  "  system.preferred-dataset-splits: [1, 2, 3, 4, 5, 6]\n");
    return p;
}

/* A sweep SIGKILLed halfway and a torn last line: the rerun drops the torn
 * line, skips the finished rows and completes with each configuration once. */
static void test_kill_and_resume(void **state)
{
    (void)state;
    const char *spec = big_spec(), *out = tpath("big.csv");
    unlink(out);
    const char *args[] = {"sweep", spec, "-j", "2", "--out", out, "-q", NULL};
    int done = kill_after_rows(args, out, 10, SIGKILL);
    assert_true(done >= 10);
    if (done >= 60)
        fail_msg("the sweep finished before it was killed; the test needs a slower spec");
    /* a row cut short by a kill, as a write interrupted mid-row leaves it */
    FILE *f = fopen(out, "a");
    fputs("0123456789abcdef,10,1,ok,0,32,1956", f);
    fclose(f);
    int rc = loomrun_run(tmpdir, "sweep", spec, "-j", "2", "--out", out, NULL);
    if (rc != 0)
        fail_msg("resume: exit %d: %s", rc, loomrun_err);
    assert_non_null(strstr(loomrun_err, "dropped a partial last line"));
    char want[64];
    snprintf(want, sizeof want, "%d already in", done);
    if (strstr(loomrun_err, want) == NULL)
        fail_msg("expected '%s' in: %s", want, loomrun_err);
    assert_complete(spec, out, 60);
    /* a third run has nothing left to do */
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "--out", out, NULL), 0);
    assert_non_null(strstr(loomrun_err, "0 run"));
    assert_complete(spec, out, 60);
}

/* SIGINT: the sweep kills its workers, keeps its rows, exits 130; the rerun
 * completes. */
static void test_sigint_and_resume(void **state)
{
    (void)state;
    const char *spec = big_spec(), *out = tpath("int.csv");
    unlink(out);
    const char *args[] = {"sweep", spec, "-j", "2", "--out", out, "-q", NULL};
    int done = kill_after_rows(args, out, 5, SIGINT);
    assert_true(done >= 5 && done < 60);
    csv c = csv_read(out);
    assert_int_equal(check_shape(&c), done);
    for (int r = 1; r < c.n; r++) /* no row for a worker the interrupt killed */
        assert_string_equal(c.rows[r][col(&c, "status")], "ok");
    csv_free(&c);
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "-j", "2", "--out", out, "-q", NULL), 0);
    assert_complete(spec, out, 60);
}

/* --shard K/N: disjoint, and together every configuration; the merge step
 * of scripts/slurm-sweep.sh keeps one header. */
static void test_shards(void **state)
{
    (void)state;
    const char *spec = ring_spec("sh.yaml",
                                 "axes:\n"
                                 "  network.bandwidth[0]: [10, 20, 40, 80, 160]\n"
                                 "  - network.latency[0]: [100, 200]\n");
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "--dry-run", NULL), 2);
    spec = ring_spec("sh.yaml",
                     "axes:\n"
                     "  - network.bandwidth[0]: [10, 20, 40, 80, 160]\n"
                     "  - network.latency[0]: [100, 200]\n"
                     "    system.endpoint-delay: [5, 50]\n");
    static char all[64][17], part[64][17];
    char cmd[2048];
    int n = dry_keys(spec, NULL, all, 64);
    assert_int_equal(n, 10); /* 5 bandwidths x 2 zipped (latency, delay) pairs */
    int seen[64] = {0}, total = 0;
    for (int k = 0; k < 3; k++) {
        char sh[16], name[32];
        snprintf(sh, sizeof sh, "%d/3", k);
        int m = dry_keys(spec, sh, part, 64);
        /* index i is in shard i mod 3: 4, 3, 3 configurations */
        assert_int_equal(m, k == 0 ? 4 : 3);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                if (strcmp(part[i], all[j]) == 0)
                    seen[j]++;
        total += m;
        /* the Slurm script's array-task mode, as a task of a 3-task array runs it */
        snprintf(cmd, sizeof cmd,
                 "SLURM_ARRAY_TASK_ID=%d SLURM_ARRAY_TASK_COUNT=3 SLURM_CPUS_PER_TASK=2 "
                 "LOOM='%s' '%s/scripts/slurm-sweep.sh' '%s' '%s'", k, LOOM_BIN, SRCDIR, spec,
                 tpath("shards"));
        assert_int_equal(system(cmd), 0);
        snprintf(name, sizeof name, "shards/shard-%d-of-3.csv", k);
        csv c = csv_read(tpath(name));
        assert_int_equal(check_shape(&c), m);
        csv_free(&c);
    }
    assert_int_equal(total, n);
    for (int j = 0; j < n; j++)
        assert_int_equal(seen[j], 1);
    snprintf(cmd, sizeof cmd, "'%s/scripts/slurm-sweep.sh' merge '%s' '%s'/shard-*.csv 2>'%s'",
             SRCDIR, tpath("merged.csv"), tpath("shards"), tpath("merge.err"));
    assert_int_equal(system(cmd), 0);
    assert_complete(spec, tpath("merged.csv"), 10);
    /* the merged file resumes like any other: nothing left to run */
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "--out", tpath("merged.csv"), NULL), 0);
    assert_non_null(strstr(loomrun_err, "0 run"));
    /* shards of different sweeps do not merge */
    loomrun_write(tpath("alien.csv"), "key,network.latency[0],status\n0123456789abcdef,5,ok\n");
    snprintf(cmd, sizeof cmd, "'%s/scripts/slurm-sweep.sh' merge '%s' '%s' '%s' 2>'%s'", SRCDIR,
             tpath("bad-merge.csv"), tpath("shards/shard-0-of-3.csv"), tpath("alien.csv"),
             tpath("merge.err"));
    assert_int_not_equal(system(cmd), 0);
    loomrun_slurp(tpath("merge.err"), loomrun_err, sizeof loomrun_err);
    assert_non_null(strstr(loomrun_err, "header"));
    assert_int_equal(access(tpath("bad-merge.csv"), F_OK), -1);
}

static void test_dry_run(void **state)
{
    (void)state;
    const char *spec = ring_spec("dry.yaml",
                                 "axes:\n"
                                 "  network.bandwidth[0]: [25, 50]\n"
                                 "  system.all-reduce-implementation: [[ring], [direct]]\n");
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "--dry-run", NULL), 0);
    /* the last axis varies fastest */
    char *l0 = strtok(loomrun_out, "\n"), *l1 = strtok(NULL, "\n"), *l2 = strtok(NULL, "\n"),
         *l3 = strtok(NULL, "\n");
    assert_non_null(l3);
    assert_null(strtok(NULL, "\n"));
    assert_true(strncmp(l0, "0 ", 2) == 0 && strstr(l0, " network.bandwidth[0]=25 "));
    assert_non_null(strstr(l0, "system.all-reduce-implementation=[ring]"));
    assert_true(strncmp(l1, "1 ", 2) == 0 && strstr(l1, "=[direct]") && strstr(l1, "=25 "));
    assert_true(strncmp(l2, "2 ", 2) == 0 && strstr(l2, "=50 ") && strstr(l2, "=[ring]"));
    assert_true(strncmp(l3, "3 ", 2) == 0 && strstr(l3, "=50 ") && strstr(l3, "=[direct]"));
    /* it runs nothing and writes nothing */
    assert_int_equal(access(tpath("dry.csv"), F_OK), -1);
    /* with --out it marks the configurations already done */
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "--shard", "1/2", "--out", tpath("dry.csv"), "-q",
                              NULL), 0);
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "--dry-run", "--out", tpath("dry.csv"), NULL), 0);
    l0 = strtok(loomrun_out, "\n");
    l1 = strtok(NULL, "\n");
    assert_null(strstr(l0, "done"));
    assert_non_null(strstr(l1, " done"));
}

static void expect_bad(const char *spec_text, const char *what1, const char *what2)
{
    const char *spec = ring_spec("bad.yaml", spec_text);
    int rc = loomrun_run(tmpdir, "sweep", spec, "--out", tpath("bad.csv"), NULL);
    if (rc != 2)
        fail_msg("expected exit 2, got %d: %s", rc, loomrun_err);
    if (strstr(loomrun_err, what1) == NULL || (what2 && strstr(loomrun_err, what2) == NULL))
        fail_msg("expected '%s' and '%s' in: %s", what1, what2 ? what2 : "", loomrun_err);
    assert_int_equal(access(tpath("bad.csv"), F_OK), -1); /* no CSV from a bad spec */
}

static void test_bad_specs(void **state)
{
    (void)state;
    expect_bad("axes:\n  network.bandwith[0]: [1, 2]\n", "bandwith", "line 5");
    expect_bad("axes:\n  network.bandwidth[0]: [1]\n  system.no-such-key: [1]\n", "no-such-key",
               "axis 'system.no-such-key'");
    expect_bad("axes:\n  network.bandwidth[0]: []\n", "has no values", "network.bandwidth[0]");
    expect_bad("axes:\n  network.bandwidth[0]: [25, -1]\n", "network.bandwidth[0]", "-1");
    expect_bad("axes:\n  colour: [red]\n", "unknown axis key 'colour'", NULL);
    expect_bad("colour: red\naxes:\n  network.bandwidth[0]: [1]\n", "unknown key 'colour'",
               "bad.yaml");
    expect_bad("axes:\n  - network.bandwidth[0]: [1, 2]\n    network.latency[0]: [1]\n",
               "network.latency[0]", "same length");
    expect_bad("axes:\n  network.bandwidth[0]: [1, 1]\n", "twice", NULL);
    expect_bad("axes:\n  workload: [no/such/trace]\n", "no/such/trace", NULL);
    expect_bad("axes:\n  network: [missing.yml]\n", "missing.yml", NULL);
    expect_bad("set:\n  system.preferred-dataset-splits: 0\naxes:\n  network.bandwidth[0]: [1]\n",
               "preferred-dataset-splits", "base run");
    expect_bad("", "axes", NULL);
    /* the spec file itself missing, and bad options */
    assert_int_equal(loomrun_run(tmpdir, "sweep", tpath("nope.yaml"), "--out", tpath("bad.csv"), NULL), 2);
    assert_non_null(strstr(loomrun_err, "nope.yaml"));
    const char *spec = ring_spec("ok.yaml", "axes:\n  network.bandwidth[0]: [1]\n");
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "-j", "0", "--out", tpath("bad.csv"), NULL), 2);
    assert_non_null(strstr(loomrun_err, "-j"));
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "--shard", "3/3", "--out", tpath("bad.csv"), NULL),
                     2);
    assert_non_null(strstr(loomrun_err, "--shard"));
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, NULL), 2); /* no --out */
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "--timeout", "-1", "--out", tpath("bad.csv"), NULL),
                     2);
    /* a CSV written by another spec is refused, not appended to */
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "--out", tpath("other.csv"), "-q", NULL), 0);
    const char *spec2 = ring_spec("ok2.yaml", "axes:\n  network.latency[0]: [1]\n");
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec2, "--out", tpath("other.csv"), NULL), 2);
    assert_non_null(strstr(loomrun_err, "columns"));
}

/* A failing configuration is a row with its status, exit code and error
 * text; fields with commas and quotes are quoted (RFC 4180). */
static void test_failed_rows_and_quoting(void **state)
{
    (void)state;
    /* a directory whose name needs quoting shows up in the error text */
    char dir[512], cmd[2048];
    snprintf(dir, sizeof dir, "%s/q\"uo,te", tmpdir);
    mkdir(dir, 0755);
    snprintf(cmd, sizeof cmd, "cp '%s'/all_reduce.*.et '%s'/", RING, dir);
    assert_int_equal(system(cmd), 0);
    char text[4096];
    snprintf(text, sizeof text,
             "workload: 'q\"uo,te/all_reduce'\nnetwork: %s/network.yml\nsystem: %s/system.json\n"
             "axes:\n  network.npus_count[0]: [8, 16]\n"
             "  system.all-reduce-implementation: [[ring, ring], [direct, direct]]\n",
             RING, RING);
    loomrun_write(tpath("q.yaml"), text);
    int rc = loomrun_run(tmpdir, "sweep", tpath("q.yaml"), "--out", tpath("q.csv"), NULL);
    assert_int_equal(rc, 4); /* every configuration ran; some are not ok */
    csv c = csv_read(tpath("q.csv"));
    assert_int_equal(check_shape(&c), 4);
    int nfail = 0;
    for (int r = 1; r < c.n; r++) {
        char **f = c.rows[r];
        const char *impl = f[col(&c, "system.all-reduce-implementation")];
        assert_true(strcmp(impl, "[ring,ring]") == 0 || strcmp(impl, "[direct,direct]") == 0);
        if (strcmp(f[col(&c, "network.npus_count[0]")], "16") != 0) {
            assert_string_equal(f[col(&c, "status")], "ok");
            assert_string_equal(f[col(&c, "error")], "");
            continue;
        }
        nfail++;
        assert_string_equal(f[col(&c, "status")], "failed");
        assert_string_equal(f[col(&c, "step_time_ns")], "");
        /* the error text is the first line `loom run` prints for it */
        char p[600];
        snprintf(p, sizeof p, "%s/all_reduce", dir);
        char set[64];
        snprintf(set, sizeof set, "system.all-reduce-implementation=%s", impl);
        int rrc = loomrun_run(tmpdir, "run", "-w", p, "-n", RING "/network.yml", "-s", RING "/system.json",
                           "--set", "network.npus_count[0]=16", "--set", set, "-q", NULL);
        assert_int_not_equal(rrc, 0);
        char code[16];
        snprintf(code, sizeof code, "%d", rrc);
        assert_string_equal(f[col(&c, "exit_code")], code);
        loomrun_err[strcspn(loomrun_err, "\n")] = '\0';
        assert_string_equal(f[col(&c, "error")], loomrun_err);
        assert_non_null(strstr(f[col(&c, "error")], "q\"uo,te"));
    }
    assert_int_equal(nfail, 2);
    csv_free(&c);
    char *raw = read_all(tpath("q.csv"));
    assert_non_null(strstr(raw, "q\"\"uo,te")); /* a doubled quote inside a quoted field */
    assert_non_null(strstr(raw, ",\"[ring,ring]\","));
    free(raw);
}

/* --timeout kills a run and records it; --retry-failed runs it again. */
static void test_timeout_and_retry(void **state)
{
    (void)state;
    const char *spec = ring_spec("to.yaml", "axes:\n  network.bandwidth[0]: [25, 50, 100]\n");
    const char *out = tpath("to.csv");
    /* a microsecond is less than any process takes to start */
    int rc = loomrun_run(tmpdir, "sweep", spec, "--timeout", "0.000001", "--out", out, NULL);
    assert_int_equal(rc, 4);
    csv c = csv_read(out);
    assert_int_equal(check_shape(&c), 3);
    for (int r = 1; r < c.n; r++) {
        assert_string_equal(c.rows[r][col(&c, "status")], "timeout");
        assert_non_null(strstr(c.rows[r][col(&c, "error")], "--timeout"));
    }
    csv_free(&c);
    /* a plain rerun keeps them (and still says some are not ok) */
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "--out", out, NULL), 4);
    assert_non_null(strstr(loomrun_err, "0 run"));
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "--retry-failed", "--out", out, NULL), 0);
    assert_complete(spec, out, 3);
    c = csv_read(out);
    for (int r = 1; r < c.n; r++)
        assert_string_equal(c.rows[r][col(&c, "status")], "ok");
    csv_free(&c);
}

/* A grown axis keeps the rows already run: only the new values run. */
static void test_grown_axis_resumes(void **state)
{
    (void)state;
    const char *out = tpath("grow.csv");
    const char *spec = ring_spec("grow.yaml", "axes:\n  network.bandwidth[0]: [25, 50]\n");
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "--out", out, "-q", NULL), 0);
    spec = ring_spec("grow.yaml", "axes:\n  network.bandwidth[0]: [25, 50, 100]\n");
    assert_int_equal(loomrun_run(tmpdir, "sweep", spec, "--out", out, NULL), 0);
    assert_non_null(strstr(loomrun_err, "1 run"));
    assert_complete(spec, out, 3);
}

/* A `loom gen` recipe in place of a trace, with an axis over a generator
 * flag: each configuration generates its trace, then replays it. */
static void test_gen_recipe(void **state)
{
    (void)state;
    if (loomrun_run(tmpdir, "gen", "--help", NULL) != 0)
        skip(); /* this loom has no `loom gen` */
    char text[4096];
    snprintf(text, sizeof text,
             "gen:\n  generator: micro\n  collective: all_reduce\n  ranks: 8\n  size: 1MiB\n"
             "network: %s/network.yml\nsystem: %s/system.json\n"
             "axes:\n  gen.size: [64KiB, 1MiB, 4MiB]\n  network.bandwidth[0]: [25, 100]\n",
             RING, RING);
    loomrun_write(tpath("gen.yaml"), text);
    const char *out = tpath("gen.csv");
    int rc = loomrun_run(tmpdir, "sweep", tpath("gen.yaml"), "-j", "2", "--out", out, "-q", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    csv c = csv_read(out);
    assert_int_equal(check_shape(&c), 6);
    for (int r = 1; r < c.n; r++) {
        char **f = c.rows[r];
        assert_string_equal(f[col(&c, "status")], "ok");
        const char *sz = f[col(&c, "gen.size")];
        double N = strcmp(sz, "64KiB") == 0 ? 65536.0 : strcmp(sz, "1MiB") == 0 ? 1048576.0
                                                                                 : 4194304.0;
        /* the example system: 4 splits, 10 ns endpoint delay, 1600 GB/s memory */
        double want = ring_ar_ns(8, N, strtod(f[col(&c, "network.bandwidth[0]")], NULL) *
                                           1073741824.0, 500, 10, 1600e9, 4);
        double got = strtod(f[col(&c, "step_time_ns")], NULL);
        if (fabs(got - want) > 0.002)
            fail_msg("size %s: sweep %.3f ns, closed form %.3f ns", sz, got, want);
    }
    csv_free(&c);
    /* a bad generator flag value is refused before anything runs, naming the axis */
    snprintf(text, sizeof text,
             "gen:\n  generator: micro\n  collective: all_reduce\n  ranks: 8\n  size: 1MiB\n"
             "network: %s/network.yml\nsystem: %s/system.json\n"
             "axes:\n  gen.size: [1MiB, 3 parsecs]\n", RING, RING);
    loomrun_write(tpath("gen2.yaml"), text);
    assert_int_equal(loomrun_run(tmpdir, "sweep", tpath("gen2.yaml"), "--out", tpath("gen2.csv"), NULL), 2);
    assert_non_null(strstr(loomrun_err, "axis 'gen.size' value 3 parsecs"));
    /* a generated trace that does not fit the network is a failed row whose
     * error names no scratch path */
    snprintf(text, sizeof text,
             "gen:\n  generator: micro\n  collective: all_reduce\n  size: 1MiB\n"
             "network: %s/network.yml\nsystem: %s/system.json\n"
             "axes:\n  gen.ranks: [8, 16]\n", RING, RING);
    loomrun_write(tpath("gen3.yaml"), text);
    assert_int_equal(loomrun_run(tmpdir, "sweep", tpath("gen3.yaml"), "--out", tpath("gen3.csv"), NULL), 4);
    c = csv_read(tpath("gen3.csv"));
    assert_int_equal(check_shape(&c), 2);
    for (int r = 1; r < c.n; r++)
        if (strcmp(c.rows[r][col(&c, "gen.ranks")], "16") == 0) {
            assert_string_equal(c.rows[r][col(&c, "status")], "failed");
            assert_non_null(strstr(c.rows[r][col(&c, "error")], "<generated trace>"));
            assert_null(strstr(c.rows[r][col(&c, "error")], tmpdir));
        }
    csv_free(&c);
}

/* `loom gen llm` writes its own system file (device, precision, compute
 * model) naming its own communicators: a spec with no `system` runs each
 * configuration on the file its generator wrote, so an axis over the
 * generator's device changes the compute times; one with a `system` still
 * gets the generated communicators.  Each row is checked against `loom gen
 * llm` and `loom run` by hand on the same flags. */
static void test_gen_llm_system(void **state)
{
    (void)state;
    if (loomrun_run(tmpdir, "gen", "llm", "--help", NULL) != 0)
        skip(); /* this loom has no `loom gen llm` */
    static const char recipe[] =
        "gen:\n  generator: llm\n  preset: llama3-8b\n  layers: 2\n  tp: 2\n  pp: 2\n"
        "  dp: 2\n  global-batch: 4\n";
    loomrun_write(tpath("llm_net.yml"), "topology: [ Switch, Switch ]\nnpus_count: [ 4, 2 ]\n"
                                         "bandwidth: [ 450, 50 ]\nlatency: [ 500, 2000 ]\n");
    char text[4096];
    snprintf(text, sizeof text,
             "%snetwork: llm_net.yml\naxes:\n  gen.device: [h100-sxm, a100-80g]\n", recipe);
    loomrun_write(tpath("llm.yaml"), text);
    const char *out = tpath("llm.csv");
    int rc = loomrun_run(tmpdir, "sweep", tpath("llm.yaml"), "--out", out, "-q", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    csv c = csv_read(out);
    assert_int_equal(check_shape(&c), 2);
    double compute[2] = {0, 0};
    for (int r = 1; r < c.n; r++) {
        char **f = c.rows[r];
        assert_string_equal(f[col(&c, "status")], "ok");
        const char *dev = f[col(&c, "gen.device")];
        rc = loomrun_run(tmpdir, "gen", "llm", "--preset", "llama3-8b", "--layers", "2", "--tp",
                         "2", "--pp", "2", "--dp", "2", "--global-batch", "4", "--device", dev,
                         "-o", tpath("llm_by_hand/w"), "-q", NULL);
        assert_int_equal(rc, 0);
        rc = loomrun_run(tmpdir, "run", "-w", tpath("llm_by_hand/w"), "-n", tpath("llm_net.yml"),
                         "-s", tpath("llm_by_hand/w.system.yaml"), "--json", tpath("llm.json"),
                         "-q", NULL);
        assert_int_equal(rc, 0);
        double run_ns = loomrun_step_ns(tpath("llm.json"));
        if (strtod(f[col(&c, "step_time_ns")], NULL) != run_ns)
            fail_msg("%s: sweep %s ns, loom run %.3f ns", dev, f[col(&c, "step_time_ns")], run_ns);
        compute[strcmp(dev, "h100-sxm") == 0] = strtod(f[col(&c, "compute_mean_ns")], NULL);
    }
    csv_free(&c);
    if (!(compute[0] > 1.5 * compute[1])) /* the A100's bf16 peak is a third of the H100's */
        fail_msg("compute a100 %.0f ns, h100 %.0f ns: the device axis did not reach the run",
                 compute[0], compute[1]);
    /* a spec naming a system gets the generated communicators with it */
    loomrun_write(tpath("llm_sys.json"),
                  "{\"scheduling-policy\": \"LIFO\", \"endpoint-delay\": 10, "
                  "\"active-chunks-per-dimension\": 1, \"preferred-dataset-splits\": 1, "
                  "\"all-reduce-implementation\": [\"ring\", \"ring\"], "
                  "\"all-gather-implementation\": [\"ring\", \"ring\"], "
                  "\"reduce-scatter-implementation\": [\"ring\", \"ring\"], "
                  "\"all-to-all-implementation\": [\"direct\", \"direct\"], "
                  "\"collective-optimization\": \"localBWAware\", \"local-mem-bw\": 3350}\n");
    snprintf(text, sizeof text,
             "%snetwork: llm_net.yml\nsystem: llm_sys.json\n"
             "axes:\n  system.all-reduce-implementation: [[ring, ring], [direct, direct]]\n",
             recipe);
    loomrun_write(tpath("llm2.yaml"), text);
    rc = loomrun_run(tmpdir, "sweep", tpath("llm2.yaml"), "--out", tpath("llm2.csv"), "-q", NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    c = csv_read(tpath("llm2.csv"));
    assert_int_equal(check_shape(&c), 2);
    for (int r = 1; r < c.n; r++)
        assert_string_equal(c.rows[r][col(&c, "status")], "ok");
    csv_free(&c);
    /* gen micro writes no system file: its spec still needs one */
    loomrun_write(tpath("micro_nosys.yaml"),
                  "gen:\n  generator: micro\n  collective: all_reduce\n  ranks: 8\n  size: 1MiB\n"
                  "network: llm_net.yml\naxes:\n  gen.size: [1MiB, 2MiB]\n");
    assert_int_equal(loomrun_run(tmpdir, "sweep", tpath("micro_nosys.yaml"), "--out",
                                 tpath("micro_nosys.csv"), NULL), 2);
    assert_non_null(strstr(loomrun_err, "key 'system' is missing"));
}

static void test_help(void **state)
{
    (void)state;
    assert_int_equal(loomrun_run(tmpdir, "sweep", "--help", NULL), 0);
    const char *flags[] = {"--out", "--jobs", "--shard", "--timeout", "--retry-failed",
                           "--dry-run", "--quiet", "--help", "SECONDS", "0-based", "default"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strstr(loomrun_out, flags[i]) == NULL)
            fail_msg("loom sweep --help does not mention %s", flags[i]);
    assert_int_equal(loomrun_run(tmpdir, "--help", NULL), 0);
    assert_non_null(strstr(loomrun_out, "sweep"));
}

/* The 216-configuration example of docs/SWEEP.md runs as written. */
static void test_example_spec(void **state)
{
    (void)state;
    const char *out = tpath("ex.csv");
    int rc = loomrun_run(tmpdir, "sweep", EX "/sweeps/allreduce_ring8.yaml", "-j", "2", "--out", out, "-q",
                      NULL);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, loomrun_err);
    csv c = csv_read(out);
    assert_int_equal(check_shape(&c), 216);
    csv_free(&c);
    rc = loomrun_run(tmpdir, "sweep", EX "/sweeps/mlp_dgx_h100_scaleout.yaml", "--dry-run", NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(count_lines(so_path), 12);
    if (loomrun_run(tmpdir, "gen", "--help", NULL) == 0) { /* the generated-workload example */
        rc = loomrun_run(tmpdir, "sweep", EX "/sweeps/gen_allreduce_sizes.yaml", "-j", "2", "--out",
                      tpath("gen_ex.csv"), "-q", NULL);
        if (rc != 0)
            fail_msg("exit %d: %s", rc, loomrun_err);
        assert_int_equal(count_lines(tpath("gen_ex.csv")), 13);
        rc = loomrun_run(tmpdir, "sweep", EX "/sweeps/llm_layouts.yaml", "-j", "2", "--out",
                         tpath("llm_ex.csv"), "-q", NULL);
        if (rc != 0) /* exit 0: every one of its 16 rows ok */
            fail_msg("exit %d: %s", rc, loomrun_err);
        assert_int_equal(count_lines(tpath("llm_ex.csv")), 17);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/loom-sweep-e2e-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(so_path, sizeof so_path, "%s/stdout", tmpdir);
    setenv("TMPDIR", tmpdir, 1); /* a SIGKILLed sweep's scratch directory goes with it */
    snprintf(se_path, sizeof se_path, "%s/stderr", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_match_run),
        cmocka_unit_test(test_jobs_same_rows),
        cmocka_unit_test(test_many_ranks_summary),
        cmocka_unit_test(test_kill_and_resume),
        cmocka_unit_test(test_sigint_and_resume),
        cmocka_unit_test(test_shards),
        cmocka_unit_test(test_dry_run),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_failed_rows_and_quoting),
        cmocka_unit_test(test_timeout_and_retry),
        cmocka_unit_test(test_grown_axis_resumes),
        cmocka_unit_test(test_gen_recipe),
        cmocka_unit_test(test_gen_llm_system),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_example_spec),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* Compute models: trace durations, ASTRA-sim's roofline, the roofline with
 * size-dependent efficiency, stragglers, and measured kernel tables.  Every
 * expected time is worked out here from the formulas of docs/DEVICES.md. */
#include <fnmatch.h>
#include <math.h>
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "comp.h"

static void test_trace(void **state)
{
    (void)state;
    comp_cfg c = {.kind = COMP_TRACE, .peak_flops = 0, .mem_bw = 1e9};
    comp_kernel k = {.duration_ns = 1234000, .num_ops = 1, .has_ops = 1};
    assert_int_equal(comp_time(&c, &k, NULL), 1234 * SIM_PS_PER_US);
}

static void test_roofline_compute_and_memory_bound(void **state)
{
    (void)state;
    /* 900 TFLOP/s, 1600 GB/s (10^9): 9e12 FLOPs on 1 MB is compute bound,
     * 9e12 / 900e12 = 10 ms; 1 FLOP on 1.6e9 bytes is memory bound, 1 ms. */
    comp_cfg c = {.kind = COMP_ROOFLINE, .peak_flops = 900e12, .mem_bw = 1600e9};
    loom_err err = {0};
    assert_int_equal(comp_cfg_check(&c, &err), 0);
    comp_kernel k1 = {.num_ops = 9000000000000ULL, .tensor_size = 1000000, .has_ops = 1};
    assert_int_equal(comp_time(&c, &k1, NULL), 10 * SIM_PS_PER_US * 1000);
    comp_kernel k2 = {.num_ops = 1, .tensor_size = 1600000000ULL, .has_ops = 1};
    assert_int_equal(comp_time(&c, &k2, NULL), 1000 * SIM_PS_PER_US);
}

static void test_roofline_fallbacks(void **state)
{
    (void)state;
    comp_cfg c = {.kind = COMP_ROOFLINE, .peak_flops = 1e12, .mem_bw = 1e9};
    int fb = 0;
    comp_kernel nops = {.duration_ns = 5000};
    assert_int_equal(comp_time(&c, &nops, &fb), 5 * SIM_PS_PER_US);
    assert_int_equal(fb, 1);
    comp_kernel cpu = {.duration_ns = 7000, .num_ops = 1000000, .has_ops = 1, .is_cpu = 1};
    assert_int_equal(comp_time(&c, &cpu, &fb), 7 * SIM_PS_PER_US);
    assert_int_equal(fb, 0);
}

static void test_bad_config(void **state)
{
    (void)state;
    loom_err err = {0};
    comp_cfg c = {.kind = COMP_ROOFLINE, .peak_flops = 0, .mem_bw = 1e9};
    assert_int_equal(comp_cfg_check(&c, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "peak-perf"));
}

static void test_mem_time(void **state)
{
    (void)state;
    comp_cfg c = {.kind = COMP_TRACE, .peak_flops = 0, .mem_bw = 50e9}; /* 50 GB/s: 1 MB takes 20 us */
    assert_int_equal(comp_mem_time(&c, 1000000), 20 * SIM_PS_PER_US);
}

/* e(x) = eff * x / (x + half): t = (x + half) / (rate * eff) for each term,
 * the larger one wins. */
static void test_efficiency_curves(void **state)
{
    (void)state;
    comp_cfg c = {.kind = COMP_ROOFLINE, .peak_flops = 1e15, .mem_bw = 2e12,
                  .matrix = {0.8, 4e9}, .memory = {0.9, 7.2e6}};
    loom_err err = {0};
    assert_int_equal(comp_cfg_check(&c, &err), 0);
    /* 1e12 FLOPs: (1e12 + 4e9) / (1e15 * 0.8) = 1.255 ms; bytes tiny */
    comp_kernel k = {.num_ops = 1000000000000ULL, .tensor_size = 1000, .has_ops = 1};
    assert_int_equal(comp_time(&c, &k, NULL), 1255000000LL);
    /* memory bound: (1.8e9 + 7.2e6) / (2e12 * 0.9) = 1.004 ms */
    comp_kernel m = {.num_ops = 10, .tensor_size = 1800000000ULL, .has_ops = 1};
    assert_int_equal(comp_time(&c, &m, NULL), 1004000000LL);
    /* a tiny kernel costs the larger overhead: 4e9/(0.8e15) = 5 us vs
     * 7.2e6/(1.8e12) = 4 us */
    comp_kernel z = {.num_ops = 1, .tensor_size = 1, .has_ops = 1};
    assert_int_equal(comp_time(&c, &z, NULL), 5000000LL); /* (1 + 4e9)/0.8e15 s = 5.00000000125 us */
    /* the curve itself: half the asymptote at x = half */
    assert_true(comp_curve_eff(&c.matrix, 4e9) == 0.4);
    comp_curve none = {0, 0};
    assert_true(comp_curve_eff(&none, 123) == 1.0);
}

/* A straggler multiplies every accelerator time, not CPU operations. */
static void test_straggler(void **state)
{
    (void)state;
    comp_cfg c = {.kind = COMP_TRACE, .mem_bw = 1e9, .slowdown = 1.5};
    comp_kernel k = {.duration_ns = 100000};
    assert_int_equal(comp_time(&c, &k, NULL), 150 * SIM_PS_PER_US);
    comp_kernel cpu = {.duration_ns = 100000, .is_cpu = 1};
    assert_int_equal(comp_time(&c, &cpu, NULL), 100 * SIM_PS_PER_US);
    assert_int_equal(comp_mem_time(&c, 1000000), 1500 * SIM_PS_PER_US); /* 1 MB at 1 GB/s x 1.5 */
    c.kind = COMP_ROOFLINE;
    c.peak_flops = 1e12;
    comp_kernel r = {.num_ops = 1000000000ULL, .tensor_size = 1, .has_ops = 1};
    assert_int_equal(comp_time(&c, &r, NULL), 1500 * SIM_PS_PER_US); /* 1 ms x 1.5 */
    loom_err err = {0};
    c.slowdown = -1;
    assert_int_equal(comp_cfg_check(&c, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "straggler"));
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/loom_comp_tableXXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

/* Interpolation by FLOPs (*gemm*), by bytes (the * series), floors and
 * proportional extrapolation, series order, and fall-backs. */
static void test_table(void **state)
{
    (void)state;
    char *path = write_tmp("# measured on nothing: numbers chosen to check the arithmetic\n"
                           "kernel,flops,bytes,time_us\n"
                           "*gemm*,1000000,0,10\n"
                           "*gemm*,3000000,0,30\n"
                           "*gemm*,2000000,0,16\n"
                           "\n"
                           "*,0,1000,2\n"
                           "*,0,5000,6\n");
    loom_err err = {0};
    comp_table *t = comp_table_load(path, &err);
    assert_non_null(t);
    assert_int_equal(comp_table_rows(t), 5);
    comp_cfg c = {.kind = COMP_TABLE, .mem_bw = 1e9, .table = t};
    assert_int_equal(comp_cfg_check(&c, &err), 0);
    /* between 1e6 (10 us) and 2e6 (16 us): 1.5e6 -> 13 us */
    comp_kernel k = {.num_ops = 1500000, .tensor_size = 7, .has_ops = 1, .name = "L1.F0.gemm_qkv"};
    assert_int_equal(comp_time(&c, &k, NULL), 13 * SIM_PS_PER_US);
    /* below the first row: held at 10 us; past the last: 30 us x 6e6/3e6 */
    k.num_ops = 10;
    assert_int_equal(comp_time(&c, &k, NULL), 10 * SIM_PS_PER_US);
    k.num_ops = 6000000;
    assert_int_equal(comp_time(&c, &k, NULL), 60 * SIM_PS_PER_US);
    /* another name falls to the "*" series, by bytes: 3000 -> 4 us */
    comp_kernel e = {.num_ops = 99, .tensor_size = 3000, .has_ops = 1, .name = "L1.F0.gelu"};
    assert_int_equal(comp_time(&c, &e, NULL), 4 * SIM_PS_PER_US);
    /* a gemm node without num_ops matches no FLOP series: "*" by bytes */
    comp_kernel g0 = {.tensor_size = 1000, .name = "gemm_x"};
    int fb = 9;
    assert_int_equal(comp_time(&c, &g0, &fb), 2 * SIM_PS_PER_US);
    assert_int_equal(fb, 0);
    /* nothing applies: the trace duration, counted */
    comp_kernel none = {.duration_ns = 77000, .name = "x"};
    assert_int_equal(comp_time(&c, &none, &fb), 77 * SIM_PS_PER_US);
    assert_int_equal(fb, 1);
    comp_table_free(t);
    unlink(path);
    free(path);
}

/* A fused node costs the sum of its kernels, each priced alone (cost is
 * decided at replay, docs/DEVICES.md). */
static void test_fused(void **state)
{
    (void)state;
    /* 1e12 FLOP/s, 1e9 B/s, no curves: kernel 1 is 2e6 FLOPs on 1e3 B,
     * compute bound, 2 us; kernel 2 is 1 FLOP on 5e3 B, memory bound, 5 us.
     * The node's own num_ops/tensor_size (sums) would give 5.001 us: the
     * kernels give 7 us. */
    const uint64_t kw[4] = {2000000, 1000, 1, 5000};
    comp_cfg c = {.kind = COMP_ROOFLINE, .peak_flops = 1e12, .mem_bw = 1e9};
    comp_kernel k = {.duration_ns = 99000, .num_ops = 2000001, .tensor_size = 6000, .has_ops = 1,
                     .kwork = kw, .nkern = 2};
    int fb = 9;
    assert_int_equal(comp_time(&c, &k, &fb), 7 * SIM_PS_PER_US);
    assert_int_equal(fb, 0);
    /* each kernel pays its own overhead: with a 4 us matrix and memory
     * overhead (half sizes 4e-6 x rate x eff) at eff 1, 6 + 9 = 15 us */
    c.matrix = (comp_curve){1, 4e-6 * 1e12};
    c.memory = (comp_curve){1, 4e-6 * 1e9};
    assert_int_equal(comp_time(&c, &k, NULL), 15 * SIM_PS_PER_US);
    /* a straggler factor scales every kernel */
    c.slowdown = 2;
    assert_int_equal(comp_time(&c, &k, NULL), 30 * SIM_PS_PER_US);
    /* the trace model keeps the recorded duration */
    c.kind = COMP_TRACE;
    c.slowdown = 0;
    assert_int_equal(comp_time(&c, &k, NULL), 99 * SIM_PS_PER_US);

    /* table: per-kernel lookups under the node's name ("*" by bytes here:
     * 1000 B -> 2 us, 5000 B -> 6 us), 8 us in all */
    char *path = write_tmp("kernel,flops,bytes,time_us\n*,0,1000,2\n*,0,5000,6\n");
    loom_err err = {0};
    comp_table *t = comp_table_load(path, &err);
    assert_non_null(t);
    comp_cfg ct = {.kind = COMP_TABLE, .mem_bw = 1e9, .table = t};
    k.name = "L0.F0.qkv+";
    assert_int_equal(comp_time(&ct, &k, &fb), 8 * SIM_PS_PER_US);
    assert_int_equal(fb, 0);
    /* a kernel with no row (0 bytes fits no series): the node keeps its
     * duration, counted */
    const uint64_t kw0[4] = {2000000, 1000, 5, 0};
    k.kwork = kw0;
    assert_int_equal(comp_time(&ct, &k, &fb), 99 * SIM_PS_PER_US);
    assert_int_equal(fb, 1);
    comp_table_free(t);
    unlink(path);
    free(path);
}

/* The file is RFC 4180 CSV (libcsv): quoted fields, a comma inside a
 * quoted pattern. */
static void test_table_quoting(void **state)
{
    (void)state;
    char *path = write_tmp("\"kernel\",\"flops\",\"bytes\",\"time_us\"\n"
                           "\"{a,b}*\",0,\"1000\",3\n"
                           "*, 0 ,2000, 5\n");
    loom_err err = {0};
    comp_table *t = comp_table_load(path, &err);
    if (t == NULL)
        fail_msg("%s", err.msg);
    assert_int_equal(comp_table_rows(t), 2);
    /* "{a,b}*" is one fnmatch pattern with a comma in it: no brace
     * expansion, so only a name starting "{a,b}" matches it */
    assert_true(fabs(comp_table_lookup(t, "{a,b}x", 0, 1000) - 3e-6) < 1e-15);
    assert_true(fabs(comp_table_lookup(t, "ax", 0, 2000) - 5e-6) < 1e-15);
    comp_table_free(t);
    unlink(path);
    free(path);
}

static void expect_table_error(const char *text, const char *needle)
{
    char *path = write_tmp(text);
    loom_err err = {0};
    comp_table *t = comp_table_load(path, &err);
    if (t != NULL || strstr(err.msg, needle) == NULL)
        fail_msg("table %s: expected an error with '%s', got '%s'", text, needle, err.msg);
    assert_int_equal(err.code, LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, path)); /* the file is named */
    unlink(path);
    free(path);
}

static void test_table_errors(void **state)
{
    (void)state;
    expect_table_error("kernel,flops,time_us\n", "header");
    expect_table_error("kernel,flops,bytes,time_us\n", "no rows");
    expect_table_error("kernel,flops,bytes,time_us\ngemm,1,0\n", "line 2: expected 4 columns");
    expect_table_error("kernel,flops,bytes,time_us\ngemm,x,0,1\n", "line 2: flops and bytes");
    expect_table_error("kernel,flops,bytes,time_us\ngemm,1,0,0\n", "time_us must be a number > 0");
    expect_table_error("kernel,flops,bytes,time_us\ngemm,0,0,1\n", "flops or bytes > 0");
    expect_table_error("kernel,flops,bytes,time_us\ngemm,5,0,1\ngemm,5,0,2\n", "two rows");
    expect_table_error("kernel,flops,bytes,time_us\ngemm,5,0,1\ngemm,0,9,2\n",
                       "line 3: kernel 'gemm' is indexed by flops");
    loom_err err = {0};
    assert_null(comp_table_load("/nonexistent/t.csv", &err));
    assert_non_null(strstr(err.msg, "/nonexistent/t.csv"));
    comp_cfg c = {.kind = COMP_TABLE, .mem_bw = 1e9};
    loom_err e2 = {0};
    assert_int_equal(comp_cfg_check(&c, &e2), LOOM_EUSAGE);
}


/* write_tmp with n raw bytes (a NUL among them). */
static char *write_tmp_raw(const char *buf, size_t n)
{
    char *path = strdup("/tmp/loom_comp_tableXXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, n), (ssize_t)n);
    close(fd);
    return path;
}

/* A NUL says so, with line and column (it used to read as a line longer
 * than 4094); a long line still says that; a FIFO is refused at once. */
static void test_table_not_text(void **state)
{
    (void)state;
    static const char nul[] = "kernel,flops,bytes,time_us\ngemm,1\0,0,1\n";
    char *path = write_tmp_raw(nul, sizeof nul - 1);
    loom_err err = {0};
    assert_null(comp_table_load(path, &err));
    if (!strstr(err.msg, path) || !strstr(err.msg, "line 2, column 7: a NUL byte"))
        fail_msg("%s", err.msg);
    unlink(path);
    free(path);
    char *longl = malloc(5000);
    snprintf(longl, 5000, "kernel,flops,bytes,time_us\n%04090d,1,0,1\n", 7); /* 4096 chars */
    expect_table_error(longl, "line 2 is longer than 4094 characters");
    snprintf(longl, 5000, "kernel,flops,bytes,time_us\n%04088d,1,0,1\n", 7); /* 4094: fine */
    path = write_tmp(longl);
    loom_err_clear(&err);
    comp_table *t = comp_table_load(path, &err);
    if (t == NULL)
        fail_msg("%s", err.msg);
    comp_table_free(t);
    unlink(path);
    free(path);
    free(longl);
    alarm(20);
    char fifo[] = "/tmp/loom_comp_fifoXXXXXX";
    int fd = mkstemp(fifo);
    close(fd);
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    loom_err_clear(&err);
    assert_null(comp_table_load(fifo, &err));
    if (!strstr(err.msg, fifo) || !strstr(err.msg, "is a FIFO (named pipe), not a regular file"))
        fail_msg("%s", err.msg);
    unlink(fifo);
    alarm(0);
}

/* The indexed lookup against the rule it implements, written the obvious
 * way: the first series in file order whose pattern fnmatches the name and
 * whose axis the node has.  Random tables mix exact names and wildcards
 * (before and after them, on both axes); every name and axis is tried. */
typedef struct ref_series {
    char glob[16];
    int by_flops;
    double x, t; /* one row: lookup = t * (v / x) past it, t below */
} ref_series;

static double ref_lookup(const ref_series *s, int n, const char *name, uint64_t fl, uint64_t by)
{
    for (int i = 0; i < n; i++) {
        double v = s[i].by_flops ? (double)fl : (double)by;
        if (v > 0 && fnmatch(s[i].glob, name, 0) == 0)
            return v <= s[i].x ? s[i].t : s[i].t * (v / s[i].x);
    }
    return -1;
}

static void test_table_lookup_randomized(void **state)
{
    (void)state;
    static const char *const wild[] = {"k1*", "*7", "k?", "k[0-3]*", "*", "x*"};
    srand(12345);
    for (int round = 0; round < 40; round++) {
        ref_series s[64];
        int n = 1 + rand() % 64, m = 0;
        char text[8192] = "kernel,flops,bytes,time_us\n";
        size_t len = strlen(text);
        for (int i = 0; i < n; i++) {
            ref_series *e = &s[m];
            if (rand() % 4 == 0)
                snprintf(e->glob, sizeof e->glob, "%s", wild[rand() % 6]);
            else
                snprintf(e->glob, sizeof e->glob, "k%d", rand() % 40);
            int dup = 0;
            for (int j = 0; j < m; j++)
                dup |= strcmp(s[j].glob, e->glob) == 0;
            if (dup)
                continue;
            e->by_flops = rand() % 2;
            e->x = 1000 * (1 + rand() % 9);
            e->t = (1 + rand() % 50) * 1e-6;
            len += (size_t)snprintf(text + len, sizeof text - len, "%s,%.0f,%.0f,%g\n", e->glob,
                                    e->by_flops ? e->x : 0, e->by_flops ? 0 : e->x, e->t * 1e6);
            m++;
        }
        char *path = write_tmp(text);
        loom_err err = {0};
        comp_table *t = comp_table_load(path, &err);
        if (t == NULL)
            fail_msg("%s", err.msg);
        for (int k = 0; k < 45; k++)
            for (int ax = 0; ax < 3; ax++) {
                char name[16];
                snprintf(name, sizeof name, k < 40 ? "k%d" : "x%d", k);
                uint64_t fl = ax != 1 ? 4321 : 0, by = ax != 0 ? 8765 : 0;
                double want = ref_lookup(s, m, name, fl, by), got = comp_table_lookup(t, name, fl, by);
                if (fabs(got - want) > 1e-15)
                    fail_msg("round %d %s axis %d: indexed %g, reference %g", round, name, ax,
                             got, want);
            }
        comp_table_free(t);
        unlink(path);
        free(path);
    }
}

static void test_curve_errors(void **state)
{
    (void)state;
    loom_err err = {0};
    comp_cfg c = {.kind = COMP_ROOFLINE, .peak_flops = 1e12, .mem_bw = 1e9, .matrix = {1.2, 0}};
    assert_int_equal(comp_cfg_check(&c, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "matrix efficiency"));
    loom_err e2 = {0};
    comp_cfg d = {.kind = COMP_ROOFLINE, .peak_flops = 1e12, .mem_bw = 1e9, .memory = {0.5, -1}};
    assert_int_equal(comp_cfg_check(&d, &e2), LOOM_EUSAGE);
    assert_non_null(strstr(e2.msg, "memory efficiency"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace),
        cmocka_unit_test(test_roofline_compute_and_memory_bound),
        cmocka_unit_test(test_roofline_fallbacks),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_mem_time),
        cmocka_unit_test(test_efficiency_curves),
        cmocka_unit_test(test_straggler),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_fused),
        cmocka_unit_test(test_table_quoting),
        cmocka_unit_test(test_table_errors),
        cmocka_unit_test(test_table_not_text),
        cmocka_unit_test(test_table_lookup_randomized),
        cmocka_unit_test(test_curve_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_compare.c: `loom compare` (core/cmd_compare.c) through its entry
 * point: the CSV of the collective mode holds, per algorithm and size, the
 * model's net_coll_time with nccl-tests' algbw and busbw; the workload mode
 * replays a generated-by-hand trace set once per algorithm; bad command
 * lines exit 2 and write no CSV.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "net_topo.h"

#include "cmds.h"

static int run(int argc, const char **argv)
{
    fflush(stdout);
    return loom_cmd_compare(argc, (char **)argv);
}

static void test_collective_mode_csv(void **state)
{
    (void)state;
    char net[512], csv[] = "/tmp/loom_cmp_XXXXXX";
    snprintf(net, sizeof net, "%s/topologies/torus_8x8.yml", EXAMPLES);
    int fd = mkstemp(csv);
    close(fd);
    unlink(csv);
    const char *argv[] = {"compare", "--collective", "all_gather", "--sizes", "64KiB..1MiB",
                          "--ranks", "16", "--network", net, "--algorithms", "ring,direct",
                          "--csv", csv, "--quiet"};
    assert_int_equal(run(14, argv), 0);
    /* the model, built the way compare builds it without --system */
    net_topo t;
    loom_err e = {0};
    assert_int_equal(net_topo_load_file(net, &t, &e), 0);
    FILE *f = fopen(csv, "r");
    assert_non_null(f);
    char line[512];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "algorithm,model,collective,ranks,size_B,time_us,algbw_GBps,"
                              "busbw_GBps\n");
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        char algo[32], model[32], coll[32];
        int ranks;
        unsigned long long size;
        double us, alg, bus;
        assert_int_equal(sscanf(line, "%31[^,],%31[^,],%31[^,],%d,%llu,%lf,%lf,%lf", algo, model,
                                coll, &ranks, &size, &us, &alg, &bus), 8);
        assert_string_equal(model, "analytical");
        assert_int_equal(ranks, 16);
        net_calgo c;
        assert_int_equal(net_calgo_parse(algo, &c), 0);
        net_sys s = {.splits = 1, .active_chunks = 1, .local_mem_bw = 1e300, .calgo = c};
        net_model *m = net_model_create(&t, &s, &e);
        int all[16];
        for (int i = 0; i < 16; i++)
            all[i] = i;
        net_group *g = net_group_create(m, all, 16, &e);
        /* all-gather: the CSV's size is the output; comm_size = size / 16 */
        double want = (double)net_coll_time(m, g, NET_ALL_GATHER, size / 16, 0xff) / 1e6;
        assert_true(fabs(us - want) < 1e-6);
        assert_true(fabs(alg - size / (want * 1e-6) / 1e9) < 1e-6 * alg);
        assert_true(fabs(bus - alg * 15.0 / 16) < 1e-6 * bus);
        net_group_destroy(g);
        net_model_destroy(m);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 2 * 5); /* 64, 128, 256, 512, 1024 KiB */
    unlink(csv);
}

/* A workload of eight ranks, each one all-reduce of 1 MiB: ASTRA-sim's
 * fixture, replayed per algorithm. */
static void test_workload_mode(void **state)
{
    (void)state;
    char wl[512], net[512], sys[512], csv[] = "/tmp/loom_cmpw_XXXXXX";
    snprintf(wl, sizeof wl, "%s/allreduce_ring8/all_reduce", EXAMPLES);
    snprintf(net, sizeof net, "%s/allreduce_ring8/network.yml", EXAMPLES);
    snprintf(sys, sizeof sys, "%s/allreduce_ring8/system.json", EXAMPLES);
    int fd = mkstemp(csv);
    close(fd);
    const char *argv[] = {"compare", "-w", wl, "-n", net, "-s", sys, "-a",
                          "ring,hd,direct,nccl", "--csv", csv, "-q"};
    assert_int_equal(run(12, argv), 0);
    FILE *f = fopen(csv, "r");
    char line[512];
    assert_non_null(fgets(line, sizeof line, f));
    int rows = 0;
    double ring_t = 0, hd_t = 0;
    while (fgets(line, sizeof line, f)) {
        char algo[32], coll[32];
        double step, exposed, t, alg, bus;
        int n;
        assert_int_equal(sscanf(line, "%31[^,],%*[^,],%lf,%lf,%31[^,],%d,%lf,%lf,%lf", algo,
                                &step, &exposed, coll, &n, &t, &alg, &bus), 8);
        assert_string_equal(coll, "ALL_REDUCE");
        assert_int_equal(n, 1);
        assert_true(step >= t - 1e-6); /* the step contains the collective */
        if (strcmp(algo, "ring") == 0)
            ring_t = t;
        if (strcmp(algo, "hd") == 0)
            hd_t = t;
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 4);
    assert_true(ring_t > 0 && hd_t > 0 && ring_t != hd_t);
    unlink(csv);
}

static void test_bad_command_lines(void **state)
{
    (void)state;
    char net[512];
    snprintf(net, sizeof net, "%s/topologies/torus_8x8.yml", EXAMPLES);
    const char *a1[] = {"compare", "--collective", "all_reduce", "--sizes", "1KiB..x",
                        "--network", net};
    assert_int_equal(run(7, a1), 2);
    const char *a2[] = {"compare", "--collective", "all_reduce", "--sizes", "1KiB",
                        "--network", net, "--algorithms", "ring,bogus"};
    assert_int_equal(run(9, a2), 2);
    const char *a3[] = {"compare", "--collective", "all_reduce", "--sizes", "1KiB",
                        "--network", net, "--ranks", "65"};
    assert_int_equal(run(9, a3), 2);
    const char *a4[] = {"compare", "--collective", "all_reduce", "--network", net};
    assert_int_equal(run(5, a4), 2);
    const char *a5[] = {"compare", "--workload", "x", "--network", net};
    assert_int_equal(run(5, a5), 2);
    const char *a6[] = {"compare", "--collective", "scan", "--sizes", "1KiB", "--network", net};
    assert_int_equal(run(7, a6), 2);
    /* without --system only the network file is read: --set is refused,
     * not silently ignored; more than 16 algorithms is refused as such */
    const char *a8[] = {"compare", "--collective", "all_reduce", "--sizes", "1KiB",
                        "--network", net, "--set", "network.bandwidth[0]=1"};
    assert_int_equal(run(9, a8), 2);
    const char *a9[] = {"compare", "--collective", "all_reduce", "--sizes", "1KiB", "--network",
                        net, "--algorithms", "ring,ring,ring,ring,ring,ring,ring,ring,ring,ring,"
                        "ring,ring,ring,ring,ring,ring,ring"};
    assert_int_equal(run(9, a9), 2);
    const char *a7[] = {"compare", "--help"};
    assert_int_equal(run(2, a7), 0);
}

int main(void)
{
    loom_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collective_mode_csv),
        cmocka_unit_test(test_workload_mode),
        cmocka_unit_test(test_bad_command_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

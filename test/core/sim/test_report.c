/* The report writers (core/sim/report_*.c) on hand-built results: every
 * expected figure below is worked out from the record's fields by hand,
 * not copied from what the writer printed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "et_graph.h"
#include "report.h"
#include "sim_testutil.h"

static const char net1[] = "topology: [ Ring ]\nnpus_count: [ 2 ]\nbandwidth: [ 1 ]\nlatency: [ 0 ]\n";

/* The text report of an empty one-rank result under cfg, as a string. */
static char *text_of(const loom_cfg *cfg)
{
    loom_rank_stats rk = {0};
    loom_result res = {.nranks = 1, .ranks = &rk};
    loom_run_info info = {"w", "n.yml", "s.json", NULL};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    loom_report_text(f, &info, cfg, &res);
    fclose(f);
    return buf;
}

/* The system line names the model that ran, for each of the three
 * (issue 9: "compute-model: table" used to print "trace"). */
static void test_text_compute_model(void **state)
{
    (void)state;
    st_put("k.csv", "kernel,flops,bytes,time_us\n*,1000,0,1\n");
    static const struct {
        const char *sys, *want;
    } cases[] = {
        {"local-mem-bw: 100\ncompute-model: trace\n", "compute model trace\n"},
        {"local-mem-bw: 100\n", "compute model trace\n"}, /* the default */
        {"local-mem-bw: 100\npeak-perf: 10\ncompute-model: roofline\n", "compute model roofline\n"},
        {"local-mem-bw: 100\npeak-perf: 10\nroofline-enabled: 1\n", "compute model roofline\n"},
        {"local-mem-bw: 100\ncompute-model: table\ncompute-table: k.csv\n", "compute model table\n"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        loom_cfg cfg;
        loom_err err;
        if (st_load(&cfg, net1, cases[k].sys, NULL, 0, &err) < 0)
            fail_msg("case %zu: %s", k, err.msg);
        char *t = text_of(&cfg);
        if (strstr(t, cases[k].want) == NULL)
            fail_msg("case %zu: no '%s' in:\n%s", k, cases[k].want, t);
        free(t);
        loom_cfg_free(&cfg);
    }
}


#define US 1000000LL /* ps */

/* Two ranks with every figure distinct, and rank 2 equal to rank 0 so the
 * text table groups them. */
static loom_rank_stats ranks3[3] = {
    {.finish = 10 * US, .compute = 6 * US, .comm = 5 * US, .exposed_comm = 3 * US,
     .overlapped_comm = 2 * US, .cpu = 1 * US, .mem = US / 2, .idle = 1 * US, .nodes = 7},
    {.finish = 8 * US, .compute = 2 * US, .comm = 4 * US, .exposed_comm = 4 * US,
     .overlapped_comm = 0, .cpu = 0, .mem = 0, .idle = 2 * US, .nodes = 5},
    {.finish = 10 * US, .compute = 6 * US, .comm = 5 * US, .exposed_comm = 3 * US,
     .overlapped_comm = 2 * US, .cpu = 1 * US, .mem = US / 2, .idle = 1 * US, .nodes = 7},
};

/* An all-reduce of 10^6 bytes over 2 ranks moving from 2 us to 4 us:
 *   algbw = 10^6 B / 2000 ns = 500 GB/s, busbw = 500 * 2(2-1)/2 = 500;
 * an all-gather of 1000 bytes per rank over 4 ranks in 1000 ns:
 *   size = 4 * 1000 = 4000 B, algbw = 4 GB/s, busbw = 4 * 3/4 = 3. */
static loom_coll_record colls2[2] = {
    {.type = ET_ALL_REDUCE, .bytes = 1000000, .nranks = 2, .group = "a,b", .seq = 3,
     .exposed = 3 * US / 2, .first_join = 1 * US, .start = 2 * US, .end = 4 * US, .algo = "ring@0"},
    {.type = ET_ALL_GATHER, .bytes = 1000, .nranks = 4, .group = "", .seq = 0,
     .exposed = 0, .first_join = 5 * US, .start = 5 * US, .end = 6 * US, .algo = "direct@0"},
};

static loom_result result3(void)
{
    loom_result r = {.nranks = 3, .ranks = ranks3, .colls = colls2, .ncolls = 2,
                     .step_time = 10 * US, .events = 42, .queue_high = 5, .distinct_graphs = 2,
                     .wall_seconds = 1.5, .peak_rss_bytes = 1 << 20, .p2p_messages = 9};
    return r;
}

static void test_csv_ranks(void **state)
{
    (void)state;
    loom_result res = result3();
    loom_err err = {0};
    const char *p = st_path("ranks.csv");
    assert_int_equal(loom_report_csv_ranks(p, &res, &err), 0);
    char *s = st_slurp(p);
    assert_string_equal(s,
        "rank,finish_ns,compute_ns,comm_ns,exposed_comm_ns,overlapped_comm_ns,cpu_ns,mem_ns,idle_ns,nodes\n"
        "0,10000.000,6000.000,5000.000,3000.000,2000.000,1000.000,500.000,1000.000,7\n"
        "1,8000.000,2000.000,4000.000,4000.000,0.000,0.000,0.000,2000.000,5\n"
        "2,10000.000,6000.000,5000.000,3000.000,2000.000,1000.000,500.000,1000.000,7\n");
    free(s);
}

static void test_csv_colls(void **state)
{
    (void)state;
    loom_result res = result3();
    loom_err err = {0};
    const char *p = st_path("colls.csv");
    assert_int_equal(loom_report_csv_colls(p, &res, &err), 0);
    char *s = st_slurp(p);
    /* the group "a,b" holds a comma: quoted (RFC 4180) */
    assert_string_equal(s,
        "index,type,bytes,ranks,group,seq,algorithm,first_join_ns,start_ns,end_ns,time_ns,"
        "exposed_ns,algbw_GBps,busbw_GBps\n"
        "0,ALL_REDUCE,1000000,2,\"a,b\",3,ring@0,1000.000,2000.000,4000.000,2000.000,1500.000,"
        "500.000,500.000\n"
        "1,ALL_GATHER,1000,4,,0,direct@0,5000.000,5000.000,6000.000,1000.000,0.000,4.000,3.000\n");
    free(s);
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("no number '%s'", key);
    return json_number_value(v);
}

static void test_json(void **state)
{
    (void)state;
    loom_result res = result3();
    loom_run_info info = {"wl", "net.yml", "sys.json", NULL};
    loom_err err = {0};
    const char *p = st_path("r.json");
    loom_cfg cfg = {.sys = {.model = NET_MODEL_FLOW}};
    for (int repro = 0; repro < 2; repro++) {
        /* --json-detail: every rank and every collective instance */
        int flags = (repro ? LOOM_JSON_REPRODUCIBLE : 0) | LOOM_JSON_DETAIL;
        assert_int_equal(loom_report_json(p, &info, repro ? &cfg : NULL, &res, flags, &err), 0);
        json_error_t je;
        json_t *root = json_load_file(p, 0, &je);
        if (root == NULL)
            fail_msg("%s", je.text);
        assert_string_equal(json_string_value(json_object_get(root, "workload")), "wl");
        assert_string_equal(json_string_value(json_object_get(root, "network")), "net.yml");
        assert_string_equal(json_string_value(json_object_get(root, "system")), "sys.json");
        /* the network model that ran, when the caller gives the configuration */
        if (repro)
            assert_string_equal(json_string_value(json_object_get(root, "network_model")), "flow");
        else
            assert_null(json_object_get(root, "network_model"));
        assert_true(num(root, "step_time_ns") == 10000.0);
        assert_true(num(root, "p2p_messages") == 9);
        json_t *ranks = json_object_get(root, "ranks");
        assert_int_equal(json_array_size(ranks), 3);
        json_t *r1 = json_array_get(ranks, 1);
        assert_true(num(r1, "rank") == 1);
        assert_true(num(r1, "finish_ns") == 8000.0);
        assert_true(num(r1, "compute_ns") == 2000.0);
        assert_true(num(r1, "comm_ns") == 4000.0);
        assert_true(num(r1, "exposed_comm_ns") == 4000.0);
        assert_true(num(r1, "overlapped_comm_ns") == 0.0);
        assert_true(num(r1, "cpu_ns") == 0.0);
        assert_true(num(r1, "mem_ns") == 0.0);
        assert_true(num(r1, "idle_ns") == 2000.0);
        assert_true(json_is_integer(json_object_get(r1, "nodes")));
        assert_true(num(r1, "nodes") == 5);
        assert_int_equal(json_object_size(r1), 10); /* rank + the 9 of docs/REPORT.md */
        json_t *c = json_array_get(json_object_get(root, "collectives"), 0);
        assert_int_equal(json_object_size(c), 12); /* no time_ns: CSV only */
        assert_string_equal(json_string_value(json_object_get(c, "type")), "ALL_REDUCE");
        assert_string_equal(json_string_value(json_object_get(c, "group")), "a,b");
        assert_string_equal(json_string_value(json_object_get(c, "algorithm")), "ring@0");
        assert_true(num(c, "bytes") == 1e6);
        assert_true(num(c, "ranks") == 2);
        assert_true(num(c, "seq") == 3);
        assert_true(num(c, "exposed_ns") == 1500.0);
        assert_true(num(c, "algbw_GBps") == 500.0);
        assert_true(num(c, "busbw_GBps") == 500.0);
        assert_true(num(c, "first_join_ns") == 1000.0);
        assert_true(num(c, "start_ns") == 2000.0);
        assert_true(num(c, "end_ns") == 4000.0);
        c = json_array_get(json_object_get(root, "collectives"), 1);
        assert_true(num(c, "algbw_GBps") == 4.0);
        assert_true(num(c, "busbw_GBps") == 3.0);
        assert_int_equal(json_array_size(json_object_get(root, "congested_links")), 0);
        json_t *sim = json_object_get(root, "sim");
        assert_true(num(sim, "events") == (repro ? 0 : 42)); /* how, not what: 0 */
        assert_true(num(sim, "queue_high_water") == (repro ? 0 : 5));
        assert_true(num(sim, "distinct_traces") == 2);
        assert_true(num(sim, "wall_seconds") == (repro ? 0 : 1.5));
        assert_true(num(sim, "peak_rss_bytes") == (repro ? 0 : 1 << 20));
        json_decref(root);
    }
    /* the collective instants close each object, as they always have */
    char *s = st_slurp(p);
    const char *a = strstr(s, "\"busbw_GBps\""), *b = strstr(s, "\"first_join_ns\"");
    assert_true(a && b && a < b);
    free(s);
}

static json_t *get(json_t *o, const char *path) /* "a.b.c" */
{
    char key[64];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        o = json_object_get(o, key);
        path += n + (path[n] == '.');
    }
    if (o == NULL)
        fail_msg("no '%s'", path);
    return o;
}

/* The default JSON summarises.  result3's finish times are 10, 8, 10 us:
 * sorted 8, 10, 10; nearest-rank p50 is the ceil(0.5*3) = 2nd (10 us), p99
 * the ceil(0.99*3) = 3rd (10 us); mean 28/3 us = 9333.333 ns.  Nodes 7, 5,
 * 7: mean 19/3.  Slowest: finish descending, rank ascending: 0, 2, 1.
 * One instance per kind: every time statistic is that instance's. */
static void test_json_summary(void **state)
{
    (void)state;
    loom_result res = result3();
    loom_run_info info = {"wl", "net.yml", "sys.json", NULL};
    loom_err err = {0};
    const char *p = st_path("s.json");
    assert_int_equal(loom_report_json(p, &info, NULL, &res, LOOM_JSON_REPRODUCIBLE, &err), 0);
    json_error_t je;
    json_t *root = json_load_file(p, 0, &je);
    if (root == NULL)
        fail_msg("%s", je.text);
    assert_null(json_object_get(root, "collectives")); /* only with --json-detail */
    assert_int_equal(json_array_size(get(root, "ranks")), 3); /* few ranks: listed */
    assert_true(json_is_true(get(root, "rank_summary.listed")));
    assert_true(num(get(root, "rank_summary"), "ranks") == 3);
    json_t *fin = get(root, "rank_summary.fields.finish_ns");
    assert_true(num(fin, "min") == 8000.0);
    assert_true(num(fin, "p50") == 10000.0);
    assert_true(num(fin, "p99") == 10000.0);
    assert_true(num(fin, "max") == 10000.0);
    assert_true(fabs(num(fin, "mean") - 28000.0 / 3) < 1e-9);
    json_t *nodes = get(root, "rank_summary.fields.nodes");
    assert_true(json_is_integer(json_object_get(nodes, "min")) && num(nodes, "min") == 5);
    assert_true(fabs(num(nodes, "mean") - 19.0 / 3) < 1e-12);
    json_t *slow = get(root, "rank_summary.slowest");
    assert_int_equal(json_array_size(slow), 3);
    assert_true(num(json_array_get(slow, 0), "rank") == 0);
    assert_true(num(json_array_get(slow, 1), "rank") == 2);
    assert_true(num(json_array_get(slow, 2), "rank") == 1);
    json_t *kinds = get(root, "collective_kinds");
    assert_int_equal(json_array_size(kinds), 2);
    json_t *k = json_array_get(kinds, 0); /* the all-reduce: 1.5 us exposed against 0 */
    assert_string_equal(json_string_value(json_object_get(k, "type")), "ALL_REDUCE");
    assert_string_equal(json_string_value(json_object_get(k, "algorithm")), "ring@0");
    assert_true(num(k, "count") == 1 && num(k, "bytes") == 1e6 && num(k, "ranks") == 2);
    assert_true(num(k, "time_total_ns") == 2000.0 && num(k, "time_mean_ns") == 2000.0);
    assert_true(num(k, "time_p50_ns") == 2000.0 && num(k, "time_p99_ns") == 2000.0);
    assert_true(num(k, "exposed_total_ns") == 1500.0);
    assert_true(num(k, "algbw_GBps") == 500.0 && num(k, "busbw_GBps") == 500.0);
    k = json_array_get(kinds, 1);
    assert_true(num(k, "algbw_GBps") == 4.0 && num(k, "busbw_GBps") == 3.0);
    json_decref(root);
}

/* Over LOOM_JSON_RANKS_LISTED ranks the default JSON lists none, only the
 * summary.  2,000 ranks finishing at (r+1) us: min 1 us, p50 the 1,000th
 * (1,000 us), p99 the ceil(0.99*2000) = 1,980th (1,980 us), max 2,000 us,
 * mean 2001/2 us; the slowest 8 are ranks 1999 down to 1992.  200
 * all-reduces of one kind taking 1..200 us: p50 the 100th (100 us), p99
 * the 198th (198 us), mean 100.5 us, total 200*201/2 = 20,100 us; in the
 * text table, mean 100.500 and p99 198.000 us, exposed 200 x 1 us. */
static void test_json_many_ranks(void **state)
{
    (void)state;
    enum { N = 2000, C = 200 };
    loom_rank_stats *rk = calloc(N, sizeof *rk);
    loom_coll_record *cs = calloc(C, sizeof *cs);
    for (int r = 0; r < N; r++)
        rk[r].finish = rk[r].idle = (r + 1) * US;
    for (int c = 0; c < C; c++) /* in a shuffled order: 7 is prime to 200 */
        cs[c] = (loom_coll_record){.type = ET_ALL_REDUCE, .bytes = 4096, .nranks = N, .group = "",
                                   .seq = (uint64_t)c, .exposed = US, .start = 0,
                                   .end = ((c * 7) % C + 1) * US, .algo = "ring@0"};
    loom_result res = {.nranks = N, .ranks = rk, .colls = cs, .ncolls = C, .step_time = N * US};
    loom_run_info info = {"wl", "net.yml", "sys.json", NULL};
    loom_err err = {0};
    const char *p = st_path("m.json");
    assert_int_equal(loom_report_json(p, &info, NULL, &res, LOOM_JSON_REPRODUCIBLE, &err), 0);
    json_error_t je;
    json_t *root = json_load_file(p, 0, &je);
    if (root == NULL)
        fail_msg("%s", je.text);
    assert_null(json_object_get(root, "ranks"));
    assert_null(json_object_get(root, "collectives"));
    assert_true(json_is_false(get(root, "rank_summary.listed")));
    json_t *fin = get(root, "rank_summary.fields.finish_ns");
    assert_true(num(fin, "min") == 1e3 && num(fin, "p50") == 1e6 && num(fin, "p99") == 1.98e6 &&
                num(fin, "max") == 2e6 && num(fin, "mean") == 1000500.0);
    json_t *slow = get(root, "rank_summary.slowest");
    assert_int_equal(json_array_size(slow), 8);
    for (int i = 0; i < 8; i++)
        assert_true(num(json_array_get(slow, i), "rank") == N - 1 - i);
    json_t *k = json_array_get(get(root, "collective_kinds"), 0);
    assert_true(num(k, "count") == C && num(k, "time_min_ns") == 1e3 && num(k, "time_max_ns") == 2e5);
    assert_true(num(k, "time_p50_ns") == 1e5 && num(k, "time_p99_ns") == 1.98e5);
    assert_true(num(k, "time_mean_ns") == 100500.0 && num(k, "time_total_ns") == 2.01e7);
    assert_true(num(k, "exposed_total_ns") == 2e5);
    json_decref(root);
    /* --json-detail lists them all again */
    assert_int_equal(loom_report_json(p, &info, NULL, &res, LOOM_JSON_DETAIL, &err), 0);
    root = json_load_file(p, 0, &je);
    assert_int_equal(json_array_size(get(root, "ranks")), N);
    assert_int_equal(json_array_size(get(root, "collectives")), C);
    assert_true(json_is_true(get(root, "rank_summary.listed")));
    json_decref(root);
    loom_cfg cfg;
    if (st_load(&cfg, net1, "local-mem-bw: 100\n", NULL, 0, &err) < 0)
        fail_msg("%s", err.msg);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    loom_report_text(f, &info, &cfg, &res);
    fclose(f);
    if (!strstr(buf, "ALL_REDUCE           200         4096   2000 ring@0                              "
                     "      100.500      198.000        200.000"))
        fail_msg("collective row not as derived:\n%s", strstr(buf, "\ncollectives by"));
    free(buf);
    loom_cfg_free(&cfg);
    free(rk);
    free(cs);
}

/* Ranks 0 and 2 agree on every figure: one row "0,2"; rank 1 its own.
 * Columns: finish, then compute, exposed, overlapped and idle, each with
 * its share of the rank's finish: 6/10 = 60.0 %, 3/10, 2/10, 1/10. */
static void test_text_ranks(void **state)
{
    (void)state;
    loom_result res = result3();
    loom_cfg cfg;
    loom_err err;
    if (st_load(&cfg, net1, "local-mem-bw: 100\n", NULL, 0, &err) < 0)
        fail_msg("%s", err.msg);
    loom_run_info info = {"w", "n.yml", "s.json", NULL};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    loom_report_text(f, &info, &cfg, &res);
    fclose(f);
    const char *head = "ranks              finish(us)  compute(us)      % exp.comm(us)      % "
                       "ovl.comm(us)      %     idle(us)      %\n";
    const char *row02 = "0,2                    10.000        6.000   60.0        3.000   30.0 "
                        "       2.000   20.0        1.000   10.0\n";
    const char *row1 = "1                       8.000        2.000   25.0        4.000   50.0 "
                       "       0.000    0.0        2.000   25.0\n";
    const char *h = strstr(buf, head), *a = strstr(buf, row02), *b = strstr(buf, row1);
    if (!h || !a || !b || !(h < a && a < b))
        fail_msg("rank table not as derived:\n%s", buf);
    assert_non_null(strstr(buf, "\nstep time  10.000 us\n"));
    /* all-reduce first: 1.5 us exposed against 0 */
    assert_non_null(strstr(buf, "ALL_REDUCE             1      1000000      2 ring@0"));
    free(buf);
    loom_cfg_free(&cfg);
}

/* Every field a writer shows is named in docs/REPORT.md, so a new column
 * cannot land undocumented. */
static void test_fields_documented(void **state)
{
    (void)state;
    char *doc = st_slurp(FIXTURES "/../../docs/REPORT.md");
    assert_non_null(doc);
    for (int k = 0; k < loom_nrank_fields; k++)
        if (strstr(doc, loom_rank_fields[k].name) == NULL)
            fail_msg("docs/REPORT.md does not name %s", loom_rank_fields[k].name);
    for (int k = 0; k < loom_ncoll_fields; k++)
        if (strstr(doc, loom_coll_fields[k].name) == NULL)
            fail_msg("docs/REPORT.md does not name %s", loom_coll_fields[k].name);
    free(doc);
}

/* comp_kind_name and comp_kind_parse are inverse on the four names. */
static void test_kind_names(void **state)
{
    (void)state;
    static const char *const names[] = {"trace", "roofline", "table", "kernel"};
    for (int k = 0; k < COMP_KINDS; k++) {
        comp_kind got;
        assert_string_equal(comp_kind_name((comp_kind)k), names[k]);
        assert_int_equal(comp_kind_parse(names[k], &got), 0);
        assert_int_equal(got, k);
    }
    comp_kind got;
    assert_int_equal(comp_kind_parse("Roofline", &got), -1);
    assert_string_equal(comp_kind_name((comp_kind)7), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_compute_model),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_csv_ranks),
        cmocka_unit_test(test_csv_colls),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_summary),
        cmocka_unit_test(test_json_many_ranks),
        cmocka_unit_test(test_text_ranks),
        cmocka_unit_test(test_fields_documented),
    };
    return cmocka_run_group_tests(tests, st_setup, st_teardown);
}

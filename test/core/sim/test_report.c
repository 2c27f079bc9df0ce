/* The report writers (core/sim/report_*.c) on hand-built results: every
 * expected figure below is worked out from the record's fields by hand,
 * not copied from what the writer printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

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

/* comp_kind_name and comp_kind_parse are inverse on the three names. */
static void test_kind_names(void **state)
{
    (void)state;
    static const char *const names[] = {"trace", "roofline", "table"};
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
    };
    return cmocka_run_group_tests(tests, st_setup, st_teardown);
}

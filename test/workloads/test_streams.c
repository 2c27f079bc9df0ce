/*
 * test_streams.c: the order of `loom gen llm`'s communication streams
 * (workloads/wl_emit.c emit_on, docs/WORKLOADS.md "Communication
 * streams"): each collective and send waits for the node written before it
 * on its stream, as a CUDA stream runs its work in order, so the order
 * written must be the host's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "gen_check.h"

/* ZeRO-3's parameter all-gathers are written one layer ahead of their
 * layer, as FSDP issues its prefetch, so the data-parallel stream (which
 * runs in the order written) has each layer's gather before the previous
 * layer's gradient reduce-scatter: one microbatch of 4 layers, forward
 * then backward, and each collective waits for the one before it on the
 * stream. */
static void test_zero3_order(void **state)
{
    (void)state;
    const char *pre = tp("z3o/s");
    expect_exit(loomrun_run(loomrun_tmp, "gen", "llm", "--preset", "llama3-8b", "--layers", "4",
                            "--seq", "512", "--dp", "2", "--global-batch", "2", "--zero", "3",
                            "--out", pre, "-q", NULL),
                0, NULL);
    et_graph *g = load_prefix(pre, 0);
    static const char *const want[] = {
        "L0.F0.zero3_ag", "L1.F0.zero3_ag", "L2.F0.zero3_ag", "L3.F0.zero3_ag",
        "L3.B0.zero3_ag", "L2.B0.zero3_ag", "L3.B0.zero3_rs", "L1.B0.zero3_ag",
        "L2.B0.zero3_rs", "L0.B0.zero3_ag", "L1.B0.zero3_rs", "L0.B0.zero3_rs"};
    size_t k = 0;
    uint32_t prev = UINT32_MAX;
    for (uint32_t i = 0; i < g->n; i++) {
        const char *nm = et_gnode_name(g, &g->nodes[i]);
        if (!strstr(nm, "zero3_"))
            continue;
        if (k >= sizeof want / sizeof want[0])
            fail_msg("more ZeRO-3 collectives than written by hand: %s", nm);
        assert_string_equal(nm, want[k]);
        const et_gnode *n = &g->nodes[i];
        if (prev != UINT32_MAX && !waits_for(g, n, &g->nodes[prev])) /* its stream's previous */
            fail_msg("%s does not wait for %s", nm, et_gnode_name(g, &g->nodes[prev]));
        prev = i;
        k++;
    }
    assert_int_equal(k, sizeof want / sizeof want[0]);
    et_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero3_order),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}

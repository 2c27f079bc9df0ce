/*
 * test_pos.c: `loom gen llm --position` (docs/WORKLOADS.md, "Positions").
 * Rotary embeddings are one kernel per layer on the rank's queries and keys
 * in the forward ("rope") and on their gradients in the backward
 * ("rope_bwd"): n = T (a/t + g/t) d elements, 3 n FLOPs, 2 e n bytes (read
 * and written once).  Learned positions add s x h embedding parameters and
 * one more row read per token at the input; ALiBi adds neither kernel nor
 * parameters.  Every expected figure below is that formula worked out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "gen_check.h"

/* llama3-8b's shape cut to 2 layers, TP 2: a = 32, g = 8, d = 128 */
#define L8 "--preset", "llama3-8b", "--layers", "2", "--tp", "2", "--global-batch", "1", "-q"

/* Generates with the extra arguments (NULL-ended) into name; loads rank 0. */
static et_graph *gen(const char *name, const char *a1, const char *a2, const char *a3)
{
    int rc = loomrun_run(loomrun_tmp, "gen", "llm", L8, "--out", tp(name), a1, a2, a3, NULL);
    if (rc != 0)
        fail_msg("gen llm %s: exit %d: %s", name, rc, loomrun_err);
    return load_prefix(tp(name), 0);
}

/* LLaMA's default: rotary.  One microbatch of 8192 tokens: T = 8192, on
 * a rank a/t = 16 query heads and g/t = 4 key/value heads of d = 128:
 * n = 8192 x 20 x 128 = 20,971,520; 62,914,560 FLOPs, 83,886,080 bytes
 * (bf16); two layers, forward and backward. */
static void test_rope(void **state)
{
    (void)state;
    uint64_t f = 0, b = 0;
    et_graph *g = gen("rope", NULL, NULL, NULL);
    assert_int_equal(ending_with(g, "rope", &f, &b), 2);
    assert_true(f == 62914560ull && b == 83886080ull);
    assert_int_equal(ending_with(g, "rope_bwd", &f, &b), 2);
    assert_true(f == 62914560ull && b == 83886080ull);
    uint64_t ef = 0, eb = 0;
    assert_int_equal(ending_with(g, "embed", &ef, &eb), 1);
    assert_true(eb == 2ull * 8192 * 4096 * 2); /* rows read, output written */
    et_graph_free(g);
}

/* --position learned: no rotary kernels; the input also reads the position
 * rows: 3 x 2 B x 8192 x 4096.  alibi: neither. */
static void test_learned_alibi(void **state)
{
    (void)state;
    uint64_t f = 0, b = 0;
    et_graph *g = gen("learned", "--position", "learned", NULL);
    assert_int_equal(ending_with(g, "rope", &f, &b) + ending_with(g, "rope_bwd", &f, &b), 0);
    assert_int_equal(ending_with(g, "embed", &f, &b), 1);
    assert_true(b == 3ull * 8192 * 4096 * 2);
    et_graph_free(g);
    g = gen("alibi", "--position", "alibi", NULL);
    assert_int_equal(ending_with(g, "rope", &f, &b) + ending_with(g, "rope_bwd", &f, &b), 0);
    assert_int_equal(ending_with(g, "embed", &f, &b), 1);
    assert_true(b == 2ull * 8192 * 4096 * 2);
    et_graph_free(g);
    assert_int_equal(loomrun_run(loomrun_tmp, "gen", "llm", L8, "--position", "sinusoid", "--out",
                                 loomrun_path("bad"), NULL), 2);
    assert_non_null(strstr(loomrun_err, "--position 'sinusoid': expected learned, rope or alibi"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rope),
        cmocka_unit_test(test_learned_alibi),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}

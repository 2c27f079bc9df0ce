/*
 * test_et_check.c: `loom trace validate` and `loom trace info`.
 *
 * Clean fixtures must validate clean; the PyTorch-converted fixture's
 * problems are counted against figures found independently (the fixtures
 * README for the 1,277 dangling edges; a separate Python wire-format
 * parse with Tarjan's algorithm for its 383 self-dependencies and 417
 * cyclic components).  Broken traces made here must produce one line per
 * problem naming the file and the node.
 */
#include "et_check.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "et_graph.h"
#include "et_testutil.h"

#define CHAKRA FIXTURES "/chakra"

typedef struct {
    char *text; /* what the command printed */
    size_t len; /* its length */
    int rc;     /* what it returned */
    loom_err err; /* its error record */
} run;

static run do_run(int info, const char *prefix)
{
    run r;
    memset(&r, 0, sizeof r);
    FILE *f = open_memstream(&r.text, &r.len);
    assert_non_null(f);
    r.rc = info ? et_info(prefix, f, &r.err) : et_validate(prefix, f, &r.err);
    fclose(f);
    return r;
}

static void test_clean_fixtures(void **state)
{
    (void)state;
    static const char *const clean[] = {
        "micro_all_reduce_8npus_1MB/all_reduce",
        "micro_all_to_all_16npus_1MB/all_to_all",
        "custom_ring_allreduce_8npus_1MB/custom_allreduce",
        "legacy_resnet50_dp_64npus/resnet50_DataParallel",
        "tutorial_allreduce_8npus_2dim/allreduce",
        "tutorial_mlp_model_parallel_32npus/MLP_ModelParallel",
    };
    char prefix[512];
    for (size_t i = 0; i < sizeof clean / sizeof clean[0]; i++) {
        snprintf(prefix, sizeof prefix, "%s/%s", CHAKRA, clean[i]);
        run r = do_run(0, prefix);
        if (r.rc != 0)
            fail_msg("%s: rc %d\n%s", prefix, r.rc, r.text);
        assert_int_equal(r.len, 0);
        free(r.text);
    }
    /* one file named directly */
    run r = do_run(0, CHAKRA "/micro_all_reduce_8npus_1MB/all_reduce.3.et");
    assert_int_equal(r.rc, 0);
    free(r.text);
}

static void test_pytorch_problems(void **state)
{
    (void)state;
    run r = do_run(0, CHAKRA "/pytorch_converted_1rank/chakra");
    assert_int_equal(tu_count(r.text, "not in file"), 1277);
    assert_int_equal(tu_count(r.text, ": ctrl_dep "), 1277);
    assert_int_equal(tu_count(r.text, "depends on itself (ctrl_deps)"), 383);
    assert_int_equal(tu_count(r.text, "dependency cycle"), 417);
    /* 14 c10d collectives carry neither comm_type nor comm_size */
    assert_int_equal(tu_count(r.text, "COMM_COLL_NODE without comm_type"), 14);
    assert_int_equal(tu_count(r.text, "COMM_COLL_NODE without comm_size"), 14);
    assert_int_equal(r.rc, 1277 + 383 + 417 + 14 + 14);
    assert_int_equal(tu_count(r.text, "\n"), r.rc); /* one line each */
    /* every line starts with the file */
    assert_int_equal(tu_count(r.text, CHAKRA "/pytorch_converted_1rank/"
                                      "chakra.0.et.gz: node "), r.rc);
    /* the shortest cycle through 3317 (checked by hand in the file) */
    assert_non_null(strstr(r.text, "node 3317: dependency cycle: 3317 -> "
                                   "3318 -> 3317"));
    free(r.text);
}

/* A trace with one of each problem, and the line each must produce. */
static void test_every_problem(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), *pre = tu_path(tmp, "bad");
    char *p0 = tu_path(tmp, "bad.0.et"), *p1 = tu_path(tmp, "bad.1.et");
    tb b = {0};
    ChakraProtoMsg__Node *n[32];
    size_t k = 0;
    /* cycle 1 -> 2 -> 3 -> 1 (1 depends on 2 ...) */
    n[k] = tb_node(&b, 1, ET_COMP_NODE, "c1"), tb_data(&b, n[k++], 2);
    n[k] = tb_node(&b, 2, ET_COMP_NODE, "c2"), tb_ctrl(&b, n[k++], 3);
    n[k] = tb_node(&b, 3, ET_COMP_NODE, "c3"), tb_data(&b, n[k++], 1);
    n[k] = tb_node(&b, 4, ET_COMP_NODE, "self"), tb_data(&b, n[k++], 4);
    n[k++] = tb_node(&b, 5, ET_COMP_NODE, "dup");
    n[k++] = tb_node(&b, 5, ET_COMP_NODE, "dup again");
    n[k] = tb_node(&b, 6, ET_COMM_SEND_NODE, "send");
    tb_i32(&b, n[k], "comm_tag", 0), tb_i64(&b, n[k++], "comm_size", 8);
    n[k] = tb_node(&b, 7, ET_COMM_RECV_NODE, "recv");
    tb_i32(&b, n[k], "comm_src", 0), tb_i64(&b, n[k++], "comm_size", 8);
    n[k] = tb_node(&b, 8, ET_COMM_COLL_NODE, "coll");
    tb_i64(&b, n[k++], "comm_size", 8);
    n[k] = tb_node(&b, 9, ET_COMM_COLL_NODE, "coll");
    tb_i64(&b, n[k], "comm_type", 77), tb_i64(&b, n[k++], "comm_size", 8);
    n[k] = tb_node(&b, 10, ET_COMM_COLL_NODE, "coll");
    tb_i64(&b, n[k], "comm_type", 0), tb_i64(&b, n[k++], "comm_size", -8);
    n[k] = tb_node(&b, 11, ET_COMM_COLL_NODE, "coll");
    tb_i64(&b, n[k++], "comm_type", ET_ALL_GATHER);
    n[k] = tb_node(&b, 12, ET_COMP_NODE, "ops");
    tb_str(&b, n[k++], "num_ops", "many");
    n[k++] = tb_node(&b, 13, 11, "alien");
    n[k] = tb_node(&b, 14, ET_COMP_NODE, "dangling");
    tb_ctrl(&b, n[k++], 999);
    /* not problems: a barrier needs no size; a send needs no comm_src */
    n[k] = tb_node(&b, 15, ET_COMM_COLL_NODE, "barrier");
    tb_i64(&b, n[k++], "comm_type", ET_BARRIER);
    n[k] = tb_node(&b, 16, ET_COMM_SEND_NODE, "send ok");
    tb_i32(&b, n[k], "comm_dst", 1), tb_i32(&b, n[k], "comm_tag", 3);
    tb_u64(&b, n[k++], "comm_size", 8);
    tb_write(p0, "0.0.4", n, k, 0);
    n[0] = tb_node(&b, 1, ET_COMP_NODE, "fine");
    tb_write(p1, "0.0.4", n, 1, 1);

    run r = do_run(0, pre);
    static const char *const want[] = {
        "node 1: dependency cycle: 1 -> 2 -> 3 -> 1 (each waits for the "
        "next; 3 nodes wait on each other)",
        "node 4: depends on itself (data_deps)",
        "node 5: duplicate id (nodes 5 and 6 in file order)",
        "node 6: COMM_SEND_NODE without comm_dst",
        "node 7: COMM_RECV_NODE without comm_tag",
        "node 8: COMM_COLL_NODE without comm_type",
        "node 9: comm_type 77 is not a CollectiveCommType (0..9)",
        "node 10: attribute comm_size is negative (-8)",
        "node 11: COMM_COLL_NODE without comm_size",
        "node 12: attribute num_ops is a string_val, not an integer",
        "node 13: unknown node type 11",
        "node 14: ctrl_dep 999 not in file",
    };
    size_t nwant = sizeof want / sizeof want[0];
    char line[512];
    for (size_t i = 0; i < nwant; i++) {
        snprintf(line, sizeof line, "%s: %s\n", p0, want[i]);
        if (strstr(r.text, line) == NULL)
            fail_msg("missing \"%s\" in:\n%s", line, r.text);
    }
    assert_int_equal(r.rc, (int)nwant);
    assert_int_equal(tu_count(r.text, "\n"), (int)nwant);
    assert_null(strstr(r.text, p1)); /* rank 1 is clean */
    free(r.text);

    /* info counts the same problems and the node types */
    r = do_run(1, pre);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.text, "ranks                 2\n"));
    assert_non_null(strstr(r.text, "files                 2 (2 distinct by "
                                   "content, 1 gzip)\n"));
    assert_non_null(strstr(r.text, "unknown type"));
    assert_non_null(strstr(r.text, "problems                        12"));
    assert_non_null(strstr(r.text, "dangling deps                    1"));
    free(r.text);

    tb_free(&b);
    free(p0);
    free(p1);
    free(pre);
    tu_rmtree(tmp);
}

/* A file that cannot be read fails the run, after the others are
 * checked; one that breaks part-way is a problem like any other. */
static void test_unreadable(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), *pre = tu_path(tmp, "u");
    char *p0 = tu_path(tmp, "u.0.et"), *p1 = tu_path(tmp, "u.1.et");
    char *p2 = tu_path(tmp, "u.2.et");
    tb b = {0};
    ChakraProtoMsg__Node *n[2];
    n[0] = tb_node(&b, 1, ET_COMP_NODE, "a");
    n[1] = tb_node(&b, 2, ET_COMP_NODE, "b");
    tb_data(&b, n[1], 3);
    tb_write(p0, "0.0.4", n, 2, 0);
    tu_write(p1, "", 0);
    tb_write(p2, "0.0.4", n, 2, 0);
    /* cut rank 2 inside its last message */
    size_t len;
    uint8_t *bytes = tu_read_raw(p2, &len);
    tu_write(p2, bytes, len - 2);
    free(bytes);

    run r = do_run(0, pre);
    assert_int_equal(r.rc, LOOM_ETRACE);
    assert_non_null(strstr(r.err.msg, p1));
    assert_non_null(strstr(r.err.msg, "empty"));
    char line[512];
    snprintf(line, sizeof line, "%s: node 2: data_dep 3 not in file\n", p0);
    assert_non_null(strstr(r.text, line));
    snprintf(line, sizeof line, "%s: cannot be read: ", p1);
    assert_non_null(strstr(r.text, line));
    snprintf(line, sizeof line, "%s: message 2 at byte ", p2);
    assert_non_null(strstr(r.text, line));
    assert_non_null(strstr(r.text, "runs past the end of the file"));
    free(r.text);

    r = do_run(1, pre);
    assert_int_equal(r.rc, LOOM_ETRACE);
    assert_non_null(strstr(r.err.msg, p1));
    free(r.text);

    char *none = tu_path(tmp, "none");
    r = do_run(0, none);
    assert_int_equal(r.rc, LOOM_ETRACE);
    assert_non_null(strstr(r.err.msg, "no rank files"));
    free(r.text);
    r = do_run(1, none);
    assert_int_equal(r.rc, LOOM_ETRACE);
    free(r.text);
    free(none);

    tb_free(&b);
    free(p0);
    free(p1);
    free(p2);
    free(pre);
    tu_rmtree(tmp);
}

/* A chain of 200,000 nodes closed into one cycle: the search must not
 * recurse (it would overflow the stack) and reports one cycle, shortened. */
static void test_long_cycle(void **state)
{
    (void)state;
    enum { N = 200000 };
    char *tmp = tu_tmpdir(), *pre = tu_path(tmp, "chain"),
         *p = tu_path(tmp, "chain.0.et");
    tb b = {0};
    ChakraProtoMsg__Node **n = tb_alloc(&b, N * sizeof *n);
    uint64_t *deps = tb_alloc(&b, N * sizeof *deps);
    for (int i = 0; i < N; i++) {
        n[i] = tb_node(&b, (uint64_t)i + 1, ET_COMP_NODE, NULL);
        deps[i] = i == 0 ? N : (uint64_t)i; /* i+1 waits for i; 1 for N */
        n[i]->data_deps = &deps[i];
        n[i]->n_data_deps = 1;
    }
    tb_write(p, "0.0.4", n, N, 1);
    run r = do_run(0, pre);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.text, "node 1: dependency cycle: 1 -> 200000 -> "
                                   "199999 -> "));
    assert_non_null(strstr(r.text, "... -> 1 (each waits for the next; "
                                   "200000 nodes wait on each other)"));
    free(r.text);
    tb_free(&b);
    free(p);
    free(pre);
    tu_rmtree(tmp);
}

static void test_info_fixtures(void **state)
{
    (void)state;
    run r = do_run(1, CHAKRA "/micro_all_reduce_8npus_1MB/all_reduce");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.text, "ranks                 8\n"));
    assert_non_null(strstr(r.text, "files                 8 (8 distinct by "
                                   "content)\n"));
    assert_non_null(strstr(r.text, "version               \"0.0.4\" (8 files)\n"));
    assert_non_null(strstr(r.text, "  COMM_COLL_NODE                 8\n"));
    /* 8 ranks x 1 MiB */
    assert_non_null(strstr(r.text, "  ALL_REDUCE                     8  "
                                   "8,388,608 B (8.00 MiB)\n"));
    assert_non_null(strstr(r.text, "problems                         0\n"));
    free(r.text);

    r = do_run(1, CHAKRA "/tutorial_allreduce_8npus_2dim/allreduce");
    assert_non_null(strstr(r.text, "(1 distinct by content)"));
    free(r.text);

    r = do_run(1, CHAKRA "/legacy_resnet50_dp_64npus/resnet50_DataParallel");
    assert_non_null(strstr(r.text, "legacy layout without GlobalMetadata (64 "
                                   "files)"));
    assert_non_null(strstr(r.text, "13,760 in all, 215 per rank"));
    free(r.text);

    r = do_run(1, CHAKRA "/custom_ring_allreduce_8npus_1MB/custom_allreduce");
    /* 8 ranks x 14 sends of 1 MiB / 8 */
    assert_non_null(strstr(r.text, "sends                          112  "
                                   "14,680,064 B (14.00 MiB)\n"));
    free(r.text);

    r = do_run(1, CHAKRA "/pytorch_converted_1rank/chakra");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.text, "\"1.0.1\" (attr schema; version empty)"));
    assert_non_null(strstr(r.text, "dangling deps                1,277"));
    assert_non_null(strstr(r.text, "problems                     2,105"));
    assert_non_null(strstr(r.text, "1 gzip"));
    free(r.text);
}

/* Rank files that are hard links of one (as `loom gen` writes a stage's
 * ranks) are scanned once: validate lists the file's problems at its
 * first path and names the others as the same file; info counts every
 * rank's share as before.  Rank 2 is a copy, not a link: scanned again. */
static void test_hard_links(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), *pre = tu_path(tmp, "hl");
    char *p0 = tu_path(tmp, "hl.0.et"), *p1 = tu_path(tmp, "hl.1.et"), *p2 = tu_path(tmp, "hl.2.et");
    tb b = {0};
    ChakraProtoMsg__Node *n[2];
    n[0] = tb_node(&b, 1, ET_COMP_NODE, "self");
    tb_data(&b, n[0], 1); /* one problem */
    n[1] = tb_node(&b, 2, ET_COMM_COLL_NODE, "ar");
    tb_i64(&b, n[1], "comm_type", ET_ALL_REDUCE), tb_i64(&b, n[1], "comm_size", 64);
    tb_write(p0, "0.0.4", n, 2, 0);
    assert_int_equal(link(p0, p1), 0);
    size_t len;
    uint8_t *bytes = tu_read_all(p0, &len);
    tu_write(p2, bytes, len);
    free(bytes);
    run r = do_run(0, pre);
    assert_int_equal(r.rc, 3); /* the file's one problem, for each of 3 ranks */
    assert_int_equal(tu_count(r.text, "depends on itself"), 2); /* rank 0 and the copy */
    char want[1600];
    snprintf(want, sizeof want, "%s: the same file as %s (a hard link): its 1 problem above\n",
             p1, p0);
    assert_non_null(strstr(r.text, want));
    free(r.text);
    r = do_run(1, pre);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.text, "files                 3 (1 distinct by content)\n"));
    assert_non_null(strstr(r.text, "  ALL_REDUCE                     3  192 B\n"));
    assert_non_null(strstr(r.text, "problems                         3"));
    free(r.text);
    tb_free(&b);
    tu_rmtree(tmp);
    free(pre);
    free(p0);
    free(p1);
    free(p2);
}

int main(void)
{
    loom_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_fixtures),
        cmocka_unit_test(test_pytorch_problems),
        cmocka_unit_test(test_every_problem),
        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_long_cycle),
        cmocka_unit_test(test_info_fixtures),
        cmocka_unit_test(test_hard_links),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

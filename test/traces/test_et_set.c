/*
 * test_et_set.c: trace sets: which rank files share a parsed graph (equal
 * bytes, hard links), .et.gz beside .et, the errors for missing and extra
 * rank files, and on_graph called once per distinct graph, in rank order.
 */
#include "et_set.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "et_testutil.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(dir);
    return 0;
}

/* A one-node trace whose compute node lasts dur us, at <dir>/<name>. */
static void write_trace(const char *name, uint64_t dur, int gzip)
{
    tb b = {0};
    ChakraProtoMsg__Node *n = tb_node(&b, 1, ET_COMP_NODE, "k");
    n->duration_micros = dur;
    char *p = tu_path(dir, name);
    tb_write(p, "1.0.0", &n, 1, gzip);
    free(p);
    tb_free(&b);
}

typedef struct seen {
    int idx[8], rep[8]; /* on_graph's arguments, in call order */
    int n;              /* calls */
    int refuse;         /* on_graph fails on the call with this index + 1 */
} seen;

static int on_graph(void *ctx, et_graph *g, int idx, int rep, loom_err *err)
{
    seen *s = ctx;
    assert_non_null(g);
    s->idx[s->n] = idx;
    s->rep[s->n] = rep;
    if (++s->n == s->refuse)
        return loom_err_set(err, LOOM_EUSAGE, "refused %d", idx);
    return 0;
}

static char *prefix(const char *name)
{
    return tu_path(dir, name);
}

/* Ranks 0 and 2 have equal bytes in separate files; rank 3 is a hard link
 * of rank 1's file; rank 1 differs: two graphs, 0 -> 0, 1 -> 1, 2 -> 0,
 * 3 -> 1, parsed from ranks 0 and 1. */
static void test_sharing(void **state)
{
    (void)state;
    write_trace("s.0.et", 5, 0);
    write_trace("s.1.et", 7, 0);
    write_trace("s.2.et", 5, 0);
    char *a = tu_path(dir, "s.1.et"), *b = tu_path(dir, "s.3.et");
    assert_int_equal(link(a, b), 0);
    free(a);
    free(b);
    char *pre = prefix("s");
    seen s = {.n = 0};
    et_set_opts o = {pre, 4, "the network", on_graph, &s};
    et_set *set;
    loom_err err = {0, ""};
    if (et_set_load(&o, &set, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(et_set_ngraphs(set), 2);
    static const int want[4] = {0, 1, 0, 1};
    for (int r = 0; r < 4; r++)
        assert_int_equal(et_set_index(set, r), want[r]);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.idx[0], 0);
    assert_int_equal(s.rep[0], 0);
    assert_int_equal(s.idx[1], 1);
    assert_int_equal(s.rep[1], 1);
    assert_true(et_set_graph(set, 0)->nodes[0].duration_us == 5);
    assert_true(et_set_graph(set, 1)->nodes[0].duration_us == 7);
    et_set_free(set);
    free(pre);
}

/* PREFIX.<r>.et.gz serves when PREFIX.<r>.et is absent; a gzip file and a
 * plain one with the same trace are different bytes, so two graphs. */
static void test_gzip(void **state)
{
    (void)state;
    write_trace("g.0.et.gz", 3, 1);
    write_trace("g.1.et", 3, 0);
    char *pre = prefix("g");
    et_set_opts o = {pre, 2, "the network", NULL, NULL};
    et_set *set;
    loom_err err = {0, ""};
    if (et_set_load(&o, &set, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(et_set_ngraphs(set), 2);
    assert_non_null(strstr(et_set_graph(set, 0)->path, "g.0.et.gz"));
    assert_true(et_set_graph(set, 0)->nodes[0].duration_us == 3);
    et_set_free(set);
    free(pre);
}

static void test_errors(void **state)
{
    (void)state;
    write_trace("e.0.et", 1, 0);
    write_trace("e.1.et", 2, 0);
    char *pre = prefix("e");
    et_set *set = (et_set *)1;
    loom_err err = {0, ""};
    /* a rank file missing: named, with where nranks came from */
    et_set_opts o = {pre, 3, "the cluster", NULL, NULL};
    assert_int_equal(et_set_load(&o, &set, &err), LOOM_ETRACE);
    assert_null(set);
    if (!strstr(err.msg, "missing rank file") || !strstr(err.msg, "e.2.et") ||
        !strstr(err.msg, "the cluster has 3 NPUs, so ranks 0..2"))
        fail_msg("%s", err.msg);
    /* more rank files than ranks */
    loom_err_clear(&err);
    o.nranks = 1;
    assert_int_equal(et_set_load(&o, &set, &err), LOOM_ETRACE);
    if (!strstr(err.msg, "has 2 rank files but the cluster has 1 NPUs"))
        fail_msg("%s", err.msg);
    /* on_graph refusing the second graph: its status, the set freed */
    loom_err_clear(&err);
    seen s = {.refuse = 2};
    et_set_opts r = {pre, 2, "the network", on_graph, &s};
    assert_int_equal(et_set_load(&r, &set, &err), LOOM_EUSAGE);
    assert_null(set);
    assert_string_equal(err.msg, "refused 1");
    /* a file that is no trace */
    char *p = tu_path(dir, "e.1.et");
    tu_write(p, "not a trace at all", 18);
    loom_err_clear(&err);
    o.nranks = 2;
    assert_int_equal(et_set_load(&o, &set, &err), LOOM_ETRACE);
    assert_non_null(strstr(err.msg, p));
    free(p);
    free(pre);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sharing),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_errors),
    };
    loom_set_quiet(1);
    return cmocka_run_group_tests(tests, setup, teardown);
}

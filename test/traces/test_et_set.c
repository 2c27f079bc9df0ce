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
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
 * of rank 1's file; rank 1 differs; rank 4 is a hard link of rank 2's copy
 * (known by its inode once rank 2 matched: `loom gen` makes such copies
 * past the file system's link limit): two graphs, 0 -> 0, 1 -> 1, 2 -> 0,
 * 3 -> 1, 4 -> 0, parsed from ranks 0 and 1. */
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
    a = tu_path(dir, "s.2.et");
    b = tu_path(dir, "s.4.et");
    assert_int_equal(link(a, b), 0);
    free(a);
    free(b);
    char *pre = prefix("s");
    seen s = {.n = 0};
    et_set_opts o = {pre, 5, "the network", on_graph, &s, 0};
    et_set *set;
    loom_err err = {0, ""};
    if (et_set_load(&o, &set, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(et_set_ngraphs(set), 2);
    static const int want[5] = {0, 1, 0, 1, 0};
    for (int r = 0; r < 5; r++)
        assert_int_equal(et_set_index(set, r), want[r]);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.idx[0], 0);
    assert_int_equal(s.rep[0], 0);
    assert_int_equal(s.idx[1], 1);
    assert_int_equal(s.rep[1], 1);
    assert_true(et_set_graph(set, 0)->nodes[0].duration_ns == 5000);
    assert_true(et_set_graph(set, 1)->nodes[0].duration_ns == 7000);
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
    et_set_opts o = {pre, 2, "the network", NULL, NULL, 0};
    et_set *set;
    loom_err err = {0, ""};
    if (et_set_load(&o, &set, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(et_set_ngraphs(set), 2);
    assert_non_null(strstr(et_set_graph(set, 0)->path, "g.0.et.gz"));
    assert_true(et_set_graph(set, 0)->nodes[0].duration_ns == 3000);
    et_set_free(set);
    /* one NPU: the load counts the two files and refuses, unless the
     * caller says it has counted (then it loads rank 0 alone) */
    o.nranks = 1;
    assert_int_equal(et_set_load(&o, &set, &err), LOOM_ETRACE);
    assert_non_null(strstr(err.msg, "has 2 rank files but the network has 1 NPU"));
    o.counted = 1;
    loom_err_clear(&err);
    if (et_set_load(&o, &set, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(et_set_ngraphs(set), 1);
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
    et_set_opts o = {pre, 3, "the cluster", NULL, NULL, 0};
    assert_int_equal(et_set_load(&o, &set, &err), LOOM_ETRACE);
    assert_null(set);
    if (!strstr(err.msg, "missing rank file") || !strstr(err.msg, "e.2.et") ||
        !strstr(err.msg, "the cluster has 3 NPUs, so ranks 0..2"))
        fail_msg("%s", err.msg);
    /* more rank files than ranks */
    loom_err_clear(&err);
    o.nranks = 1;
    assert_int_equal(et_set_load(&o, &set, &err), LOOM_ETRACE);
    if (!strstr(err.msg, "has 2 rank files but the cluster has 1 NPU") ||
        strstr(err.msg, "1 NPUs")) /* one NPU, singular (issue 13) */
        fail_msg("%s", err.msg);
    /* on_graph refusing the second graph: its status, the set freed */
    loom_err_clear(&err);
    seen s = {.refuse = 2};
    et_set_opts r = {pre, 2, "the network", on_graph, &s, 0};
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


/* Loads PREFIX (dir/name) for n ranks: 1 if it fails with LOOM_ETRACE,
 * every needle in the message and "missing rank file" absent.  No cmocka
 * asserts: a forked child calls it too. */
static int refused(const char *name, int n, const char *a, const char *b, char *msg, size_t cap)
{
    char *pre = prefix(name);
    et_set *set = (et_set *)1;
    loom_err err = {0, ""};
    et_set_opts o = {pre, n, "the network", NULL, NULL, 0};
    int rc = et_set_load(&o, &set, &err);
    free(pre);
    snprintf(msg, cap, "%s", err.msg);
    return rc == LOOM_ETRACE && set == NULL && strstr(err.msg, a) && (!b || strstr(err.msg, b)) &&
           !strstr(err.msg, "missing rank file");
}

static void expect_refused(const char *name, int n, const char *a, const char *b)
{
    char msg[4096];
    if (!refused(name, n, a, b, msg, sizeof msg))
        fail_msg("%s: %s", name, msg);
}

/* Rank files that are there but cannot be read say why: the OS reason or
 * what the file is, never "missing rank file" or a bare "cannot read";
 * none of them blocks (a FIFO would wait for a writer forever). */
static void test_unreadable(void **state)
{
    (void)state;
    alarm(20);
    write_trace("u.0.et", 1, 0);
    char *p = tu_path(dir, "u.1.et");
    assert_int_equal(symlink(p, p), 0); /* a symlink loop */
    expect_refused("u", 2, "u.1.et", strerror(ELOOP));
    unlink(p);
    assert_int_equal(mkfifo(p, 0600), 0);
    expect_refused("u", 2, "u.1.et: is a FIFO (named pipe), not a regular file", NULL);
    unlink(p);
    assert_int_equal(mkdir(p, 0700), 0);
    expect_refused("u", 2, "u.1.et: is a directory, not a regular file", NULL);
    rmdir(p);
    assert_int_equal(symlink("/dev/zero", p), 0);
    expect_refused("u", 2, "u.1.et: is a character device", NULL);
    unlink(p);
    assert_int_equal(symlink("nowhere", p), 0); /* dangling */
    expect_refused("u", 2, "u.1.et", strerror(ENOENT));
    unlink(p);
    /* a file without read permission: EACCES named (as root, checked in a
     * child that gives up root, so the test needs no root and works as it) */
    write_trace("u.1.et", 2, 0);
    assert_int_equal(chmod(p, 0), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 &&
            (chmod(dir, 0755) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
            _exit(77);
        char msg[4096];
        _exit(refused("u", 2, "u.1.et", strerror(EACCES), msg, sizeof msg) ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 77));
    unlink(p);
    free(p);
    alarm(0);
}

/* The rank count is checked before any file is read: a set short of ranks
 * reports the missing file even when rank 0 does not parse, and at once
 * for 2^24 ranks. */
static void test_count_first(void **state)
{
    (void)state;
    char *p = tu_path(dir, "c.0.et");
    tu_write(p, "garbage", 7);
    char *pre = prefix("c");
    loom_err err = {0, ""};
    et_set_opts o = {pre, 1 << 24, "the network", NULL, NULL, 0};
    assert_int_equal(et_set_check_count(&o, &err), LOOM_ETRACE);
    if (!strstr(err.msg, "missing rank file") || !strstr(err.msg, "c.1.et") ||
        !strstr(err.msg, "16777216 NPUs"))
        fail_msg("%s", err.msg);
    o.nranks = 1;
    loom_err_clear(&err);
    assert_int_equal(et_set_check_count(&o, &err), 0);
    free(pre);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sharing),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_count_first),
    };
    loom_set_quiet(1);
    return cmocka_run_group_tests(tests, setup, teardown);
}

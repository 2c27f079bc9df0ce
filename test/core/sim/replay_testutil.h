/*
 * replay_testutil.h: what the replay tests (test_replay.c, test_streams.c,
 * test_sym.c, test_host.c, test_overhead.c) share to write tiny traces into the scratch
 * folder and replay them (inline, so a file that does not use one of them
 * does not warn).
 */
#ifndef LOOM_REPLAY_TESTUTIL_H
#define LOOM_REPLAY_TESTUTIL_H

#include <stdio.h>
#include <string.h>

#include "et_graph.h"
#include "et_testutil.h"
#include "replay.h"
#include "report.h"
#include "sim_testutil.h"

#define US 1000000LL /* ps */

/* A compute node of dur_us microseconds named "k". */
static inline ChakraProtoMsg__Node *comp(tb *b, uint64_t id, uint64_t dur_us)
{
    ChakraProtoMsg__Node *n = tb_node(b, id, ET_COMP_NODE, "k");
    n->duration_micros = dur_us;
    return n;
}

/* An all-reduce of bytes a rank named "ar", on communicator pg (NULL: all
 * ranks), with a traced duration_ns (0: none). */
static inline ChakraProtoMsg__Node *allreduce(tb *b, uint64_t id, uint64_t bytes, const char *pg,
                                              uint64_t dur_ns)
{
    ChakraProtoMsg__Node *n = tb_node(b, id, ET_COMM_COLL_NODE, "ar");
    tb_i64(b, n, "comm_type", ET_ALL_REDUCE);
    tb_u64(b, n, "comm_size", bytes);
    if (pg)
        tb_str(b, n, "pg_name", pg);
    if (dur_ns)
        tb_u64(b, n, "duration_ns", dur_ns);
    return n;
}

/* The scratch folder's "<prefix>.<rank>.et". */
static inline void write_rank(const char *prefix, int rank, ChakraProtoMsg__Node **nodes, size_t n)
{
    char name[128];
    snprintf(name, sizeof name, "%s.%d.et", prefix, rank);
    tb_write(st_path(name), "1.0.0", nodes, n, 0);
}

/* Replays the scratch folder's prefix on the network and system texts, with
 * one --set (or NULL) and --strict as given; loom_replay's status. */
static inline int replay_run(const char *net, const char *sysf, const char *set, int strict,
                             const char *prefix, loom_result *res, loom_err *err)
{
    loom_cfg cfg;
    const char *sv[1] = {set};
    if (st_load(&cfg, net, sysf, set ? sv : NULL, set ? 1 : 0, err) < 0)
        fail_msg("%s", err->msg);
    cfg.strict_deps = strict;
    char pre[512];
    snprintf(pre, sizeof pre, "%s", st_path(prefix));
    loom_replay_opts o = {.prefix = pre};
    memset(err, 0, sizeof *err);
    int rc = loom_replay(&cfg, &o, res, err);
    loom_cfg_free(&cfg);
    return rc;
}

/* The text report of a run (malloc'd, the caller frees it). */
static inline char *text_report(const loom_cfg *cfg, const loom_result *res)
{
    loom_run_info info = {"w", "n.yml", "s.yaml", NULL};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    loom_report_text(f, &info, cfg, res);
    fclose(f);
    return buf;
}

/* A stack profile's time key (host-launch-us, step-overhead-us) applies
 * when the system file gives none, in either order of the keys; the
 * system file's own (0 included) wins; a bad value stops with the profile
 * and the key named.  get: the loaded value, ps. */
static inline void stack_time_key_check(const char *net, const char *key,
                                        sim_time (*get)(const loom_cfg *))
{
    char prof[200], bad[200], sys[3][700], bsys[700];
    snprintf(prof, sizeof prof, "stack: p\ncompute-time-scale: 1\n%s: 7\n", key);
    snprintf(bad, sizeof bad, "stack: b\ncompute-time-scale: 1\n%s: -2\n", key);
    st_put("kp.yaml", prof);
    st_put("kbad.yaml", bad);
    snprintf(sys[0], sizeof sys[0], "local-mem-bw: 1000\nstack: %s\n", st_path("kp.yaml"));
    snprintf(sys[1], sizeof sys[1], "local-mem-bw: 1000\n%s: 3\nstack: %s\n", key,
             st_path("kp.yaml"));
    snprintf(sys[2], sizeof sys[2], "local-mem-bw: 1000\nstack: %s\n%s: 0\n", st_path("kp.yaml"),
             key);
    snprintf(bsys, sizeof bsys, "local-mem-bw: 1000\nstack: %s\n", st_path("kbad.yaml"));
    const sim_time want[3] = {7 * US, 3 * US, 0};
    for (int i = 0; i < 3; i++) {
        loom_cfg cfg;
        loom_err err;
        if (st_load(&cfg, net, sys[i], NULL, 0, &err) < 0)
            fail_msg("%s", err.msg);
        assert_int_equal(get(&cfg), want[i]);
        loom_cfg_free(&cfg);
    }
    loom_cfg cfg;
    loom_err err;
    assert_int_equal(st_load(&cfg, net, bsys, NULL, 0, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "kbad.yaml"));
    assert_non_null(strstr(err.msg, key));
}

#endif

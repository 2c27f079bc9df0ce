/*
 * replay_testutil.h: what the replay tests (test_replay.c, test_streams.c,
 * test_sym.c, test_host.c) share to write tiny traces into the scratch
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

#endif

/*
 * bench_replay: loom_replay end to end on generated microbenchmarks.
 *
 * For each (collective, ranks) it writes one Chakra file with a single
 * COMM_COLL_NODE of SIZE bytes, hard-links it as every rank's trace (as
 * `loom gen` does, so replay parses one graph), and runs the replay on a
 * one-dimension Ring of that many NPUs (50 GB/s, 500 ns, ASTRA-sim's
 * default-like system: 4 splits, 1 active chunk, 10 ns endpoint delay).
 * Prints wall time, events, node completions per second (every rank's
 * nodes: what the replay does, whatever the engine folded into one event)
 * and peak RSS.  A benchmark, never a test: it asserts nothing about time.
 *
 * Then a data-parallel-like step: per rank K layers, each a 100 us
 * kernel followed by a 4 MiB all-reduce of its gradients that overlaps the
 * next kernel (kernel i+1 depends on kernel i, all-reduce i on kernel i):
 * 2 x ranks x K node completions, which is where the nodes/s figure means
 * something (the ranks' kernel ends at one time fold into one event per
 * layer: sim_last_payload, so events count layers, not ranks).
 *
 * The step runs twice: every rank replayed (dp_1000: the raw speed
 * figures) and with symmetry collapse, loom's default (dp_1000/sym).
 *
 *   bench_replay [RANKS...]      default: 512 4096 16384
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "et_io.h"
#include "replay.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void attr_i(ChakraProtoMsg__AttributeProto *a, const char *name, int64_t v)
{
    *a = (ChakraProtoMsg__AttributeProto)CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT;
    a->name = (char *)name;
    a->value_case = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_INT64_VAL;
    a->int64_val = v;
}

static int link_ranks(const char *dir, int ranks)
{
    char path[512], link_path[512];
    snprintf(path, sizeof path, "%s/m.0.et", dir);
    for (int r = 1; r < ranks; r++) {
        snprintf(link_path, sizeof link_path, "%s/m.%d.et", dir, r);
        unlink(link_path);
        if (link(path, link_path) != 0)
            return -1;
    }
    return 0;
}

/* K x (kernel, all-reduce) as described above */
static int write_dp(const char *dir, int layers, int ranks)
{
    char path[512];
    snprintf(path, sizeof path, "%s/m.0.et", dir);
    loom_err err = {0};
    et_writer *w = et_writer_open(path, 0, &err);
    if (w == NULL)
        return -1;
    ChakraProtoMsg__GlobalMetadata md = CHAKRA_PROTO_MSG__GLOBAL_METADATA__INIT;
    md.version = "0.0.4";
    et_writer_metadata(w, &md, &err);
    for (int k = 0; k < layers; k++) {
        uint64_t dep = 2 * (uint64_t)k - 1; /* the previous kernel */
        ChakraProtoMsg__Node c = CHAKRA_PROTO_MSG__NODE__INIT;
        c.id = 2 * (uint64_t)k + 1;
        c.name = "kernel";
        c.type = CHAKRA_PROTO_MSG__NODE_TYPE__COMP_NODE;
        c.duration_micros = 100;
        if (k > 0) {
            c.n_data_deps = 1;
            c.data_deps = &dep;
        }
        et_writer_node(w, &c, &err);
        ChakraProtoMsg__AttributeProto a[2];
        attr_i(&a[0], "comm_type", 0);
        attr_i(&a[1], "comm_size", 4 << 20);
        ChakraProtoMsg__AttributeProto *ap[2] = {&a[0], &a[1]};
        uint64_t kdep = c.id;
        ChakraProtoMsg__Node ar = CHAKRA_PROTO_MSG__NODE__INIT;
        ar.id = 2 * (uint64_t)k + 2;
        ar.name = "grad_allreduce";
        ar.type = CHAKRA_PROTO_MSG__NODE_TYPE__COMM_COLL_NODE;
        ar.n_data_deps = 1;
        ar.data_deps = &kdep;
        ar.n_attr = 2;
        ar.attr = ap;
        et_writer_node(w, &ar, &err);
    }
    if (et_writer_close(w, &err) < 0)
        return -1;
    return link_ranks(dir, ranks);
}

static int write_micro(const char *dir, int ctype, uint64_t size, int ranks)
{
    char path[512];
    snprintf(path, sizeof path, "%s/m.0.et", dir);
    loom_err err = {0};
    et_writer *w = et_writer_open(path, 0, &err);
    if (w == NULL)
        return -1;
    ChakraProtoMsg__GlobalMetadata md = CHAKRA_PROTO_MSG__GLOBAL_METADATA__INIT;
    md.version = "0.0.4";
    et_writer_metadata(w, &md, &err);
    ChakraProtoMsg__AttributeProto a[2] = {CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT,
                                           CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__INIT};
    a[0].name = "comm_type";
    a[0].value_case = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_INT64_VAL;
    a[0].int64_val = ctype;
    a[1].name = "comm_size";
    a[1].value_case = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_INT64_VAL;
    a[1].int64_val = (int64_t)size;
    ChakraProtoMsg__AttributeProto *ap[2] = {&a[0], &a[1]};
    ChakraProtoMsg__Node n = CHAKRA_PROTO_MSG__NODE__INIT;
    n.id = 1;
    n.name = "coll";
    n.type = CHAKRA_PROTO_MSG__NODE_TYPE__COMM_COLL_NODE;
    n.n_attr = 2;
    n.attr = ap;
    et_writer_node(w, &n, &err);
    if (et_writer_close(w, &err) < 0)
        return -1;
    return link_ranks(dir, ranks);
}

/* collapse 0: every rank replayed (the raw speed figures); 1: symmetry
 * collapse, loom's default (docs/MODEL.md 13) */
static void run(const char *label, int ctype, uint64_t size, int ranks, int collapse)
{
    char dir[] = "/tmp/loom-bench-XXXXXX";
    int bad = mkdtemp(dir) == NULL;
    if (!bad)
        bad = ctype < 0 ? write_dp(dir, (int)size, ranks) < 0
                        : write_micro(dir, ctype, size, ranks) < 0;
    if (bad) {
        fprintf(stderr, "bench_replay: cannot write traces in %s: %s\n", dir, strerror(errno));
        exit(1);
    }
    loom_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ctrl_deps = 1;
    cfg.topo.ndims = 1;
    cfg.topo.dims[0] = (net_dim){NET_RING, ranks, 50.0 * 1073741824.0, 500 * SIM_PS_PER_NS};
    cfg.sys.splits = 4;
    cfg.sys.active_chunks = 1;
    cfg.sys.endpoint_delay = 10 * SIM_PS_PER_NS;
    cfg.sys.local_mem_bw = 1600e9;
    cfg.comp.kind = COMP_TRACE;
    cfg.comp.mem_bw = 1600e9;
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s/m", dir);
    loom_replay_opts ro = {.prefix = prefix, .max_stuck = 8,
                           .no_collapse = collapse ? 0 : LOOM_COLLAPSE_OFF};
    loom_result res;
    loom_err err = {0};
    loom_set_quiet(1);
    double t0 = now_s();
    int rc = loom_replay(&cfg, &ro, &res, &err);
    double wall = now_s() - t0;
    if (rc < 0) {
        fprintf(stderr, "bench_replay: %s\n", err.msg);
        exit(1);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%-12s %8d %12.3f %10.3f %12llu %12.3g %10.1f\n", label, ranks,
           (double)res.step_time / SIM_PS_PER_US, wall, (unsigned long long)res.events,
           res.nodes / wall, ru.ru_maxrss / 1024.0);
    loom_result_free(&res);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_replay: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
    int sizes[16], n = 0;
    for (int i = 1; i < argc && n < 16; i++)
        sizes[n++] = atoi(argv[i]);
    if (n == 0) {
        sizes[0] = 512;
        sizes[1] = 4096;
        sizes[2] = 16384;
        n = 3;
    }
    printf("%-12s %8s %12s %10s %12s %12s %10s\n", "collective", "ranks", "sim(us)", "wall(s)",
           "events", "nodes/s", "RSS(MB)");
    for (int i = 0; i < n; i++) {
        run("all_reduce", 0, 1 << 20, sizes[i], 0);
        run("all_to_all", 6, 1 << 20, sizes[i], 0);
    }
    for (int i = 0; i < n; i++) {
        run("dp_1000", -1, 1000, sizes[i], 0);
        run("dp_1000/sym", -1, 1000, sizes[i], 1);
    }
    return 0;
}

/*
 * bench_load: how fast rank files parse (et_graph_load: gzip or plain
 * bytes, protobuf-c unpacking, attribute decoding, the content digest).
 * A replay parses each distinct file once, so a step with many distinct
 * files (context parallelism's ring: a file per stage and cp index) spends
 * its set-up here.
 *
 *   bench_load PREFIX [FILES]   parse PREFIX.0.et .. PREFIX.(FILES-1).et
 *                               (default: every rank file), each once
 *
 * Prints files, decompressed MB, nodes, wall seconds, MB/s and nodes/s.
 * A benchmark, never a test: it asserts nothing about time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "et_graph.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_load PREFIX [FILES]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : et_count_ranks(argv[1]);
    if (n < 1) {
        fprintf(stderr, "bench_load: no rank files %s.0.et ...\n", argv[1]);
        return 1;
    }
    char path[4200];
    uint64_t bytes = 0, nodes = 0;
    double t0 = now_s();
    for (int r = 0; r < n; r++) {
        loom_err err = {0};
        et_rank_path(argv[1], r, path, sizeof path);
        et_graph *g = et_graph_load(path, &err);
        if (g == NULL) {
            fprintf(stderr, "bench_load: %s\n", err.msg);
            return 1;
        }
        bytes += g->file_bytes;
        nodes += g->n;
        et_graph_free(g);
    }
    double wall = now_s() - t0;
    printf("%-8s %10s %12s %8s %10s %12s\n", "files", "MB", "nodes", "wall(s)", "MB/s",
           "nodes/s");
    printf("%-8d %10.1f %12llu %8.3f %10.1f %12.3g\n", n, bytes / 1e6, (unsigned long long)nodes,
           wall, bytes / 1e6 / wall, nodes / wall);
    return 0;
}

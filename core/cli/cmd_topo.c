/*
 * cmd_topo.c: `loom topo describe FILE`: what a network file describes
 * (either form: ASTRA-sim's dimensions or an explicit fabric), as counts,
 * link classes, diameter and bisection bandwidth (network/net_topo.c;
 * docs/NETWORK.md 3.7 says how each figure is computed).
 *
 * Exit codes as every loom command: 0 ok, 2 a bad file or command line.
 */
#include "cmds.h"

#include <stdio.h>
#include <string.h>

#include "cliutil.h"
#include "err.h"
#include "net_topo.h"

static void topo_help(FILE *o)
{
    fputs("usage: loom topo describe FILE\n"
          "\n"
          "Reads a network file, ASTRA-sim's form (topology, npus_count, bandwidth\n"
          "in GB/s with GB = 2^30 bytes, latency in ns) or an explicit fabric (a\n"
          "top-level 'kind': fat_tree, rail, torus, dragonfly; docs/NETWORK.md), builds\n"
          "the graph the flow model runs on, checks it (connected, positive bandwidth,\n"
          "loop-free routes), and prints:\n"
          "  NPUs, switches, nodes, directed links (two per cable), and per link class\n"
          "  its count, bandwidth (GB/s) and latency (ns);\n"
          "  diameter: links and ns of the longest route loom uses between two NPUs;\n"
          "  bisection: GB/s per direction of the smallest cut between ranks\n"
          "  0..N/2-1 and N/2..N-1 (max-flow over link bandwidths);\n"
          "  for an explicit fabric, the dimensions the analytical model sees.\n",
          o);
}

/* Called from main.c for `loom topo ...`; argv[0] is "topo". */
int loom_cmd_topo(int argc, char **argv)
{
    if (argc < 2)
        return loom_usage("topo", "%s", "expects: describe FILE");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        topo_help(stdout);
        return 0;
    }
    if (strcmp(argv[1], "describe") != 0) {
        fprintf(stderr, "loom: error: topo: unknown subcommand '%s' (describe; see 'loom topo --help')\n",
                argv[1]);
        return -LOOM_EUSAGE;
    }
    if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        topo_help(stdout);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "loom: error: topo describe: expects one FILE (see 'loom topo --help')\n");
        return -LOOM_EUSAGE;
    }
    loom_err err = {0};
    net_topo t;
    if (net_topo_load_file(argv[2], &t, &err) < 0 || net_topo_describe(&t, stdout, &err) < 0) {
        fprintf(stderr, "loom: error: %s\n", err.msg);
        return err.code ? -err.code : 1;
    }
    return 0;
}

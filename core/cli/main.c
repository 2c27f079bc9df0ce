/*
 * main.c: the loom command line.
 *
 * main() finds the command in loom_cmds (cmds.c) and hands it argv from
 * the command's name on.  Each command is one file, cmd_<name>.c.
 * Exit codes (docs/CLI.md): 0 success, 1 internal error, 2 usage or
 * configuration error, 3 trace error, 4 simulation error (a stalled or
 * overflowing run), 5 output error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cliutil.h"
#include "cmds.h"

#define LOOM_VERSION "0.1.0"

static void main_help(FILE *o)
{
    fputs("usage: loom <command> [options]\n"
          "\n"
          "loom simulates distributed ML training: it replays Chakra execution traces\n"
          "(one file per rank) on a modeled accelerator and network and reports the\n"
          "step time and where it went.\n"
          "\n"
          "commands:\n"
          "  run             replay a workload on a network and system configuration\n"
          "  trace info      summarize a workload's trace files\n"
          "  trace validate  check a workload's trace files; exit 0 only when clean\n"
          "  topo describe   counts, diameter and bisection of a network file\n"
          "  compare         collective algorithms side by side (a workload or one size sweep)\n"
          "  sweep           run many configurations in parallel, one CSV row each\n"
          "  gen             write traces: gen micro (one collective), gen llm (a\n"
          "                  Megatron-style training step)\n"
          "  devices         list the device catalog (peak FLOP/s, HBM, links)\n"
          "  import pytorch  PyTorch captures (execution / Kineto traces) to Chakra traces\n"
          "  calibrate       fit a software-stack profile to measured runs (gen llm --stack)\n"
          "  trace convert-text  ASTRA-sim text workload to Chakra traces\n"
          "\n"
          "options:\n"
          "  -h, --help      show this help (also: loom <command> --help)\n"
          "  --version       print the version\n"
          "\n"
          "exit codes: 0 ok, 1 internal error, 2 usage/config error, 3 trace error,\n"
          "4 simulation error (deadlock, time overflow), 5 output error.\n",
          o);
}

/* Runs the command named by argv[1]; returns its exit code. */
static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        fputs("loom: error: no command given (see 'loom --help')\n", stderr);
        return loom_exit_code(LOOM_EUSAGE);
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        main_help(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("loom %s\n", LOOM_VERSION);
        return 0;
    }
    if (strcmp(cmd, "trace") == 0 && argc > 2 && strcmp(argv[2], "convert-text") == 0)
        return loom_cmd_convert_text(argc - 2, argv + 2);
    for (const loom_cmd *c = loom_cmds; c->name; c++)
        if (strcmp(cmd, c->name) == 0)
            return c->fn(argc - 1, argv + 1);
    /* an ASTRA-sim command line has no subcommand: treat it as run, with
     * ASTRA-sim's log on stdout as its scripts expect */
    static const char *const astra_opts[] = {
        "--workload-configuration", "--system-configuration", "--network-configuration",
        "--remote-memory-configuration", "--comm-group-configuration",
        "--logical-topology-configuration", "--htsim_opts", NULL};
    for (const char *const *o = astra_opts; *o; o++)
        if (strncmp(cmd, *o, strlen(*o)) == 0 && (cmd[strlen(*o)] == '=' || cmd[strlen(*o)] == '\0'))
            return loom_cmd_run_astra(argc, argv);
    return loom_usage(NULL, "unknown command '%s'", cmd);
}

int main(int argc, char **argv)
{
    int rc = dispatch(argc, argv);
    /* Whatever a command printed must have reached stdout: a report, a
     * table or a listing lost to a full disk or a closed pipe is an output
     * error (exit 5), not a success. */
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int e = errno;
        fprintf(stderr, "loom: error: cannot write to standard output: %s\n",
                e ? strerror(e) : "write error");
        if (rc == 0)
            rc = loom_exit_code(LOOM_EIO);
    }
    return rc;
}

/*
 * sweep.h: `loom sweep`, many configurations of one run.
 *
 * A sweep spec (YAML, docs/SWEEP.md) names a base run and axes over --set
 * keys and input files; their cartesian product (with zipped groups that
 * advance together) is the list of configurations.  Each configuration runs
 * as a child `loom run` process; a libev loop watches the children's exits
 * and stderr pipes and drives the per-run timeout and the progress bar.
 * One CSV row is appended, flushed and fsync'd per finished configuration,
 * so a killed sweep loses no finished row, and rerunning the same command
 * skips the configurations already in the CSV.
 */
#ifndef LOOM_SWEEP_H
#define LOOM_SWEEP_H

/* `loom sweep SPEC [options]`: argv[0] is "sweep".  Returns the process
 * exit code (docs/SWEEP.md): 0 every configuration has an ok row, 4 some
 * row is not ok, 2 usage or spec error, 5 the CSV cannot be written,
 * 130/143 interrupted by SIGINT/SIGTERM. */
int loom_sweep_main(int argc, char **argv);

#endif

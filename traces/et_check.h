/*
 * et_check.h: whole-trace checks and summaries behind `loom trace validate
 * PREFIX` and `loom trace info PREFIX`.
 *
 * PREFIX names rank files "<prefix>.<r>.et" (or ".et.gz"), r = 0, 1, ...;
 * if there are none and PREFIX is itself a file, that one file is used.
 *
 * et_validate() reads every rank file and prints each problem on its own
 * line as "<file>: node <id>: <problem>" (or "<file>: <problem>" for one
 * that belongs to no node): dependencies on absent ids, duplicate ids, a
 * node depending on itself, dependency cycles, unknown node types,
 * attributes of the wrong kind (a string or float where a number is
 * needed, a negative size, an involved_dim that is not a 0/1 list of at
 * most 32), a send without comm_dst or comm_tag, a receive without
 * comm_src or comm_tag, a collective without comm_type or with one outside
 * CollectiveCommType, a send/recv/collective (other than BARRIER) without
 * comm_size, and a file that ends early or is corrupt part-way.
 * It returns the number of problems (0 = clean), or a negative LOOM_E*
 * code with err filled when a file cannot be read at all (missing, empty,
 * not a trace); the other files are still checked and printed first.
 *
 * et_info() prints a plain aligned summary: ranks, files and how many are
 * distinct by content, bytes, layout and version strings, nodes per type,
 * collectives per type with count and total bytes, sends and receives,
 * dangling dependencies and the number of problems validate would report.
 * Returns 0, or a negative code with err filled.
 *
 * Neither keeps anything: all memory is freed before they return.
 */
#ifndef LOOM_ET_CHECK_H
#define LOOM_ET_CHECK_H

#include <stdio.h>

#include "err.h"

int et_validate(const char *prefix, FILE *out, loom_err *err);
int et_info(const char *prefix, FILE *out, loom_err *err);

#endif

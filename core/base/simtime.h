/*
 * simtime.h: simulated time.  An int64_t count of picoseconds, so every
 * run is bit-for-bit deterministic; printed in ns/us/ms/s as the reader
 * needs.  2^63 ps is about 106 days of simulated time.
 */
#ifndef LOOM_SIMTIME_H
#define LOOM_SIMTIME_H

#include <stdint.h>

typedef int64_t sim_time; /* picoseconds */

#define SIM_PS_PER_NS 1000LL
#define SIM_PS_PER_US 1000000LL
#define SIM_PS_PER_S 1000000000000LL
#define SIM_TIME_MAX INT64_MAX

#endif

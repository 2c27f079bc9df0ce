/*
 * bench_queue: the event queue under the classic hold model.
 *
 * Fill the queue with N pending events, then repeat "pop the least, push
 * one at now + random increment" and report ns per push+pop pair.  The
 * increment is exponential-ish (uniform 0..2*mean, 1/16 of them 0 to make
 * ties), which is the standard hold-model workload for priority queues.
 * Prints one line per size; it is a benchmark, never a test.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static inline uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void hold(sim_engine *eng, void *payload, void *ctx)
{
    (void)payload;
    (void)ctx;
    uint64_t r = next();
    sim_time dt = (r & 15) == 0 ? 0 : (sim_time)((r >> 8) % 2000);
    sim_schedule_in(eng, dt, hold);
}

int main(int argc, char **argv)
{
    size_t sizes[] = {10000, 1000000, 10000000};
    size_t nsizes = sizeof sizes / sizeof sizes[0];
    if (argc > 1) { /* a single size from the command line */
        sizes[0] = strtoull(argv[1], NULL, 10);
        nsizes = 1;
    }
    printf("%12s %14s %12s %10s\n", "pending", "push+pop", "ns/pair", "Mpairs/s");
    for (size_t k = 0; k < nsizes; k++) {
        size_t n = sizes[k];
        loom_err err = {0};
        sim_engine *eng = sim_engine_create(16, NULL, &err);
        for (size_t i = 0; i < n; i++)
            sim_schedule(eng, (sim_time)(next() % (2000 * n / 1000 + 1)), hold);
        /* warm up, then measure: each event run is one pop + one push */
        sim_run(eng, sim_now(eng) + 1000);
        uint64_t pairs = n < 1000000 ? 20000000 : 5 * n;
        uint64_t before = sim_events(eng);
        double t0 = now_s();
        while (sim_events(eng) - before < pairs)
            sim_run(eng, sim_now(eng) + 100000);
        double dt = now_s() - t0;
        uint64_t done = sim_events(eng) - before;
        printf("%12zu %14llu %12.1f %10.2f\n", n, (unsigned long long)done,
               dt * 1e9 / done, done / dt / 1e6);
        sim_engine_destroy(eng);
    }
    return 0;
}

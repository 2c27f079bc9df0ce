/*
 * libFuzzer target: arbitrary bytes as a Chakra trace.  The bytes are loaded
 * as a graph, validated, and replayed as both ranks of a 2-NPU ring, so a
 * crash anywhere from the reader to the scheduler shows up.  Files go to
 * /dev/shm because every loader takes a path.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "et_check.h"
#include "et_graph.h"
#include "fuzz_replay.h"

static char dir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char p0[96], p1[96], prefix[96];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/dev/shm/loom-fuzz-%d", (int)getpid());
        mkdir(dir, 0700);
        loom_set_quiet(1);
    }
    snprintf(prefix, sizeof prefix, "%s/t", dir);
    snprintf(p0, sizeof p0, "%s.0.et", prefix);
    snprintf(p1, sizeof p1, "%s.1.et", prefix);
    FILE *f = fopen(p0, "wb");
    if (f == NULL)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    unlink(p1);
    if (link(p0, p1) != 0)
        return 0;

    loom_err err = {0};
    et_graph_free(et_graph_load(p0, &err));
    FILE *null = fopen("/dev/null", "w");
    loom_err_clear(&err);
    et_validate(prefix, null, &err);
    fclose(null);

    fuzz_replay(prefix, 2);
    return 0;
}

/*
 * libFuzzer target: arbitrary bytes as PyTorch captures (`loom import
 * pytorch`, traces/pt_import.h).  Byte 0 picks what the rest is: 0 a
 * Kineto trace, 1 an execution trace, 2 both of one rank (split at the
 * first NUL byte: ET, then Kineto), 3 two ranks' Kineto traces (split
 * likewise); bit 2 of byte 0 set asks for --strict as well.  The import
 * runs end to end (reading, building the nodes, writing PREFIX.<r>.et and
 * the side files), and what it wrote is replayed on a ring of as many
 * NPUs as ranks it imported, so a crash anywhere from the JSON readers to
 * the scheduler shows up.  Files go to /dev/shm because every reader
 * takes a path.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pt_import.h"
#include "fuzz_replay.h"

static char dir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int put(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    fwrite(p, 1, n, f);
    return fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char a[96], b[96], out[96];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/dev/shm/loom-fuzz-pt-%d", (int)getpid());
        mkdir(dir, 0700);
        loom_set_quiet(1);
    }
    if (size < 1)
        return 0;
    int mode = data[0] & 3, strict = (data[0] >> 2) & 1;
    data++;
    size--;
    const uint8_t *nul = memchr(data, 0, size);
    size_t n1 = mode >= 2 && nul ? (size_t)(nul - data) : size;
    snprintf(a, sizeof a, "%s/a.json", dir);
    snprintf(b, sizeof b, "%s/b.json", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    if (put(a, data, n1) != 0)
        return 0;
    if (mode >= 2 && put(b, nul ? nul + 1 : data, nul ? size - n1 - 1 : 0) != 0)
        return 0;
    const char *et[1] = {a}, *kin[2] = {a, b};
    pt_import_opts o = {.out = out, .step = -1, .strict = strict, .quiet = 1};
    switch (mode) {
    case 0: o.kineto = kin; o.nkineto = 1; break;
    case 1: o.et = et; o.net = 1; break;
    case 2: o.et = et; o.net = 1; o.kineto = kin + 1; o.nkineto = 1; break;
    default: o.kineto = kin; o.nkineto = 2; break;
    }
    loom_err err = {0};
    if (pt_import(&o, &err) == 0)
        fuzz_replay(out, mode == 3 ? 2 : 1);
    return 0;
}

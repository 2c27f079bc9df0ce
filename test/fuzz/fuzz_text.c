/*
 * libFuzzer target: arbitrary bytes as an ASTRA-sim text workload, converted
 * to Chakra traces for 4 ranks (`loom trace convert-text`).  The first byte
 * picks the rank count (1..8) so group layouts vary too.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[64], in[96], out[96];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/dev/shm/loom-fuzz-text-%d", (int)getpid());
        mkdir(dir, 0700);
        snprintf(in, sizeof in, "%s/w.txt", dir);
        snprintf(out, sizeof out, "%s/t", dir);
        loom_set_quiet(1);
    }
    if (size < 1)
        return 0;
    int ranks = 1 + data[0] % 8;
    FILE *f = fopen(in, "wb");
    if (f == NULL)
        return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    wl_text_opts o = {.in = in, .ranks = ranks, .out = out, .time_scale = 1, .passes = 1, .quiet = 1};
    loom_err err = {0};
    wl_text_convert(&o, &err);
    return 0;
}

/*
 * libFuzzer target: arbitrary bytes as a configuration file.  The first
 * byte picks which file they stand for (network YAML, system JSON, comm
 * groups, or a --set value); the others come from the fixtures.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define NET FIXTURES "/astra-sim-configs/Ring_4npus.yml"
#define SYS FIXTURES "/astra-sim-configs/Ring_4chunks.json"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[96];
    if (!path[0]) {
        snprintf(path, sizeof path, "/dev/shm/loom-fuzz-cfg-%d", (int)getpid());
        loom_set_quiet(1);
    }
    if (size < 1)
        return 0;
    int kind = data[0] % 4;
    data++;
    size--;
    loom_cfg_files files = {.network = NET, .system = SYS};
    char set[512];
    const char *sets[1];
    if (kind == 3) { /* a --set argument */
        size_t n = size < sizeof set - 1 ? size : sizeof set - 1;
        memcpy(set, data, n);
        set[n] = '\0';
        sets[0] = set;
        files.sets = sets;
        files.nsets = 1;
    } else {
        FILE *f = fopen(path, "wb");
        if (f == NULL)
            return 0;
        fwrite(data, 1, size, f);
        fclose(f);
        if (kind == 0)
            files.network = path;
        else if (kind == 1)
            files.system = path;
        else
            files.comm_group = path;
    }
    loom_cfg cfg;
    loom_err err = {0};
    if (loom_cfg_load(&cfg, &files, &err) == 0)
        loom_cfg_free(&cfg);
    return 0;
}

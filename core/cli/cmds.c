#include "cmds.h"

#include <stddef.h>

const loom_cmd loom_cmds[] = {
    {"run", loom_cmd_run},
    {"trace", loom_cmd_trace},
    {"topo", loom_cmd_topo},
    {"compare", loom_cmd_compare},
    {"sweep", loom_cmd_sweep},
    {"gen", loom_cmd_gen},
    {"devices", loom_cmd_devices},
    {"import", loom_cmd_import},
    {"calibrate", loom_cmd_calibrate},
    {NULL, NULL},
};

/*
 * config_stack.c: software-stack profiles (docs/VALIDATION.md, "Stack
 * profiles"): the system key `stack: NAME|FILE` names a small YAML file of
 * fitted parameters, written by `loom calibrate` or shipped in
 * compute/stacks/NAME.yaml.  A profile holds `compute-time-scale`: every
 * COMP_NODE's modelled time is multiplied by it (the stack's kernels,
 * launches and host overheads against the kernel-level model), on top of
 * --compute-scale; the host side of a collective call keeps its trace
 * duration.  It may hold `host-launch-us` (`loom calibrate --kineto` fits
 * it): the host's time per GPU launch, which the system file's own
 * host-launch-us overrides (config_sys.c).  It may hold `step-overhead-us`
 * (`loom calibrate --runs` fits it where it predicts the runs better): time
 * each rank spends after its last node, per step, outside the trace; the
 * system file's own step-overhead-us overrides it.
 *
 * A value with a '/' or ending in .yaml/.yml is a file: relative to the
 * working directory, else to the system file's folder.  Any other value
 * is a shipped profile's name.
 */
#include "config_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef LOOM_STACKS_SRC
#define LOOM_STACKS_SRC "compute/stacks"
#endif
#ifndef LOOM_STACKS_INSTALLED
#define LOOM_STACKS_INSTALLED "/usr/local/share/loom/stacks"
#endif

static const char *const stack_keys[] = {"stack", "compute-time-scale", "host-launch-us",
                                         "step-overhead-us", "fit"};

const cfg_stack_time cfg_stack_times[LOOM_STACK_TIMES] = {
    [LOOM_STACK_HOST] = {"host-launch-us", 1e6},      /* docs/MODEL.md, the host */
    [LOOM_STACK_OVERHEAD] = {"step-overhead-us", 1e9}, /* docs/VALIDATION.md */
};

int cfg_stack_time_index(const char *key)
{
    for (int i = 0; i < LOOM_STACK_TIMES; i++)
        if (strcmp(key, cfg_stack_times[i].key) == 0)
            return i;
    return -1;
}

sim_time *cfg_stack_time_field(loom_cfg *cfg, int i)
{
    return i == LOOM_STACK_HOST ? &cfg->host_launch : &cfg->step_overhead;
}

void cfg_apply_stack_times(loom_cfg *cfg)
{
    for (int i = 0; i < LOOM_STACK_TIMES; i++)
        if (!cfg->time_set[i])
            *cfg_stack_time_field(cfg, i) = cfg->stack_time[i];
}

void loom_cfg_drop_stack(loom_cfg *cfg)
{
    cfg->stack_scale = 0;
    for (int i = 0; i < LOOM_STACK_TIMES; i++) {
        if (!cfg->time_set[i])
            *cfg_stack_time_field(cfg, i) = 0;
        cfg->stack_time[i] = 0;
    }
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int loom_stack_is_file(const char *value)
{
    return strchr(value, '/') || ends_with(value, ".yaml") || ends_with(value, ".yml");
}

/* The profile file `value` names, into out (n bytes); -1 if too long. */
static int stack_path(const char *value, const char *sys_path, char *out, size_t n)
{
    int k;
    if (loom_stack_is_file(value)) {
        k = snprintf(out, n, "%s", value);
        if (value[0] != '/' && access(out, F_OK) != 0 && strchr(sys_path, '/')) {
            int dir = (int)(strrchr(sys_path, '/') - sys_path);
            k = snprintf(out, n, "%.*s/%s", dir, sys_path, value);
        }
    } else {
        k = snprintf(out, n, "%s/%s.yaml", LOOM_STACKS_SRC, value);
        if (k >= 0 && (size_t)k < n && access(out, R_OK) != 0)
            k = snprintf(out, n, "%s/%s.yaml", LOOM_STACKS_INSTALLED, value);
    }
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

int loom_stack_check(const char *value, loom_err *err)
{
    loom_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    int rc = cfg_load_stack(&cfg, value, "--stack", err);
    free(cfg.stack_name);
    return rc;
}

int cfg_load_stack(loom_cfg *cfg, const char *value, const char *sys_path, loom_err *err)
{
    char path[4096];
    if (stack_path(value, sys_path, path, sizeof path) < 0)
        return loom_err_set(err, LOOM_EUSAGE, "%s: stack '%.64s...': name too long", sys_path,
                            value);
    if (access(path, R_OK) != 0 && !loom_stack_is_file(value))
        return loom_err_set(err, LOOM_EUSAGE, "%s: stack '%s' is neither a shipped profile "
                            "(megatron-lm, megatron-deepspeed: %s) nor a file", sys_path, value,
                            LOOM_STACKS_SRC);
    cfg_doc dc;
    int rc = cfg_doc_load(&dc, path, err);
    if (rc == 0)
        rc = cfg_check_keys(&dc, stack_keys, (int)(sizeof stack_keys / sizeof stack_keys[0]), err);
    yaml_node_t *v = rc == 0 ? cfg_lookup(&dc, "compute-time-scale") : NULL;
    if (rc == 0 && v == NULL)
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: a stack profile needs compute-time-scale", path);
    double s = 0;
    if (rc == 0) {
        cfg_ctx c = {path, "compute-time-scale", -1, err};
        rc = cfg_get_double(&c, v, 0, 1000, 1, &s);
    }
    double t[LOOM_STACK_TIMES] = {0};
    for (int i = 0; rc == 0 && i < LOOM_STACK_TIMES; i++) {
        yaml_node_t *tv = cfg_lookup(&dc, cfg_stack_times[i].key);
        cfg_ctx c = {path, cfg_stack_times[i].key, -1, err};
        if (tv)
            rc = cfg_get_double(&c, tv, 0, cfg_stack_times[i].max_us, 0, &t[i]);
    }
    yaml_node_t *nm = rc == 0 ? cfg_lookup(&dc, "stack") : NULL;
    const char *name = nm ? cfg_scalar(nm) : NULL;
    if (rc == 0 && nm && name == NULL) {
        cfg_ctx c = {path, "stack", -1, err};
        rc = cfg_bad(&c, nm, "expected the profile's name");
    }
    if (rc == 0) {
        cfg->stack_scale = s;
        for (int i = 0; i < LOOM_STACK_TIMES; i++)
            cfg->stack_time[i] = (sim_time)llround(t[i] * SIM_PS_PER_US);
        free(cfg->stack_name);
        cfg->stack_name = loom_xstrdup(name ? name : value);
    }
    cfg_doc_free(&dc);
    return rc;
}

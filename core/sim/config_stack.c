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
    yaml_node_t *hv = rc == 0 ? cfg_lookup(&dc, "host-launch-us") : NULL;
    double h = 0;
    if (hv) {
        cfg_ctx c = {path, "host-launch-us", -1, err};
        rc = cfg_get_double(&c, hv, 0, 1e6, 0, &h);
    }
    yaml_node_t *ov = rc == 0 ? cfg_lookup(&dc, "step-overhead-us") : NULL;
    double o = 0;
    if (ov) {
        cfg_ctx c = {path, "step-overhead-us", -1, err};
        rc = cfg_get_double(&c, ov, 0, 1e9, 0, &o);
    }
    yaml_node_t *nm = rc == 0 ? cfg_lookup(&dc, "stack") : NULL;
    const char *name = nm ? cfg_scalar(nm) : NULL;
    if (rc == 0 && nm && name == NULL) {
        cfg_ctx c = {path, "stack", -1, err};
        rc = cfg_bad(&c, nm, "expected the profile's name");
    }
    if (rc == 0) {
        cfg->stack_scale = s;
        cfg->stack_host = (sim_time)llround(h * SIM_PS_PER_US);
        cfg->stack_overhead = (sim_time)llround(o * SIM_PS_PER_US);
        free(cfg->stack_name);
        cfg->stack_name = loom_xstrdup(name ? name : value);
    }
    cfg_doc_free(&dc);
    return rc;
}

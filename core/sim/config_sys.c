/*
 * config_sys.c: the system file (ASTRA-sim's JSON or YAML): collective
 * settings (splits, chunks, endpoint delay, algorithm per dimension,
 * network model), the keys loom accepts but does not model (each becomes a
 * note in the report), and the walk that hands the device and compute
 * keys to config_comp.c.  Defaults are ASTRA-sim's where it has one
 * (docs/CONFIG.md).
 *
 * Units: "local-mem-bw" is 10^9 bytes/s, "peak-perf" 10^12 FLOP/s and
 * "endpoint-delay" ns; converted to bytes/s, FLOP/s and ps here.
 */
#include "config_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* System keys loom models, then those it accepts for compatibility. */
const char *const cfg_sys_keys[] = {
    "endpoint-delay", "active-chunks-per-dimension", "preferred-dataset-splits",
    "all-reduce-implementation", "all-gather-implementation",
    "reduce-scatter-implementation", "all-to-all-implementation", "local-mem-bw",
    "roofline-enabled", "peak-perf", "network-model", "timing", "comm-model", "stack",
    "comm-efficiency", "host-launch-us", "step-overhead-us", "all-gather-order", "phase-overlap",
    "comm-sms",
    /* device and compute model (docs/CONFIG.md, docs/DEVICES.md) */
    "device", "device-file", "compute-model", "compute-dtype", "compute-table", "attention-kernel",
    "compute-matrix-efficiency", "compute-matrix-overhead-us", "compute-memory-efficiency",
    "compute-memory-overhead-us", "rank-devices", "straggler", "comm-group",
    /* accepted, not modelled (see docs/CONFIG.md) */
    "scheduling-policy", "collective-optimization", "boost-mode", "trace-enabled",
    "replay-only", "track-local-mem", "local-reduction-delay", "L", "o", "g", "G",
    "model-shared-bus", "intra-dimension-scheduling", "inter-dimension-scheduling",
    "all-reduce-implementation-custom", "all-gather-implementation-custom",
    "reduce-scatter-implementation-custom", "all-to-all-implementation-custom",
    "local-mem-trace-filename", "per-node-custom-implementation"};
const int cfg_nsys_keys = sizeof cfg_sys_keys / sizeof cfg_sys_keys[0];

static int load_impl(loom_cfg *cfg, cfg_doc *dc, yaml_node_t *v, const char *key, net_impl_op op,
                     loom_err *err)
{
    int *items, one, cnt;
    if (cfg_list_items(dc, v, &items, &cnt, &one) < 0 || cnt < 1)
        return loom_err_set(err, LOOM_EUSAGE, "%s: key '%s' must be a list of algorithm names, one per dimension",
                            dc->path, key);
    /* a single name, not a list: every dimension (loom's; what gen llm
     * writes, not knowing the network) */
    int every = v->type == YAML_SCALAR_NODE;
    if (every && cfg->topo.ndims > 1)
        cnt = cfg->topo.ndims;
    if (cnt < cfg->topo.ndims)
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: key '%s' names %d algorithm%s but the network has %d dimensions: give one per dimension",
                            dc->path, key, cnt, cnt == 1 ? "" : "s", cfg->topo.ndims);
    if (cnt > cfg->topo.ndims)
        loom_warn("%s: key '%s' names %d algorithms for %d dimensions; the extra ones are ignored",
                  dc->path, key, cnt, cfg->topo.ndims);
    for (int d = 0; d < cnt; d++) {
        yaml_node_t *it = cfg_node(dc, items[every ? 0 : d]);
        const char *s = cfg_scalar(it);
        net_algo a;
        if (s == NULL || net_algo_parse(s, &a) < 0) {
            cfg_ctx c = {dc->path, key, every ? -1 : d, err};
            char msg[256];
            snprintf(msg, sizeof msg, "'%s' is not an algorithm (ring, oneRing, direct, directN, "
                     "oneDirect, halvingDoubling, oneHalvingDoubling, doubleBinaryTree)",
                     s ? s : "(not a name)");
            return cfg_bad(&c, it, msg);
        }
        if (d < NET_MAX_DIMS)
            cfg->sys.impl[op][d] = a;
        if (d < 32 && strncmp(s, "one", 3) == 0)
            cfg->impl_one[op] |= 1u << d;
    }
    cfg->impl_n[op] = cnt;
    return 0;
}

/* comm-efficiency: an achieved-bandwidth curve per dimension from
 * dimension 0 (docs/NETWORK.md 9); dimensions past the list keep none. */
static int load_eff(loom_cfg *cfg, cfg_doc *dc, yaml_node_t *v, const char *key, loom_err *err)
{
    int *items, one, cnt;
    if (cfg_list_items(dc, v, &items, &cnt, &one) < 0 || cnt < 1)
        return loom_err_set(err, LOOM_EUSAGE, "%s: key '%s' must be a list of curve names (%s), "
                            "one per dimension from dimension 0", dc->path, key, net_eff_names());
    if (cnt > cfg->topo.ndims)
        return loom_err_set(err, LOOM_EUSAGE, "%s: key '%s' names %d curves but the network has "
                            "%d dimension%s", dc->path, key, cnt, cfg->topo.ndims,
                            cfg->topo.ndims == 1 ? "" : "s");
    for (int d = 0; d < cnt; d++) {
        yaml_node_t *it = cfg_node(dc, items[d]);
        const char *s = cfg_scalar(it);
        int c;
        if (s == NULL || net_eff_parse(s, &c) < 0) {
            cfg_ctx cx = {dc->path, key, d, err};
            char msg[200];
            snprintf(msg, sizeof msg, "'%s' is not a curve (%s)", s ? s : "(not a name)",
                     net_eff_names());
            return cfg_bad(&cx, it, msg);
        }
        cfg->sys.eff[d] = (uint8_t)c;
    }
    return 0;
}

/* Reads one collective or not-modelled key into cfg (the device and
 * compute keys went to cfg_comp_key first). */
static int sys_key(loom_cfg *cfg, cfg_doc *dc, const cfg_ctx *c, const char *k, yaml_node_t *v)
{
    loom_err *err = c->err;
    long long iv;
    double dv;
    int e, rc = 0;
    if (strcmp(k, "endpoint-delay") == 0) {
        if ((rc = cfg_get_int(c, v, 0, 1000000000LL, &iv)) < 0)
            return rc;
        cfg->sys.endpoint_delay = iv * SIM_PS_PER_NS;
    } else if (strcmp(k, "active-chunks-per-dimension") == 0) {
        if ((rc = cfg_get_int(c, v, 1, 1024, &iv)) < 0)
            return rc;
        cfg->sys.active_chunks = (int)iv;
    } else if (strcmp(k, "preferred-dataset-splits") == 0) {
        if ((rc = cfg_get_int(c, v, 1, 65536, &iv)) < 0)
            return rc;
        cfg->sys.splits = (int)iv;
    } else if (strcmp(k, "all-reduce-implementation") == 0) {
        rc = load_impl(cfg, dc, v, k, NET_IMPL_ALL_REDUCE, err);
    } else if (strcmp(k, "all-gather-implementation") == 0) {
        rc = load_impl(cfg, dc, v, k, NET_IMPL_ALL_GATHER, err);
    } else if (strcmp(k, "reduce-scatter-implementation") == 0) {
        rc = load_impl(cfg, dc, v, k, NET_IMPL_REDUCE_SCATTER, err);
    } else if (strcmp(k, "all-to-all-implementation") == 0) {
        rc = load_impl(cfg, dc, v, k, NET_IMPL_ALL_TO_ALL, err);
    } else if (strcmp(k, "comm-efficiency") == 0) { /* docs/NETWORK.md 9 */
        rc = load_eff(cfg, dc, v, k, err);
    } else if (strcmp(k, "all-gather-order") == 0) { /* docs/MODEL.md 7 */
        static const char *const orders[] = {"ascending", "descending"};
        if ((rc = cfg_get_enum(c, v, orders, 2, &e)) < 0)
            return rc;
        cfg->sys.ag_descending = e;
    } else if (strcmp(k, "phase-overlap") == 0) { /* docs/MODEL.md 7 */
        if ((rc = cfg_get_double(c, v, 0, 1, 0, &dv)) < 0)
            return rc;
        cfg->sys.phase_overlap = dv;
    } else if (strcmp(k, "comm-sms") == 0) { /* docs/MODEL.md, communication beside compute */
        if ((rc = cfg_get_int(c, v, 0, 255, &iv)) < 0)
            return rc;
        cfg->comm_sms = (int)iv;
    } else if (strcmp(k, "network-model") == 0) { /* docs/NETWORK.md */
        static const char *const models[] = {"analytical", "flow"};
        if ((rc = cfg_get_enum(c, v, models, 2, &e)) < 0)
            return rc;
        cfg->sys.model = (net_model_kind)e;
    } else if (strcmp(k, "stack") == 0) { /* docs/VALIDATION.md, stack profiles */
        if (cfg_scalar(v) == NULL || !*cfg_scalar(v))
            return cfg_bad(c, v, "expected a stack profile's name or file");
        rc = cfg_load_stack(cfg, cfg_scalar(v), dc->path, c->err);
    } else if ((e = cfg_stack_time_index(k)) >= 0) { /* host-launch-us, step-overhead-us */
        if ((rc = cfg_get_double(c, v, 0, cfg_stack_times[e].max_us, 0, &dv)) < 0)
            return rc;
        *cfg_stack_time_field(cfg, e) = (sim_time)llround(dv * SIM_PS_PER_US);
        cfg->time_set[e] = 1;
    } else if (strcmp(k, "comm-model") == 0) { /* docs/IMPORT.md */
        static const char *const cm[] = {"network", "captured"};
        if ((rc = cfg_get_enum(c, v, cm, 2, &e)) < 0)
            return rc;
        cfg->comm_captured = e;
    } else if (strcmp(k, "timing") == 0) { /* docs/MODEL.md 9 */
        static const char *const timings[] = {"loom", "astra-sim"};
        if ((rc = cfg_get_enum(c, v, timings, 2, &e)) < 0)
            return rc;
        cfg->sys.astra_timing = e;
        cfg->timing_set = 1;
    } else if (strcmp(k, "scheduling-policy") == 0) {
        static const char *const pol[] = {"LIFO", "FIFO", "EXPLICIT"};
        if ((rc = cfg_get_enum(c, v, pol, 3, &e)) < 0)
            return rc;
        cfg_note(cfg, "scheduling-policy %s (loom issues ready nodes in id order)", pol[e]);
    } else if (strcmp(k, "collective-optimization") == 0) {
        static const char *const opt[] = {"baseline", "localBWAware"};
        if ((rc = cfg_get_enum(c, v, opt, 2, &e)) < 0)
            return rc;
        cfg_note(cfg, "collective-optimization %s", opt[e]);
    } else if (strstr(k, "-implementation-custom") != NULL) {
        /* ASTRA-sim: a list holding one prefix (CollectiveImplLookup:
         * "There should be 1 Chakra ET only") */
        static const char *const ops[] = {"all-reduce", "all-gather", "reduce-scatter",
                                          "all-to-all"};
        int *items, one, cnt, op = 0;
        while (strncmp(k, ops[op], strlen(ops[op])) != 0)
            op++;
        if (cfg_list_items(dc, v, &items, &cnt, &one) < 0 || cnt != 1 ||
            cfg_scalar(cfg_node(dc, items[0])) == NULL)
            return cfg_bad(c, v, "expected a list of one trace prefix (ASTRA-sim runs one "
                                 "custom algorithm per operation)");
        rc = cfg_load_custom(cfg, (net_impl_op)op, cfg_scalar(cfg_node(dc, items[0])), dc->path,
                             err);
    } else if (strcmp(k, "local-mem-trace-filename") == 0) {
        /* ASTRA-sim's Sys: where track-local-mem writes its local-memory trace */
        if (cfg_scalar(v) == NULL)
            return cfg_bad(c, v, "expected a file name");
        cfg_note(cfg, "local-mem-trace-filename %s (ASTRA-sim's track-local-mem trace; loom "
                      "writes none)", cfg_scalar(v));
    } else if (strcmp(k, "per-node-custom-implementation") == 0) {
        /* ASTRA-sim's CollectiveImplLookup: a YAML file mapping Chakra node ids
         * to custom algorithm traces, above *-implementation-custom */
        if (cfg_scalar(v) == NULL)
            return cfg_bad(c, v, "expected a file name");
        cfg_note(cfg, "per-node-custom-implementation %s (those nodes run the operation's "
                      "*-implementation-custom or *-implementation)", cfg_scalar(v));
    } else if (strcmp(k, "intra-dimension-scheduling") == 0 ||
               strcmp(k, "inter-dimension-scheduling") == 0) {
        if (cfg_scalar(v) == NULL)
            return cfg_bad(c, v, "expected a name");
        cfg_note(cfg, "%s", k);
    } else { /* numeric switches and LogGP parameters: checked, not modelled */
        if ((rc = cfg_get_double(c, v, 0, 1e15, 0, &dv)) < 0)
            return rc;
        if (dv != 0)
            cfg_note(cfg, "%s", k);
    }
    return rc;
}

int cfg_load_system(loom_cfg *cfg, const loom_cfg_files *f, loom_err *err)
{
    cfg_doc dc;
    cfg_sys_comp sc = {.model = -1, .roofline_key = -1, .dtype = COMP_BF16,
                       .eff = {-1, -1}, .ovh = {-1, -1}, .attn = -1};
    int rc = cfg_doc_load(&dc, f->system, err);
    if (rc == 0)
        rc = cfg_apply_overrides(&dc, "system", f, err);
    if (rc == 0)
        rc = cfg_check_keys(&dc, cfg_sys_keys, cfg_nsys_keys, err);
    if (rc < 0)
        goto out;

    /* Defaults are ASTRA-sim's where it has one (docs/CONFIG.md). */
    cfg->sys.splits = 1;
    cfg->sys.active_chunks = 1;
    cfg->sys.endpoint_delay = 10 * SIM_PS_PER_NS;
    for (int op = 0; op < NET_IMPL_OPS; op++)
        for (int d = 0; d < NET_MAX_DIMS; d++)
            cfg->sys.impl[op][d] = NET_ALGO_RING;
    cfg->comp.kind = COMP_TRACE;

    int n = 0;
    yaml_node_pair_t *p = cfg_pairs(&dc, &n, err);
    for (int i = 0; i < n; i++) {
        const char *k = cfg_scalar(cfg_node(&dc, p[i].key));
        yaml_node_t *v = cfg_node(&dc, p[i].value);
        cfg_ctx c = {f->system, k, -1, err};
        if ((rc = cfg_comp_key(cfg, &sc, &c, k, v)) < 0)
            goto out;
        if (rc == 0 && (rc = sys_key(cfg, &dc, &c, k, v)) < 0)
            goto out;
    }
    if ((rc = cfg_load_compute(cfg, &dc, &sc, f, err)) < 0)
        goto out;
    cfg_apply_stack_times(cfg); /* the stack profile's, where the file gives none */
    if (!sc.have_mem) {
        rc = loom_err_set(err, LOOM_EUSAGE,
                          "%s: missing key 'local-mem-bw' (GB/s, 10^9 bytes/s) or 'device': loom "
                          "needs it for reductions and memory nodes", f->system);
        goto out;
    }
    if (cfg->comp.kind == COMP_ROOFLINE && !sc.have_peak && !sc.device) {
        rc = loom_err_set(err, LOOM_EUSAGE,
                          "%s: 'roofline-enabled' is 1 but 'peak-perf' (TFLOP/s) is missing", f->system);
        goto out;
    }
    rc = comp_cfg_check(&cfg->comp, err);
out:
    free(sc.device_file);
    free(sc.table);
    free(sc.comm_group);
    cfg_doc_free(&dc);
    return rc;
}

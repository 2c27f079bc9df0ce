/*
 * config_comp.c: the system file's device and compute-model keys
 * (docs/CONFIG.md "Device and compute model", docs/DEVICES.md): the device
 * from the catalog, curve overrides, the kernel table, per-rank devices and
 * stragglers, and the comm-group file the system file may name.
 *
 * The keys are gathered into a cfg_sys_comp while config_sys.c walks the
 * file and applied after it (cfg_load_compute), so their order in the file
 * does not matter.  Paths are relative to the system file.
 */
#include "config_int.h"

#include <stdlib.h>
#include <string.h>

#include "sbuf.h"

/* A path from the system file, relative to the file's folder. */
static char *sys_path(const char *system, const char *p)
{
    if (p[0] == '/')
        return loom_xstrdup(p);
    const char *slash = strrchr(system, '/');
    if (slash == NULL)
        return loom_xstrdup(p);
    size_t n = (size_t)(slash - system) + 1 + strlen(p) + 1;
    char *out = loom_xmalloc(n);
    snprintf(out, n, "%.*s/%s", (int)(slash - system), system, p);
    return out;
}

/* Rank ranges [lo, hi] of one entry: a mapping of many entries costs what
 * they name, not entries x ranks (a mark per rank of the network, cleared
 * and scanned per entry, was 1.6e11 steps for 10,000 entries on 2^24). */
typedef struct rank_ranges {
    long (*r)[2];  /* [lo, hi] pairs */
    size_t n, cap; /* used, allocated */
} rank_ranges;

static void range_add(rank_ranges *rr, long lo, long hi)
{
    if (rr->n == rr->cap)
        rr->r = loom_vgrow(rr->r, &rr->cap, rr->n + 1, sizeof *rr->r);
    rr->r[rr->n][0] = lo;
    rr->r[rr->n++][1] = hi;
}

/* "0-7,16" (or an integer, or a list of integers) into rr. */
static int rank_spec(cfg_doc *dc, const cfg_ctx *c, yaml_node_t *v, int nranks, rank_ranges *rr)
{
    if (v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
            long long r;
            if (cfg_get_int(c, cfg_node(dc, *it), 0, nranks - 1, &r) < 0)
                return LOOM_EUSAGE;
            range_add(rr, (long)r, (long)r);
        }
        return 0;
    }
    const char *s = cfg_scalar(v);
    if (s == NULL || *s == '\0')
        return cfg_bad(c, v, "expected ranks such as \"0-7,16\" or a list of ranks");
    char msg[200];
    for (const char *q = s; *q;) {
        char *end;
        long a = strtol(q, &end, 10), b;
        if (end == q || a < 0)
            goto malformed;
        b = a;
        if (*end == '-') {
            const char *q2 = end + 1;
            b = strtol(q2, &end, 10);
            if (end == q2 || b < a)
                goto malformed;
        }
        if (b >= nranks) {
            snprintf(msg, sizeof msg, "rank %ld is out of range: the network has %d rank%s (0 .. %d)",
                     b, nranks, nranks == 1 ? "" : "s", nranks - 1);
            return cfg_bad(c, v, msg);
        }
        range_add(rr, a, b);
        if (*end == ',')
            end++;
        else if (*end != '\0')
            goto malformed;
        q = end;
    }
    return 0;
malformed:
    snprintf(msg, sizeof msg, "'%s' is not a rank list such as \"0-7,16\"", s);
    return cfg_bad(c, v, msg);
}

/* Curve overrides on top of a device's (or on a plain roofline). */
static void apply_curves(const cfg_sys_comp *sc, comp_cfg *cc)
{
    comp_curve *cv[2] = {&cc->matrix, &cc->memory};
    double rate[2] = {cc->peak_flops, cc->mem_bw};
    for (int k = 0; k < 2; k++) {
        if (sc->eff[k] < 0 && sc->ovh[k] < 0)
            continue;
        double eff = sc->eff[k] >= 0 ? sc->eff[k] : (cv[k]->eff > 0 ? cv[k]->eff : 1.0);
        double t0 = sc->ovh[k] >= 0 ? sc->ovh[k] * 1e-6
                                    : (cv[k]->eff > 0 ? cv[k]->half / (rate[k] * cv[k]->eff) : 0);
        cv[k]->eff = eff;
        cv[k]->half = t0 * rate[k] * eff;
    }
}

static int device_cfg(loom_cfg *cfg, const cfg_sys_comp *sc, const comp_catalog *cat, const char *name,
                      const char *path, comp_cfg *out, loom_err *err)
{
    const comp_device *d = comp_catalog_find(cat, name);
    if (d == NULL) {
        char list[512];
        return loom_err_set(err, LOOM_EUSAGE, "%s: device '%s' is not in the catalog (%s; see "
                            "loom devices)", path, name, comp_catalog_names(cat, list, sizeof list));
    }
    if (comp_device_cfg(d, sc->dtype, out, err) < 0)
        return LOOM_EUSAGE;
    if (sc->attn >= 0)
        comp_kparams_attention(&out->kp, (comp_attn)sc->attn);
    if (sc->peak > 0)
        out->peak_flops = sc->peak;
    if (sc->mem_bw > 0)
        out->mem_bw = sc->mem_bw;
    apply_curves(sc, out);
    (void)cfg;
    return 0;
}

int cfg_comp_key(loom_cfg *cfg, cfg_sys_comp *sc, const cfg_ctx *c, const char *k, yaml_node_t *v)
{
    long long iv;
    double dv;
    int e, rc;
    if (strcmp(k, "local-mem-bw") == 0) { /* GB/s, GB = 10^9 */
        if ((rc = cfg_get_double(c, v, 0, 1e9, 1, &dv)) < 0)
            return rc;
        cfg->sys.local_mem_bw = cfg->comp.mem_bw = sc->mem_bw = dv * 1e9;
        sc->have_mem = 1;
    } else if (strcmp(k, "roofline-enabled") == 0) {
        if ((rc = cfg_get_int(c, v, 0, 1, &iv)) < 0)
            return rc;
        cfg->comp.kind = iv ? COMP_ROOFLINE : COMP_TRACE;
        sc->roofline_key = (int)iv;
    } else if (strcmp(k, "peak-perf") == 0) { /* TFLOP/s */
        if ((rc = cfg_get_double(c, v, 0, 1e9, 1, &dv)) < 0)
            return rc;
        cfg->comp.peak_flops = sc->peak = dv * 1e12;
        sc->have_peak = 1;
    } else if (strcmp(k, "device") == 0) {
        if ((sc->device = cfg_scalar(v)) == NULL || *sc->device == '\0')
            return cfg_bad(c, v, "expected a device name (see loom devices)");
    } else if (strcmp(k, "device-file") == 0 || strcmp(k, "compute-table") == 0 ||
               strcmp(k, "comm-group") == 0) {
        const char *s = cfg_scalar(v);
        if (s == NULL || *s == '\0')
            return cfg_bad(c, v, "expected a file path (relative to the system file)");
        char **dst = strcmp(k, "device-file") == 0     ? &sc->device_file
                     : strcmp(k, "compute-table") == 0 ? &sc->table
                                                       : &sc->comm_group;
        free(*dst);
        *dst = sys_path(c->path, s);
    } else if (strcmp(k, "compute-model") == 0) {
        if ((rc = cfg_get_enum(c, v, comp_kind_names, COMP_KINDS, &e)) < 0)
            return rc;
        sc->model = e; /* comp_kind_names is in comp_kind order */
    } else if (strcmp(k, "attention-kernel") == 0) {
        if ((rc = cfg_get_enum(c, v, comp_attn_names, COMP_ATTN_KINDS, &e)) < 0)
            return rc;
        sc->attn = e;
    } else if (strcmp(k, "compute-dtype") == 0) {
        static const char *const dts[] = {"fp32", "tf32", "fp16", "bf16", "fp8"};
        if ((rc = cfg_get_enum(c, v, dts, 5, &e)) < 0)
            return rc;
        sc->dtype = (comp_dtype)e;
    } else if (strcmp(k, "compute-matrix-efficiency") == 0 ||
               strcmp(k, "compute-memory-efficiency") == 0) {
        if ((rc = cfg_get_double(c, v, 0, 1, 1, &dv)) < 0)
            return rc;
        sc->eff[strstr(k, "memory") != NULL] = dv; /* [0] matrix, [1] memory */
    } else if (strcmp(k, "compute-matrix-overhead-us") == 0 ||
               strcmp(k, "compute-memory-overhead-us") == 0) {
        if ((rc = cfg_get_double(c, v, 0, 1e6, 0, &dv)) < 0)
            return rc;
        sc->ovh[strstr(k, "memory") != NULL] = dv;
    } else if (strcmp(k, "rank-devices") == 0) {
        sc->rank_dev = v;
    } else if (strcmp(k, "straggler") == 0) {
        sc->straggler = v;
    } else {
        return 0;
    }
    return 1;
}

/* rank-devices and straggler: one compute model per rank, starting from
 * the run's model; a rank's device keeps its straggler factor. */
static int load_rank_comp(loom_cfg *cfg, cfg_doc *dc, const cfg_sys_comp *sc,
                          const comp_catalog *cat, const char *path, loom_err *err)
{
    int rc = 0;
    long long nranks = 1;
    for (int d = 0; d < cfg->topo.ndims; d++)
        nranks *= cfg->topo.dims[d].npus;
    cfg->rank_comp = loom_xcalloc((size_t)nranks, sizeof *cfg->rank_comp);
    cfg->nrank_comp = (int)nranks;
    for (long long r = 0; r < nranks; r++)
        cfg->rank_comp[r] = cfg->comp;
    rank_ranges rr = {0};
    yaml_node_t *maps[2] = {sc->rank_dev, sc->straggler};
    const char *keys[2] = {"rank-devices", "straggler"};
    for (int k = 0; k < 2 && rc == 0; k++) {
        yaml_node_t *m = maps[k];
        if (m == NULL)
            continue;
        cfg_ctx c = {path, keys[k], -1, err};
        if (m->type != YAML_MAPPING_NODE) {
            rc = cfg_bad(&c, m, k == 0 ? "expected a mapping of device name to ranks, e.g. "
                                     "{a100-80g: \"0-7\"}"
                                   : "expected a mapping of ranks to slow-down factors, e.g. "
                                     "{\"3\": 1.5, \"8-15\": 1.1}");
            break;
        }
        for (yaml_node_pair_t *pr = m->data.mapping.pairs.start;
             rc == 0 && pr < m->data.mapping.pairs.top; pr++) {
            yaml_node_t *kn = cfg_node(dc, pr->key), *vn = cfg_node(dc, pr->value);
            rr.n = 0;
            comp_cfg dcfg;
            double factor = 0;
            if (k == 0) {
                const char *name = cfg_scalar(kn);
                if (name == NULL) {
                    rc = cfg_bad(&c, kn, "a device name must be plain text");
                    break;
                }
                if ((rc = rank_spec(dc, &c, vn, (int)nranks, &rr)) < 0)
                    break;
                dcfg = cfg->comp;
                if ((rc = device_cfg(cfg, sc, cat, name, path, &dcfg, err)) < 0)
                    break;
            } else {
                if ((rc = rank_spec(dc, &c, kn, (int)nranks, &rr)) < 0 ||
                    (rc = cfg_get_double(&c, vn, 0, 1000, 1, &factor)) < 0)
                    break;
            }
            for (size_t q = 0; q < rr.n; q++)
                for (long r = rr.r[q][0]; r <= rr.r[q][1]; r++) {
                    if (k == 0) {
                        double sd = cfg->rank_comp[r].slowdown;
                        cfg->rank_comp[r] = dcfg;
                        cfg->rank_comp[r].slowdown = sd;
                    } else {
                        cfg->rank_comp[r].slowdown = factor;
                    }
                }
        }
    }
    free(rr.r);
    for (long long r = 0; rc == 0 && r < nranks; r++)
        rc = comp_cfg_check(&cfg->rank_comp[r], err);
    return rc;
}

int cfg_load_compute(loom_cfg *cfg, cfg_doc *dc, cfg_sys_comp *sc, const loom_cfg_files *f,
                     loom_err *err)
{
    const char *path = f->system;
    int rc = 0;
    comp_catalog *cat = NULL;
    if (sc->model >= 0 && sc->roofline_key >= 0 &&
        (sc->roofline_key == 1) != (sc->model == COMP_ROOFLINE))
        return loom_err_set(err, LOOM_EUSAGE, "%s: 'roofline-enabled: %d' contradicts "
                            "'compute-model: %s'", path, sc->roofline_key,
                            comp_kind_name((comp_kind)sc->model));
    if (sc->model >= 0)
        cfg->comp.kind = (comp_kind)sc->model;
    if (sc->device || sc->rank_dev) {
        if ((cat = comp_catalog_load(sc->device_file, err)) == NULL)
            return LOOM_EUSAGE;
    } else if (sc->device_file) {
        return loom_err_set(err, LOOM_EUSAGE, "%s: 'device-file' is set but no 'device' or "
                            "'rank-devices' uses it", path);
    }
    if (sc->device) {
        comp_cfg dcfg = cfg->comp;
        if ((rc = device_cfg(cfg, sc, cat, sc->device, path, &dcfg, err)) < 0)
            goto out;
        cfg->comp = dcfg;
        if (!sc->have_mem) { /* reductions run at the device's HBM bandwidth */
            cfg->sys.local_mem_bw = dcfg.mem_bw;
            sc->have_mem = 1;
        }
    } else {
        apply_curves(sc, &cfg->comp);
    }
    if (cfg->comp.kind == COMP_ROOFLINE && !sc->have_peak && !sc->device) {
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: the roofline compute model needs 'peak-perf' "
                          "(TFLOP/s) or a 'device'", path);
        goto out;
    }
    if (cfg->comp.kind == COMP_KERNEL && cfg->comp.kp.sms == 0) {
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: 'compute-model: kernel' needs a 'device' whose "
                          "catalog entry has sms and gemm-tiles (%s%s%s; docs/DEVICES.md)", path,
                          sc->device ? "device '" : "no device given",
                          sc->device ? sc->device : "", sc->device ? "' has none" : "");
        goto out;
    }
    if (sc->attn >= 0 && cfg->comp.kind != COMP_KERNEL) /* kept, and said */
        cfg_note(cfg, "attention-kernel %s prices attention in the kernel compute model only; "
                      "this run's compute model ignores it", comp_attn_names[sc->attn]);
    if (sc->table && cfg->comp.kind != COMP_TABLE) {
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: 'compute-table' is set but 'compute-model' is not "
                          "table", path);
        goto out;
    }
    if (cfg->comp.kind == COMP_TABLE) {
        if (sc->table == NULL) {
            rc = loom_err_set(err, LOOM_EUSAGE, "%s: 'compute-model: table' needs 'compute-table' "
                              "(a CSV kernel,flops,bytes,time_us)", path);
            goto out;
        }
        if ((cfg->comp_table = comp_table_load(sc->table, err)) == NULL) {
            rc = LOOM_EUSAGE;
            goto out;
        }
        cfg->comp.table = cfg->comp_table;
    }
    if ((sc->rank_dev || sc->straggler) &&
        (rc = load_rank_comp(cfg, dc, sc, cat, path, err)) < 0)
        goto out;
    if (sc->comm_group) {
        if (f->comm_group)
            cfg_note(cfg, "comm-group %s (the command line's --comm-group is used)", sc->comm_group);
        else if ((rc = cfg_load_groups(cfg, sc->comm_group, err)) < 0)
            goto out;
    }
out:
    comp_catalog_free(cat);
    return rc;
}


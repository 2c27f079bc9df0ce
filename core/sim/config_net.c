/*
 * config_net.c: the network file: ASTRA-sim's per-dimension form
 * (topology, npus_count, bandwidth, latency: one entry per dimension), or
 * an explicit fabric (a file with 'kind', read by network/net_topo.c).
 *
 * Units: ASTRA-sim's "GB/s" is 2^30 bytes/s and its latency is ns; both
 * are converted to bytes/s and ps here.
 */
#include "config_int.h"

#include <math.h>
#include <string.h>

#include "net_topo.h"

#define GIB 1073741824.0 /* ASTRA-sim network GB */

/* What each key is; used for --set validation and for the "known keys"
 * list in messages. */
const char *const cfg_net_keys[CFG_NET_KEYS] = {"topology", "npus_count", "bandwidth", "latency"};

static void note_cb(void *ctx, const char *text) { cfg_note(ctx, "%s", text); }

/* ASTRA-sim's ns-3 (config.txt or a topology file) and htsim (.topo)
 * networks: congestion-aware back ends, so the flow model unless the
 * system file names network-model. */
static int load_other(loom_cfg *cfg, const loom_cfg_files *f, int form, loom_err *err)
{
    const char *what = f->htsim_topo ? f->htsim_topo : f->network;
    for (int i = 0; i < f->nsets; i++)
        if (strncmp(f->sets[i], "network.", 8) == 0)
            return loom_err_set(err, LOOM_EUSAGE,
                                "--set %s: %s is not a YAML network file; edit it instead",
                                f->sets[i], what);
    int rc;
    if (f->htsim_topo || form == NET_FORM_HTSIM) {
        if (f->logical)
            return loom_err_set(err, LOOM_EUSAGE, "--logical-topology-configuration %s: applies "
                                "to an ns-3 network, not htsim's %s", f->logical, what);
        /* ASTRA-sim's htsim front end takes the logical dims from the
         * network YAML, the fabric from -topo */
        net_topo lg = {0};
        if (f->htsim_topo && f->network && (rc = net_topo_load_file(f->network, &lg, err)) < 0)
            return rc;
        if ((rc = net_htsim_load(what, &cfg->topo, note_cb, cfg, err)) < 0)
            return rc;
        net_xtopo *x = &cfg->topo.x;
        x->nlogical = lg.ndims ? lg.ndims : 1;
        for (int d = 0; d < x->nlogical; d++)
            x->logical[d] = lg.ndims ? lg.dims[d].npus : x->npus;
        rc = net_xtopo_view(&cfg->topo, err);
    } else {
        rc = net_ns3_load(f->network, f->logical, &cfg->topo, note_cb, cfg, err);
    }
    cfg->sys.model = NET_MODEL_FLOW;
    return rc;
}

int cfg_load_network(loom_cfg *cfg, const loom_cfg_files *f, loom_err *err)
{
    int form = f->network ? net_file_form(f->network) : NET_FORM_YAML;
    if (f->htsim_topo || form != NET_FORM_YAML)
        return load_other(cfg, f, form, err);
    if (f->logical)
        return loom_err_set(err, LOOM_EUSAGE,
                            "--logical-topology-configuration %s: applies to an ns-3 network "
                            "(config.txt or a topology file), and %s is YAML", f->logical,
                            f->network);
    cfg_doc dc;
    int rc = cfg_doc_load(&dc, f->network, err);
    if (rc == 0)
        rc = cfg_apply_overrides(&dc, "network", f, err);
    if (rc == 0 && yaml_document_get_root_node(&dc.d)->type == YAML_MAPPING_NODE &&
        cfg_lookup(&dc, "kind") != NULL) {
        /* an explicit fabric (fat_tree, rail, torus, dragonfly): ASTRA-sim's
         * files never have 'kind'; network/net_topo.c reads and checks it */
        rc = net_xtopo_load(&dc.d, f->network, &cfg->topo, err);
        goto out;
    }
    if (rc == 0)
        rc = cfg_check_keys(&dc, cfg_net_keys, CFG_NET_KEYS, err);
    if (rc < 0)
        goto out;
    int counts[CFG_NET_KEYS];
    for (int k = 0; k < CFG_NET_KEYS; k++) {
        yaml_node_t *v = cfg_lookup(&dc, cfg_net_keys[k]);
        if (v == NULL) {
            rc = loom_err_set(err, LOOM_EUSAGE, "%s: missing key '%s' (one entry per dimension)",
                              f->network, cfg_net_keys[k]);
            goto out;
        }
        int *items, one, cnt;
        if (cfg_list_items(&dc, v, &items, &cnt, &one) < 0 || cnt < 1 || cnt > NET_MAX_DIMS) {
            rc = loom_err_set(err, LOOM_EUSAGE,
                              "%s: key '%s' must be a list of 1 to %d entries, one per dimension",
                              f->network, cfg_net_keys[k], NET_MAX_DIMS);
            goto out;
        }
        counts[k] = cnt;
        for (int d = 0; d < cnt; d++) {
            cfg_ctx c = {f->network, cfg_net_keys[k], cnt > 1 || v->type == YAML_SEQUENCE_NODE ? d : -1, err};
            yaml_node_t *it = cfg_node(&dc, items[d]);
            net_dim *dim = &cfg->topo.dims[d];
            int e;
            long long iv;
            double dv;
            switch (k) {
            case 0:
                if ((rc = cfg_get_enum(&c, it, net_dim_kind_names, NET_DIM_KINDS, &e)) < 0)
                    goto out;
                dim->kind = (net_dim_kind)e;
                break;
            case 1:
                if ((rc = cfg_get_int(&c, it, 1, 1 << 24, &iv)) < 0)
                    goto out;
                dim->npus = (int)iv;
                break;
            case 2: /* GB/s with ASTRA-sim's GB = 2^30 bytes */
                if ((rc = cfg_get_double(&c, it, 0, 1e9, 1, &dv)) < 0)
                    goto out;
                dim->bw = dv * GIB;
                break;
            case 3: /* ns */
                if ((rc = cfg_get_double(&c, it, 0, 1e12, 0, &dv)) < 0)
                    goto out;
                dim->latency = (sim_time)llround(dv * SIM_PS_PER_NS);
                break;
            }
        }
    }
    for (int k = 1; k < CFG_NET_KEYS; k++)
        if (counts[k] != counts[0]) {
            rc = loom_err_set(err, LOOM_EUSAGE,
                              "%s: 'topology' has %d entries but '%s' has %d: give one per dimension",
                              f->network, counts[0], cfg_net_keys[k], counts[k]);
            goto out;
        }
    cfg->topo.ndims = counts[0];
    long long total = 1;
    for (int d = 0; d < cfg->topo.ndims; d++) {
        total *= cfg->topo.dims[d].npus;
        if (total > (1 << 24)) {
            rc = loom_err_set(err, LOOM_EUSAGE, "%s: npus_count multiplies to more than %d NPUs",
                              f->network, 1 << 24);
            goto out;
        }
    }
out:
    cfg_doc_free(&dc);
    return rc;
}

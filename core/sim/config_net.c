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

#include "net_topo.h"

#define GIB 1073741824.0 /* ASTRA-sim network GB */

/* What each key is; used for --set validation and for the "known keys"
 * list in messages. */
const char *const cfg_net_keys[CFG_NET_KEYS] = {"topology", "npus_count", "bandwidth", "latency"};

int cfg_load_network(loom_cfg *cfg, const loom_cfg_files *f, loom_err *err)
{
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

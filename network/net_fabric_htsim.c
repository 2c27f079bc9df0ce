/*
 * net_fabric_htsim.c: ASTRA-sim's htsim back end's fat tree by tiers
 * (`--htsim_opts -topo FILE`; docs/NETWORK.md 3.9), read into loom's
 * fat_tree kind, whose builder and up/down ECMP routing it then uses.
 *
 * The file: `Nodes n`, `Tiers 2|3`, `Podsize p` (3 tiers), then per
 * `Tier t` section: Downlink_speed_Gbps (the links from tier t down:
 * tier 0's go to the hosts), Radix_Down, Radix_Up (ports), 
 * Downlink_Latency_ns, Bundle (parallel links per neighbour).  The mapping:
 *   npus = Nodes, hosts_per_leaf = tier 0's Radix_Down,
 *   leaves_per_pod = Podsize / hosts_per_leaf;
 *   tier t's uplinks u = min(down ports, Radix_Up), oversubscription =
 *   down ports / u, and each of loom's u uplinks carries the tier's whole
 *   up capacity, Radix_Up x tier t+1's speed, over u: so the capacity up
 *   and down each tier is htsim's (Bundle groups ports, it adds none);
 *   class t's latency = tier t's Downlink_Latency_ns.
 * Queue sizes and switch latencies are noted, not modelled.
 */
#include "net_fabric.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net_topo.h"

#define HT_TIERS 3

typedef struct ht_tier {
    double speed;  /* Downlink_speed_Gbps, -1 absent */
    double lat;    /* Downlink_Latency_ns, -1 absent */
    int down, up;  /* Radix_Down, Radix_Up; -1 absent */
    int bundle;    /* Bundle: parallel links per neighbour below, 1 absent */
} ht_tier;

/* Radix_Down above tier 0 against the tree it builds: a tier-1 switch
 * faces every leaf of its pod (3 tiers) or every leaf (2 tiers), a tier-2
 * switch every pod, each through Bundle parallel links, so its down ports
 * are that count times Bundle (htsim derives the switches below a parent
 * from Radix_Down / Bundle).  Nodes must fill whole leaves and pods. */
static int check_radixes(const char *path, const ht_tier *t, int tiers, int nodes, int pod,
                         loom_err *err)
{
    int hpl = t[0].down;
    if (nodes % hpl != 0)
        return loom_err_set(err, LOOM_EUSAGE, "%s: Nodes %d is not a multiple of tier 0's "
                            "Radix_Down %d (hosts per leaf)", path, nodes, hpl);
    if (tiers == 3 && pod >= 1 && nodes % pod != 0)
        return loom_err_set(err, LOOM_EUSAGE, "%s: Nodes %d is not a multiple of Podsize %d",
                            path, nodes, pod);
    for (int i = 1; i < tiers; i++) {
        int below = tiers == 2 ? nodes / hpl : i == 1 ? (pod >= 1 ? pod / hpl : 0) : nodes / pod;
        const char *what = tiers == 2 ? "leaves" : i == 1 ? "leaves of a pod" : "pods";
        if (below >= 1 && (long long)below * t[i].bundle != t[i].down)
            return loom_err_set(err, LOOM_EUSAGE, "%s: Tier %d Radix_Down %d: its switches face "
                                "the %d %s through Bundle %d link%s each, so %lld ports", path, i,
                                t[i].down, below, what, t[i].bundle, t[i].bundle == 1 ? "" : "s",
                                (long long)below * t[i].bundle);
    }
    return 0;
}

/* The file names 2 or 3 tiers, each with its speed, latency and radixes,
 * and no section past the last tier. */
static int check_tiers(const char *path, const ht_tier *t, int tiers, int nodes, loom_err *err)
{
    if (nodes < 1 || (tiers != 2 && tiers != 3))
        return loom_err_set(err, LOOM_EUSAGE, "%s: needs 'Nodes <n>' and 'Tiers 2' or 'Tiers 3' "
                            "(loom's fat tree has 2 or 3 tiers)", path);
    for (int i = tiers; i < HT_TIERS; i++)
        if (t[i].speed >= 0 || t[i].lat >= 0 || t[i].down >= 0 || t[i].up >= 0)
            return loom_err_set(err, LOOM_EUSAGE, "%s: a 'Tier %d' section, but Tiers is %d",
                                path, i, tiers);
    for (int i = 0; i < tiers; i++) {
        if (!(t[i].speed > 0) || t[i].lat < 0 || t[i].down < 1 || (i < tiers - 1 && t[i].up < 1))
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: Tier %d needs Downlink_speed_Gbps > 0, Downlink_Latency_ns, "
                                "Radix_Down%s", path, i, i < tiers - 1 ? " and Radix_Up" : "");
    }
    return 0;
}

int net_htsim_load(const char *path, net_topo *out, net_note_fn note, void *ctx,
                   loom_err *err)
{
    memset(out, 0, sizeof *out);
    net_xtopo *x = &out->x;
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return loom_err_set(err, LOOM_EIO, "%s: cannot open the htsim topology: %s", path,
                            strerror(errno));
    ht_tier t[HT_TIERS];
    for (int i = 0; i < HT_TIERS; i++)
        t[i] = (ht_tier){-1, -1, -1, -1, 1};
    int nodes = -1, tiers = -1, pod = -1, cur = -1, ln = 0, rc = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, fp) >= 0) {
        ln++;
        char *sv;
        char *k = strtok_r(line, " \t\r\n", &sv);
        if (k == NULL || k[0] == '#')
            continue;
        char *v = strtok_r(NULL, " \t\r\n", &sv), *end = NULL;
        double d = v ? strtod(v, &end) : 0;
        if (v == NULL || end == v || *end || !isfinite(d) || d < 0) {
            rc = loom_err_set(err, LOOM_EUSAGE, "%s: line %d: '%s' needs a number >= 0", path, ln,
                              k);
            break;
        }
        int whole = d == floor(d) && d <= 1 << 24;
        int *slot = NULL;
        double *dslot = NULL;
        if (strcasecmp(k, "Nodes") == 0)
            slot = &nodes;
        else if (strcasecmp(k, "Tiers") == 0)
            slot = &tiers;
        else if (strcasecmp(k, "Podsize") == 0)
            slot = &pod;
        else if (strcasecmp(k, "Tier") == 0) {
            if (!whole || d >= HT_TIERS) {
                rc = loom_err_set(err, LOOM_EUSAGE, "%s: line %d: Tier %s: tiers are 0..%d", path,
                                  ln, v, HT_TIERS - 1);
                break;
            }
            cur = (int)d;
            continue;
        } else if (cur < 0) {
            rc = loom_err_set(err, LOOM_EUSAGE, "%s: line %d: '%s' before any 'Tier <n>' line",
                              path, ln, k);
            break;
        } else if (strcasecmp(k, "Downlink_speed_Gbps") == 0)
            dslot = &t[cur].speed;
        else if (strcasecmp(k, "Downlink_Latency_ns") == 0)
            dslot = &t[cur].lat;
        else if (strcasecmp(k, "Radix_Down") == 0)
            slot = &t[cur].down;
        else if (strcasecmp(k, "Radix_Up") == 0)
            slot = &t[cur].up;
        else if (strcasecmp(k, "Bundle") == 0)
            slot = &t[cur].bundle; /* groups ports: the capacity is in the radixes */
        else {
            if (note) {
                char msg[160];
                snprintf(msg, sizeof msg, "htsim %.40s %.24s (tier %d)", k, v, cur);
                note(ctx, msg);
            }
            continue;
        }
        if (slot && (!whole || d < 1)) {
            rc = loom_err_set(err, LOOM_EUSAGE, "%s: line %d: %s %s: a whole number >= 1", path,
                              ln, k, v);
            break;
        }
        if (slot)
            *slot = (int)d;
        else
            *dslot = d;
    }
    free(line);
    fclose(fp);
    if (rc < 0)
        return rc;
    if ((rc = check_tiers(path, t, tiers, nodes, err)) < 0)
        return rc;
    if (strlen(path) >= sizeof x->file)
        return loom_err_set(err, LOOM_EUSAGE, "%s: path longer than %zu bytes", path,
                            sizeof x->file - 1);
    snprintf(x->file, sizeof x->file, "%s", path);
    x->kind = NET_X_FAT_TREE;
    x->npus = nodes;
    x->tiers = tiers;
    x->hosts_per_leaf = t[0].down;
    if (tiers == 3) {
        if (pod < 1 || pod % t[0].down != 0)
            return loom_err_set(err, LOOM_EUSAGE,
                                "%s: Podsize %d must be a multiple of tier 0's Radix_Down %d", path,
                                pod, t[0].down);
        x->leaves_per_pod = pod / t[0].down;
    }
    if ((rc = check_radixes(path, t, tiers, nodes, pod, err)) < 0)
        return rc;
    for (int i = 0; i < tiers; i++) {
        x->cls[i].bw = t[i].speed * 1e9 / 8;
        x->cls[i].latency = (sim_time)llround(t[i].lat * SIM_PS_PER_NS);
    }
    for (int i = 0; i < tiers - 1; i++) {
        int ports = i == 0 ? x->hosts_per_leaf : x->leaves_per_pod;
        int u = t[i].up < ports ? t[i].up : ports;
        x->oversub[i] = (double)ports / u;
        x->cls[i + 1].bw = t[i].up * t[i + 1].speed * 1e9 / 8 / u;
    }
    return net_xtopo_view(out, err);
}

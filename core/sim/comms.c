/*
 * comms.c: communicators.  A collective's pg_name resolves to the
 * all-ranks communicator ("" or "0"), a list group of the comm-group file,
 * or a rule group {stride, size} that gives each rank its own communicator
 * of the role; every communicator is mapped onto the topology once
 * (net_group).  Collectives then match across ranks by (communicator,
 * sequence number), in replay.c.
 */
#include "replay_int.h"
#include "sbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

coll_inst rpl_inst_done;

int rpl_add_comm(replay *rp, const char *name, const int *ranks, int n)
{
    rp->comms = loom_vgrow(rp->comms, &rp->capcomms, (size_t)rp->ncomms + 1, sizeof *rp->comms);
    comm *c = &rp->comms[rp->ncomms];
    memset(c, 0, sizeof *c);
    c->ltype = -1;
    c->name = loom_xstrdup(name);
    c->n = n;
    c->ranks = loom_xmalloc(n * sizeof *c->ranks);
    memcpy(c->ranks, ranks, n * sizeof *ranks);
    c->nreal = n;
    c->weight = 1;
    rp->ncomms++;
    c->ng = net_group_create(rp->net, ranks, n, rp->err);
    return c->ng ? rp->ncomms - 1 : -1;
}

int rpl_add_quotient(replay *rp, int real, const int *reps, const uint32_t *mult, int n,
                     uint64_t weight)
{
    rp->comms = loom_vgrow(rp->comms, &rp->capcomms, (size_t)rp->ncomms + 1, sizeof *rp->comms);
    comm *c = &rp->comms[rp->ncomms];
    const comm *rc = &rp->comms[real];
    memset(c, 0, sizeof *c);
    c->ltype = -1;
    c->name = loom_xstrdup(rc->name);
    c->n = n;
    c->ranks = loom_xmalloc(n * sizeof *c->ranks);
    memcpy(c->ranks, reps, n * sizeof *reps);
    c->mult = loom_xmalloc(n * sizeof *c->mult);
    memcpy(c->mult, mult, n * sizeof *mult);
    c->ng = rc->ng;
    c->borrowed = 1;
    c->nreal = rc->n;
    c->weight = weight;
    return rp->ncomms++;
}

static int comm_by_name(replay *rp, const char *name)
{
    for (int i = 0; i < rp->ncomms; i++)
        if (strcmp(rp->comms[i].name, name) == 0)
            return i;
    return -1;
}

void rpl_pg_tables(replay *rp, graph_info *gi)
{
    et_graph *g = gi->g;
    gi->comm_of_pg = loom_xmalloc(g->npg * sizeof *gi->comm_of_pg);
    gi->p2p_rule = loom_xmalloc(g->npg * sizeof *gi->p2p_rule);
    for (uint32_t p = 0; p < g->npg; p++) {
        gi->comm_of_pg[p] = -1;
        gi->p2p_rule[p] = -1;
        const loom_group *grp = g->pg_names[p][0] ? loom_cfg_group(rp->cfg, g->pg_names[p]) : NULL;
        if (grp && grp->stride)
            gi->p2p_rule[p] = (int)(grp - rp->cfg->groups);
    }
}

int rpl_resolve_pg(replay *rp, graph_info *gi, const et_gnode *n, loom_err *err)
{
    const et_graph *g = gi->g;
    unsigned long long id = (unsigned long long)n->id;
    const char *pg = g->pg_names[n->pg];
    int ci;
    if (strcmp(pg, "0") == 0 && loom_cfg_group(rp->cfg, "0") != NULL)
        /* "0" is ASTRA-sim's default group, all ranks; a file that also
         * defines a group "0" makes the trace ambiguous: refuse, not guess */
        return loom_err_set(err, LOOM_EUSAGE,
                            "%s: node %llu: pg_name '0' means all ranks (ASTRA-sim's default "
                            "group), but the comm-group file also defines a group '0'; give "
                            "that group another name", g->path, id);
    if (pg[0] == '\0' || strcmp(pg, "0") == 0) {
        ci = comm_by_name(rp, "");
    } else if ((ci = comm_by_name(rp, pg)) < 0) {
        const loom_group *grp = loom_cfg_group(rp->cfg, pg);
        if (grp == NULL)
            return loom_err_set(err, LOOM_ETRACE,
                                "%s: node %llu: pg_name '%s' names no group %s", g->path, id, pg,
                                rp->cfg->ngroups ? "in the comm-group file"
                                                 : "(give the comm-group file with --comm-group)");
        if (grp->stride) { /* a rule: each rank's group is found per rank */
            gi->comm_of_pg[n->pg] = COMM_RULE((int)(grp - rp->cfg->groups));
            gi->has_rules = 1;
            return 0;
        }
        for (int k = 0; k < grp->n; k++)
            if (grp->ranks[k] >= rp->nranks)
                return loom_err_set(err, LOOM_EUSAGE,
                                    "comm group '%s' lists rank %d, but the run has %d rank%s",
                                    pg, grp->ranks[k], rp->nranks, rp->nranks == 1 ? "" : "s");
        if ((ci = rpl_add_comm(rp, pg, grp->ranks, grp->n)) < 0)
            return LOOM_EUSAGE;
    }
    gi->comm_of_pg[n->pg] = ci;
    return 0;
}

/* Rule groups ({stride, size}) give each rank its own communicator of the
 * role: create one per (group, base) on first use, named "name@base", and
 * give every rank whose graph uses rules its own pg -> communicator table. */
int rpl_resolve_rules(replay *rp, loom_err *err)
{
    int ng = rp->cfg->ngroups;
    int **by_num = loom_xcalloc(ng ? ng : 1, sizeof *by_num); /* per group: number -> comm */
    int rc = 0;
    for (int r = 0; r < rp->nranks && rc == 0; r++) {
        rank_state *rs = &rp->r[r];
        graph_info *gi = rs->gi;
        if (!gi->has_rules)
            continue;
        rs->comm = loom_xmalloc(gi->g->npg * sizeof *rs->comm);
        for (uint32_t p = 0; p < gi->g->npg; p++) {
            int ci = gi->comm_of_pg[p];
            if (ci >= -1) {
                rs->comm[p] = ci;
                continue;
            }
            int gx = RULE_OF(ci);
            const loom_group *grp = &rp->cfg->groups[gx];
            int S = grp->stride, N = grp->n, base = loom_group_base(grp, r);
            /* groups of a rule are numbered by their lowest rank */
            long num = (long)(base / ((long)S * N)) * S + base % S;
            if (by_num[gx] == NULL) {
                long count = ((long)(rp->nranks - 1) / ((long)S * N) + 1) * S;
                by_num[gx] = loom_xmalloc(count * sizeof **by_num);
                for (long k = 0; k < count; k++)
                    by_num[gx][k] = -1;
            }
            if (by_num[gx][num] < 0) {
                int *members = loom_xmalloc(N * sizeof *members);
                for (int k = 0; k < N; k++) {
                    members[k] = base + k * S;
                    if (members[k] >= rp->nranks) {
                        rc = loom_err_set(err, LOOM_EUSAGE,
                                          "comm group '%s' {stride: %d, size: %d}: rank %d's group "
                                          "would include rank %d, but the run has %d rank%s",
                                          grp->name, S, N, r, members[k], rp->nranks,
                                          rp->nranks == 1 ? "" : "s");
                        free(members);
                        goto out;
                    }
                }
                char name[160];
                snprintf(name, sizeof name, "%s@%d", grp->name, base);
                by_num[gx][num] = rpl_add_comm(rp, name, members, N);
                free(members);
                if (by_num[gx][num] < 0) {
                    rc = LOOM_EUSAGE;
                    goto out;
                }
            }
            rs->comm[p] = by_num[gx][num];
        }
    }
out:
    for (int g = 0; g < ng; g++)
        free(by_num[g]);
    free(by_num);
    return rc;
}

/* Every member of a collective's communicator must be that communicator's
 * member: a rank that issues a collective on a group it is not in can
 * never be matched. */
int rpl_check_membership(replay *rp, loom_err *err)
{
    for (int r = 0; r < rp->nranks; r++) {
        graph_info *gi = rp->r[r].gi;
        for (uint32_t p = 0; p < gi->g->npg; p++) {
            int ci = comm_of(&rp->r[r], p);
            if (ci >= 0 && rpl_member_index(&rp->comms[ci], r) < 0)
                return loom_err_set(err, LOOM_ETRACE,
                                    "%s: rank %d issues collectives on group '%s', which does not "
                                    "include it", gi->g->path, r, rp->comms[ci].name);
        }
    }
    return 0;
}

void rpl_comms_free(replay *rp)
{
    for (int i = 0; i < rp->ncomms; i++) {
        comm *c = &rp->comms[i];
        for (size_t q = 0; q < c->nq; q++)
            if (c->q[q] && c->q[q] != &rpl_inst_done) {
                free(c->q[q]->node);
                free(c->q[q]);
            }
        free(c->q);
        free(c->ranks);
        free(c->name);
        free(c->mult);
        if (!c->borrowed)
            net_group_destroy(c->ng);
    }
    free(rp->comms);
}

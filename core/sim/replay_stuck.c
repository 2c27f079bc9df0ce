/*
 * replay_stuck.c: the report of a stuck run.  When the event queue runs
 * dry with nodes left (a collective some member never issues, a receive
 * without a send, a dependency that never completes), the error names, for
 * each stuck rank, the nodes in flight and whom they wait for, so a user
 * sees the cause rather than a hang or a zero.
 */
#include "replay_int.h"

#include <stdarg.h>
#include <stdio.h>

/* Appends to buf[0..cap) at *off, keeping *off < cap however long the text
 * (node names and paths have no bound; snprintf's return value does not
 * stop at the end of the buffer). */
static void put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
    if (*off >= cap - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *off, cap - *off, fmt, ap);
    va_end(ap);
    if (n > 0)
        *off = *off + (size_t)n < cap - 1 ? *off + (size_t)n : cap - 1;
}

void rpl_describe_stuck(replay *rp, int max_ranks)
{
    char buf[4000];
    size_t off = 0;
    int stuck = 0;
    for (int r = 0; r < rp->nranks; r++)
        stuck += rpl_left(&rp->r[r]) > 0;
    put(buf, sizeof buf, &off,
                    "simulation stalled at %.3f us: %d of %d ranks cannot finish", 
                    (double)sim_now(rp->eng) / SIM_PS_PER_US, stuck, rp->nranks);
    int listed = 0;
    for (int r = 0; r < rp->nranks && off < sizeof buf - 200; r++) {
        rank_state *rs = &rp->r[r];
        if (rpl_left(rs) == 0)
            continue;
        if (listed++ == max_ranks) {
            put(buf, sizeof buf, &off, "\n  ... and %d more ranks", stuck - max_ranks);
            break;
        }
        const et_graph *g = rs->gi->g;
        uint64_t blocked = 0;
        put(buf, sizeof buf, &off, "\n  rank %d (%s):", r, g->path);
        int shown = 0;
        for (size_t i = 0; i < g->n && off < sizeof buf - 200; i++) {
            const et_gnode *n = &g->nodes[i];
            if (ps_state(*PS(rs, i)) == ST_WAIT) {
                blocked++;
                continue;
            }
            if (ps_state(*PS(rs, i)) != ST_ISSUED || shown >= 4)
                continue;
            shown++;
            if (n->type == ET_COMM_COLL_NODE) {
                int ci = comm_of(rs, n->pg);
                comm *c = &rp->comms[ci];
                put(buf, sizeof buf, &off,
                                "\n    node %llu '%s': %s on group '%s' waits for ranks",
                                (unsigned long long)n->id, et_gnode_name(g, n),
                                et_coll_type_name(n->comm_type), c->name[0] ? c->name : "all");
                int missing = 0;
                for (size_t q = 0; q < c->nq; q++) {
                    coll_inst *in = c->q[q];
                    if (in == NULL || in == &rpl_inst_done || rpl_member_index(c, r) < 0 || in->node[rpl_member_index(c, r)] != i)
                        continue;
                    for (int m = 0; m < c->n && off < sizeof buf - 100; m++)
                        if (in->node[m] == UINT32_MAX && missing++ < 8)
                            put(buf, sizeof buf, &off, " %d", c->ranks[m]);
                }
                if (missing > 8)
                    put(buf, sizeof buf, &off, " (and %d more)", missing - 8);
                put(buf, sizeof buf, &off, " that never issue it");
            } else if (n->type == ET_COMM_RECV_NODE) {
                char hint[160]; /* within the 200 bytes each line may take */
                rpl_recv_hint(rp, r, (uint32_t)i, hint, sizeof hint);
                put(buf, sizeof buf, &off,
                                "\n    node %llu '%s': receive from rank %d (tag %d, %llu bytes) has "
                                "no matching send%s",
                                (unsigned long long)n->id, et_gnode_name(g, n), n->comm_src,
                                n->comm_tag, (unsigned long long)n->comm_size, hint);
            } else {
                put(buf, sizeof buf, &off, "\n    node %llu '%s' (%s) in flight",
                                (unsigned long long)n->id, et_gnode_name(g, n),
                                et_node_type_name(n->type));
            }
        }
        if (blocked && off < sizeof buf - 200)
            put(buf, sizeof buf, &off,
                            "\n    %llu node%s wait on dependencies that never complete",
                            (unsigned long long)blocked, blocked == 1 ? "" : "s");
    }
    loom_err_set(rp->err, LOOM_ESIM, "%s", buf);
}

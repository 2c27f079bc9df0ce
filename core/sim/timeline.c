#include "timeline.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "et_graph.h"
#include "outfile.h"

/* Each event is built as a jansson object and dumped through a callback
 * into the stream, so escaping is jansson's.  Times are us (the format's
 * unit) with ns precision. */

typedef struct tl_link {
    int pid, tid;        /* the collective's previous member slice */
    double ts;           /* its middle, us */
} tl_link;

struct loom_timeline {
    tl_link *links;      /* per collective record: last member seen */
    size_t nlinks;       /* entries in links */
    uint64_t flows;      /* flow ids handed out */
    loom_out *out;       /* the file */
    int first;           /* no event written yet */
    uint64_t slices;     /* events written */
    uint8_t *named;      /* per rank: process/thread names written */
    int nnamed;          /* entries in named */
};

static int tl_cb(const char *buf, size_t n, void *data)
{
    return loom_out_write(data, buf, n);
}

static void tl_emit(loom_timeline *t, json_t *ev)
{
    LOOM_ASSERT(ev != NULL); /* every string in it is valid UTF-8 (loom_utf8) */
    if (!t->first)
        loom_out_write(t->out, ",\n", 2);
    t->first = 0;
    json_dump_callback(ev, tl_cb, t->out, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(ev);
    t->slices++;
}

static const char *const res_names[] = {"compute", "cpu", "comm", "mem", "other"};

static void tl_names(loom_timeline *t, int rank)
{
    if (rank >= t->nnamed) {
        int n = rank + 1 > 2 * t->nnamed ? rank + 1 : 2 * t->nnamed;
        t->named = loom_xrealloc(t->named, n);
        memset(t->named + t->nnamed, 0, n - t->nnamed);
        t->nnamed = n;
    }
    if (t->named[rank])
        return;
    t->named[rank] = 1;
    char name[32];
    snprintf(name, sizeof name, "rank %d", rank);
    tl_emit(t, json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}", "name", "process_name", "ph", "M", "pid",
                         rank, "tid", 0, "args", "name", name));
    tl_emit(t, json_pack("{s:s, s:s, s:i, s:i, s:{s:i}}", "name", "process_sort_index", "ph", "M",
                         "pid", rank, "tid", 0, "args", "sort_index", rank));
    for (int k = 0; k <= LOOM_RES_NONE; k++)
        tl_emit(t, json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}", "name", "thread_name", "ph", "M",
                             "pid", rank, "tid", k + 1, "args", "name", res_names[k]));
}

static void tl_node(void *ctx, int rank, const et_graph *g, uint32_t i, int resource,
                    sim_time start, sim_time end, long coll)
{
    loom_timeline *t = ctx;
    const et_gnode *n = &g->nodes[i];
    tl_names(t, rank);
    json_t *args = json_pack("{s:I, s:s}", "id", (json_int_t)n->id, "type", et_node_type_name(n->type));
    if (n->type == ET_COMM_COLL_NODE || n->type == ET_COMM_SEND_NODE || n->type == ET_COMM_RECV_NODE)
        json_object_set_new(args, "bytes", json_integer((json_int_t)n->comm_size));
    if (n->type == ET_COMM_COLL_NODE && (n->flags & ET_F_HAS_CTYPE))
        json_object_set_new(args, "collective", json_string(et_coll_type_name(n->comm_type)));
    if (n->flags & ET_F_HAS_OPS)
        json_object_set_new(args, "flops", json_integer((json_int_t)n->num_ops));
    if (n->flags & ET_F_HAS_TSIZE)
        json_object_set_new(args, "tensor_bytes", json_integer((json_int_t)n->tensor_size));
    char *fixed; /* a trace's name need not be UTF-8; JSON must */
    const char *name = loom_utf8(et_gnode_name(g, n), &fixed);
    int tid = resource + 1;
    double ts = (double)start / SIM_PS_PER_US, dur = (double)(end - start) / SIM_PS_PER_US;
    tl_emit(t, json_pack("{s:s, s:s, s:s, s:i, s:i, s:f, s:f, s:o}", "name",
                         name[0] ? name : et_node_type_name(n->type), "cat", res_names[resource],
                         "ph", "X", "pid", rank, "tid", tid, "ts", ts, "dur", dur, "args", args));
    free(fixed);
    if (coll >= 0) { /* flow arrows chain a collective's members in completion order */
        if ((size_t)coll >= t->nlinks) {
            size_t n = (size_t)coll + 1 > 2 * t->nlinks ? (size_t)coll + 1 : 2 * t->nlinks;
            t->links = loom_xrealloc(t->links, n * sizeof *t->links);
            for (size_t k = t->nlinks; k < n; k++)
                t->links[k].pid = -1;
            t->nlinks = n;
        }
        tl_link *l = &t->links[coll];
        double at = ts + dur / 2;
        if (l->pid >= 0) {
            json_int_t id = (json_int_t)t->flows++;
            tl_emit(t, json_pack("{s:s, s:s, s:s, s:I, s:i, s:i, s:f}", "name", "collective", "cat",
                                 "collective", "ph", "s", "id", id, "pid", l->pid, "tid", l->tid,
                                 "ts", l->ts));
            tl_emit(t, json_pack("{s:s, s:s, s:s, s:I, s:i, s:i, s:f, s:s}", "name", "collective",
                                 "cat", "collective", "ph", "f", "id", id, "pid", rank, "tid", tid,
                                 "ts", at, "bp", "e"));
        }
        l->pid = rank;
        l->tid = tid;
        l->ts = at;
    }
}

loom_timeline *loom_timeline_open(loom_out *o, int nranks_hint)
{
    loom_timeline *t = loom_xcalloc(1, sizeof *t);
    t->out = o;
    t->first = 1;
    t->nnamed = nranks_hint > 0 ? nranks_hint : 1;
    t->named = loom_xcalloc(t->nnamed, 1);
    static const char head[] = "{\"displayTimeUnit\": \"ns\", \"otherData\": {\"generator\": \"loom\"},\n"
                               "\"traceEvents\": [\n";
    loom_out_write(o, head, sizeof head - 1);
    return t;
}

void loom_timeline_observer(loom_timeline *t, loom_observer *obs)
{
    obs->node = tl_node;
    obs->node_ctx = t;
}

void loom_timeline_overhead(loom_timeline *t, const loom_result *res, sim_time overhead)
{
    if (overhead <= 0)
        return;
    double dur = (double)overhead / SIM_PS_PER_US;
    for (int r = 0; r < res->nranks; r++) {
        tl_names(t, r);
        double ts = (double)(res->ranks[r].finish - overhead) / SIM_PS_PER_US;
        tl_emit(t, json_pack("{s:s, s:s, s:s, s:i, s:i, s:f, s:f, s:{s:f}}", "name",
                             "step overhead", "cat", res_names[LOOM_RES_CPU], "ph", "X", "pid", r,
                             "tid", LOOM_RES_CPU + 1, "ts", ts, "dur", dur, "args",
                             "step_overhead_us", dur));
    }
}

int loom_timeline_finish(loom_timeline *t, int ok, loom_err *err)
{
    int rc = 0;
    if (ok) {
        static const char tail[] = "\n]}\n";
        loom_out_write(t->out, tail, sizeof tail - 1);
        rc = loom_out_commit(t->out, err);
    } else {
        loom_out_abort(t->out);
    }
    free(t->named);
    free(t->links);
    free(t);
    return rc;
}

/*
 * wl_micro.c: `loom gen micro`: one collective on every rank.
 *
 * Every rank's file is byte-identical (same node id, same name, no pg_name:
 * the collective spans all ranks), so rank 0's file is written once and the
 * others are hard links to it: replay parses one graph whatever the rank
 * count.
 */
#include "wl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "et_graph.h"
#include "wl_emit.h"

static const struct {
    const char *name; /* --collective spelling */
    int type;         /* Chakra CollectiveCommType */
} colls[] = {
    {"all_reduce", ET_ALL_REDUCE},
    {"all_gather", ET_ALL_GATHER},
    {"reduce_scatter", ET_REDUCE_SCATTER},
    {"all_to_all", ET_ALL_TO_ALL},
};

int wl_coll_parse(const char *s, int *type)
{
    for (size_t i = 0; i < sizeof colls / sizeof colls[0]; i++)
        if (strcmp(s, colls[i].name) == 0) {
            *type = colls[i].type;
            return 0;
        }
    return -1;
}

/* Makes rank r's file the same file as src's (updated to r's path when the
 * file system refused a link and r's is a copy). */
static int link_one(loom_outset *set, int k, int r, char *src, size_t n, wl_link_stats *st,
                    loom_err *err)
{
    char dst[4200];
    if (loom_outset_member(set, k, r, dst, sizeof dst, err) < 0)
        return err->code;
    int copied = 0;
    if (wl_link_or_copy(src, dst, &copied, err) < 0)
        return LOOM_EIO;
    if (copied) /* src has all the links it may have (ext4: 65,000): the
                 * copy takes the next ones, not a copy per rank */
        snprintf(src, n, "%s", dst);
    if (st) {
        st->links += !copied;
        st->copies += copied;
    }
    return 0;
}

int wl_write_ranks_linked(loom_outset *set, int k, int first, int count, wl_link_stats *st,
                          loom_err *err)
{
    char src[4200];
    if (loom_outset_member(set, k, first, src, sizeof src, err) < 0)
        return err->code;
    for (int r = first + 1; r < first + count; r++)
        if (link_one(set, k, r, src, sizeof src, st, err) < 0)
            return err->code ? err->code : LOOM_EIO;
    return 0;
}

int wl_link_ranks(loom_outset *set, int k, const int *ranks, int n, wl_link_stats *st,
                  loom_err *err)
{
    char src[4200];
    if (n < 1 || loom_outset_member(set, k, ranks[0], src, sizeof src, err) < 0)
        return n < 1 ? 0 : err->code;
    for (int i = 1; i < n; i++)
        if (link_one(set, k, ranks[i], src, sizeof src, st, err) < 0)
            return err->code ? err->code : LOOM_EIO;
    return 0;
}

/* The files are checked first and put into place together at the end
 * (outfile.h), so a failed generation leaves none of them. */
int wl_micro_write(const wl_micro_opts *o, loom_err *err)
{
    if (o->ranks < 1 || o->ranks > (1 << 24))
        return loom_err_set(err, LOOM_EUSAGE, "--ranks %d: allowed 1 .. %d", o->ranks, 1 << 24);
    if ((uint64_t)o->size > (uint64_t)INT64_MAX)
        return loom_err_set(err, LOOM_EUSAGE, "--size: %llu bytes overflows comm_size (int64)",
                            (unsigned long long)o->size);
    int made = 0;
    if (wl_prepare_prefix(o->out, &made, err) < 0)
        return err->code;
    loom_outset *set = loom_outset_create();
    int kr = loom_outset_add_ranks(set, o->out, o->ranks, "--out");
    int kn = o->network_out ? loom_outset_add(set, o->network_out, "--network-out") : -1;
    int ks = o->system_out ? loom_outset_add(set, o->system_out, "--system-out") : -1;
    int rc = loom_outset_check(set, err);
    char path[4200];
    if (rc == 0)
        rc = loom_outset_member(set, kr, 0, path, sizeof path, err);
    if (rc == 0) {
        wl_trace *t = wl_trace_open(path, err);
        if (t == NULL) {
            rc = err->code ? err->code : LOOM_EIO;
        } else {
            char name[64];
            snprintf(name, sizeof name, "%s_%s", et_coll_type_name(o->coll), "micro");
            wl_coll(t, name, o->coll, o->size, NULL, NULL, 0);
            rc = wl_trace_close(t, err);
        }
    }
    wl_link_stats st = {0, 0};
    if (rc == 0)
        rc = wl_write_ranks_linked(set, kr, 0, o->ranks, &st, err);
    if (rc == 0 && kn >= 0) {
        char buf[512];
        int n = snprintf(buf, sizeof buf,
                         "# written by loom gen micro: one %s dimension of %d NPUs\n"
                         "topology: [ %s ]\nnpus_count: [ %d ]\n"
                         "bandwidth: [ %.17g ]   # GB/s, GB = 2^30 bytes (ASTRA-sim)\n"
                         "latency: [ %.17g ]     # ns per hop\n",
                         o->topology, o->ranks, o->topology, o->ranks, o->bandwidth_gbs,
                         o->latency_ns);
        rc = loom_outset_text(set, kn, buf, (size_t)n, err);
    }
    if (rc == 0 && ks >= 0) {
        static const char sys[] =
            "{\n  \"local-mem-bw\": 1600,\n  \"endpoint-delay\": 10,\n"
            "  \"preferred-dataset-splits\": 1,\n  \"active-chunks-per-dimension\": 1,\n"
            "  \"all-reduce-implementation\": [\"ring\"],\n"
            "  \"all-gather-implementation\": [\"ring\"],\n"
            "  \"reduce-scatter-implementation\": [\"ring\"],\n"
            "  \"all-to-all-implementation\": [\"ring\"]\n}\n";
        rc = loom_outset_text(set, ks, sys, sizeof sys - 1, err);
    }
    if (rc == 0)
        rc = loom_outset_commit(set, err);
    loom_outset_free(set); /* after a failure: removes every temporary */
    if (rc < 0) {
        if (made)
            wl_unprepare_prefix(o->out);
        return rc;
    }
    if (!o->quiet)
        printf("%s: %d rank file%s, 1 written, %llu hard link%s, %llu cop%s; %s of %llu bytes "
               "per rank\n", o->out, o->ranks, o->ranks == 1 ? "" : "s",
               (unsigned long long)st.links, st.links == 1 ? "" : "s",
               (unsigned long long)st.copies, st.copies == 1 ? "y" : "ies",
               et_coll_type_name(o->coll), (unsigned long long)o->size);
    return 0;
}

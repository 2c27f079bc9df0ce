/*
 * report.c: the field tables every writer iterates, and the nccl-tests
 * bandwidth rules they share.
 *
 * A new per-rank figure: add its member to loom_rank_stats (replay.h), fill
 * it in replay, and add one line to loom_rank_fields below; the JSON and
 * CSV writers (and, with LOOM_SHOW_TEXT, the text table; with
 * LOOM_SHOW_SWEEP, loom sweep's results CSV) pick it up.  A new
 * per-collective figure: one getter and one line in loom_coll_fields.
 * docs/REPORT.md documents each name.
 */
#include "report_int.h"

#include <stddef.h>

#include "et_graph.h"

#define RANK_TIME(m) LOOM_FK_TIME, offsetof(loom_rank_stats, m)
#define RANK_COUNT(m) LOOM_FK_COUNT, offsetof(loom_rank_stats, m)
enum { J = LOOM_SHOW_JSON, C = LOOM_SHOW_CSV, T = LOOM_SHOW_TEXT, P = LOOM_SHOW_TEXT_PCT,
       G = LOOM_SHOW_GROUP, L = LOOM_SHOW_JSON_LAST, S = LOOM_SHOW_SWEEP };

/* Ranks whose G fields all agree share a row of the text table. */
const loom_rank_field loom_rank_fields[] = {
    /* name                 unit  member                  show          text */
    {"finish_ns",          "ns", RANK_TIME(finish),          J | C | T | G,     "finish"},
    {"compute_ns",         "ns", RANK_TIME(compute),         J | C | T | P | G | S, "compute"},
    {"comm_ns",            "ns", RANK_TIME(comm),            J | C | G,         NULL},
    {"exposed_comm_ns",    "ns", RANK_TIME(exposed_comm),    J | C | T | P | G | S, "exp.comm"},
    {"overlapped_comm_ns", "ns", RANK_TIME(overlapped_comm), J | C | T | P,     "ovl.comm"},
    {"cpu_ns",             "ns", RANK_TIME(cpu),             J | C | G,         NULL},
    {"mem_ns",             "ns", RANK_TIME(mem),             J | C,             NULL},
    {"idle_ns",            "ns", RANK_TIME(idle),            J | C | T | P | G | S, "idle"},
    {"nodes",              "",   RANK_COUNT(nodes),          J | C,             NULL},
};
const int loom_nrank_fields = sizeof loom_rank_fields / sizeof loom_rank_fields[0];

loom_fval loom_rank_value(const loom_rank_field *f, const loom_rank_stats *s)
{
    const char *p = (const char *)s + f->off;
    loom_fval v = {.kind = f->kind};
    if (f->kind == LOOM_FK_COUNT)
        v.u = *(const uint64_t *)(const void *)p;
    else
        v.t = *(const sim_time *)(const void *)p;
    return v;
}

/* ---- per collective -------------------------------------------------------- */

static loom_fval f_str(const char *s) { return (loom_fval){.kind = LOOM_FK_STR, .s = s}; }
static loom_fval f_count(uint64_t u) { return (loom_fval){.kind = LOOM_FK_COUNT, .u = u}; }
static loom_fval f_time(sim_time t) { return (loom_fval){.kind = LOOM_FK_TIME, .t = t}; }
static loom_fval f_real(double d) { return (loom_fval){.kind = LOOM_FK_REAL, .d = d}; }

/* algbw in GB/s: B/ns; 0 for an instant collective */
static double algbw(const loom_coll_record *c)
{
    double t = rpt_ns(c->end - c->start);
    return t > 0 ? loom_coll_size(c->type, c->bytes, c->nranks) / t : 0;
}

static loom_fval c_type(const loom_coll_record *c) { return f_str(et_coll_type_name(c->type)); }
static loom_fval c_bytes(const loom_coll_record *c) { return f_count(c->bytes); }
static loom_fval c_ranks(const loom_coll_record *c) { return f_count((uint64_t)c->nranks); }
static loom_fval c_group(const loom_coll_record *c) { return f_str(c->group); }
static loom_fval c_seq(const loom_coll_record *c) { return f_count(c->seq); }
static loom_fval c_algo(const loom_coll_record *c) { return f_str(c->algo); }
static loom_fval c_first(const loom_coll_record *c) { return f_time(c->first_join); }
static loom_fval c_start(const loom_coll_record *c) { return f_time(c->start); }
static loom_fval c_end(const loom_coll_record *c) { return f_time(c->end); }
static loom_fval c_time(const loom_coll_record *c) { return f_time(c->end - c->start); }
static loom_fval c_exposed(const loom_coll_record *c) { return f_time(c->exposed); }
static loom_fval c_algbw(const loom_coll_record *c) { return f_real(algbw(c)); }
static loom_fval c_busbw(const loom_coll_record *c)
{
    return f_real(algbw(c) * loom_busbw_factor(c->type, c->nranks));
}

/* The text report's collective table aggregates instances by kind
 * (report_text.c) and is not driven by this table. */
const loom_coll_field loom_coll_fields[] = {
    /* name            unit     get        show */
    {"type",          "",      c_type,    J | C},
    {"bytes",         "bytes", c_bytes,   J | C},
    {"ranks",         "",      c_ranks,   J | C},
    {"group",         "",      c_group,   J | C},
    {"seq",           "",      c_seq,     J | C},
    {"algorithm",     "",      c_algo,    J | C},
    {"first_join_ns", "ns",    c_first,   J | C | L},
    {"start_ns",      "ns",    c_start,   J | C | L},
    {"end_ns",        "ns",    c_end,     J | C | L},
    {"time_ns",       "ns",    c_time,    C},
    {"exposed_ns",    "ns",    c_exposed, J | C},
    {"algbw_GBps",    "GB/s",  c_algbw,   J | C},
    {"busbw_GBps",    "GB/s",  c_busbw,   J | C},
};
const int loom_ncoll_fields = sizeof loom_coll_fields / sizeof loom_coll_fields[0];

/* ---- nccl-tests bandwidths ------------------------------------------------ */

double loom_busbw_factor(int type, int n)
{
    if (n <= 1)
        return 0;
    switch (type) {
    case ET_ALL_REDUCE:
        return 2.0 * (n - 1) / n;
    case ET_ALL_GATHER:
    case ET_REDUCE_SCATTER:
    case ET_REDUCE_SCATTER_BLOCK:
    case ET_ALL_TO_ALL:
    case ET_GATHER:
    case ET_SCATTER:
        return (double)(n - 1) / n;
    case ET_BROADCAST:
    case ET_REDUCE:
        return 1.0;
    default:
        return 0; /* barrier moves no data */
    }
}

double loom_coll_size(int type, uint64_t bytes, int n)
{
    if (type == ET_ALL_GATHER || type == ET_GATHER)
        return (double)bytes * n;
    return (double)bytes;
}

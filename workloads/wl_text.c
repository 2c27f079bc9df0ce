/*
 * wl_text.c: `loom trace convert-text`: ASTRA-sim 1.0's text workload into
 * Chakra traces, with the dependency structure of Chakra's own converter
 * (chakra/src/converter/text_converter.py) for each parallelism type.
 *
 * The format (ASTRA-sim's workload_inputs/README.md):
 *   line 1   parallelism: MICRO, DATA, MODEL, HYBRID_DATA_MODEL,
 *            HYBRID_MODEL_DATA, HYBRID_TRANSFORMER, HYBRID_DLRM(_ENHANCED)
 *            LAST_BOTTOM_LAYER; HYBRID_* may add "model_parallel_NPU_group: G"
 *   line 2   the number of layers
 *   then one line per layer, 12 columns separated by blanks:
 *     name reserved fwd_time fwd_type fwd_bytes ig_time ig_type ig_bytes
 *     wg_time wg_type wg_bytes update_delay
 *   types: ALLREDUCE, ALLGATHER, ALLTOALL, REDUCESCATTER, NONE.
 * Where loom departs from Chakra's converter, docs/WORKLOADS.md says why:
 * NONE writes no node (the converter writes a 0-byte all-reduce, which a
 * simulator charges latency for), and "model_parallel_NPU_group: G" splits
 * the ranks into model- and data-parallel groups (the converter puts every
 * collective on all ranks).
 */
#include "wl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "et_graph.h"
#include "wl_emit.h"

typedef enum {
    P_MICRO, P_DATA, P_MODEL, P_HDM, P_HMD, P_DLRM, P_FIB, P_CUSTOM,
} ptype;

typedef struct tlayer {
    char name[64];
    uint64_t t[3];  /* fwd, input-grad, weight-grad compute: file units */
    int type[3];    /* Chakra collective, or -1 for NONE */
    uint64_t sz[3]; /* bytes */
    ptype pol;      /* HYBRID_CUSTOMIZED: the layer's own parallelism */
    int ckpt;       /* HYBRID_TRANSFORMER_FWD_IN_BCKWD: a checkpoint layer */
    int init;       /* ... a layer whose input gradient first recomputes the
                       forward from the checkpoint before it */
    /* node ids in the current pass (0: none) */
    uint64_t fwd_comp, fwd_comm, ig_comp, ig_comm, wg_comp, wg_comm;
} tlayer;

static int comm_type(const char *s)
{
    if (strcmp(s, "ALLREDUCE") == 0)
        return ET_ALL_REDUCE;
    if (strcmp(s, "ALLGATHER") == 0)
        return ET_ALL_GATHER;
    if (strcmp(s, "ALLTOALL") == 0)
        return ET_ALL_TO_ALL;
    if (strcmp(s, "REDUCESCATTER") == 0)
        return ET_REDUCE_SCATTER;
    if (strcmp(s, "NONE") == 0)
        return -1;
    return -2;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (*s == '\0' || *s == '-' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0 || v > (unsigned long long)INT64_MAX)
        return -1;
    *out = v;
    return 0;
}

typedef struct conv {
    const wl_text_opts *o;
    ptype pt;
    int last_bottom;  /* HYBRID_DLRM */
    int mp;           /* model-parallel group size, 0: all ranks */
    tlayer *L;
    int nl;
    int rounded;      /* some time had a fraction of a microsecond */
    wl_trace *tr;
    const char *pg_mp, *pg_dp; /* this rank's groups ("" = all ranks) */
    const char *pg_mp2, *pg_dp2; /* HYBRID_CUSTOMIZED: for its HYBRID_MODEL_DATA layers */
    int has_hmd;      /* HYBRID_CUSTOMIZED has a HYBRID_MODEL_DATA layer */
    uint64_t *marks;  /* FWD_IN_BCKWD: checkpoint layers, then initiating ones */
    int nck, ninit;   /* entries of each in marks */
} conv;

static uint64_t dur(conv *c, uint64_t t)
{
    double us = (double)t * c->o->time_scale;
    double r = floor(us + 0.5);
    if (r != us)
        c->rounded = 1;
    return (uint64_t)r;
}

static uint64_t comp(conv *c, tlayer *l, const char *phase, uint64_t t, const uint64_t *deps, int nd)
{
    char nm[96];
    snprintf(nm, sizeof nm, "COMP_NODE_%s_%s", l->name, phase);
    /* a text workload has times, not FLOPs: without num_ops the roofline
     * model keeps the duration (and counts it) */
    return wl_comp_dur(c->tr, nm, dur(c, t), deps, nd);
}

/* A collective of phase k (0 fwd, 1 ig, 2 wg); returns 0 for NONE. */
static uint64_t comm(conv *c, tlayer *l, int k, const char *tag, const uint64_t *deps, int nd)
{
    if (l->type[k] < 0)
        return 0;
    /* HYBRID_CUSTOMIZED: ASTRA-sim's involved dimensions per layer policy
     * (Workload::decode_involved_dimensions): DATA has none for forward and
     * input gradient, MODEL none for the weight gradient */
    if (c->pt == P_CUSTOM && ((l->pol == P_DATA && k < 2) || (l->pol == P_MODEL && k == 2)))
        return 0;
    static const char *const tn[] = {"ALLREDUCE", "REDUCE", "ALLGATHER", "GATHER", "SCATTER",
                                     "BROADCAST", "ALLTOALL", "REDUCESCATTER"};
    char nm[128];
    snprintf(nm, sizeof nm, "COMM_COLL_NODE_%s%s_%s", l->name, tag, tn[l->type[k]]);
    /* fwd and input-grad communication is the model-parallel kind, the
     * weight-gradient one the data-parallel kind */
    const char *pg = k == 2 ? c->pg_dp : c->pg_mp;
    if (c->pt == P_CUSTOM && (l->pol == P_DATA || l->pol == P_MODEL))
        pg = "";
    else if (c->pt == P_CUSTOM && l->pol == P_HMD)
        pg = k == 2 ? c->pg_dp2 : c->pg_mp2;
    return wl_coll(c->tr, nm, l->type[k], l->sz[k], pg, deps, nd);
}

/* "x or y": the node, or its compute parent when the collective is NONE */
static uint64_t or_(uint64_t a, uint64_t b) { return a ? a : b; }

static void pass_data(conv *c)
{
    tlayer *L = c->L;
    int n = c->nl;
    uint64_t fwd = 0;
    for (int i = 0; i < n; i++) {
        uint64_t d[2] = {i ? L[i - 1].fwd_comp : 0, or_(L[i].wg_comm, L[i].wg_comp)};
        L[i].fwd_comp = fwd = comp(c, &L[i], "FWD", L[i].t[0], d, 2);
    }
    for (int k = 0; k < n; k++) {
        tlayer *l = &L[n - 1 - k];
        uint64_t d = k == 0 ? fwd : L[n - k].ig_comp;
        l->wg_comp = comp(c, l, "BWD_WG", l->t[2], &d, 1);
        l->wg_comm = comm(c, l, 2, "", &l->wg_comp, 1);
        if (k != n - 1)
            l->ig_comp = comp(c, l, "BWD_IG", l->t[1], &l->wg_comp, 1);
    }
}

/* HYBRID_TRANSFORMER_FWD_IN_BCKWD: before layer i's input gradient, the
 * forward of layers ck .. i-1 again (ck the nearest checkpoint layer
 * before i), compute then collective each, as ASTRA-sim 1.0's
 * Forward_In_BackPass state runs it; the chain's first node waits for
 * d[0..1] (what the input gradient waited for), its last is returned. */
static uint64_t recompute(conv *c, int i, const uint64_t *d)
{
    int ck = i - 1;
    while (!c->L[ck].ckpt) /* parse() checked that there is one */
        ck--;
    uint64_t last = 0;
    for (int j = ck; j < i; j++) {
        tlayer *l = &c->L[j];
        uint64_t id = j == ck ? comp(c, l, "FWD_IN_BCKWD", l->t[0], d, 2)
                              : comp(c, l, "FWD_IN_BCKWD", l->t[0], &last, 1);
        last = or_(comm(c, l, 0, "_FWD_IN_BCKWD", &id, 1), id);
    }
    return last;
}

/* MODEL, HYBRID_DATA_MODEL and HYBRID_MODEL_DATA (wg: the latter two also
 * reduce weight gradients) */
static void pass_model(conv *c, int hybrid)
{
    tlayer *L = c->L;
    int n = c->nl;
    uint64_t fwd_comm = 0;
    for (int i = 0; i < n; i++) {
        tlayer *l = &L[i];
        uint64_t d[2] = {hybrid ? or_(l->wg_comm, l->wg_comp) : l->wg_comp,
                         i ? or_(L[i - 1].fwd_comm, L[i - 1].fwd_comp) : 0};
        l->fwd_comp = comp(c, l, "FWD", l->t[0], d, 2);
        l->fwd_comm = comm(c, l, 0, "", &l->fwd_comp, 1);
        fwd_comm = or_(l->fwd_comm, l->fwd_comp);
    }
    for (int k = 0; k < n; k++) {
        tlayer *l = &L[n - 1 - k];
        uint64_t d[2] = {fwd_comm, 0};
        if (k != 0) {
            tlayer *prev = &L[n - k];
            d[0] = prev->wg_comp;
            d[1] = or_(prev->ig_comm, prev->ig_comp);
        }
        if (l->init) { /* the gradient waits for the recomputation */
            d[0] = recompute(c, n - 1 - k, d);
            d[1] = 0;
        }
        l->ig_comp = comp(c, l, "BWD_IG", l->t[1], d, 2);
        l->ig_comm = k != n - 1 ? comm(c, l, 1, hybrid ? "_IG_COMM_" : "", &l->ig_comp, 1) : 0;
        l->wg_comp = comp(c, l, "BWD_WG", l->t[2], &l->ig_comp, 1);
        if (hybrid)
            l->wg_comm = comm(c, l, 2, "", &l->wg_comp, 1);
    }
}

static void pass_dlrm(conv *c)
{
    tlayer *L = c->L;
    int n = c->nl, lb = c->last_bottom;
    uint64_t fwd = 0;
    for (int i = 0; i < n; i++) {
        tlayer *l = &L[i];
        uint64_t d[3] = {l->wg_comm ? l->wg_comm : l->wg_comp, i ? L[i - 1].fwd_comp : 0,
                         i == lb ? L[0].fwd_comm : 0};
        l->fwd_comp = fwd = comp(c, l, "FWD", l->t[0], d, 3);
        l->fwd_comm = l->type[0] == ET_ALL_TO_ALL ? comm(c, l, 0, "", &l->fwd_comp, 1) : 0;
    }
    for (int k = 0; k < n; k++) {
        tlayer *l = &L[n - 1 - k];
        uint64_t d[2] = {k == 0 ? fwd : L[n - k].ig_comp, k == 0 ? 0 : L[n - k - 1].ig_comm};
        l->wg_comp = comp(c, l, "BWD_WG", l->t[2], d, 2);
        l->wg_comm = comm(c, l, 2, "", &l->wg_comp, 1);
        l->ig_comp = 0;
        if (k != n - 1)
            l->ig_comp = comp(c, l, "BWD_IG", l->t[1], &l->wg_comp, 1);
        if (n - k - 1 == lb + 1 && l->ig_comp)
            L[0].ig_comm = comm(c, &L[0], 1, "", &l->ig_comp, 1);
    }
}

static int write_rank(conv *c, const char *path, loom_err *err)
{
    c->tr = wl_trace_open(path, err);
    if (c->tr == NULL)
        return err->code ? err->code : LOOM_EIO;
    for (int i = 0; i < c->nl; i++) {
        tlayer *l = &c->L[i];
        l->fwd_comp = l->fwd_comm = l->ig_comp = l->ig_comm = l->wg_comp = l->wg_comm = 0;
    }
    for (int pass = 0; pass < c->o->passes; pass++) {
        switch (c->pt) {
        case P_MICRO:
            for (int i = 0; i < c->nl; i++)
                comm(c, &c->L[i], 2, "", NULL, 0);
            break;
        case P_DATA: pass_data(c); break;
        case P_MODEL: pass_model(c, 0); break;
        case P_HDM:
        case P_HMD:
        case P_FIB:
        case P_CUSTOM: pass_model(c, 1); break;
        case P_DLRM: pass_dlrm(c); break;
        }
        /* the next pass's forward of a layer waits for this pass's weight
         * gradient (and its reduction) of that layer; Chakra's converter
         * clears these links after each pass, so its passes overlap */
        for (int i = 0; i < c->nl; i++)
            c->L[i].ig_comm = c->L[i].ig_comp = c->L[i].fwd_comp = c->L[i].fwd_comm = 0;
    }
    int rc = wl_trace_close(c->tr, err);
    c->tr = NULL;
    return rc;
}

/* The parallelism names of line 1 (and of a HYBRID_CUSTOMIZED layer's
 * 13th column, where only the first four are allowed). */
static const struct {
    const char *name;
    ptype t;
} kinds[] = {{"DATA", P_DATA}, {"MODEL", P_MODEL}, {"HYBRID_DATA_MODEL", P_HDM},
             {"HYBRID_MODEL_DATA", P_HMD}, {"MICRO", P_MICRO}, {"HYBRID_TRANSFORMER", P_HDM},
             {"HYBRID_TRANSFORMER_FWD_IN_BCKWD", P_FIB}, {"HYBRID_CUSTOMIZED", P_CUSTOM},
             {"HYBRID_DLRM", P_DLRM}, {"HYBRID_DLRM_ENHANCED", P_DLRM}};

static int kind_of(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, kinds[i].name) == 0)
            return (int)kinds[i].t;
    return -1;
}

/* "NAME: N l1 .. lN" of a HYBRID_TRANSFORMER_FWD_IN_BCKWD first line, at
 * tok[*i]; the layer indices go to c->marks. */
static int layer_list(conv *c, char **tok, int nt, int *i, const char *what, int *count,
                      const char *path, loom_err *err)
{
    uint64_t n;
    if (*i + 1 >= nt || strcmp(tok[*i], what) != 0 || parse_u64(tok[*i + 1], &n) < 0 ||
        n > (uint64_t)(nt - *i - 2))
        return loom_err_set(err, LOOM_EUSAGE, "%s: line 1: HYBRID_TRANSFORMER_FWD_IN_BCKWD needs "
                            "'%s N' and N layer indices after it (ASTRA-sim 1.0's form: "
                            "model_parallel_NPU_group: G checkpoints: N ... "
                            "checkpoint_initiates: M ...)", path, what);
    *i += 2;
    c->marks = loom_xrealloc(c->marks, (size_t)(c->nck + c->ninit + n + 1) * sizeof *c->marks);
    for (uint64_t k = 0; k < n; k++, (*i)++)
        if (parse_u64(tok[*i], &c->marks[c->nck + c->ninit + k]) < 0)
            return loom_err_set(err, LOOM_EUSAGE, "%s: line 1: %s: '%s' is not a layer index",
                                path, what, tok[*i]);
    *count = (int)n;
    return 0;
}

/* Line 1: the parallelism and what follows it. */
static int parse_header(conv *c, char **tok, int nt, const char *path, loom_err *err)
{
    int k = kind_of(tok[0], (int)(sizeof kinds / sizeof kinds[0]));
    if (k < 0)
        return loom_err_set(err, LOOM_EUSAGE, "%s: line 1: parallelism '%s' is not one of "
                            "MICRO, DATA, MODEL, HYBRID_DATA_MODEL, HYBRID_MODEL_DATA, "
                            "HYBRID_TRANSFORMER, HYBRID_TRANSFORMER_FWD_IN_BCKWD, HYBRID_CUSTOMIZED, "
                            "HYBRID_DLRM, HYBRID_DLRM_ENHANCED", path, tok[0]);
    c->pt = (ptype)k;
    int seen_ck = 0, seen_init = 0;
    for (int i = 1; i < nt; i++) {
        if (strcmp(tok[i], "model_parallel_NPU_group:") == 0 && i + 1 < nt) {
            uint64_t g;
            if (parse_u64(tok[i + 1], &g) < 0 || g < 1 || g > (1 << 24))
                return loom_err_set(err, LOOM_EUSAGE, "%s: line 1: model_parallel_NPU_group "
                                    "'%s' is not a positive integer", path, tok[i + 1]);
            c->mp = (int)g;
            i++;
        } else if (c->pt == P_FIB && !seen_ck && strcmp(tok[i], "checkpoints:") == 0) {
            int rc = layer_list(c, tok, nt, &i, "checkpoints:", &c->nck, path, err);
            if (rc < 0)
                return rc;
            seen_ck = 1;
            i--;
        } else if (c->pt == P_FIB && seen_ck && !seen_init &&
                   strcmp(tok[i], "checkpoint_initiates:") == 0) {
            int rc = layer_list(c, tok, nt, &i, "checkpoint_initiates:", &c->ninit, path, err);
            if (rc < 0)
                return rc;
            seen_init = 1;
            i--;
        }
    }
    if (c->pt == P_FIB && !seen_init)
        return loom_err_set(err, LOOM_EUSAGE, "%s: line 1: HYBRID_TRANSFORMER_FWD_IN_BCKWD needs "
                            "'model_parallel_NPU_group: G checkpoints: N ... "
                            "checkpoint_initiates: M ...' (ASTRA-sim 1.0's form)", path);
    if (c->pt == P_DLRM) {
        uint64_t lb;
        if (nt < 2 || parse_u64(tok[1], &lb) < 0)
            return loom_err_set(err, LOOM_EUSAGE, "%s: line 1: %s needs the index of the last "
                                "bottom layer after it", path, tok[0]);
        c->last_bottom = (int)lb;
    }
    return 0;
}

/* After the layers: mark FWD_IN_BCKWD's checkpoint and initiating layers;
 * an initiating layer needs a checkpoint before it (ASTRA-sim 1.0 walks
 * back to one and past layer 0 without), and may not be one itself (there
 * it would recompute forward past the layer). */
static int apply_marks(conv *c, const char *path, loom_err *err)
{
    for (int k = 0; k < c->nck + c->ninit; k++) {
        uint64_t l = c->marks[k];
        if (l >= (uint64_t)c->nl)
            return loom_err_set(err, LOOM_EUSAGE, "%s: line 1: %s layer %llu: the file has layers "
                                "0 .. %d", path, k < c->nck ? "checkpoints:" : "checkpoint_initiates:",
                                (unsigned long long)l, c->nl - 1);
        if (k < c->nck)
            c->L[l].ckpt = 1;
        else
            c->L[l].init = 1;
    }
    for (int i = 0; i < c->nl; i++) {
        int before = 0;
        for (int j = 0; j < i; j++)
            before |= c->L[j].ckpt;
        if (c->L[i].init && (c->L[i].ckpt || !before))
            return loom_err_set(err, LOOM_EUSAGE, "%s: line 1: layer %d initiates a recomputation "
                                "but %s", path, i, c->L[i].ckpt ? "is a checkpoint itself"
                                                                 : "no checkpoint layer is before it");
    }
    return 0;
}

static int parse(conv *c, FILE *f, const char *path, loom_err *err)
{
    char line[4096];
    int lineno = 0, stage = 0, want = -1;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f))
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %d is longer than %zu characters", path,
                                lineno, sizeof line - 2);
        char *tok[2048];
        int nt = 0;
        for (char *s = strtok(line, " \t\r\n"); s && nt < 2048; s = strtok(NULL, " \t\r\n"))
            tok[nt++] = s;
        if (nt == 0)
            continue;
        if (stage == 0) {
            int rc = parse_header(c, tok, nt, path, err);
            if (rc < 0)
                return rc;
            stage = 1;
            continue;
        }
        if (stage == 1) {
            uint64_t n;
            if (nt != 1 || parse_u64(tok[0], &n) < 0 || n < 1 || n > 1000000)
                return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: expected the number of layers "
                                    "(1 .. 1000000)", path, lineno);
            want = (int)n;
            c->L = loom_xcalloc((size_t)want, sizeof *c->L);
            stage = 2;
            continue;
        }
        if (c->nl == want)
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: more layer lines than the %d the "
                                "second line announces", path, lineno, want);
        int cols = c->pt == P_CUSTOM ? 13 : 12;
        if (nt != cols)
            return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: a layer has %d columns (name, "
                                "reserved, then time/type/bytes for forward, input gradient and "
                                "weight gradient, then the update delay%s); found %d", path,
                                lineno, cols, cols == 13 ? ", then the layer's parallelism" : "",
                                nt);
        tlayer *l = &c->L[c->nl];
        if (cols == 13) {
            int k = kind_of(tok[12], 4);
            if (k < 0)
                return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: layer '%s': parallelism '%s' "
                                    "is not DATA, MODEL, HYBRID_DATA_MODEL or HYBRID_MODEL_DATA",
                                    path, lineno, tok[0], tok[12]);
            l->pol = (ptype)k;
            c->has_hmd |= k == P_HMD;
        }
        snprintf(l->name, sizeof l->name, "%s", tok[0]);
        static const char *const what[3] = {"forward", "input-gradient", "weight-gradient"};
        for (int k = 0; k < 3; k++) {
            if (parse_u64(tok[2 + 3 * k], &l->t[k]) < 0)
                return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: layer '%s': %s compute time '%s' "
                                    "is not an integer >= 0", path, lineno, tok[0], what[k],
                                    tok[2 + 3 * k]);
            l->type[k] = comm_type(tok[3 + 3 * k]);
            if (l->type[k] == -2)
                return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: layer '%s': %s communication "
                                    "'%s' is not ALLREDUCE, ALLGATHER, ALLTOALL, REDUCESCATTER or NONE",
                                    path, lineno, tok[0], what[k], tok[3 + 3 * k]);
            if (parse_u64(tok[4 + 3 * k], &l->sz[k]) < 0)
                return loom_err_set(err, LOOM_EUSAGE, "%s: line %d: layer '%s': %s communication size "
                                    "'%s' is not a byte count (0 .. 2^63-1)", path, lineno, tok[0],
                                    what[k], tok[4 + 3 * k]);
        }
        c->nl++;
    }
    if (ferror(f))
        return loom_err_set(err, LOOM_EUSAGE, "%s: read error", path);
    if (stage < 2)
        return loom_err_set(err, LOOM_EUSAGE, "%s: expected the parallelism on line 1 and the layer "
                            "count on line 2", path);
    if (c->nl != want)
        return loom_err_set(err, LOOM_EUSAGE, "%s: the second line announces %d layers but %d "
                            "follow", path, want, c->nl);
    if (c->pt == P_DLRM && (c->last_bottom < 0 || c->last_bottom + 1 >= c->nl))
        return loom_err_set(err, LOOM_EUSAGE, "%s: HYBRID_DLRM last bottom layer %d: allowed 0 .. %d",
                            path, c->last_bottom, c->nl - 2);
    return apply_marks(c, path, err);
}

/* PREFIX.comm.json: the model- and data-parallel groups (and for a
 * HYBRID_CUSTOMIZED file with HYBRID_MODEL_DATA layers, theirs too). */
static int write_groups(const conv *c, loom_outset *set, int kg, int ranks, loom_err *err)
{
    int mp = c->mp, dpn = ranks / mp;
    /* per set: a name of at most 32 bytes per group, at most 12 per rank in
     * each of the two kinds of group */
    size_t cap = 2 * ((size_t)(dpn + mp) * 32 + (size_t)ranks * 24) + 64, n = 0;
    char *buf = loom_xmalloc(cap);
    n += (size_t)snprintf(buf + n, cap - n, "{");
    for (int set = 0; set < (c->has_hmd ? 2 : 1); set++) {
        int hdm = set == 0 && c->pt != P_HMD; /* else HYBRID_MODEL_DATA's groups */
        const char *pre = set ? "hmd_" : "";
        for (int g = 0; g < dpn; g++) { /* model-parallel groups */
            n += (size_t)snprintf(buf + n, cap - n, "%s\n  \"%smp%d\": [", n > 1 ? "," : "",
                                  pre, g);
            for (int k = 0; k < mp; k++)
                n += (size_t)snprintf(buf + n, cap - n, "%s%d", k ? ", " : "",
                                      hdm ? g * mp + k : g + k * dpn);
            n += (size_t)snprintf(buf + n, cap - n, "]");
        }
        for (int g = 0; g < mp; g++) { /* data-parallel groups */
            n += (size_t)snprintf(buf + n, cap - n, ",\n  \"%sdp%d\": [", pre, g);
            for (int k = 0; k < dpn; k++)
                n += (size_t)snprintf(buf + n, cap - n, "%s%d", k ? ", " : "",
                                      hdm ? g + k * mp : g * dpn + k);
            n += (size_t)snprintf(buf + n, cap - n, "]");
        }
    }
    n += (size_t)snprintf(buf + n, cap - n, "\n}\n");
    int rc = loom_outset_text(set, kg, buf, n, err);
    free(buf);
    return rc;
}

int wl_text_convert(const wl_text_opts *o, loom_err *err)
{
    if (o->ranks < 1 || o->ranks > (1 << 24))
        return loom_err_set(err, LOOM_EUSAGE, "--ranks %d: allowed 1 .. %d", o->ranks, 1 << 24);
    if (o->passes < 1)
        return loom_err_set(err, LOOM_EUSAGE, "--passes %d: at least 1", o->passes);
    if (!(o->time_scale > 0 && isfinite(o->time_scale)))
        return loom_err_set(err, LOOM_EUSAGE, "--time-scale must be > 0");
    FILE *f = fopen(o->in, "r");
    if (f == NULL)
        return loom_err_set(err, LOOM_EUSAGE, "%s: cannot open: %s", o->in, strerror(errno));
    conv c = {.o = o, .last_bottom = -1};
    int rc = parse(&c, f, o->in, err);
    fclose(f);
    int hybrid = c.pt == P_HDM || c.pt == P_HMD || c.pt == P_FIB || c.pt == P_CUSTOM;
    int groups = c.mp > 1 && hybrid;
    if (rc == 0 && c.mp > 0 && !hybrid)
        loom_warn("%s: model_parallel_NPU_group is used by the HYBRID_* types only; ignored", o->in);
    if (rc == 0 && groups && o->ranks % c.mp)
        rc = loom_err_set(err, LOOM_EUSAGE, "--ranks %d is not a multiple of the file's "
                          "model_parallel_NPU_group %d", o->ranks, c.mp);
    /* the files are checked first and put into place together at the end
     * (outfile.h), so a failed conversion leaves none of them */
    int made = 0;
    if (rc == 0)
        rc = wl_prepare_prefix(o->out, &made, err);
    loom_outset *set = NULL;
    int kr = -1, kg = -1;
    char path[4200], gpath[4200];
    if (rc == 0) {
        set = loom_outset_create();
        kr = loom_outset_add_ranks(set, o->out, o->ranks, "--out");
        snprintf(gpath, sizeof gpath, "%s.comm.json", o->out);
        if (groups)
            kg = loom_outset_add(set, gpath, "--out");
        loom_outset_input(set, o->in, "the text workload");
        rc = loom_outset_check(set, err);
    }
    uint64_t written = 0, links = 0;
    if (rc == 0 && !groups) { /* every rank is the same: one file, hard links */
        c.pg_mp = c.pg_dp = "";
        rc = loom_outset_member(set, kr, 0, path, sizeof path, err);
        if (rc == 0)
            rc = write_rank(&c, path, err);
        wl_link_stats st = {0, 0};
        if (rc == 0)
            rc = wl_write_ranks_linked(set, kr, 0, o->ranks, &st, err);
        written = 1;
        links = st.links + st.copies;
    } else if (rc == 0) {
        /* HYBRID_DATA_MODEL: model-parallel groups of mp consecutive ranks,
         * data-parallel groups across them; HYBRID_MODEL_DATA: the reverse */
        int mp = c.mp, dpn = o->ranks / mp;
        for (int r = 0; r < o->ranks && rc == 0; r++) {
            char mpn[32], dpnm[32];
            char mpn2[40], dpn2[40];
            if (c.pt != P_HMD) {
                snprintf(mpn, sizeof mpn, "mp%d", r / mp);
                snprintf(dpnm, sizeof dpnm, "dp%d", r % mp);
            } else {
                snprintf(mpn, sizeof mpn, "mp%d", r % dpn);
                snprintf(dpnm, sizeof dpnm, "dp%d", r / dpn);
            }
            /* HYBRID_CUSTOMIZED's HYBRID_MODEL_DATA layers: the reverse */
            snprintf(mpn2, sizeof mpn2, "hmd_mp%d", r % dpn);
            snprintf(dpn2, sizeof dpn2, "hmd_dp%d", r / dpn);
            c.pg_mp = mpn;
            c.pg_dp = dpnm;
            c.pg_mp2 = mpn2;
            c.pg_dp2 = dpn2;
            rc = loom_outset_member(set, kr, r, path, sizeof path, err);
            if (rc == 0)
                rc = write_rank(&c, path, err);
            written++;
        }
        if (rc == 0)
            rc = write_groups(&c, set, kg, o->ranks, err);
    }
    if (rc == 0)
        rc = loom_outset_commit(set, err);
    loom_outset_free(set); /* after a failure: removes every temporary */
    if (rc < 0 && made)
        wl_unprepare_prefix(o->out);
    if (rc == 0 && c.rounded)
        loom_warn("%s: compute times x --time-scale %g are not whole microseconds; rounded to the "
                  "nearest (Chakra's duration_micros is an integer)", o->in, o->time_scale);
    if (rc == 0 && !o->quiet) {
        static const char *const pn[] = {"MICRO", "DATA", "MODEL", "HYBRID_DATA_MODEL",
                                         "HYBRID_MODEL_DATA", "HYBRID_DLRM",
                                         "HYBRID_TRANSFORMER_FWD_IN_BCKWD", "HYBRID_CUSTOMIZED"};
        char ranks[32]; /* "{0..7}", or "0" for one rank */
        snprintf(ranks, sizeof ranks, o->ranks == 1 ? "0" : "{0..%d}", o->ranks - 1);
        printf("%s: %s, %d layers, %d pass%s -> %s.%s.et: %llu file%s written, %llu "
               "hard-linked%s\n", o->in, pn[c.pt], c.nl, o->passes, o->passes == 1 ? "" : "es",
               o->out, ranks, (unsigned long long)written, written == 1 ? "" : "s",
               (unsigned long long)links,
               groups ? " (and the communicators in PREFIX.comm.json: pass --comm-group)" : "");
    }
    free(c.L);
    free(c.marks);
    return rc;
}

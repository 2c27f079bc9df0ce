/*
 * calibrate_kineto.c: `loom calibrate --kineto`, a software-stack profile
 * fitted to measured kernel times by shape (docs/VALIDATION.md, "Stack
 * profiles").
 *
 * Input: a Kineto trace (torch.profiler's JSON, gzip or plain) captured
 * with record_shapes=True, read by traces/pt_kineto.c.  Every GPU kernel
 * is traced back to its launch (the runtime call of the same
 * `correlation`) and from there to the innermost host op around the
 * launch that has "Input Dims" (traces/pt_links.c); when that op is a
 * matrix product (aten::mm, addmm, bmm, baddbmm, matmul, linear) its
 * dims give (batch, m, n, k).  An op's
 * measured time is the sum of its kernels' (a split-K GEMM launches more
 * than one); its predicted time is the kernel model's for that shape on
 * --device at --dtype (compute/comp_kernel.c, docs/DEVICES.md), exactly
 * as replay prices a GEMM node of that shape.  With x_i = predicted_i /
 * measured_i, the profile's compute-time-scale s minimises the squared
 * relative errors sum (s x_i - 1)^2:
 *     s = sum x_i / sum x_i^2,
 * and leave-one-out predicts each op with the s fitted to the others.
 * Ops without shapes, of other kinds, or whose dimensions do not agree
 * are counted and left out.
 */
#include "cmds.h"

#include "cliutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comp.h"
#include "config.h"
#include "outfile.h"
#include "pt_import.h"
#include "sbuf.h"

typedef struct kop {    /* one matrix-product host op with its kernels */
    uint32_t ev;        /* its event */
    loom_kshape s;      /* its shape */
    double bytes;       /* operands and result */
    double meas, pred;  /* seconds: its kernels' sum, the model's */
    uint32_t nk;        /* kernels */
} kop;

/* The op's GEMM shape from its name and Input Dims; 0, or -1 when it is
 * not a matrix product loom knows or its dimensions disagree. */
static int gemm_shape(const char *name, const pt_dims *d, int ebytes, loom_kshape *s,
                      double *bytes)
{
    int a = -1; /* the first operand's tensor; the second is a + 1 */
    if (strcmp(name, "aten::mm") == 0 || strcmp(name, "aten::bmm") == 0 ||
        strcmp(name, "aten::matmul") == 0 || strcmp(name, "aten::linear") == 0)
        a = 0;
    else if (strcmp(name, "aten::addmm") == 0 || strcmp(name, "aten::baddbmm") == 0)
        a = 1;
    if (a < 0 || d->nt < a + 2 || d->nd[a] < 2 || d->nd[a] > PT_DIMS_D || d->nd[a + 1] < 2 ||
        d->nd[a + 1] > PT_DIMS_D)
        return -1;
    const int64_t *x = d->d[a], *w = d->d[a + 1];
    int nx = d->nd[a], nw = d->nd[a + 1];
    double rows = 1, batch = 1, m, k, n, k2;
    for (int i = 0; i < nx - 1; i++)
        rows *= (double)x[i];
    k = (double)x[nx - 1];
    if (strcmp(name, "aten::linear") == 0) { /* x[.., in] W[out, in] */
        if (nw != 2)
            return -1;
        m = rows;
        n = (double)w[0];
        k2 = (double)w[1];
    } else if (nw == 2) { /* a matrix on the right: the rows of x are one product */
        m = rows;
        k2 = (double)w[0];
        n = (double)w[1];
    } else { /* batched: x[.., m, k] w[.., k, n] */
        m = (double)x[nx - 2];
        batch = rows / (m > 0 ? m : 1);
        k2 = (double)w[nw - 2];
        n = (double)w[nw - 1];
    }
    if (k != k2 || !(m >= 1 && n >= 1 && k >= 1 && batch >= 1) || m > UINT32_MAX ||
        n > UINT32_MAX || k > UINT32_MAX || batch > UINT32_MAX)
        return -1;
    *s = (loom_kshape){.m = (uint32_t)m, .n = (uint32_t)n, .k = (uint32_t)k,
                       .batch = (uint32_t)batch, .cls = LOOM_K_GEMM};
    *bytes = batch * (m * k + k * n + m * n) * ebytes;
    return 0;
}

/* The matrix-product ops with shapes, each with its kernels' measured sum:
 * a kernel's launch (pt_kineto_links), the innermost op around it with
 * shapes (up its enclosing ops), if that op is a matrix product. */
static kop *collect_ops(const pt_kineto *k, pt_strs *strs, size_t *nops, uint64_t *kernels,
                        uint64_t *unmatched)
{
    int32_t *launch = loom_xmalloc((k->nev + 1) * sizeof *launch);
    int32_t *parent = loom_xmalloc((k->nev + 1) * sizeof *parent);
    int32_t *slot = loom_xmalloc((k->nev + 1) * sizeof *slot); /* event -> out, -1 */
    pt_kineto_links(k, launch, parent);
    kop *out = loom_xcalloc(k->ndims + 1, sizeof *out);
    size_t n = 0;
    for (size_t i = 0; i < k->nev; i++) {
        const pt_kev *e = &k->ev[i];
        slot[i] = -1;
        if (e->kind != PT_K_CPU || e->dims < 0)
            continue;
        const pt_dims *d = &k->dims[e->dims];
        int eb = d->dtype ? pt_dtype_bytes(pt_str_get(strs, d->dtype)) : 0;
        if (gemm_shape(pt_str_get(strs, e->name), d, eb ? eb : 2, &out[n].s, &out[n].bytes) == 0) {
            out[n].ev = (uint32_t)i;
            slot[i] = (int32_t)n++;
        }
    }
    for (size_t i = 0; i < k->nev; i++) {
        const pt_kev *e = &k->ev[i];
        if (e->kind != PT_K_KERNEL || e->corr < 0)
            continue;
        if (launch[i] < 0) {
            ++*unmatched;
            continue;
        }
        int32_t o = parent[launch[i]]; /* an aten::linear around an aten::addmm: the addmm */
        while (o >= 0 && k->ev[o].dims < 0)
            o = parent[o];
        if (o < 0 || slot[o] < 0)
            continue;
        out[slot[o]].meas += (double)e->dur * 1e-9;
        out[slot[o]].nk++;
        ++*kernels;
    }
    size_t m = 0; /* ops whose kernels were found */
    for (size_t i = 0; i < n; i++)
        if (out[i].nk > 0 && out[i].meas > 0)
            out[m++] = out[i];
    free(launch);
    free(parent);
    free(slot);
    *nops = m;
    return out;
}

/* The device's kernel model at dtype, as replay builds it from a system
 * file (written into dir). */
static int device_cfg(const loom_calk_opts *o, const char *dir, loom_cfg *cfg, loom_err *err)
{
    char sys[4200], net[4200];
    snprintf(sys, sizeof sys, "%s/system.yaml", dir);
    snprintf(net, sizeof net, "%s/network.yaml", dir);
    sbuf b = {0};
    sb_printf(&b, "device: %s\ncompute-model: kernel\ncompute-dtype: %s\n", o->device, o->dtype);
    if (o->devices)
        sb_printf(&b, "device-file: %s\n", o->devices);
    const char *nt = "topology: [ Switch ]\nnpus_count: [ 1 ]\nbandwidth: [ 1 ]\nlatency: [ 0 ]\n";
    FILE *f = fopen(sys, "w"), *g = fopen(net, "w");
    int ok = f && g && fputs(b.p, f) >= 0 && fputs(nt, g) >= 0;
    ok = (f ? fclose(f) == 0 : 0) && ok;
    ok = (g ? fclose(g) == 0 : 0) && ok;
    free(b.p);
    if (!ok)
        return loom_err_set(err, LOOM_EIO, "%s: cannot write: %s", dir, strerror(errno));
    loom_cfg_files fl = {.network = net, .system = sys};
    int rc = loom_cfg_load(cfg, &fl, err);
    if (rc < 0) { /* say which option, not the scratch file */
        char why[1024];
        const char *p = strstr(err->msg, ": ");
        snprintf(why, sizeof why, "%.1000s", p ? p + 2 : err->msg);
        snprintf(err->msg, sizeof err->msg, "--device %.200s --dtype %.32s%s%.1000s: %s", o->device,
                 o->dtype, o->devices ? " --devices " : "", o->devices ? o->devices : "", why);
    }
    return rc;
}

static int shape_cmp(const loom_kshape *a, const loom_kshape *b)
{
    const uint32_t x[] = {a->cls, a->batch, a->m, a->n, a->k}, y[] = {b->cls, b->batch, b->m, b->n, b->k};
    for (int i = 0; i < 5; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

static int by_shape(const void *pa, const void *pb) /* ops: shape, then event */
{
    const kop *a = pa, *b = pb;
    int c = shape_cmp(&a->s, &b->s);
    return c ? c : (a->ev > b->ev) - (a->ev < b->ev);
}

typedef struct kgroup { /* ops of one shape */
    size_t first, n;    /* in the ops sorted by shape */
    double meas;        /* their measured sum */
} kgroup;

static int by_cost(const void *pa, const void *pb) /* groups: costliest, then shape order */
{
    const kgroup *a = pa, *b = pb;
    if (a->meas != b->meas)
        return a->meas > b->meas ? -1 : 1;
    return (a->first > b->first) - (a->first < b->first);
}

/* Ops of one (batch, m, n, k): "#   1x2048x512x2048 ..." lines, the
 * costliest measured first, at most max of them (one sort, one pass). */
static void shape_lines(sbuf *b, const kop *op, size_t n, double s, int max)
{
    kop *v = loom_xmalloc((n + 1) * sizeof *v);
    memcpy(v, op, n * sizeof *v);
    qsort(v, n, sizeof *v, by_shape);
    kgroup *g = loom_xmalloc((n + 1) * sizeof *g);
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || shape_cmp(&v[i].s, &v[i - 1].s) != 0)
            g[ng++] = (kgroup){i, 0, 0};
        g[ng - 1].n++;
        g[ng - 1].meas += v[i].meas;
    }
    qsort(g, ng, sizeof *g, by_cost);
    for (size_t r = 0; r < ng && r < (size_t)max; r++) {
        const kop *o = &v[g[r].first];
        double mean = g[r].meas / (double)g[r].n;
        sb_printf(b, "#   %5ux%6ux%6ux%6u %6zu %12.2f %12.2f %+8.1f%%\n", o->s.batch, o->s.m,
                  o->s.n, o->s.k, g[r].n, 1e6 * mean, 1e6 * o->pred, 100 * (s * o->pred / mean - 1));
    }
    free(v);
    free(g);
}

typedef struct kfit { /* what the profile says of its fit */
    double s, mae, mx, lmae, lmx; /* the scale; its errors, fitted and left out */
    double host;                  /* host-launch-us, or < 0: not fitted */
    size_t pairs, launches;       /* its intervals, the launches seen */
} kfit;

static char *profile_text(const loom_calk_opts *o, const char *name, kop *op, size_t n,
                          const kfit *f, const char *device)
{
    double s = f->s;
    sbuf b = {0};
    sb_printf(&b, "# A software-stack profile written by `loom calibrate --kineto %s --device %s "
                  "--dtype %s`\n# (docs/VALIDATION.md, \"Stack profiles\"): every compute node's "
                  "modelled time\n# x compute-time-scale, fitted to %zu matrix-product ops of the "
                  "capture (%s)\n# by their shapes.  The costliest shapes: batch x m x n x k, ops, "
                  "measured us a op,\n# modelled us, error at the scale:\n",
              o->kineto, o->device, o->dtype, n, device);
    shape_lines(&b, op, n, s, 12);
    sb_printf(&b, "# host-launch-us: the median interval between consecutive launches of one host\n"
                  "# thread where the GPU waited for the launch (docs/MODEL.md 12, \"The host\"):\n"
                  "# %zu such intervals among %zu launches%s\n",
              f->pairs, f->launches, f->host < 0 ? "; fewer than 10, not fitted" : "");
    sb_printf(&b, "stack: %s\ncompute-time-scale: %.6f\n", name, s);
    if (f->host >= 0)
        sb_printf(&b, "host-launch-us: %.3f\n", f->host);
    sb_printf(&b, "fit:\n  kernels-by-shape: %zu\n  mean-abs-error: %.4f\n  max-abs-error: %.4f\n",
              n, f->mae, f->mx);
    if (n > 1)
        sb_printf(&b, "  loo-mean-abs-error: %.4f\n  loo-max-abs-error: %.4f\n", f->lmae, f->lmx);
    if (f->host >= 0)
        sb_printf(&b, "  host-bound-intervals: %zu\n", f->pairs);
    return b.p;
}

int loom_calibrate_kineto(const loom_calk_opts *o)
{
    loom_err err = {0};
    loom_outset *set = loom_outset_create();
    int k = loom_outset_add(set, o->out, "-o");
    loom_outset_input(set, o->kineto, "--kineto");
    pt_strs *strs = pt_strs_new();
    pt_kineto kt;
    memset(&kt, 0, sizeof kt);
    loom_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    int have_cfg = 0;
    char tmp[64] = "/tmp/loom-calibrate-XXXXXX";
    int rc = loom_outset_check(set, &err);
    if (rc == 0 && mkdtemp(tmp) == NULL) {
        rc = loom_err_set(&err, LOOM_EIO, "cannot make a work folder: %s", strerror(errno));
        tmp[0] = '\0';
    }
    if (rc == 0 && (rc = device_cfg(o, tmp, &cfg, &err)) == 0)
        have_cfg = 1;
    if (rc == 0)
        rc = pt_kineto_read(o->kineto, strs, &kt, &err);
    size_t n = 0;
    uint64_t kernels = 0, unmatched = 0;
    kop *op = rc == 0 ? collect_ops(&kt, strs, &n, &kernels, &unmatched) : NULL;
    if (rc == 0 && n == 0)
        rc = loom_err_set(&err, LOOM_ETRACE, "%s: no GPU kernel launched by a matrix product "
                          "(aten::mm, addmm, bmm, baddbmm, matmul, linear) with its shapes: capture "
                          "with torch.profiler(record_shapes=True)", o->kineto);
    double sx = 0, sxx = 0, s = 0, mae = 0, mx = 0, lmae = 0, lmx = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        op[i].pred = comp_kernel_seconds(&cfg.comp, 2.0 * op[i].s.batch * op[i].s.m * op[i].s.n *
                                                        op[i].s.k, op[i].bytes, &op[i].s);
        double x = op[i].pred / op[i].meas;
        sx += x;
        sxx += x * x;
    }
    if (rc == 0) {
        s = sx / sxx;
        if (!(s > 0 && s <= 1000))
            rc = loom_err_set(&err, LOOM_EUSAGE, "%s: the fitted compute-time-scale %.4g is out "
                              "of (0, 1000]", o->kineto, s);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        double x = op[i].pred / op[i].meas, e = fabs(s * x - 1);
        double sl = n > 1 ? (sx - x) / (sxx - x * x) : s, l = fabs(sl * x - 1);
        mae += e / (double)n;
        mx = e > mx ? e : mx;
        lmae += l / (double)n;
        lmx = l > lmx ? l : lmx;
    }
    if (rc == 0) {
        pt_host_fit hf;
        pt_host_fit_of(&kt, strs, &hf);
        kfit f = {s, mae, mx, lmae, lmx, hf.median_us, hf.pairs, hf.launches};
        char *text = profile_text(o, o->name, op, n, &f,
                                  kt.device ? pt_str_get(strs, kt.device) : "device not named");
        if (!o->quiet) {
            fputs(text, stdout);
            printf("# %llu kernels of %zu ops fitted; %llu kernels without their launch\n",
                   (unsigned long long)kernels, n, (unsigned long long)unmatched);
        }
        rc = loom_outset_text(set, k, text, strlen(text), &err);
        free(text);
        if (rc == 0)
            rc = loom_outset_commit(set, &err);
    }
    if (tmp[0]) {
        char p[4200];
        snprintf(p, sizeof p, "%s/system.yaml", tmp);
        unlink(p);
        snprintf(p, sizeof p, "%s/network.yaml", tmp);
        unlink(p);
        rmdir(tmp);
    }
    free(op);
    if (have_cfg)
        loom_cfg_free(&cfg);
    pt_kineto_free(&kt);
    pt_strs_free(strs);
    loom_outset_free(set);
    return rc < 0 ? loom_fail(&err) : 0;
}

/*
 * pt_et.c: PyTorch execution traces (ExecutionTraceObserver's JSON),
 * schemas 1.0.1 .. 1.1.x-chakra, read with jansson (a tree: an ET is a
 * few MB to a few tens of MB, and a node's fields come in any order).
 *
 * Layouts: 1.0.x has `inputs` (values), `input_shapes`, `input_types` as
 * parallel lists and `rf_id`, `parent`, `tid` as node fields; 1.1.x has
 * `inputs: {values, shapes, types[, strides]}`, the parent in `ctrl_deps`
 * and `rf_id`, `tid`, ... (and a collective's `collective_name`,
 * `in_msg_nelems`, `dtype`, `pg_name`) in the `attrs` list.
 *
 * Replayed: the top-level ops (children of the thread/process root
 * nodes) in rf_id order (the order they started); each is priced from
 * the shapes in its subtree, where the first op that can be priced on a
 * path counts and its children do not (aten::linear, not also the addmm
 * inside it): GEMMs by FLOPs (num_ops) and bytes, other leaf ops by the
 * bytes of their tensors (tensor_size), views and allocations free.
 * Collectives (c10d::*, record_param_comms, nccl:*) become COMM_COLL_NODEs
 * in the order met; a `wait` makes the next op depend on every collective
 * issued since the previous wait.
 */
#include "pt_import.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "et_graph.h"
#include "et_ids.h"
#include "sbuf.h"

/* ---- reading a node whatever the layout ------------------------------- */

typedef struct etn {
    json_t *j;
    int64_t id, parent, rf, tid;
    const char *name;
    uint32_t *kids;
    uint32_t nk, ck;
    int root; /* a [pytorch|profiler|execution_...] node */
} etn;

static json_t *attr_of(json_t *n, const char *name)
{
    json_t *a = json_object_get(n, "attrs");
    if (!json_is_array(a))
        return json_object_get(n, name);
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        const char *k = json_string_value(json_object_get(e, "name"));
        if (k && strcmp(k, name) == 0)
            return json_object_get(e, "value");
    }
    return json_object_get(n, name);
}

static int64_t int_of(json_t *v, int64_t dflt)
{
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)json_real_value(v);
    if (json_is_array(v) && json_array_size(v) > 0) /* ctrl_deps as a list */
        return int_of(json_array_get(v, 0), dflt);
    return dflt;
}

/* The node's input (or output) values, shapes and types, either layout. */
static void io_of(json_t *n, int out, json_t **vals, json_t **shapes, json_t **types)
{
    json_t *io = json_object_get(n, out ? "outputs" : "inputs");
    if (json_is_object(io)) {
        *vals = json_object_get(io, "values");
        *shapes = json_object_get(io, "shapes");
        *types = json_object_get(io, "types");
    } else {
        *vals = io;
        *shapes = json_object_get(n, out ? "output_shapes" : "input_shapes");
        *types = json_object_get(n, out ? "output_types" : "input_types");
    }
}

/* ---- pricing ------------------------------------------------------------- */

static uint64_t prod(json_t *shape)
{
    if (!json_is_array(shape))
        return 0;
    uint64_t p = 1;
    size_t i;
    json_t *d;
    json_array_foreach(shape, i, d) {
        if (!json_is_integer(d))
            return 0;
        int64_t v = json_integer_value(d);
        p *= v > 0 ? (uint64_t)v : 0;
    }
    return p;
}

/* Bytes of the tensors of one side (a Tensor(T), or a GenericList of them). */
static uint64_t side_bytes(json_t *n, int out)
{
    json_t *vals, *shapes, *types;
    io_of(n, out, &vals, &shapes, &types);
    uint64_t sum = 0;
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t) {
        const char *ty = json_string_value(t);
        json_t *sh = json_array_get(shapes, i);
        if (ty == NULL)
            continue;
        if (strncmp(ty, "Tensor(", 7) == 0) {
            sum += prod(sh) * (uint64_t)pt_dtype_bytes(ty);
        } else if (strncmp(ty, "GenericList[Tensor(", 19) == 0 && json_is_array(sh)) {
            size_t j;
            json_t *s;
            json_array_foreach(sh, j, s)
                sum += prod(s) * (uint64_t)pt_dtype_bytes(ty + 12);
        }
    }
    return sum;
}

/* Shape dims of input i as an array, n dims; 0 when not a tensor. */
static int in_dims(json_t *n, size_t i, int64_t *d, int max)
{
    json_t *vals, *shapes, *types;
    io_of(n, 0, &vals, &shapes, &types);
    const char *ty = json_string_value(json_array_get(types, i));
    json_t *sh = json_array_get(shapes, i);
    if (ty == NULL || strncmp(ty, "Tensor(", 7) != 0 || !json_is_array(sh))
        return 0;
    int k = 0;
    size_t j;
    json_t *v;
    json_array_foreach(sh, j, v)
        if (k < max)
            d[k++] = json_is_integer(v) ? json_integer_value(v) : 0;
    return k;
}

static uint64_t up(int64_t v) { return v > 0 ? (uint64_t)v : 0; }

static uint64_t conv_flops(json_t *n, int backward)
{
    int64_t x[8], w[8];
    int nx = in_dims(n, backward ? 1 : 0, x, 8), nw = in_dims(n, backward ? 2 : 1, w, 8);
    if (nx < 3 || nw < 3)
        return 0;
    json_t *vals, *shapes, *types;
    io_of(n, backward ? 0 : 1, &vals, &shapes, &types);
    /* output elements: the forward's output, or the backward's grad input 0 */
    uint64_t outel = prod(json_array_get(shapes, 0));
    uint64_t per = 1; /* C/g * R * S ... : the weight's dims after the first */
    for (int i = 1; i < nw; i++)
        per *= up(w[i]);
    if (outel == 0) { /* no output shape: the same spatial size as the input */
        outel = up(x[0]) * up(w[0]);
        for (int i = 2; i < nx; i++)
            outel *= up(x[i]);
    }
    return (backward ? 4 : 2) * outel * per;
}

/* ---- kernel shapes (docs/IMPORT.md "Execution traces") ------------------ */

/* Operand width of input i's tensor, 0 unknown. */
static int in_width(json_t *n, size_t i)
{
    json_t *vals, *shapes, *types;
    io_of(n, 0, &vals, &shapes, &types);
    const char *ty = json_string_value(json_array_get(types, i));
    return ty && strncmp(ty, "Tensor(", 7) == 0 ? pt_dtype_bytes(ty) : 0;
}

/* Input i's value as a bool (true, or a nonzero integer). */
static int in_true(json_t *n, size_t i)
{
    json_t *vals, *shapes, *types;
    io_of(n, 0, &vals, &shapes, &types);
    json_t *v = json_array_get(vals, i);
    return json_is_true(v) || (json_is_integer(v) && json_integer_value(v) != 0);
}

/* Input i's value as a number > 0 (a float or an integer). */
static int in_positive(json_t *n, size_t i)
{
    json_t *vals, *shapes, *types;
    io_of(n, 0, &vals, &shapes, &types);
    json_t *v = json_array_get(vals, i);
    return json_is_number(v) && json_number_value(v) > 0;
}

/* Sets *ks to class cls with these dimensions, or to no class when one
 * does not fit the shape's 32 bits. */
static void shape_set(loom_kshape *ks, int cls, uint64_t m, uint64_t n, uint64_t k, uint64_t b,
                      int width)
{
    memset(ks, 0, sizeof *ks);
    if (m > UINT32_MAX || n > UINT32_MAX || k > UINT32_MAX || b > UINT32_MAX || width > 255)
        return;
    *ks = (loom_kshape){.cls = (uint8_t)cls, .m = (uint32_t)m, .n = (uint32_t)n,
                        .k = (uint32_t)k, .batch = (uint32_t)b, .dtype_bytes = (uint8_t)width};
}

/* A matrix product, A [.., m, k] (input ia) times B [.., k, n] (input
 * ib): its FLOPs, 2 batch m k n, and its shape in *ks.  The batch is the
 * product of the leading dims of the batched operand (the larger, where
 * both are: broadcasting); with a 2-D B it folds into m, as PyTorch runs
 * it (one mm). */
static uint64_t matmul_work(json_t *n, size_t ia, size_t ib, loom_kshape *ks)
{
    int64_t a[8], b[8];
    int na = in_dims(n, ia, a, 8), nb = in_dims(n, ib, b, 8);
    if (na == 0 || nb == 0)
        return 0;
    uint64_t ba = 1, bb = 1;
    for (int i = 0; i + 2 < na; i++)
        ba *= up(a[i]);
    for (int i = 0; i + 2 < nb; i++)
        bb *= up(b[i]);
    uint64_t m = na >= 2 ? up(a[na - 2]) : 1, k = up(a[na - 1]);
    uint64_t nn = nb >= 2 ? up(b[nb - 1]) : 1, batch = ba > bb ? ba : bb;
    if (nb <= 2) {
        m *= batch;
        batch = 1;
    }
    shape_set(ks, LOOM_K_GEMM, m, nn, k, batch, in_width(n, ia));
    return 2 * batch * m * k * nn;
}

/* FLOPs of a GEMM or convolution op, or 0 when name is not one; the
 * GEMM's shape in *ks (a convolution has none). */
static uint64_t gemm_flops(json_t *n, const char *name, loom_kshape *ks)
{
    memset(ks, 0, sizeof *ks);
    if (strcmp(name, "aten::mm") == 0 || strcmp(name, "aten::bmm") == 0 ||
        strcmp(name, "aten::matmul") == 0)
        return matmul_work(n, 0, 1, ks);
    if (strcmp(name, "aten::addmm") == 0 || strcmp(name, "aten::baddbmm") == 0 ||
        strcmp(name, "aten::addbmm") == 0)
        return matmul_work(n, 1, 2, ks);
    if (strcmp(name, "aten::linear") == 0) {
        int64_t x[8], w[8];
        int nx = in_dims(n, 0, x, 8), nw = in_dims(n, 1, w, 8);
        if (nx == 0 || nw != 2)
            return 0;
        uint64_t rows = 1;
        for (int i = 0; i + 1 < nx; i++)
            rows *= up(x[i]);
        shape_set(ks, LOOM_K_GEMM, rows, up(w[0]), up(w[1]), 1, in_width(n, 0));
        return 2 * rows * up(w[0]) * up(w[1]);
    }
    if (strstr(name, "convolution_backward"))
        return conv_flops(n, 1);
    if (strcmp(name, "aten::conv1d") == 0 || strcmp(name, "aten::conv2d") == 0 ||
        strcmp(name, "aten::conv3d") == 0 || strcmp(name, "aten::convolution") == 0 ||
        strcmp(name, "aten::_convolution") == 0 || strstr(name, "_convolution"))
        return conv_flops(n, 0);
    return 0;
}

/* PyTorch's fused attention ops (ATen's signatures): the input holding
 * the query [b, h, s, d] (the key follows it), the one holding dropout_p
 * and the one holding is_causal. */
static const struct {
    const char *name;
    int bwd, q, drop, causal;
} attn_ops[] = {
    {"aten::_scaled_dot_product_flash_attention", 0, 0, 3, 4},
    {"aten::_scaled_dot_product_efficient_attention", 0, 0, 5, 6},
    {"aten::_scaled_dot_product_cudnn_attention", 0, 0, 5, 6},
    {"aten::_scaled_dot_product_flash_attention_backward", 1, 1, 10, 11},
    {"aten::_scaled_dot_product_efficient_attention_backward", 1, 1, 9, 11},
};

/* Leaf ops priced by bytes that are not plain elementwise, by ATen's
 * names: dropouts (a random number an element), layer and RMS norms,
 * forward and backward (a reduction a row), and sums (a reduction: the
 * norm class is the reduction class; a bias gradient is one).
 * aten::layer_norm and aten::rms_norm count where they are the leaf
 * (rms_norm before PyTorch had a fused kernel for it is the parent of
 * its pow, mean, rsqrt and mul, each priced as itself). */
static const struct {
    const char *name;
    int cls;
} leaf_classes[] = {
    {"aten::native_dropout", LOOM_K_DROPOUT},
    {"aten::dropout", LOOM_K_DROPOUT},
    {"aten::_fused_dropout", LOOM_K_DROPOUT},
    {"aten::native_layer_norm", LOOM_K_NORM},
    {"aten::native_layer_norm_backward", LOOM_K_NORM},
    {"aten::layer_norm", LOOM_K_NORM},
    {"aten::_fused_rms_norm", LOOM_K_NORM},
    {"aten::_fused_rms_norm_backward", LOOM_K_NORM},
    {"aten::rms_norm", LOOM_K_NORM},
    {"aten::sum", LOOM_K_NORM}, /* a reduction (bias gradients: docs/DEVICES.md "Norms") */
};

static int leaf_class(const char *name)
{
    for (size_t i = 0; i < sizeof leaf_classes / sizeof leaf_classes[0]; i++)
        if (strcmp(name, leaf_classes[i].name) == 0)
            return leaf_classes[i].cls;
    return LOOM_K_ELEM;
}

/* The shape of a leaf op priced by its bytes: fused attention (query
 * length, key length, head dim, batch x heads, causal, dropout), else its
 * class of leaf_classes, else elementwise. */
static void leaf_shape(json_t *n, const char *name, loom_kshape *ks)
{
    for (size_t i = 0; i < sizeof attn_ops / sizeof attn_ops[0]; i++) {
        if (strcmp(name, attn_ops[i].name) != 0)
            continue;
        int64_t q[8], k[8];
        int qi = attn_ops[i].q;
        memset(ks, 0, sizeof *ks);
        if (in_dims(n, (size_t)qi, q, 8) != 4 || in_dims(n, (size_t)qi + 1, k, 8) != 4)
            return;
        shape_set(ks, attn_ops[i].bwd ? LOOM_K_ATTN_BWD : LOOM_K_ATTN, up(q[2]), up(k[2]),
                  up(q[3]), up(q[0]) * up(q[1]), in_width(n, (size_t)qi));
        ks->causal = (uint8_t)in_true(n, (size_t)attn_ops[i].causal);
        ks->dropout = (uint8_t)in_positive(n, (size_t)attn_ops[i].drop);
        return;
    }
    shape_set(ks, leaf_class(name), 0, 0, 0, 0, 0);
}

/* Ops that move no data (views, metadata, allocation). */
static int free_op(const char *name)
{
    static const char *const v[] = {
        "aten::view", "aten::_unsafe_view", "aten::as_strided", "aten::t", "aten::transpose",
        "aten::detach", "detach", "aten::detach_", "detach_", "aten::empty", "aten::empty_strided",
        "aten::empty_like", "aten::reshape", "aten::result_type", "aten::slice", "aten::narrow",
        "aten::expand", "aten::permute", "aten::squeeze", "aten::unsqueeze", "aten::alias",
        "aten::lift_fresh", "aten::select", "aten::split", "aten::chunk", "aten::unbind",
        "aten::resize_", "aten::set_", "aten::size", "aten::stride", "aten::is_nonzero",
        "aten::_reshape_alias", "aten::flatten", "aten::numpy_T", "aten::contiguous",
        "aten::expand_as", "aten::view_as", "aten::unflatten", "aten::item",
        "aten::_local_scalar_dense", "aten::to", "aten::_has_compatible_shallow_copy_type",
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (strcmp(name, v[i]) == 0)
            return 1;
    return 0;
}

static int comm_op(const char *name)
{
    return strcmp(name, "record_param_comms") == 0 || strncmp(name, "c10d::", 6) == 0 ||
           strncmp(name, "nccl:", 5) == 0;
}

/* ---- collectives --------------------------------------------------------- */

typedef struct ecoll {
    int type;         /* CollectiveCommType, -1 unknown, -2 p2p, -3 wait */
    uint64_t bytes;
    const char *pg;
} ecoll;

/* What one comm op says (attrs in 1.1.x; the 1.0.x record_param_comms
 * inputs: tensors, seq, [pg_name, pg_desc], rank, collective name, ...). */
static void comm_fields(json_t *n, const char *name, ecoll *c)
{
    const char *cn = json_string_value(attr_of(n, "collective_name"));
    json_t *vals, *shapes, *types;
    io_of(n, 0, &vals, &shapes, &types);
    if (cn == NULL && strcmp(name, "record_param_comms") == 0) {
        size_t i;
        json_t *v;
        json_array_foreach(vals, i, v) {
            const char *s = json_string_value(v);
            if (s && (pt_coll_type(s) != -1 || strcmp(s, "wait") == 0)) {
                cn = s;
                break;
            }
            if (json_is_array(v) && json_array_size(v) == 2 && c->pg == NULL &&
                json_is_string(json_array_get(v, 0)))
                c->pg = json_string_value(json_array_get(v, 0));
        }
    }
    const char *what = cn ? cn : name;
    if (strcmp(what, "wait") == 0 || strcmp(name, "c10d::wait") == 0) {
        if (c->type == -1)
            c->type = -3;
        return;
    }
    int t = pt_coll_type(what);
    if (t != -1 && (c->type == -1 || c->type == -3))
        c->type = t;
    const char *pg = json_string_value(attr_of(n, "pg_name"));
    if (pg && c->pg == NULL)
        c->pg = pg;
    int64_t in = int_of(attr_of(n, "in_msg_nelems"), -1), out = int_of(attr_of(n, "out_msg_nelems"), -1);
    const char *dt = json_string_value(attr_of(n, "dtype"));
    if (c->bytes == 0 && (in > 0 || out > 0) && dt)
        c->bytes = (uint64_t)(in > out ? in : out) * (uint64_t)pt_dtype_bytes(dt);
    if (c->bytes == 0) { /* the tensors given: the larger side */
        uint64_t bi = side_bytes(n, 0), bo = side_bytes(n, 1);
        c->bytes = bi > bo ? bi : bo;
    }
}

/* ---- the tree ------------------------------------------------------------ */

typedef struct etree {
    etn *n;
    size_t nn;
    pt_strs *strs;
    pt_rank *r;
    pt_et_info *info;
    uint32_t start, prev_comp, prev_coll;
    uint32_t *open;      /* collectives since the last wait */
    size_t nopen, copen;
    int64_t seq;
    int waiting;         /* a wait was met: the next op depends on open */
    ecoll *pend;         /* collectives met in the op being priced */
    const char **pend_name;
    size_t npend, cpend, cname;
    uint64_t flops, bytes; /* the op being priced */
    uint64_t *kw;        /* and its kernels: (FLOPs, bytes) pairs */
    loom_kshape *kk;     /* their shapes */
    size_t nkk, ckw, ckk;
    int too_deep;        /* an op nested deeper than ET_MAX_DEPTH */
} etree;

/* Ops nest a few dozen levels in real traces; the walks recurse, so a
 * file nested deeper is refused rather than allowed to exhaust the stack. */
#define ET_MAX_DEPTH 4096

static void kid(etn *p, uint32_t c)
{
    if (p->nk == p->ck) {
        p->ck = p->ck ? 2 * p->ck : 4;
        p->kids = loom_xrealloc(p->kids, p->ck * sizeof *p->kids);
    }
    p->kids[p->nk++] = c;
}

static const etn *g_etn;
static int cmp_rf(const void *a, const void *b)
{
    const etn *x = &g_etn[*(const uint32_t *)a], *y = &g_etn[*(const uint32_t *)b];
    if (x->rf != y->rf)
        return x->rf < y->rf ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void emit_coll(etree *t, const ecoll *c, const char *name)
{
    pt_node n;
    memset(&n, 0, sizeof n);
    n.t0 = t->seq++;
    n.ctrl = t->prev_coll ? (int32_t)t->prev_coll : -1;
    n.type = ET_COMM_COLL_NODE;
    n.comm_type = (uint8_t)c->type;
    n.comm_size = c->bytes;
    n.name = pt_str(t->strs, name, strlen(name));
    n.pg = c->pg && strcmp(c->pg, "0") != 0 ? pt_str(t->strs, c->pg, strlen(c->pg)) : 0;
    n.stream = 1; /* the communication stream */
    uint32_t i = pt_add(t->r, &n);
    pt_dep(t->r, i, t->prev_comp ? t->prev_comp : t->start);
    t->prev_coll = i;
    t->open = loom_vgrow(t->open, &t->copen, t->nopen + 1, sizeof *t->open);
    t->open[t->nopen++] = i;
    t->r->ncoll++;
    t->info->colls++;
}

/* A comm op's subtree: one collective (or a wait) from it and the comm
 * ops inside it. */
static void walk_comm(etree *t, uint32_t i, ecoll *c, int depth)
{
    if (depth > ET_MAX_DEPTH) {
        t->too_deep = 1;
        return;
    }
    comm_fields(t->n[i].j, t->n[i].name, c);
    for (uint32_t k = 0; k < t->n[i].nk; k++)
        if (comm_op(t->n[t->n[i].kids[k]].name))
            walk_comm(t, t->n[i].kids[k], c, depth + 1);
}

/* A priced leaf of the op being priced: one kernel. */
static void add_kernel(etree *t, uint64_t flops, uint64_t bytes, const loom_kshape *ks)
{
    t->kw = loom_vgrow(t->kw, &t->ckw, 2 * (t->nkk + 1), sizeof *t->kw);
    t->kk = loom_vgrow(t->kk, &t->ckk, t->nkk + 1, sizeof *t->kk);
    t->kw[2 * t->nkk] = flops;
    t->kw[2 * t->nkk + 1] = bytes;
    t->kk[t->nkk++] = *ks;
}

static void walk(etree *t, uint32_t i, int depth)
{
    etn *e = &t->n[i];
    if (depth > ET_MAX_DEPTH) {
        t->too_deep = 1;
        return;
    }
    loom_kshape ks;
    uint64_t f = gemm_flops(e->j, e->name, &ks);
    if (f) {
        uint64_t b = side_bytes(e->j, 0) + side_bytes(e->j, 1);
        t->flops += f;
        t->bytes += b;
        add_kernel(t, f, b, &ks);
        t->info->gemm++;
        return;
    }
    if (comm_op(e->name)) {
        ecoll c = {-1, 0, NULL};
        walk_comm(t, i, &c, depth + 1);
        if (c.type == -3) {
            t->waiting = 1; /* the next op waits for every open collective */
            t->r->nsync++;
        } else if (c.type >= 0) {
            t->pend = loom_vgrow(t->pend, &t->cpend, t->npend + 1, sizeof *t->pend);
            t->pend_name = loom_vgrow(t->pend_name, &t->cname, t->npend + 1, sizeof *t->pend_name);
            t->pend_name[t->npend] = e->name;
            t->pend[t->npend++] = c;
        } else if (c.type == -2) {
            t->r->np2p++; /* no peer in the ET: not replayed */
        }
        return;
    }
    if (e->nk == 0) {
        uint64_t b = free_op(e->name) ? 0 : side_bytes(e->j, 0) + side_bytes(e->j, 1);
        if (b) {
            leaf_shape(e->j, e->name, &ks);
            t->bytes += b;
            add_kernel(t, 0, b, &ks);
            t->info->membound++;
        }
        return;
    }
    for (uint32_t k = 0; k < e->nk; k++)
        walk(t, e->kids[k], depth + 1);
}

/* Gives node n the op's kernels (the leaves priced under it, in call
 * order) when one has a shape the kernel model prices; else n keeps its
 * sums alone. */
static void keep_kernels(etree *t, pt_node *n)
{
    int shaped = 0;
    for (size_t k = 0; k < t->nkk; k++)
        shaped |= t->kk[k].cls != LOOM_K_NONE;
    if (!shaped || t->nkk > ET_MAX_KERNELS)
        return;
    pt_rank *r = t->r;
    r->kw = loom_vgrow(r->kw, &r->ckw, 2 * (r->nks + t->nkk), sizeof *r->kw);
    r->ks = loom_vgrow(r->ks, &r->cks, r->nks + t->nkk, sizeof *r->ks);
    memcpy(r->kw + 2 * r->nks, t->kw, 2 * t->nkk * sizeof *t->kw);
    memcpy(r->ks + r->nks, t->kk, t->nkk * sizeof *t->kk);
    n->kern = (uint32_t)r->nks;
    n->nkern = (uint32_t)t->nkk;
    r->nks += t->nkk;
}

/* One top-level op: its priced work as a COMP_NODE, then the collectives
 * met inside it (issued once the work before them is done). */
static void top_op(etree *t, uint32_t i)
{
    t->flops = t->bytes = 0;
    t->npend = 0;
    t->nkk = 0;
    walk(t, i, 0);
    if (t->flops || t->bytes) {
        pt_node n;
        memset(&n, 0, sizeof n);
        n.t0 = t->seq++;
        n.ctrl = -1;
        n.type = ET_COMP_NODE;
        n.name = pt_str(t->strs, t->n[i].name, strlen(t->n[i].name));
        n.num_ops = t->flops;
        n.tensor_size = t->bytes;
        n.priced = 1;
        n.stream = 0; /* the compute stream */
        keep_kernels(t, &n);
        uint32_t ni = pt_add(t->r, &n);
        pt_dep(t->r, ni, t->prev_comp ? t->prev_comp : t->start);
        if (t->waiting) {
            for (size_t k = 0; k < t->nopen; k++)
                pt_dep(t->r, ni, t->open[k]);
            t->nopen = 0;
            t->waiting = 0;
        }
        t->prev_comp = ni;
        t->r->nkernels++;
        t->info->ops++;
    }
    for (size_t k = 0; k < t->npend; k++)
        emit_coll(t, &t->pend[k], t->pend_name[k]);
}

static int build_tree(etree *t, json_t *nodes)
{
    size_t nn = json_array_size(nodes);
    t->n = loom_xcalloc(nn + 1, sizeof *t->n);
    t->nn = nn;
    idpair *ids = loom_xmalloc((nn + 1) * sizeof *ids);
    for (size_t i = 0; i < nn; i++) {
        json_t *j = json_array_get(nodes, i);
        etn *e = &t->n[i];
        e->j = j;
        e->id = int_of(json_object_get(j, "id"), -1);
        e->name = json_string_value(json_object_get(j, "name"));
        e->name = e->name ? e->name : "";
        json_t *p = json_object_get(j, "parent");
        e->parent = int_of(p ? p : json_object_get(j, "ctrl_deps"), -1);
        e->rf = int_of(attr_of(j, "rf_id"), e->id);
        e->tid = int_of(attr_of(j, "tid"), 0);
        e->root = strncmp(e->name, "[pytorch|profiler|execution_", 28) == 0;
        ids[i] = (idpair){(uint64_t)e->id, (uint32_t)i};
    }
    qsort(ids, nn, sizeof *ids, et_cmp_idpair);
    uint32_t *top = loom_xmalloc((nn + 1) * sizeof *top);
    size_t ntop = 0;
    for (size_t i = 0; i < nn; i++) {
        etn *e = &t->n[i];
        int64_t pi = e->parent >= 0 ? et_find_id(ids, nn, (uint64_t)e->parent) : -1;
        if (e->root)
            continue;
        if (pi < 0 || t->n[pi].root)
            top[ntop++] = (uint32_t)i;
        else
            kid(&t->n[pi], (uint32_t)i);
    }
    g_etn = t->n;
    for (size_t i = 0; i < nn; i++)
        if (t->n[i].nk > 1)
            qsort(t->n[i].kids, t->n[i].nk, sizeof *t->n[i].kids, cmp_rf);
    qsort(top, ntop, sizeof *top, cmp_rf);
    for (size_t i = 0; i < ntop && !t->too_deep; i++)
        top_op(t, top[i]);
    free(top);
    free(ids);
    return t->too_deep ? -1 : 0;
}

/* ---- the file ------------------------------------------------------------ */

static int schema_ok(const char *s)
{
    /* 1.0.1 .. 1.0.x and 1.1.x (with or without "-chakra.V") */
    if (strncmp(s, "1.0.", 4) == 0)
        return s[4] >= '1' && s[4] <= '9';
    return strncmp(s, "1.1.", 4) == 0 && s[4] >= '0' && s[4] <= '9';
}

static int load(const char *path, pt_et_info *info, json_t **nodes, loom_err *err)
{
    char *buf;
    size_t len;
    int rc = pt_read_all(path, &buf, &len, err);
    if (rc < 0)
        return rc;
    json_error_t je;
    json_t *root = json_loadb(buf, len, 0, &je);
    free(buf);
    if (root == NULL) {
        int trunc = je.position >= (int)len - 1 || strstr(je.text, "premature") ||
                    strstr(je.text, "end of file") || strstr(je.text, "unexpected newline");
        return loom_err_set(err, LOOM_ETRACE, "%s: %s JSON at line %d column %d: %s", path,
                            trunc ? "truncated" : "malformed", je.line, je.column, je.text);
    }
    info->json = root;
    const char *schema = json_string_value(json_object_get(root, "schema"));
    *nodes = json_object_get(root, "nodes");
    if (!json_is_object(root) || schema == NULL || !json_is_array(*nodes))
        return loom_err_set(err, LOOM_ETRACE, "%s: not a PyTorch execution trace (no \"schema\" "
                            "and \"nodes\")", path);
    if (!schema_ok(schema))
        return loom_err_set(err, LOOM_ETRACE, "%s: unknown execution-trace schema \"%s\" (known: "
                            "1.0.1 .. 1.0.x, 1.1.x, 1.1.x-chakra.*)", path, schema);
    info->schema = schema;
    info->pid = int_of(json_object_get(root, "pid"), -1);
    info->nodes = json_array_size(*nodes);
    return 0;
}

int pt_et_read(const char *path, pt_strs *strs, pt_rank *r, pt_et_info *info, loom_err *err)
{
    memset(info, 0, sizeof *info);
    json_t *nodes = NULL;
    int rc = load(path, info, &nodes, err);
    if (rc < 0 || r == NULL)
        return rc;
    memset(r, 0, sizeof *r);
    r->step = -1;
    etree t = {.strs = strs, .r = r, .info = info, .seq = 1};
    pt_node s;
    memset(&s, 0, sizeof s);
    s.t0 = INT64_MIN;
    s.ctrl = -1;
    s.type = ET_COMP_NODE;
    s.cpu = s.delay = s.has_dur = 1;
    s.stream = PT_NOSTREAM;
    s.name = pt_str(strs, "loom:start_offset", 17);
    t.start = pt_add(r, &s);
    if ((rc = build_tree(&t, nodes)) < 0) /* its one failure */
        rc = loom_err_set(err, LOOM_ETRACE, "%s: ops nested deeper than %d levels", path,
                          ET_MAX_DEPTH);
    for (size_t i = 0; i < t.nn; i++)
        free(t.n[i].kids);
    free(t.n);
    free(t.open);
    free(t.pend);
    free(t.pend_name);
    free(t.kw);
    free(t.kk);
    r->nstreams = r->ncoll ? 2 : 1;
    if (rc < 0)
        pt_rank_free(r);
    return rc;
}

void pt_et_done(pt_et_info *info)
{
    json_decref(info->json);
    info->json = NULL;
}

void pt_et_link(pt_et_info *info, const pt_kineto *k, const pt_strs *strs)
{
    json_t *nodes = json_object_get(info->json, "nodes");
    size_t nn = json_array_size(nodes);
    int by_rfid = 0;
    for (size_t i = 0; i < k->nev && !by_rfid; i++)
        by_rfid = k->ev[i].kind == PT_K_CPU && k->ev[i].rfid >= 0;
    idpair *ids = loom_xmalloc((k->nev + 1) * sizeof *ids);
    size_t n = 0;
    for (size_t i = 0; i < k->nev; i++) {
        int64_t key = by_rfid ? k->ev[i].rfid : k->ev[i].ext;
        if (k->ev[i].kind == PT_K_CPU && key >= 0)
            ids[n++] = (idpair){(uint64_t)key, (uint32_t)i};
    }
    qsort(ids, n, sizeof *ids, et_cmp_idpair);
    info->linked = 0;
    for (size_t i = 0; i < nn; i++) {
        json_t *j = json_array_get(nodes, i);
        int64_t rf = int_of(attr_of(j, "rf_id"), -1);
        const char *name = json_string_value(json_object_get(j, "name"));
        int64_t e = rf >= 0 ? et_find_id(ids, n, (uint64_t)rf) : -1;
        if (e >= 0 && name && strcmp(pt_str_get(strs, k->ev[e].name), name) == 0)
            info->linked++;
    }
    free(ids);
}

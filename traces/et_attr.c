#include "et_attr.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "et_graph.h"

#define V(x) CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_##x

static void set_signed(int64_t v, int *neg, uint64_t *mag)
{
    *neg = v < 0;
    /* negate in unsigned arithmetic: INT64_MIN has no positive twin */
    *mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

int et_attr_int(const ChakraProtoMsg__AttributeProto *a, int *neg,
                uint64_t *mag)
{
    *neg = 0;
    *mag = 0;
    switch (a->value_case) {
    case V(INT32_VAL): set_signed(a->int32_val, neg, mag); return 0;
    case V(INT64_VAL): set_signed(a->int64_val, neg, mag); return 0;
    case V(SINT32_VAL): set_signed(a->sint32_val, neg, mag); return 0;
    case V(SINT64_VAL): set_signed(a->sint64_val, neg, mag); return 0;
    case V(SFIXED32_VAL): set_signed(a->sfixed32_val, neg, mag); return 0;
    case V(SFIXED64_VAL): set_signed(a->sfixed64_val, neg, mag); return 0;
    case V(UINT32_VAL): *mag = a->uint32_val; return 0;
    case V(UINT64_VAL): *mag = a->uint64_val; return 0;
    case V(FIXED32_VAL): *mag = a->fixed32_val; return 0;
    case V(FIXED64_VAL): *mag = a->fixed64_val; return 0;
    case V(BOOL_VAL): *mag = a->bool_val ? 1 : 0; return 0;
    default: return -1;
    }
}

/* Entries of an integer or bool list, or -1 if a is not one. */
static long list_len(const ChakraProtoMsg__AttributeProto *a)
{
    switch (a->value_case) {
    case V(BOOL_LIST): return (long)a->bool_list->n_values;
    case V(INT32_LIST): return (long)a->int32_list->n_values;
    case V(INT64_LIST): return (long)a->int64_list->n_values;
    case V(UINT32_LIST): return (long)a->uint32_list->n_values;
    case V(UINT64_LIST): return (long)a->uint64_list->n_values;
    case V(SINT32_LIST): return (long)a->sint32_list->n_values;
    case V(SINT64_LIST): return (long)a->sint64_list->n_values;
    case V(FIXED32_LIST): return (long)a->fixed32_list->n_values;
    case V(FIXED64_LIST): return (long)a->fixed64_list->n_values;
    case V(SFIXED32_LIST): return (long)a->sfixed32_list->n_values;
    case V(SFIXED64_LIST): return (long)a->sfixed64_list->n_values;
    default: return -1;
    }
}

/* Entry i of a list accepted by list_len(), as sign and magnitude. */
static void list_int(const ChakraProtoMsg__AttributeProto *a, size_t i, int *neg,
                     uint64_t *mag)
{
    int64_t v = 0;
    int sgn = 0;
    *mag = 0;
    switch (a->value_case) {
    case V(BOOL_LIST): *mag = a->bool_list->values[i] ? 1 : 0; break;
    case V(INT32_LIST): v = a->int32_list->values[i]; sgn = 1; break;
    case V(INT64_LIST): v = a->int64_list->values[i]; sgn = 1; break;
    case V(SINT32_LIST): v = a->sint32_list->values[i]; sgn = 1; break;
    case V(SINT64_LIST): v = a->sint64_list->values[i]; sgn = 1; break;
    case V(SFIXED32_LIST): v = a->sfixed32_list->values[i]; sgn = 1; break;
    case V(SFIXED64_LIST): v = a->sfixed64_list->values[i]; sgn = 1; break;
    case V(UINT32_LIST): *mag = a->uint32_list->values[i]; break;
    case V(UINT64_LIST): *mag = a->uint64_list->values[i]; break;
    case V(FIXED32_LIST): *mag = a->fixed32_list->values[i]; break;
    case V(FIXED64_LIST): *mag = a->fixed64_list->values[i]; break;
    default: break;
    }
    *neg = sgn && v < 0;
    if (sgn)
        *mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

/* Entry i of a list accepted by list_len(): 1 if it is nonzero, and
 * whether it is 0 or 1 at all. */
static int list_bit(const ChakraProtoMsg__AttributeProto *a, size_t i,
                    int *is01)
{
    int neg;
    uint64_t mag;
    list_int(a, i, &neg, &mag);
    *is01 = !neg && mag <= 1;
    return mag != 0;
}

uint64_t et_attr_list_u64(const ChakraProtoMsg__AttributeProto *a, size_t i)
{
    int neg;
    uint64_t mag;
    list_int(a, i, &neg, &mag);
    return neg ? 0 : mag;
}

const char *et_attr_kind(const ChakraProtoMsg__AttributeProto *a)
{
    if (a->value_case == V(_NOT_SET))
        return "no value";
    /* the oneof case is the field number: the descriptor knows its name */
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
        &chakra_proto_msg__attribute_proto__descriptor,
        (unsigned)a->value_case);
    return f != NULL ? f->name : "unknown kind";
}

typedef et_sink sink;

void et_problem(et_sink *s, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->count++;
    if (s->report != NULL)
        s->report(s->ctx, msg);
}

/* Reads an integer attribute; reports and returns -1 if it is not one. */
static int get_int(sink *s, const ChakraProtoMsg__AttributeProto *a, int *neg,
                   uint64_t *mag)
{
    if (et_attr_int(a, neg, mag) == 0)
        return 0;
    et_problem(s, "attribute %s is a %s, not an integer", a->name,
            et_attr_kind(a));
    return -1;
}

/* A size in bytes or FLOPs: any integer kind, not negative. */
static int get_size(sink *s, const ChakraProtoMsg__AttributeProto *a,
                    uint64_t *out)
{
    int neg;
    uint64_t mag;
    if (get_int(s, a, &neg, &mag) < 0)
        return -1;
    if (neg && mag != 0) {
        et_problem(s, "attribute %s is negative (-%" PRIu64 ")", a->name, mag);
        return -1;
    }
    *out = mag;
    return 0;
}

/* A rank, tag or priority: any integer kind that fits in int32. */
static int get_i32(sink *s, const ChakraProtoMsg__AttributeProto *a,
                   int32_t *out)
{
    int neg;
    uint64_t mag;
    if (get_int(s, a, &neg, &mag) < 0)
        return -1;
    if (neg ? mag > (uint64_t)INT32_MAX + 1 : mag > (uint64_t)INT32_MAX) {
        et_problem(s, "attribute %s = %s%" PRIu64 " does not fit in int32",
                a->name, neg ? "-" : "", mag);
        return -1;
    }
    *out = neg ? (int32_t)(-(int64_t)mag) : (int32_t)mag;
    return 0;
}

static void read_dims(sink *s, const ChakraProtoMsg__AttributeProto *a,
                      et_nattr *o)
{
    long n = list_len(a);
    if (n < 0) {
        et_problem(s, "attribute involved_dim is a %s, not a bool_list",
                et_attr_kind(a));
        return;
    }
    if (n > 32) {
        et_problem(s, "attribute involved_dim has %ld entries; at most 32 "
                "network dimensions are supported", n);
        return;
    }
    uint32_t mask = 0;
    for (long i = 0; i < n; i++) {
        int is01;
        int bit = list_bit(a, (size_t)i, &is01);
        if (!is01) {
            et_problem(s, "attribute involved_dim entry %ld is not 0 or 1", i);
            return;
        }
        if (bit)
            mask |= 1u << i;
    }
    o->has_dims = 1;
    o->involved_dim = mask;
    o->involved_n = (uint8_t)n;
}

/* kernel_flops / kernel_bytes: equal-length lists of non-negative
 * integers on a compute node (loom's fused nodes, docs/TRACES.md). */
static void check_kernels(sink *s, const ChakraProtoMsg__Node *n, et_nattr *o)
{
    const ChakraProtoMsg__AttributeProto *l[2] = {o->kernel_flops, o->kernel_bytes};
    static const char *const nm[2] = {"kernel_flops", "kernel_bytes"};
    if (l[0] == NULL && l[1] == NULL)
        return;
    long len[2] = {-1, -1};
    for (int k = 0; k < 2; k++) {
        if (l[k] == NULL) {
            et_problem(s, "attribute %s without %s: a fused node needs both", nm[1 - k], nm[k]);
            goto bad;
        }
        len[k] = list_len(l[k]);
        if (len[k] < 0 || l[k]->value_case == V(BOOL_LIST)) {
            et_problem(s, "attribute %s is a %s, not an integer list", nm[k], et_attr_kind(l[k]));
            goto bad;
        }
        for (long i = 0; i < len[k]; i++) {
            int neg;
            uint64_t mag;
            list_int(l[k], (size_t)i, &neg, &mag);
            if (neg) {
                et_problem(s, "attribute %s entry %ld is negative", nm[k], i);
                goto bad;
            }
        }
    }
    if (len[0] != len[1] || len[0] < 1 || len[0] > ET_MAX_KERNELS) {
        et_problem(s, "attributes kernel_flops and kernel_bytes have %ld and %ld entries; "
                "they need the same count, 1 .. %d", len[0], len[1], ET_MAX_KERNELS);
        goto bad;
    }
    if ((int)n->type != ET_COMP_NODE) {
        et_problem(s, "attribute kernel_flops on a %s; only compute nodes carry kernels",
                et_node_type_name((int)n->type));
        goto bad;
    }
    if (o->flags & (ET_F_HAS_SRC | ET_F_HAS_DST)) {
        et_problem(s, "a compute node with kernel_flops has comm_src or comm_dst");
        goto bad;
    }
    o->nkernels = (uint32_t)len[0];
    return;
bad:
    o->kernel_flops = o->kernel_bytes = NULL;
}

static void read_pg(sink *s, const ChakraProtoMsg__AttributeProto *a,
                    et_nattr *o)
{
    int neg;
    uint64_t mag;
    if (a->value_case == V(STRING_VAL)) {
        o->pg_name = a->string_val;
    } else if (et_attr_int(a, &neg, &mag) == 0) {
        snprintf(o->pg_buf, sizeof o->pg_buf, "%s%" PRIu64, neg ? "-" : "",
                 mag);
        o->pg_name = o->pg_buf;
    } else {
        et_problem(s, "attribute pg_name is a %s, not a string_val",
                et_attr_kind(a));
    }
}

/* The attributes et_nattr_read decodes, by name: the first letter picks
 * the few candidates (gen llm's traces carry a dozen shape attributes a
 * node that are none of these, and a chain of 16 strcmp calls per
 * attribute was a tenth of loading them). */
enum { K_OTHER, K_CPU, K_OPS, K_TSIZE, K_CSIZE, K_CTYPE, K_SRC, K_DST, K_TAG, K_PRIO, K_DIMS,
       K_PG, K_STREAM, K_DUR, K_DELAY, K_KFLOPS, K_KBYTES };

static int attr_key(const char *s)
{
    switch (s[0]) {
    case 'c':
        if (strncmp(s, "comm_", 5) != 0)
            return K_OTHER;
        s += 5;
        return strcmp(s, "size") == 0       ? K_CSIZE
               : strcmp(s, "type") == 0     ? K_CTYPE
               : strcmp(s, "src") == 0      ? K_SRC
               : strcmp(s, "dst") == 0      ? K_DST
               : strcmp(s, "tag") == 0      ? K_TAG
               : strcmp(s, "priority") == 0 ? K_PRIO
                                            : K_OTHER;
    case 'd':
        return strcmp(s, "duration_ns") == 0 ? K_DUR : K_OTHER;
    case 'i':
        return strcmp(s, "is_cpu_op") == 0      ? K_CPU
               : strcmp(s, "involved_dim") == 0 ? K_DIMS
               : strcmp(s, "is_delay") == 0     ? K_DELAY
                                                : K_OTHER;
    case 'k':
        return strcmp(s, "kernel_flops") == 0   ? K_KFLOPS
               : strcmp(s, "kernel_bytes") == 0 ? K_KBYTES
                                                : K_OTHER;
    case 'n':
        return strcmp(s, "num_ops") == 0 ? K_OPS : K_OTHER;
    case 'p':
        return strcmp(s, "pg_name") == 0 ? K_PG : K_OTHER;
    case 's':
        return strcmp(s, "stream") == 0 ? K_STREAM : K_OTHER;
    case 't':
        return strcmp(s, "tensor_size") == 0 ? K_TSIZE : K_OTHER;
    default:
        return K_OTHER;
    }
}

int et_nattr_read(const ChakraProtoMsg__Node *n, et_nattr *o,
                  et_problem_fn report, void *ctx)
{
    sink s = {report, ctx, 0};
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < n->n_attr; i++) {
        const ChakraProtoMsg__AttributeProto *a = n->attr[i];
        int neg;
        uint64_t mag;
        switch (attr_key(a->name)) {
        case K_CPU:
            if (get_int(&s, a, &neg, &mag) == 0) {
                if (mag != 0)
                    o->flags |= ET_F_CPU;
                else
                    o->flags &= ~(unsigned)ET_F_CPU;
            }
            break;
        case K_OPS:
            if (get_size(&s, a, &o->num_ops) == 0)
                o->flags |= ET_F_HAS_OPS;
            break;
        case K_TSIZE:
            if (get_size(&s, a, &o->tensor_size) == 0)
                o->flags |= ET_F_HAS_TSIZE;
            break;
        case K_CSIZE:
            if (get_size(&s, a, &o->comm_size) == 0)
                o->flags |= ET_F_HAS_CSIZE;
            break;
        case K_CTYPE:
            if (get_int(&s, a, &neg, &mag) < 0)
                continue;
            if (!neg && mag < ET_COLL_TYPES) {
                o->comm_type = (int)mag;
                o->flags |= ET_F_HAS_CTYPE;
            } else if ((int)n->type == ET_COMM_COLL_NODE) {
                /* only a collective needs it; converters store other
                 * values on sends and receives, which nothing reads */
                et_problem(&s, "comm_type %s%" PRIu64 " is not a "
                        "CollectiveCommType (0..%d)",
                        neg ? "-" : "", mag, ET_COLL_TYPES - 1);
            }
            break;
        case K_SRC:
            if (get_i32(&s, a, &o->comm_src) == 0)
                o->flags |= ET_F_HAS_SRC;
            break;
        case K_DST:
            if (get_i32(&s, a, &o->comm_dst) == 0)
                o->flags |= ET_F_HAS_DST;
            break;
        case K_TAG:
            if (get_i32(&s, a, &o->comm_tag) == 0)
                o->flags |= ET_F_HAS_TAG;
            break;
        case K_PRIO:
            if (get_i32(&s, a, &o->comm_priority) == 0)
                o->has_priority = 1;
            break;
        case K_DIMS:
            read_dims(&s, a, o);
            break;
        case K_PG:
            read_pg(&s, a, o);
            break;
        case K_STREAM:
            if (get_int(&s, a, &neg, &mag) == 0) {
                if (mag > (uint64_t)INT64_MAX) {
                    et_problem(&s, "attribute stream %s%" PRIu64 " does not fit in 64 bits",
                            neg ? "-" : "", mag);
                    continue;
                }
                o->has_stream = 1;
                o->stream = neg ? -(int64_t)mag : (int64_t)mag;
            }
            break;
        case K_DUR:
            if (get_size(&s, a, &o->duration_ns) == 0)
                o->has_duration_ns = 1;
            break;
        case K_DELAY:
            if (get_int(&s, a, &neg, &mag) == 0)
                o->is_delay = mag != 0;
            break;
        case K_KFLOPS:
            o->kernel_flops = a;
            break;
        case K_KBYTES:
            o->kernel_bytes = a;
            break;
        default:
            break;
        }
    }
    check_kernels(&s, n, o);
    return s.count;
}

long et_attr_list_len(const ChakraProtoMsg__AttributeProto *a)
{
    return a->value_case == V(BOOL_LIST) ? -1 : list_len(a);
}

void et_attr_list_int(const ChakraProtoMsg__AttributeProto *a, size_t i, int *neg, uint64_t *mag)
{
    list_int(a, i, neg, mag);
}

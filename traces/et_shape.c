#include "et_shape.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "et_graph.h"

static const char *const cls_names[LOOM_K_CLASSES] = {"", "gemm", "attention", "attention_bwd",
                                                      "elementwise", "dropout", "norm"};

const char *et_kclass_name(int cls)
{
    return cls >= 0 && cls < LOOM_K_CLASSES ? cls_names[cls] : "";
}

typedef et_sink sink;

/* An integer attribute 0 .. max. */
static int get_u(sink *s, const ChakraProtoMsg__AttributeProto *a, uint64_t max, uint64_t *out)
{
    int neg;
    uint64_t mag;
    if (et_attr_int(a, &neg, &mag) < 0) {
        et_problem(s, "attribute %s is a %s, not an integer", a->name, et_attr_kind(a));
        return -1;
    }
    if ((neg && mag != 0) || mag > max) {
        et_problem(s, "attribute %s = %s%" PRIu64 " is out of range 0 .. %" PRIu64, a->name,
                neg ? "-" : "", mag, max);
        return -1;
    }
    *out = mag;
    return 0;
}

static void check_list(sink *s, const ChakraProtoMsg__AttributeProto *a, uint32_t nk,
                       et_nshape *o)
{
    long n = et_attr_list_len(a);
    if (n < 0) {
        et_problem(s, "attribute kernel_shape is a %s, not an integer list", et_attr_kind(a));
        return;
    }
    if (nk == 0) {
        et_problem(s, "attribute kernel_shape without kernel_flops: only a fused node lists shapes");
        return;
    }
    if (n != (long)nk * LOOM_KSHAPE_FIELDS) {
        et_problem(s, "attribute kernel_shape has %ld entries; %u kernels need %ld (%d each)", n, nk,
                (long)nk * LOOM_KSHAPE_FIELDS, LOOM_KSHAPE_FIELDS);
        return;
    }
    for (long i = 0; i < n; i++) {
        int neg;
        uint64_t mag, max = UINT32_MAX;
        et_attr_list_int(a, (size_t)i, &neg, &mag);
        if (i % LOOM_KSHAPE_FIELDS == 0)
            max = LOOM_K_CLASSES - 1;
        else if (i % LOOM_KSHAPE_FIELDS == 5) /* dtype_bytes 0 .. 8, + 256 when causal, */
            max = (255u << 16) | 512 | 256 | 8; /* + 512 with dropout, + 65536 x comm_sms */
        int badpack = i % LOOM_KSHAPE_FIELDS == 5 && ((mag & 0xff) > 8 || (mag & 0xfc00) != 0);
        if ((neg && mag != 0) || mag > max || badpack) {
            et_problem(s, "attribute kernel_shape entry %ld (kernel %ld) = %s%" PRIu64 " is out of "
                    "range 0 .. %" PRIu64, i, i / LOOM_KSHAPE_FIELDS, neg ? "-" : "", mag, max);
            return;
        }
    }
    o->list = a;
}

int et_shape_read(const ChakraProtoMsg__Node *n, uint32_t nkernels, et_nshape *o,
                  et_problem_fn report, void *ctx)
{
    sink s = {report, ctx, 0};
    memset(o, 0, sizeof *o);
    int has_dim[3] = {0, 0, 0}, has_cls = 0;
    for (size_t i = 0; i < n->n_attr; i++) {
        const ChakraProtoMsg__AttributeProto *a = n->attr[i];
        const char *name = a->name;
        uint64_t v;
        if (name[0] != 'g' && name[0] != 'd' && name[0] != 'c' && name[0] != 'k' && name[0] != 'a')
            continue; /* none of the names below: most of a node's attributes */
        if (strncmp(name, "gemm_", 5) == 0 || strcmp(name, "dtype_bytes") == 0 ||
            strcmp(name, "causal") == 0 || strcmp(name, "comm_sms") == 0 ||
            strcmp(name, "attention_dropout") == 0 ||
            strcmp(name, "kernel_class") == 0 ||
            strcmp(name, "kernel_shape") == 0) {
            if ((int)n->type == ET_COMM_COLL_NODE && strcmp(name, "comm_sms") == 0) {
                if (get_u(&s, a, 255, &v) == 0) { /* SMs the collective holds */
                    o->coll_sms = (uint8_t)v;
                    o->has_coll_sms = 1;
                }
                continue;
            }
            if ((int)n->type != ET_COMP_NODE) {
                et_problem(&s, "attribute %s on a %s; only compute nodes have kernel shapes "
                        "(and collectives comm_sms)", name, et_node_type_name((int)n->type));
                continue;
            }
        } else {
            continue;
        }
        if (strcmp(name, "kernel_class") == 0) {
            int c = -1;
            for (int k = 1; a->value_case == CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_STRING_VAL &&
                            k < LOOM_K_CLASSES; k++)
                if (strcmp(a->string_val, cls_names[k]) == 0)
                    c = k;
            if (c < 0) {
                char all[128] = "";
                for (int k = 1; k < LOOM_K_CLASSES; k++)
                    snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", k > 1 ? ", " : "",
                             cls_names[k]);
                et_problem(&s, "attribute kernel_class is not one of %s (a string_val)", all);
            } else {
                o->one.cls = (uint8_t)c;
                has_cls = 1;
            }
        } else if (strcmp(name, "gemm_m") == 0 || strcmp(name, "gemm_n") == 0 ||
                   strcmp(name, "gemm_k") == 0 || strcmp(name, "gemm_batch") == 0) {
            if (get_u(&s, a, UINT32_MAX, &v) < 0)
                continue;
            switch (name[5]) {
            case 'm': o->one.m = (uint32_t)v; has_dim[0] = 1; break;
            case 'n': o->one.n = (uint32_t)v; has_dim[1] = 1; break;
            case 'k': o->one.k = (uint32_t)v; has_dim[2] = 1; break;
            default: o->one.batch = (uint32_t)v; break;
            }
        } else if (strcmp(name, "dtype_bytes") == 0) {
            if (get_u(&s, a, 8, &v) == 0)
                o->one.dtype_bytes = (uint8_t)v;
        } else if (strcmp(name, "causal") == 0) {
            if (get_u(&s, a, 1, &v) == 0)
                o->one.causal = (uint8_t)v;
        } else if (strcmp(name, "attention_dropout") == 0) {
            if (get_u(&s, a, 1, &v) == 0)
                o->one.dropout = (uint8_t)v;
        } else if (strcmp(name, "comm_sms") == 0) {
            if (get_u(&s, a, 255, &v) == 0)
                o->one.comm_sms = (uint8_t)v;
        } else if (strcmp(name, "kernel_shape") == 0) {
            check_list(&s, a, nkernels, o);
        }
    }
    if (!has_cls && has_dim[0] && has_dim[1] && has_dim[2])
        o->one.cls = LOOM_K_GEMM;
    o->has_one = o->one.cls != LOOM_K_NONE;
    return s.count;
}

void et_shape_pack(const loom_kshape *k, uint64_t *f)
{
    f[0] = k->cls;
    f[1] = k->m;
    f[2] = k->n;
    f[3] = k->k;
    f[4] = k->batch;
    f[5] = k->dtype_bytes | (uint64_t)(k->causal ? 1 : 0) << 8 |
           (uint64_t)(k->dropout ? 1 : 0) << 9 | (uint64_t)k->comm_sms << 16;
}

loom_kshape et_shape_at(const et_nshape *s, uint32_t i)
{
    uint64_t f[LOOM_KSHAPE_FIELDS];
    for (int j = 0; j < LOOM_KSHAPE_FIELDS; j++)
        f[j] = et_attr_list_u64(s->list, (size_t)i * LOOM_KSHAPE_FIELDS + j);
    return (loom_kshape){.cls = (uint8_t)f[0], .m = (uint32_t)f[1], .n = (uint32_t)f[2],
                         .k = (uint32_t)f[3], .batch = (uint32_t)f[4],
                         .dtype_bytes = (uint8_t)(f[5] & 0xff), .causal = (uint8_t)(f[5] >> 8 & 1),
                         .dropout = (uint8_t)(f[5] >> 9 & 1), .comm_sms = (uint8_t)(f[5] >> 16)};
}

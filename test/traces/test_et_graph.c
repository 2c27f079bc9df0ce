/*
 * test_et_graph.c: loading a rank file into the compact graph.
 *
 * Fixture checks use facts stated independently of loom (the fixtures
 * README, the file names, ASTRA-sim's generators); the structure of every
 * loaded graph is cross-checked against the raw node messages read
 * through et_reader (a slow obvious path against the fast one).
 */
#include "et_graph.h"
#include "et_shape.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "et_io.h"
#include "et_testutil.h"

#define CHAKRA FIXTURES "/chakra"

static et_graph *load_ok(const char *path)
{
    loom_err err = {0, ""};
    et_graph *g = et_graph_load(path, &err);
    if (g == NULL)
        fail_msg("%s", err.msg);
    return g;
}

/* Loads path expecting LOOM_ETRACE with each of the words in the message. */
static void load_bad(const char *path, const char *w1, const char *w2)
{
    loom_err err = {0, ""};
    et_graph *g = et_graph_load(path, &err);
    if (g != NULL || err.code != LOOM_ETRACE || strstr(err.msg, path) == NULL ||
        strstr(err.msg, w1) == NULL || (w2 && strstr(err.msg, w2) == NULL))
        fail_msg("%s: loaded %d, code %d, message \"%s\", wanted \"%s\", "
                 "\"%s\"", path, g != NULL, err.code, err.msg, w1,
                 w2 ? w2 : "");
    et_graph_free(g);
}

/* Cross-checks g against the file read message by message: ids, types,
 * durations and names in file order; each node's kept dependencies are its
 * file dependencies minus the absent ids, in order; every edge appears in
 * its target's successor list, in the right half, and nowhere else. */
static void check_against_file(const et_graph *g)
{
    loom_err err = {0, ""};
    et_reader *r = et_reader_open(g->path, &err);
    assert_non_null(r);
    ChakraProtoMsg__Node *nd;
    size_t i = 0;
    uint64_t dangling = 0, edges = 0;
    while (et_reader_next(r, &nd, &err) == 1) {
        assert_true(i < g->n);
        const et_gnode *gn = &g->nodes[i];
        assert_true(gn->id == nd->id);
        assert_int_equal(gn->type, nd->type);
        assert_true(gn->duration_ns == nd->duration_micros * 1000);
        assert_string_equal(et_gnode_name(g, gn), nd->name);
        for (int kind = 0; kind < 2; kind++) {
            size_t nraw = kind ? nd->n_ctrl_deps : nd->n_data_deps;
            const uint64_t *raw = kind ? nd->ctrl_deps : nd->data_deps;
            uint32_t first = gn->dep + (kind ? gn->ndata : 0);
            uint32_t nk = kind ? gn->nctrl : gn->ndata, k = 0;
            for (size_t j = 0; j < nraw; j++) {
                /* slow lookup: linear scan for the id */
                size_t t;
                for (t = 0; t < g->n && g->nodes[t].id != raw[j]; t++)
                    ;
                if (t == g->n) {
                    dangling++;
                    continue;
                }
                assert_true(k < nk);
                assert_int_equal(g->deps[first + k], t);
                k++;
                /* i must be in t's successors, in the half for this kind */
                const et_gnode *tn = &g->nodes[t];
                uint32_t s0 = tn->succ + (kind ? tn->nsucc_data : 0);
                uint32_t sn = kind ? tn->nsucc_ctrl : tn->nsucc_data, q;
                for (q = 0; q < sn && g->succ[s0 + q] != i; q++)
                    ;
                assert_true(q < sn);
                edges++;
            }
            assert_int_equal(k, nk);
        }
        et_node_free(nd);
        i++;
    }
    et_reader_close(r);
    assert_int_equal(i, g->n);
    assert_true(dangling == g->dangling_deps);
    /* as many successor entries as kept edges, each section ascending */
    uint64_t nsucc = 0;
    for (size_t j = 0; j < g->n; j++) {
        const et_gnode *gn = &g->nodes[j];
        nsucc += gn->nsucc_data + gn->nsucc_ctrl;
        for (uint32_t q = 1; q < gn->nsucc_data; q++)
            assert_true(g->succ[gn->succ + q - 1] <= g->succ[gn->succ + q]);
        for (uint32_t q = 1; q < gn->nsucc_ctrl; q++)
            assert_true(g->succ[gn->succ + gn->nsucc_data + q - 1] <=
                        g->succ[gn->succ + gn->nsucc_data + q]);
    }
    assert_true(nsucc == edges);
    /* file size and digest of the decompressed bytes, read independently */
    size_t n;
    uint8_t *bytes = tu_read_all(g->path, &n);
    assert_true(g->file_bytes == n);
    assert_true(g->digest == et_digest(bytes, n));
    free(bytes);
}

static void test_micro_all_reduce(void **state)
{
    (void)state;
    et_graph *g = load_ok(CHAKRA "/micro_all_reduce_8npus_1MB/all_reduce.0.et");
    assert_int_equal(g->n, 1);
    assert_int_equal(g->has_metadata, 1);
    assert_string_equal(g->version, "0.0.4");
    const et_gnode *n = &g->nodes[0];
    assert_int_equal(n->type, ET_COMM_COLL_NODE);
    assert_int_equal(n->comm_type, ET_ALL_REDUCE);
    assert_true(n->comm_size == 1048576);
    assert_int_equal(n->flags, ET_F_HAS_CTYPE | ET_F_HAS_CSIZE); /* cpu: false */
    assert_int_equal(n->involved_dim, ET_DIMS_ALL);
    assert_int_equal(n->involved_n, 0);
    assert_int_equal(n->pg, 0);
    assert_int_equal(g->npg, 1);
    assert_string_equal(g->pg_names[0], "");
    assert_string_equal(et_gnode_name(g, n), "all_reduce_8npus_1MB");
    assert_int_equal(g->file_bytes, 81);
    check_against_file(g);
    et_graph_free(g);

    /* ASTRA-sim's microbenchmark ranks differ only in the node id (= rank),
     * so their digests differ; the tutorial's 8 ranks are one file */
    et_graph *g7 = load_ok(CHAKRA "/micro_all_reduce_8npus_1MB/all_reduce.7.et");
    assert_true(g7->nodes[0].id == 7);
    assert_int_equal(g7->file_bytes, 83);
    et_graph *g0 = load_ok(CHAKRA "/micro_all_reduce_8npus_1MB/all_reduce.0.et");
    assert_true(g7->digest != g0->digest);
    et_graph_free(g7);
    et_graph_free(g0);
    g0 = load_ok(CHAKRA "/tutorial_allreduce_8npus_2dim/allreduce.0.et");
    g7 = load_ok(CHAKRA "/tutorial_allreduce_8npus_2dim/allreduce.7.et");
    assert_true(g7->digest == g0->digest);
    assert_true(g7->file_bytes == g0->file_bytes);
    et_graph_free(g7);
    et_graph_free(g0);
}

static void test_pytorch_converted(void **state)
{
    (void)state;
    et_graph *g = load_ok(CHAKRA "/pytorch_converted_1rank/chakra.0.et.gz");
    /* fixtures README: 3,664 nodes, 1,277 ctrl_deps to absent ids */
    assert_int_equal(g->n, 3664);
    assert_true(g->dangling_deps == 1277);
    assert_int_equal(g->has_metadata, 1);
    assert_string_equal(g->version, ""); /* schema "1.0.1" is an attr */
    check_against_file(g);
    et_graph_free(g);
}

static void test_legacy_resnet(void **state)
{
    (void)state;
    et_graph *g =
        load_ok(CHAKRA "/legacy_resnet50_dp_64npus/resnet50_DataParallel.0.et");
    assert_int_equal(g->n, 215);
    assert_int_equal(g->has_metadata, 0);
    assert_string_equal(g->version, "");
    /* old format: dependencies in ctrl_deps only */
    uint64_t ctrl = 0;
    for (size_t i = 0; i < g->n; i++) {
        assert_int_equal(g->nodes[i].ndata, 0);
        ctrl += g->nodes[i].nctrl;
    }
    assert_true(ctrl > 0);
    assert_true(g->dangling_deps == 0);
    check_against_file(g);
    et_graph_free(g);
}

static void test_two_dim_and_p2p(void **state)
{
    (void)state;
    et_graph *g = load_ok(CHAKRA "/tutorial_allreduce_8npus_2dim/allreduce.0.et");
    assert_int_equal(g->n, 1);
    assert_int_equal(g->nodes[0].involved_dim, 3); /* [true, true] */
    assert_int_equal(g->nodes[0].involved_n, 2);
    et_graph_free(g);

    /* README: 14 sends, 14 receives, 7 reductions per rank; the ring sends
     * to rank+1 and receives from rank-1 */
    g = load_ok(CHAKRA "/custom_ring_allreduce_8npus_1MB/custom_allreduce.0.et");
    int cnt[ET_NODE_TYPES] = {0};
    for (size_t i = 0; i < g->n; i++) {
        const et_gnode *n = &g->nodes[i];
        cnt[n->type]++;
        if (n->type == ET_COMM_SEND_NODE) {
            assert_true(n->flags & ET_F_HAS_DST);
            assert_true(n->flags & ET_F_HAS_TAG);
            assert_int_equal(n->comm_dst, 1);
            assert_true(n->comm_size == 131072); /* 1 MiB / 8 */
        }
        if (n->type == ET_COMM_RECV_NODE) {
            assert_true(n->flags & ET_F_HAS_SRC);
            assert_int_equal(n->comm_src, 7);
        }
    }
    assert_int_equal(cnt[ET_COMM_SEND_NODE], 14);
    assert_int_equal(cnt[ET_COMM_RECV_NODE], 14);
    assert_int_equal(cnt[ET_COMP_NODE], 7);
    check_against_file(g);
    et_graph_free(g);
}

/* Every fixture folder: rank count from its name/README, and every rank
 * loads and matches its file. */
static void test_every_folder(void **state)
{
    (void)state;
    static const struct {
        const char *prefix;
        int ranks;
    } f[] = {
        {"micro_all_reduce_4npus_1MB/all_reduce", 4},
        {"micro_all_reduce_16npus_1MB/all_reduce", 16},
        {"micro_all_gather_8npus_1MB/all_gather", 8},
        {"micro_reduce_scatter_16npus_1MB/reduce_scatter", 16},
        {"micro_all_to_all_4npus_1MB/all_to_all", 4},
        {"custom_ring_allreduce_8npus_1MB/custom_allreduce", 8},
        {"legacy_resnet50_dp_64npus/resnet50_DataParallel", 64},
        {"tutorial_allreduce_8npus_2dim/allreduce", 8},
        {"tutorial_mlp_model_parallel_32npus/MLP_ModelParallel", 32},
        {"pytorch_converted_1rank/chakra", 1},
    };
    char path[512], prefix[512];
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
        snprintf(prefix, sizeof prefix, "%s/%s", CHAKRA, f[k].prefix);
        assert_int_equal(et_count_ranks(prefix), f[k].ranks);
        for (int r = 0; r < f[k].ranks; r++) {
            assert_int_equal(et_rank_path(prefix, r, path, sizeof path), 0);
            et_graph *g = load_ok(path);
            check_against_file(g);
            if (strstr(prefix, "MLP") != NULL)
                assert_int_equal(g->n, 29); /* README: 29 nodes per rank */
            et_graph_free(g);
        }
    }
}

static void test_ids_sparse_forward_dangling(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), *p = tu_path(tmp, "t.0.et");
    tb b = {0};
    ChakraProtoMsg__Node *n[4];
    n[0] = tb_node(&b, 1000, ET_COMP_NODE, "a");
    tb_data(&b, n[0], 77); /* forward */
    tb_data(&b, n[0], 4242); /* absent */
    n[1] = tb_node(&b, 5, ET_COMP_NODE, NULL);
    tb_ctrl(&b, n[1], 1000);
    tb_data(&b, n[1], 77);
    n[2] = tb_node(&b, 77, ET_COMP_NODE, "c");
    tb_ctrl(&b, n[2], 12345); /* absent */
    n[3] = tb_node(&b, UINT64_MAX, ET_METADATA_NODE, "d");
    tb_ctrl(&b, n[3], 5);
    tb_ctrl(&b, n[3], 1000);
    tb_write(p, "1.0.0", n, 4, 0);
    et_graph *g = load_ok(p);
    assert_int_equal(g->n, 4);
    assert_true(g->dangling_deps == 2);
    assert_string_equal(g->version, "1.0.0");
    const et_gnode *a = &g->nodes[0], *bb = &g->nodes[1], *c = &g->nodes[2],
                   *d = &g->nodes[3];
    assert_int_equal(a->ndata, 1);
    assert_int_equal(a->nctrl, 0);
    assert_int_equal(g->deps[a->dep], 2);
    assert_int_equal(bb->ndata, 1);
    assert_int_equal(bb->nctrl, 1);
    assert_int_equal(g->deps[bb->dep], 2);     /* data first */
    assert_int_equal(g->deps[bb->dep + 1], 0); /* then ctrl */
    assert_string_equal(et_gnode_name(g, bb), "");
    assert_int_equal(c->ndata + c->nctrl, 0);
    assert_int_equal(d->nctrl, 2);
    /* successors of 77 (index 2): data from 1000 and 5, in file order */
    assert_int_equal(c->nsucc_data, 2);
    assert_int_equal(c->nsucc_ctrl, 0);
    assert_int_equal(g->succ[c->succ], 0);
    assert_int_equal(g->succ[c->succ + 1], 1);
    /* successors of 1000: ctrl from 5 and UINT64_MAX */
    assert_int_equal(a->nsucc_data, 0);
    assert_int_equal(a->nsucc_ctrl, 2);
    assert_int_equal(g->succ[a->succ], 1);
    assert_int_equal(g->succ[a->succ + 1], 3);
    check_against_file(g);
    et_graph_free(g);
    tb_free(&b);
    free(p);
    tu_rmtree(tmp);
}

static void test_attribute_kinds(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), *p = tu_path(tmp, "k.0.et");
    tb b = {0};
    ChakraProtoMsg__Node *n[6];
    n[0] = tb_node(&b, 1, ET_COMP_NODE, "cpu");
    tb_i32(&b, n[0], "is_cpu_op", 0);
    tb_bool(&b, n[0], "is_cpu_op", 1); /* the last one wins */
    tb_i64(&b, n[0], "num_ops", 1000000);
    tb_u64(&b, n[0], "tensor_size", 4096);
    n[1] = tb_node(&b, 2, ET_COMM_COLL_NODE, "coll");
    tb_u64(&b, n[1], "comm_size", 1ull << 40);
    tb_i32(&b, n[1], "comm_type", ET_REDUCE_SCATTER);
    tb_str(&b, n[1], "pg_name", "tp0");
    tb_i32(&b, n[1], "comm_priority", -3);
    {
        ChakraProtoMsg__AttributeProto *a = tb_attr(&b, n[1], "involved_dim");
        ChakraProtoMsg__Int32List *l = tb_alloc(&b, sizeof *l);
        chakra_proto_msg__int32_list__init(l);
        l->values = tb_alloc(&b, 3 * sizeof *l->values);
        l->values[0] = 1, l->values[1] = 0, l->values[2] = 1;
        l->n_values = 3;
        a->value_case = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_INT32_LIST;
        a->int32_list = l;
    }
    n[2] = tb_node(&b, 3, ET_COMM_SEND_NODE, "send");
    tb_i64(&b, n[2], "comm_dst", 3);
    tb_bool(&b, n[2], "comm_tag", 1);
    tb_i64(&b, n[2], "comm_type", 5); /* as converters write it */
    tb_i64(&b, n[2], "comm_size", 64);
    n[3] = tb_node(&b, 4, ET_COMM_COLL_NODE, "coll2");
    tb_i64(&b, n[3], "pg_name", 12); /* an integer pg_name: "12" */
    {
        ChakraProtoMsg__AttributeProto *a = tb_attr(&b, n[3], "comm_src");
        a->value_case = CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_SFIXED64_VAL;
        a->sfixed64_val = -7;
    }
    int all[32];
    for (int i = 0; i < 32; i++)
        all[i] = 1;
    tb_bools(&b, n[3], "involved_dim", all, 32);
    n[4] = tb_node(&b, 5, ET_COMM_COLL_NODE, "coll3");
    tb_str(&b, n[4], "pg_name", "tp0");
    tb_str(&b, n[4], "unrelated", "strings are fine elsewhere");
    tb_dbl(&b, n[4], "also_unrelated", 2.5);
    n[5] = tb_node(&b, 6, ET_COMM_COLL_NODE, "coll4");
    tb_str(&b, n[5], "pg_name", "");
    tb_write(p, "0.0.4", n, 6, 1);

    et_graph *g = load_ok(p);
    const et_gnode *x = &g->nodes[0];
    assert_int_equal(x->flags, ET_F_CPU | ET_F_HAS_OPS | ET_F_HAS_TSIZE);
    assert_true(x->num_ops == 1000000);
    assert_true(x->tensor_size == 4096);
    x = &g->nodes[1];
    assert_true(x->comm_size == 1ull << 40);
    assert_int_equal(x->comm_type, ET_REDUCE_SCATTER);
    assert_int_equal(x->comm_priority, -3);
    assert_int_equal(x->involved_dim, 5);
    assert_int_equal(x->involved_n, 3);
    assert_string_equal(g->pg_names[x->pg], "tp0");
    x = &g->nodes[2];
    assert_int_equal(x->flags, ET_F_HAS_DST | ET_F_HAS_TAG | ET_F_HAS_CTYPE |
                                   ET_F_HAS_CSIZE);
    assert_int_equal(x->comm_dst, 3);
    assert_int_equal(x->comm_tag, 1);
    x = &g->nodes[3];
    assert_string_equal(g->pg_names[x->pg], "12");
    assert_int_equal(x->comm_src, -7);
    assert_int_equal(x->involved_dim, 0xffffffffu);
    assert_int_equal(x->involved_n, 32);
    assert_int_equal(g->nodes[4].pg, g->nodes[1].pg); /* interned */
    assert_int_equal(g->nodes[5].pg, 0);
    assert_int_equal(g->npg, 3);
    check_against_file(g);
    et_graph_free(g);
    tb_free(&b);
    free(p);
    tu_rmtree(tmp);
}

/* Many distinct communicators: the intern table grows and stays exact. */
static void test_many_pg_names(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), *p = tu_path(tmp, "pg.0.et");
    tb b = {0};
    enum { N = 3000 };
    ChakraProtoMsg__Node **n = tb_alloc(&b, N * sizeof *n);
    char name[32];
    for (int i = 0; i < N; i++) {
        n[i] = tb_node(&b, (uint64_t)i + 1, ET_COMM_COLL_NODE, NULL);
        snprintf(name, sizeof name, "group%d", i % 1000);
        tb_str(&b, n[i], "pg_name", name);
    }
    tb_write(p, "0.0.4", n, N, 0);
    et_graph *g = load_ok(p);
    assert_int_equal(g->npg, 1001);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "group%d", i % 1000);
        assert_string_equal(g->pg_names[g->nodes[i].pg], name);
        assert_int_equal(g->nodes[i].pg, g->nodes[i % 1000].pg);
    }
    et_graph_free(g);
    tb_free(&b);
    free(p);
    tu_rmtree(tmp);
}

/* Stream values: interned in first-seen order (nodes of one stream share
 * an index, 0 means none); a file with more than ET_MAX_STREAMS distinct
 * values (a per-op id in `stream`) is refused, naming the limit. */
static void test_stream_values(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), *p = tu_path(tmp, "st.0.et");
    tb b = {0};
    enum { N = ET_MAX_STREAMS + 1 };
    ChakraProtoMsg__Node **n = tb_alloc(&b, N * sizeof *n);
    for (int i = 0; i < 6; i++) {
        n[i] = tb_node(&b, (uint64_t)i + 1, ET_COMP_NODE, NULL);
        if (i != 5)
            tb_i64(&b, n[i], "stream", i % 2 ? 20 : -7);
    }
    tb_write(p, "0.0.4", n, 6, 0);
    et_graph *g = load_ok(p);
    assert_int_equal(g->nstreams, 2);
    assert_true(g->streams[0] == -7 && g->streams[1] == 20);
    int want[6] = {1, 2, 1, 2, 1, 0};
    for (int i = 0; i < 6; i++)
        assert_int_equal(g->nodes[i].stream, want[i]);
    et_graph_free(g);
    for (int i = 0; i < N; i++) {
        n[i] = tb_node(&b, (uint64_t)i + 1, ET_COMP_NODE, NULL);
        tb_i64(&b, n[i], "stream", 1000 + i);
    }
    tb_write(p, "0.0.4", n, N, 0);
    loom_err err = {0};
    assert_null(et_graph_load(p, &err));
    assert_non_null(strstr(err.msg, "more than 65535 distinct stream values"));
    tb_free(&b);
    free(p);
    tu_rmtree(tmp);
}

/* Writes one node to dir/name after a fine node 1 and returns the path. */
static char *one_bad(const char *dir, const char *name,
                     ChakraProtoMsg__Node *bad)
{
    tb b = {0};
    ChakraProtoMsg__Node *n[2];
    n[0] = tb_node(&b, 1, ET_COMP_NODE, "fine");
    n[1] = bad;
    char *p = tu_path(dir, name);
    tb_write(p, "0.0.4", n, 2, 0);
    tb_free(&b);
    return p;
}

static void test_bad_graphs(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), *p;
    tb b = {0};
    ChakraProtoMsg__Node *x;

    x = tb_node(&b, 9, ET_COMP_NODE, "ops");
    tb_str(&b, x, "num_ops", "1e9");
    p = one_bad(tmp, "str_ops.0.et", x);
    load_bad(p, "node 9", "num_ops is a string_val");
    free(p);

    x = tb_node(&b, 10, ET_COMM_COLL_NODE, "f");
    tb_dbl(&b, x, "comm_size", 1024.0);
    p = one_bad(tmp, "dbl.0.et", x);
    load_bad(p, "node 10", "comm_size is a double_val");
    free(p);

    x = tb_node(&b, 11, ET_COMM_COLL_NODE, "neg");
    tb_i64(&b, x, "comm_size", -5);
    p = one_bad(tmp, "neg.0.et", x);
    load_bad(p, "node 11", "negative");
    free(p);

    x = tb_node(&b, 12, ET_COMM_COLL_NODE, "ctype");
    tb_i64(&b, x, "comm_type", 42);
    p = one_bad(tmp, "ctype.0.et", x);
    load_bad(p, "node 12", "comm_type 42");
    free(p);

    x = tb_node(&b, 13, 12, "type");
    p = one_bad(tmp, "type.0.et", x);
    load_bad(p, "node 13", "unknown node type 12");
    free(p);

    x = tb_node(&b, 14, ET_COMM_SEND_NODE, "big");
    tb_i64(&b, x, "comm_dst", 1ll << 40);
    p = one_bad(tmp, "big.0.et", x);
    load_bad(p, "node 14", "does not fit in int32");
    free(p);

    int many[33] = {0};
    x = tb_node(&b, 15, ET_COMM_COLL_NODE, "dims");
    tb_bools(&b, x, "involved_dim", many, 33);
    p = one_bad(tmp, "dims.0.et", x);
    load_bad(p, "node 15", "33 entries");
    free(p);

    x = tb_node(&b, 16, ET_COMM_COLL_NODE, "dims2");
    tb_i64(&b, x, "involved_dim", 1);
    p = one_bad(tmp, "dims2.0.et", x);
    load_bad(p, "node 16", "involved_dim is a int64_val");
    free(p);

    x = tb_node(&b, 1, ET_COMP_NODE, "again");
    p = one_bad(tmp, "dup.0.et", x);
    load_bad(p, "node id 1 appears twice", NULL);
    free(p);

    /* reader errors come through with the file named */
    p = tu_path(tmp, "missing.0.et");
    load_bad(p, "cannot open", NULL);
    free(p);
    p = tu_path(tmp, "empty.0.et");
    tu_write(p, "", 0);
    load_bad(p, "empty", NULL);
    free(p);

    /* metadata only: a valid, empty graph */
    p = tu_path(tmp, "nothing.0.et");
    tb_write(p, "1.0.0", NULL, 0, 0);
    et_graph *g = load_ok(p);
    assert_int_equal(g->n, 0);
    et_graph_free(g);
    free(p);
    et_graph_free(NULL);

    tb_free(&b);
    tu_rmtree(tmp);
}

/* A fused compute node (loom gen llm --granularity layer) keeps its
 * kernels' (FLOPs, bytes) in kwork; malformed kernel lists are refused with
 * the node named. */
static void test_fused_kernels(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), *p;
    tb b = {0};
    const int64_t fl[3] = {100, 0, 300}, by[3] = {10, 20, 30}, neg[2] = {1, -2};

    ChakraProtoMsg__Node *n[3];
    n[0] = tb_node(&b, 1, ET_COMP_NODE, "plain");
    tb_i64(&b, n[0], "num_ops", 7);
    n[1] = tb_node(&b, 2, ET_COMP_NODE, "L0.F0.qkv+");
    tb_data(&b, n[1], 1);
    tb_i64(&b, n[1], "num_ops", 400);
    tb_i64s(&b, n[1], "kernel_flops", fl, 3);
    tb_i64s(&b, n[1], "kernel_bytes", by, 3);
    n[2] = tb_node(&b, 3, ET_COMP_NODE, "L1.F0.qkv+");
    tb_data(&b, n[2], 2);
    tb_i64s(&b, n[2], "kernel_flops", fl + 2, 1);
    tb_i64s(&b, n[2], "kernel_bytes", by + 2, 1);
    p = tu_path(tmp, "fused.0.et");
    tb_write(p, "0.0.4", n, 3, 0);
    et_graph *g = load_ok(p);
    assert_int_equal(g->n, 3);
    assert_int_equal(g->nodes[0].nkern, 0);
    assert_int_equal(g->nodes[1].nkern, 3);
    assert_int_equal(g->nodes[2].nkern, 1);
    assert_int_equal(g->nkwork, 4);
    const uint64_t want[8] = {100, 10, 0, 20, 300, 30, 300, 30};
    for (int i = 0; i < 8; i++)
        assert_int_equal(g->kwork[i], want[i]);
    assert_int_equal(g->nodes[2].kern, 3);
    et_graph_free(g);
    free(p);

    ChakraProtoMsg__Node *x;
    x = tb_node(&b, 20, ET_COMP_NODE, "half");
    tb_i64s(&b, x, "kernel_flops", fl, 3);
    p = one_bad(tmp, "half.0.et", x);
    load_bad(p, "node 20", "kernel_flops without kernel_bytes");
    free(p);

    x = tb_node(&b, 21, ET_COMP_NODE, "len");
    tb_i64s(&b, x, "kernel_flops", fl, 3);
    tb_i64s(&b, x, "kernel_bytes", by, 2);
    p = one_bad(tmp, "len.0.et", x);
    load_bad(p, "node 21", "have 3 and 2 entries");
    free(p);

    x = tb_node(&b, 22, ET_COMP_NODE, "neg");
    tb_i64s(&b, x, "kernel_flops", neg, 2);
    tb_i64s(&b, x, "kernel_bytes", by, 2);
    p = one_bad(tmp, "negk.0.et", x);
    load_bad(p, "node 22", "kernel_flops entry 1 is negative");
    free(p);

    x = tb_node(&b, 23, ET_COMM_COLL_NODE, "coll");
    tb_i64s(&b, x, "kernel_flops", fl, 1);
    tb_i64s(&b, x, "kernel_bytes", by, 1);
    p = one_bad(tmp, "coll.0.et", x);
    load_bad(p, "node 23", "only compute nodes carry kernels");
    free(p);

    x = tb_node(&b, 24, ET_COMP_NODE, "str");
    tb_str(&b, x, "kernel_flops", "1,2");
    tb_i64s(&b, x, "kernel_bytes", by, 1);
    p = one_bad(tmp, "str.0.et", x);
    load_bad(p, "node 24", "kernel_flops is a string_val, not an integer list");
    free(p);

    x = tb_node(&b, 25, ET_COMP_NODE, "empty");
    tb_i64s(&b, x, "kernel_flops", fl, 0);
    tb_i64s(&b, x, "kernel_bytes", by, 0);
    p = one_bad(tmp, "empty.0.et", x);
    load_bad(p, "node 25", "have 0 and 0 entries");
    free(p);

    tb_free(&b);
    tu_rmtree(tmp);
}

static void test_rank_paths_and_names(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), *pre = tu_path(tmp, "w");
    char *p0 = tu_path(tmp, "w.0.et"), *p1 = tu_path(tmp, "w.1.et.gz");
    tb b = {0};
    ChakraProtoMsg__Node *n = tb_node(&b, 1, ET_COMP_NODE, "x");
    tb_write(p0, "0.0.4", &n, 1, 0);
    tb_write(p1, "0.0.4", &n, 1, 1);
    char out[512];
    assert_int_equal(et_rank_path(pre, 0, out, sizeof out), 0);
    assert_string_equal(out, p0);
    assert_int_equal(et_rank_path(pre, 1, out, sizeof out), 0);
    assert_string_equal(out, p1);
    assert_int_equal(et_rank_path(pre, 2, out, sizeof out), -1);
    assert_non_null(strstr(out, "w.2.et"));
    assert_int_equal(et_rank_path(pre, 0, out, 4), -1); /* does not fit */
    assert_int_equal(et_count_ranks(pre), 2);
    /* the gzip rank loads like the plain one, to the same digest */
    et_graph *g0 = load_ok(p0), *g1 = load_ok(p1);
    assert_true(g0->digest == g1->digest);
    assert_true(g0->file_bytes == g1->file_bytes);
    et_graph_free(g0);
    et_graph_free(g1);

    assert_string_equal(et_node_type_name(ET_COMM_COLL_NODE), "COMM_COLL_NODE");
    assert_string_equal(et_node_type_name(ET_INVALID_NODE), "INVALID_NODE");
    assert_string_equal(et_node_type_name(8), "?");
    assert_string_equal(et_coll_type_name(ET_BARRIER), "BARRIER");
    assert_string_equal(et_coll_type_name(-1), "?");
    tb_free(&b);
    free(p0);
    free(p1);
    free(pre);
    tu_rmtree(tmp);
}

/* The rank count by probing each name with et_rank_path, the definition
 * et_count_ranks' listing must agree with. */
static int probed(const char *prefix)
{
    char out[512];
    int r = 0;
    while (et_rank_path(prefix, r, out, sizeof out) == 0)
        r++;
    return r;
}

/* et_count_ranks from one listing of the folder: names that are not
 * "<prefix>.<r>.et[.gz]" with r as et_rank_path writes it (no leading
 * zero, no other stem or suffix) do not count, a gap ends the count, a
 * dangling link is a rank (et_rank_path's rule), a prefix without a
 * folder is in the working one, and a folder that can be listed but not
 * searched counts what the names say (nothing).  Every count equals the
 * probe's. */
static void test_count_listing(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), *pre = tu_path(tmp, "c");
    /* none of the names after c.2.et is rank 1's */
    const char *names[] = {"c.0.et", "c.2.et", "c.4.et", "c.01.et", "cx.1.et", "c.1.txt",
                           "c.1.et.bak", "c.1", "c..1.et", "c.+1.et", "c.1.et.gz"};
    size_t nn = sizeof names / sizeof names[0];
    for (size_t i = 0; i < nn; i++) {
        char *p = tu_path(tmp, names[i]);
        if (i < nn - 1)
            tu_write(p, "x", 1);
        free(p);
    }
    assert_int_equal(et_count_ranks(pre), 1);
    assert_int_equal(probed(pre), 1);
    char *gz = tu_path(tmp, names[nn - 1]);
    tu_write(gz, "x", 1);
    free(gz);
    assert_int_equal(et_count_ranks(pre), 3);
    assert_int_equal(probed(pre), 3);
    char *link = tu_path(tmp, "c.3.et"), *gone = tu_path(tmp, "nowhere");
    assert_int_equal(symlink(gone, link), 0);
    assert_int_equal(et_count_ranks(pre), 5);
    assert_int_equal(probed(pre), 5);
    char out[512];
    struct stat st;
    assert_int_equal(et_rank_stat(pre, 3, out, sizeof out, &st), 1); /* there, leads nowhere */
    assert_string_equal(out, link);
    assert_int_equal(et_rank_stat(pre, 1, out, sizeof out, &st), 0);
    assert_non_null(strstr(out, "c.1.et.gz"));
    assert_int_equal(et_rank_stat(pre, 5, out, sizeof out, &st), -1);
    int cwd = open(".", O_RDONLY);
    assert_true(cwd >= 0 && chdir(tmp) == 0);
    assert_int_equal(et_count_ranks("c"), 5);
    assert_int_equal(fchdir(cwd), 0);
    close(cwd);
    if (geteuid() != 0) { /* root searches any folder */
        assert_int_equal(chmod(tmp, 0600), 0);
        assert_int_equal(et_count_ranks(pre), probed(pre));
        assert_int_equal(et_count_ranks(pre), 0);
        assert_int_equal(chmod(tmp, 0700), 0);
    }
    assert_int_equal(unlink(link), 0);
    free(link);
    free(gone);
    free(pre);
    tu_rmtree(tmp);
}

/* Kernel shapes (traces/et_shape.h): a plain node's named attributes, a
 * fused node's kernel_shape list, gemm_m/n/k without a class taken as a
 * GEMM, and malformed values named. */
static void test_kernel_shapes(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), *p;
    tb b = {0};
    ChakraProtoMsg__Node *n[5];
    n[0] = tb_node(&b, 1, ET_COMP_NODE, "gemm");
    tb_str(&b, n[0], "kernel_class", "gemm");
    tb_u64(&b, n[0], "gemm_m", 4096);
    tb_u64(&b, n[0], "gemm_n", 1025);
    tb_u64(&b, n[0], "gemm_k", 512);
    tb_u64(&b, n[0], "gemm_batch", 3);
    tb_i64(&b, n[0], "dtype_bytes", 2);
    tb_i64(&b, n[0], "comm_sms", 16);
    n[1] = tb_node(&b, 2, ET_COMP_NODE, "attn");
    tb_str(&b, n[1], "kernel_class", "attention_bwd");
    tb_u64(&b, n[1], "gemm_m", 2048);
    tb_bool(&b, n[1], "causal", 1);
    tb_i64(&b, n[1], "attention_dropout", 1);
    n[2] = tb_node(&b, 3, ET_COMP_NODE, "noclass");
    tb_i64(&b, n[2], "gemm_m", 1);
    tb_i64(&b, n[2], "gemm_n", 2);
    tb_i64(&b, n[2], "gemm_k", 3);
    n[3] = tb_node(&b, 4, ET_COMP_NODE, "fused+");
    const int64_t fl[2] = {100, 200}, by[2] = {10, 20};
    /* kernel 0: GEMM 8 x 16 x 32 batch 1 bf16 beside communication on 24
     * SMs; kernel 1: causal attention with dropout inside */
    const int64_t sh[12] = {1, 8, 16, 32, 1, 2 + 24 * 65536, 2, 64, 64, 128, 4, 2 + 256 + 512};
    tb_i64s(&b, n[3], "kernel_flops", fl, 2);
    tb_i64s(&b, n[3], "kernel_bytes", by, 2);
    tb_i64s(&b, n[3], "kernel_shape", sh, 12);
    n[4] = tb_node(&b, 5, ET_COMP_NODE, "ln");
    tb_str(&b, n[4], "kernel_class", "norm");
    p = tu_path(tmp, "shapes.0.et");
    tb_write(p, "0.0.4", n, 5, 0);
    et_graph *g = load_ok(p);
    assert_int_equal(g->nkshape, 6);
    assert_int_equal(g->kshape[g->nodes[4].shape - 1].cls, LOOM_K_NORM);
    assert_string_equal(et_kclass_name(LOOM_K_NORM), "norm");
    const loom_kshape *s = &g->kshape[g->nodes[0].shape - 1];
    assert_int_equal(s->cls, LOOM_K_GEMM);
    assert_int_equal(s->m, 4096);
    assert_int_equal(s->n, 1025);
    assert_int_equal(s->k, 512);
    assert_int_equal(s->batch, 3);
    assert_int_equal(s->dtype_bytes, 2);
    assert_int_equal(s->comm_sms, 16);
    s = &g->kshape[g->nodes[1].shape - 1];
    assert_int_equal(s->cls, LOOM_K_ATTN_BWD);
    assert_int_equal(s->causal, 1);
    assert_int_equal(s->dropout, 1);
    assert_int_equal(g->kshape[g->nodes[0].shape - 1].dropout, 0);
    assert_int_equal(g->kshape[g->nodes[2].shape - 1].cls, LOOM_K_GEMM);
    s = &g->kshape[g->nodes[3].shape - 1];
    assert_int_equal(s[0].cls, LOOM_K_GEMM);
    assert_int_equal(s[0].k, 32);
    assert_int_equal(s[0].dtype_bytes, 2);
    assert_int_equal(s[0].comm_sms, 24);
    assert_int_equal(s[0].causal, 0);
    assert_int_equal(s[0].dropout, 0);
    assert_int_equal(s[1].cls, LOOM_K_ATTN);
    assert_int_equal(s[1].comm_sms, 0);
    assert_int_equal(s[1].batch, 4);
    assert_int_equal(s[1].dtype_bytes, 2);
    assert_int_equal(s[1].causal, 1);
    assert_int_equal(s[1].dropout, 1);
    et_graph_free(g);
    free(p);

    ChakraProtoMsg__Node *x = tb_node(&b, 30, ET_COMP_NODE, "bad");
    tb_str(&b, x, "kernel_class", "matmul");
    p = one_bad(tmp, "cls.0.et", x);
    load_bad(p, "node 30", "kernel_class is not one of gemm, attention, attention_bwd, "
                           "elementwise, dropout, norm (a string_val)");
    free(p);
    x = tb_node(&b, 31, ET_COMP_NODE, "neg");
    tb_i64(&b, x, "gemm_m", -4);
    p = one_bad(tmp, "neg.0.et", x);
    load_bad(p, "node 31", "gemm_m = -4 is out of range");
    free(p);
    /* a shape list for 2 kernels that holds one's; a packed entry with
     * bits between dropout and comm_sms set */
    const int64_t bad[6] = {1, 8, 16, 32, 1, 2 + 1024};
    const struct { uint64_t id; const int64_t *sh; int nk; const char *want; } lists[] = {
        {32, sh, 2, "kernel_shape has 6 entries; 2 kernels need 12"},
        {35, bad, 1, "kernel_shape entry 5 (kernel 0) = 1026 is out of range"},
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        char node[16];
        x = tb_node(&b, lists[i].id, ET_COMP_NODE, "list");
        tb_i64s(&b, x, "kernel_flops", fl, lists[i].nk);
        tb_i64s(&b, x, "kernel_bytes", by, lists[i].nk);
        tb_i64s(&b, x, "kernel_shape", lists[i].sh, 6);
        p = one_bad(tmp, "list.0.et", x);
        snprintf(node, sizeof node, "node %u", (unsigned)lists[i].id);
        load_bad(p, node, lists[i].want);
        free(p);
    }
    x = tb_node(&b, 34, ET_COMP_NODE, "sms");
    tb_i64(&b, x, "comm_sms", 256);
    p = one_bad(tmp, "sms.0.et", x);
    load_bad(p, "node 34", "comm_sms = 256 is out of range 0 .. 255");
    free(p);
    x = tb_node(&b, 33, ET_COMM_COLL_NODE, "coll");
    tb_u64(&b, x, "gemm_m", 4);
    p = one_bad(tmp, "coll.0.et", x);
    load_bad(p, "node 33", "only compute nodes have kernel shapes");
    free(p);
    /* a collective's own comm_sms: the SMs it holds (0 .. 255); 0 is kept
     * apart from absent; a send may not carry it */
    const int csms[3] = {24, 0, -1};
    for (int k = 0; k < 3; k++) {
        x = tb_node(&b, 36, ET_COMM_COLL_NODE, "ar");
        tb_i64(&b, x, "comm_type", ET_ALL_REDUCE);
        tb_u64(&b, x, "comm_size", 64);
        if (csms[k] >= 0)
            tb_i64(&b, x, "comm_sms", csms[k]);
        p = one_bad(tmp, "csms.0.et", x);
        et_graph *cg = load_ok(p);
        assert_int_equal(!!(cg->nodes[1].xflags & ET_X_HAS_CSMS), csms[k] >= 0); /* after node 1 */
        assert_int_equal(cg->nodes[1].csms, csms[k] > 0 ? csms[k] : 0);
        et_graph_free(cg);
        free(p);
    }
    x = tb_node(&b, 37, ET_COMM_COLL_NODE, "ar");
    tb_i64(&b, x, "comm_sms", 300);
    p = one_bad(tmp, "csms.0.et", x);
    load_bad(p, "node 37", "comm_sms = 300 is out of range 0 .. 255");
    free(p);
    x = tb_node(&b, 38, ET_COMM_SEND_NODE, "send");
    tb_i64(&b, x, "comm_sms", 8);
    p = one_bad(tmp, "send.0.et", x);
    load_bad(p, "node 38", "only compute nodes have kernel shapes (and collectives comm_sms)");
    free(p);
    tb_free(&b);
    tu_rmtree(tmp);
}

int main(void)
{
    loom_set_quiet(1); /* dangling-dependency warnings are expected here */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_micro_all_reduce),
        cmocka_unit_test(test_pytorch_converted),
        cmocka_unit_test(test_legacy_resnet),
        cmocka_unit_test(test_two_dim_and_p2p),
        cmocka_unit_test(test_every_folder),
        cmocka_unit_test(test_ids_sparse_forward_dangling),
        cmocka_unit_test(test_attribute_kinds),
        cmocka_unit_test(test_many_pg_names),
        cmocka_unit_test(test_stream_values),
        cmocka_unit_test(test_bad_graphs),
        cmocka_unit_test(test_fused_kernels),
        cmocka_unit_test(test_kernel_shapes),
        cmocka_unit_test(test_rank_paths_and_names),
        cmocka_unit_test(test_count_listing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

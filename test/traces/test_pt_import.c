/*
 * test_pt_import.c: the PyTorch importer's readers and linking: Kineto
 * events streamed (ns from fractional us, args, distributedInfo), both ET
 * layouts (1.0.1 and 1.1.x-chakra, plain and gzip), GEMM pricing, the
 * rf_id link, kernels tied to launches by correlation, and every bad
 * input: truncated JSON, no GPU events, mismatched pids, unknown schema.
 * Expected numbers are worked out in the comments from the inputs.
 */
#include "pt_import.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "et_graph.h"
#include "et_testutil.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(dir);
    return 0;
}

/* One step: a cpu_op aten::mm (10 .. 30 us) launching (12.5 .. 14.5 us)
 * a kernel on stream 7 (20.25 .. 25.25 us), then an NCCL all-reduce of
 * 1024 floats on stream 20 launched at 31 us, ran 40 .. 50 us. */
static const char kineto[] =
    "{\"schemaVersion\": 1, \"distributedInfo\": {\"rank\": 1, \"world_size\": 2},"
    " \"deviceProperties\": [{\"id\": 0, \"name\": \"GPU X\"}],"
    " \"traceEvents\": ["
    "{\"ph\": \"X\", \"cat\": \"user_annotation\", \"name\": \"ProfilerStep#3\", \"pid\": 5, \"tid\": 5,"
    "  \"ts\": 10, \"dur\": 40, \"args\": {\"External id\": 1}},"
    "{\"ph\": \"X\", \"cat\": \"cpu_op\", \"name\": \"aten::mm\", \"pid\": 5, \"tid\": 5,"
    "  \"ts\": 10, \"dur\": 20, \"args\": {\"External id\": 2, \"Record function id\": 7}},"
    "{\"ph\": \"X\", \"cat\": \"cuda_runtime\", \"name\": \"cudaLaunchKernel\", \"pid\": 5, \"tid\": 5,"
    "  \"ts\": 12.5, \"dur\": 2, \"args\": {\"External id\": 2, \"correlation\": 100}},"
    "{\"ph\": \"f\", \"cat\": \"ac2g\", \"name\": \"ac2g\", \"id\": 100, \"pid\": 0, \"tid\": 7, \"ts\": 20.25},"
    "{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"gemm\", \"pid\": 0, \"tid\": 7,"
    "  \"ts\": 20.25, \"dur\": 5, \"args\": {\"stream\": 7, \"correlation\": 100, \"grid\": [1, 2, 3]}},"
    "{\"ph\": \"X\", \"cat\": \"cuda_runtime\", \"name\": \"cudaLaunchKernel\", \"pid\": 5, \"tid\": 5,"
    "  \"ts\": 31, \"dur\": 2, \"args\": {\"correlation\": 101}},"
    "{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"ncclKernel_AllReduce_RING_LL_Sum_float(x)\","
    "  \"pid\": 0, \"tid\": 20, \"ts\": 40, \"dur\": 10, \"args\": {\"stream\": 20, \"correlation\": 101,"
    "  \"In msg nelems\": 1024, \"Out msg nelems\": 1024, \"dtype\": \"Float\","
    "  \"Process Group Name\": \"0\", \"Process Group Ranks\": \"[0, 1]\"}}"
    "]}";

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(pt_coll_type("ncclKernel_AllReduce_RING_LL_Sum_float(ncclDevComm*)"), 0);
    assert_int_equal(pt_coll_type("ncclDevKernel_AllGather_RING_LL(x)"), 2);
    assert_int_equal(pt_coll_type("ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(x)"), -2);
    assert_int_equal(pt_coll_type("nccl:all_reduce"), 0);
    assert_int_equal(pt_coll_type("nccl:_all_gather_base"), 2);
    assert_int_equal(pt_coll_type("nccl:all_to_all"), 6);
    assert_int_equal(pt_coll_type("c10d::alltoall_base_"), 6);
    assert_int_equal(pt_coll_type("reduce_scatter_tensor"), 7);
    assert_int_equal(pt_coll_type("broadcast"), 5);
    assert_int_equal(pt_coll_type("aten::mm"), -1);
    assert_int_equal(pt_dtype_bytes("Float"), 4);
    assert_int_equal(pt_dtype_bytes("Tensor(c10::BFloat16)"), 2);
    assert_int_equal(pt_dtype_bytes("Tensor(long)"), 8);
    assert_int_equal(pt_dtype_bytes("Tensor(weird)"), 0);
}

static void test_kineto_read(void **state)
{
    (void)state;
    pt_strs *s = pt_strs_new();
    pt_kineto k;
    loom_err err = {0};
    assert_int_equal(pt_kineto_parse("k.json", kineto, sizeof kineto - 1, s, &k, &err), 0);
    assert_int_equal(k.rank, 1);
    assert_int_equal(k.world, 2);
    assert_string_equal(pt_str_get(s, k.device), "GPU X");
    assert_int_equal(k.nflows, 1);
    assert_int_equal(k.nev, 6); /* the flow is counted, not kept */
    /* 12.5 us and 20.25 us become exact ns */
    assert_int_equal(k.ev[2].ts, 12500);
    assert_int_equal(k.ev[3].ts, 20250);
    assert_int_equal(k.ev[3].tid, 7); /* the stream */
    assert_int_equal(k.ev[1].rfid, 7);
    assert_int_equal(k.ev[2].corr, 100);
    assert_true(k.ev[5].comm >= 0);
    assert_int_equal(k.comms[k.ev[5].comm].in_nelems, 1024);
    pt_kineto_free(&k);
    pt_strs_free(s);
}

/* The same step as PyTorch 1.8 and 1.9 wrote it: categories Operator,
 * Runtime and Kernel, "external id" on the launch, GPU lanes named
 * "stream 7", and ids as strings ("5", as the TensorBoard plugin's test
 * traces write them): read to the same events, field for field. */
static void test_kineto_old_names(void **state)
{
    (void)state;
    static const char *const from[] = {"\"cpu_op\"", "\"cuda_runtime\"", "\"kernel\"",
                                       "\"user_annotation\"", "\"External id\": 2, \"c",
                                       "\"tid\": 5,", "\"pid\": 5,", "\"tid\": 7,"};
    static const char *const to[] = {"\"Operator\"", "\"Runtime\"", "\"Kernel\"",
                                     "\"Operator\"", "\"external id\": 2, \"c",
                                     "\"tid\": \"5\",", "\"pid\": \"5\",",
                                     "\"tid\": \"stream 7\","};
    char old[sizeof kineto + 512];
    snprintf(old, sizeof old, "%s", kineto);
    for (size_t i = 0; i < sizeof from / sizeof from[0]; i++) {
        char *p;
        int n = 0;
        while ((p = strstr(old, from[i])) != NULL) { /* replace every one, in place */
            size_t lf = strlen(from[i]), lt = strlen(to[i]);
            memmove(p + lt, p + lf, strlen(p + lf) + 1);
            memcpy(p, to[i], lt);
            n++;
        }
        assert_true(n > 0);
    }
    assert_null(strstr(old, "cpu_op"));
    pt_strs *s = pt_strs_new();
    pt_kineto k, o;
    loom_err err = {0};
    assert_int_equal(pt_kineto_parse("k.json", kineto, sizeof kineto - 1, s, &k, &err), 0);
    assert_int_equal(pt_kineto_parse("o.json", old, strlen(old), s, &o, &err), 0);
    assert_int_equal(o.nev, k.nev);
    for (size_t i = 0; i < k.nev; i++) {
        const pt_kev *a = &k.ev[i], *b = &o.ev[i];
        assert_true(a->ts == b->ts && a->dur == b->dur && a->tid == b->tid && a->pid == b->pid);
        assert_true(a->ext == b->ext && a->corr == b->corr && a->rfid == b->rfid);
        assert_true(a->name == b->name && a->kind == b->kind && (a->comm < 0) == (b->comm < 0));
    }
    assert_int_equal(o.ev[2].ext, 2); /* the launch's "external id" */
    pt_kineto_free(&k);
    pt_kineto_free(&o);
    pt_strs_free(s);
}

/* pt_links.c and the shapes pt_kineto.c keeps: an op [0, 100] holding
 * aten::mm [10, 40] (Input Dims [[4, 8], [8, 2]], type float) whose
 * runtime call [20, 25] has correlation 5; a second runtime call [60, 62]
 * (correlation 6) in the outer op only; kernels of correlation 5, 6 and
 * 9 (no call).  Then launches 50 us apart on one thread, each kernel
 * starting 1 us after its call returns and ending before the next: the
 * GPU waited for all but the first, so 11 of 12 give the interval, 50 us;
 * 3 such launches are too few for a median. */
static void test_links(void **state)
{
    (void)state;
    static const char nest[] =
        "{\"traceEvents\": ["
        "{\"ph\": \"X\", \"cat\": \"cpu_op\", \"name\": \"outer\", \"pid\": 1, \"tid\": 1, \"ts\": 0, \"dur\": 100},"
        "{\"ph\": \"X\", \"cat\": \"cpu_op\", \"name\": \"aten::mm\", \"pid\": 1, \"tid\": 1, \"ts\": 10, \"dur\": 30,"
        " \"args\": {\"Input Dims\": [[4, 8], [8, 2]], \"Input type\": [\"float\", \"float\"]}},"
        "{\"ph\": \"X\", \"cat\": \"cuda_runtime\", \"name\": \"cudaLaunchKernel\", \"pid\": 1, \"tid\": 1, \"ts\": 20, \"dur\": 5, \"args\": {\"correlation\": 5}},"
        "{\"ph\": \"X\", \"cat\": \"cuda_runtime\", \"name\": \"cudaLaunchKernel\", \"pid\": 1, \"tid\": 1, \"ts\": 60, \"dur\": 2, \"args\": {\"correlation\": 6}},"
        "{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"k5\", \"pid\": 0, \"tid\": 7, \"ts\": 30, \"dur\": 4, \"args\": {\"correlation\": 5, \"stream\": 7}},"
        "{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"k6\", \"pid\": 0, \"tid\": 7, \"ts\": 70, \"dur\": 4, \"args\": {\"correlation\": 6, \"stream\": 7}},"
        "{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"k9\", \"pid\": 0, \"tid\": 7, \"ts\": 80, \"dur\": 4, \"args\": {\"correlation\": 9, \"stream\": 7}}"
        "]}";
    pt_strs *s = pt_strs_new();
    pt_kineto k;
    loom_err err = {0};
    assert_int_equal(pt_kineto_parse("n.json", nest, sizeof nest - 1, s, &k, &err), 0);
    assert_int_equal(k.nev, 7);
    assert_int_equal(k.ev[0].dims, -1);
    assert_true(k.ev[1].dims >= 0);
    const pt_dims *d = &k.dims[k.ev[1].dims];
    assert_int_equal(d->nt, 2);
    assert_int_equal(d->nd[0], 2);
    assert_int_equal(d->d[0][0], 4);
    assert_int_equal(d->d[1][1], 2);
    assert_string_equal(pt_str_get(s, d->dtype), "float");
    int32_t launch[7], parent[7];
    pt_kineto_links(&k, launch, parent);
    const int32_t wl[7] = {-1, -1, -1, -1, 2, 3, -1}, wp[7] = {-1, 0, 1, 0, -1, -1, -1};
    for (int i = 0; i < 7; i++) {
        assert_int_equal(launch[i], wl[i]);
        assert_int_equal(parent[i], wp[i]);
    }
    pt_host_fit f;
    pt_host_fit_of(&k, s, &f);
    assert_int_equal(f.launches, 2);
    assert_true(f.median_us < 0);
    pt_kineto_free(&k);

    for (int nl = 12; nl >= 3; nl -= 9) {
        char buf[8192];
        size_t n = (size_t)snprintf(buf, sizeof buf, "{\"traceEvents\": [");
        for (int i = 0; i < nl; i++)
            n += (size_t)snprintf(buf + n, sizeof buf - n,
                                  "%s{\"ph\": \"X\", \"cat\": \"cuda_runtime\", \"name\": "
                                  "\"cudaLaunchKernel\", \"pid\": 1, \"tid\": 1, \"ts\": %d, "
                                  "\"dur\": 3, \"args\": {\"correlation\": %d}},"
                                  "{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"k\", "
                                  "\"pid\": 0, \"tid\": 7, \"ts\": %d, \"dur\": 20, \"args\": "
                                  "{\"correlation\": %d, \"stream\": 7}}",
                                  i ? "," : "", 50 * i, i + 1, 50 * i + 4, i + 1);
        n += (size_t)snprintf(buf + n, sizeof buf - n, "]}");
        assert_true(n < sizeof buf);
        assert_int_equal(pt_kineto_parse("h.json", buf, n, s, &k, &err), 0);
        pt_host_fit_of(&k, s, &f);
        assert_int_equal(f.launches, (size_t)nl);
        assert_int_equal(f.pairs, (size_t)nl - 1);
        if (nl >= 11)
            assert_true(f.median_us == 50);
        else
            assert_true(f.median_us < 0);
        pt_kineto_free(&k);
    }
    pt_strs_free(s);
}

static void test_kineto_build(void **state)
{
    (void)state;
    pt_strs *s = pt_strs_new();
    pt_kineto k;
    loom_err err = {0};
    assert_int_equal(pt_kineto_parse("k.json", kineto, sizeof kineto - 1, s, &k, &err), 0);
    pt_rank r;
    assert_int_equal(pt_build_kineto(&k, s, -1, 0, &r, &err), 0);
    assert_int_equal(r.step, 3);
    assert_int_equal(r.start_ns, 10000);
    assert_int_equal(r.end_ns, 50000); /* the all-reduce ends at 50 us */
    assert_int_equal(r.nkernels, 1);
    assert_int_equal(r.ncoll, 1);
    assert_int_equal(r.nstreams, 2);
    /* leaves of thread 5: the two launches (aten::mm holds the first) */
    assert_int_equal(r.nops, 2);
    int gemm = -1, coll = -1, launch = -1;
    for (size_t i = 0; i < r.nn; i++) {
        const char *n = pt_str_get(s, r.n[i].name);
        if (strcmp(n, "gemm") == 0)
            gemm = (int)i;
        if (r.n[i].type == ET_COMM_COLL_NODE)
            coll = (int)i;
        if (strcmp(n, "cudaLaunchKernel") == 0 && launch < 0)
            launch = (int)i;
    }
    assert_true(gemm >= 0 && coll >= 0 && launch >= 0);
    assert_int_equal(r.n[gemm].stream, 7);
    assert_int_equal(r.n[gemm].dur_ns, 5000);
    /* the kernel started 5.75 us after its launch ended (14.5 us): a
     * launch-gap delay sits between them */
    uint32_t d = r.n[gemm].deps[0];
    assert_true(r.n[d].delay);
    assert_int_equal(r.n[d].dur_ns, 5750);
    assert_int_equal(r.n[d].deps[0], (uint32_t)launch);
    assert_int_equal(r.n[coll].comm_type, 0);
    assert_int_equal(r.n[coll].comm_size, 4096); /* 1024 floats */
    assert_int_equal(r.n[coll].stream, 20);
    assert_int_equal(r.n[coll].dur_ns, 10000);
    assert_int_equal(r.n[0].delay, 1); /* loom:start_offset */
    assert_string_equal(pt_str_get(s, r.n[0].name), "loom:start_offset");
    pt_rank_free(&r);
    /* --step that is not there */
    assert_true(pt_build_kineto(&k, s, 9, 0, &r, &err) < 0);
    assert_non_null(strstr(err.msg, "no ProfilerStep#9 (steps 3 .. 3)"));
    pt_kineto_free(&k);
    pt_strs_free(s);
}

static void test_kineto_bad(void **state)
{
    (void)state;
    pt_strs *s = pt_strs_new();
    pt_kineto k;
    loom_err err = {0};
    /* truncated in the middle of the events */
    assert_true(pt_kineto_parse("t.json", kineto, 300, s, &k, &err) < 0);
    assert_non_null(strstr(err.msg, "t.json: truncated JSON"));
    loom_err_clear(&err);
    assert_true(pt_kineto_parse("m.json", "{\"traceEvents\": [}", 18, s, &k, &err) < 0);
    assert_non_null(strstr(err.msg, "m.json: malformed JSON"));
    loom_err_clear(&err);
    /* no GPU events */
    static const char nogpu[] =
        "{\"traceEvents\": [{\"ph\": \"X\", \"cat\": \"cpu_op\", \"name\": \"a\", \"pid\": 1,"
        " \"tid\": 1, \"ts\": 1, \"dur\": 1}]}";
    assert_int_equal(pt_kineto_parse("n.json", nogpu, sizeof nogpu - 1, s, &k, &err), 0);
    pt_rank r;
    assert_true(pt_build_kineto(&k, s, -1, 0, &r, &err) < 0);
    assert_non_null(strstr(err.msg, "n.json: no GPU events"));
    pt_kineto_free(&k);
    /* a file that cannot be opened */
    loom_err_clear(&err);
    char *p = tu_path(dir, "missing.json");
    assert_true(pt_kineto_read(p, s, &k, &err) < 0);
    assert_non_null(strstr(err.msg, "No such file"));
    free(p);
    pt_strs_free(s);
}

/* aten::mm of [64, 32] x [32, 16] floats: 2*64*32*16 = 65,536 FLOPs and
 * (64*32 + 32*16 + 64*16) * 4 = 14,336 bytes; its child aten::empty is
 * not priced again.  aten::relu of [64, 16] floats in and out: 8,192 B. */
static const char et_101[] =
    "{\"schema\": \"1.0.1\", \"pid\": 42, \"nodes\": ["
    "{\"name\": \"[pytorch|profiler|execution_trace|thread]\", \"id\": 2, \"rf_id\": 0, \"parent\": 1, \"tid\": 1},"
    "{\"name\": \"aten::mm\", \"id\": 3, \"rf_id\": 7, \"parent\": 2, \"tid\": 1,"
    " \"inputs\": [[1,2,0,2048,4,\"cuda:0\"], [3,4,0,512,4,\"cuda:0\"]],"
    " \"input_shapes\": [[64, 32], [32, 16]], \"input_types\": [\"Tensor(float)\", \"Tensor(float)\"],"
    " \"outputs\": [[5,6,0,1024,4,\"cuda:0\"]], \"output_shapes\": [[64, 16]], \"output_types\": [\"Tensor(float)\"]},"
    "{\"name\": \"aten::empty\", \"id\": 4, \"rf_id\": 8, \"parent\": 3, \"tid\": 1, \"inputs\": [],"
    " \"input_shapes\": [], \"input_types\": [], \"outputs\": [], \"output_shapes\": [[64, 16]],"
    " \"output_types\": [\"Tensor(float)\"]},"
    "{\"name\": \"aten::relu\", \"id\": 5, \"rf_id\": 9, \"parent\": 2, \"tid\": 1,"
    " \"inputs\": [[5,6,0,1024,4,\"cuda:0\"]], \"input_shapes\": [[64, 16]], \"input_types\": [\"Tensor(float)\"],"
    " \"outputs\": [[7,8,0,1024,4,\"cuda:0\"]], \"output_shapes\": [[64, 16]], \"output_types\": [\"Tensor(float)\"]}"
    "]}";

/* The same program in the 1.1.x-chakra layout, plus a broadcast of 53,120
 * floats (212,480 bytes) through record_param_comms on group "7". */
static const char et_110[] =
    "{\"schema\": \"1.1.0-chakra.0.0.4\", \"pid\": 43, \"nodes\": ["
    "{\"id\": 2, \"name\": \"[pytorch|profiler|execution_trace|thread]\", \"ctrl_deps\": 1,"
    " \"attrs\": [{\"name\": \"rf_id\", \"type\": \"uint64\", \"value\": 0}]},"
    "{\"id\": 3, \"name\": \"aten::mm\", \"ctrl_deps\": 2,"
    " \"inputs\": {\"values\": [[1,2,0,2048,4,\"cuda:0\"], [3,4,0,512,4,\"cuda:0\"]],"
    "  \"shapes\": [[64, 32], [32, 16]], \"types\": [\"Tensor(float)\", \"Tensor(float)\"]},"
    " \"outputs\": {\"values\": [[5,6,0,1024,4,\"cuda:0\"]], \"shapes\": [[64, 16]], \"types\": [\"Tensor(float)\"]},"
    " \"attrs\": [{\"name\": \"rf_id\", \"type\": \"uint64\", \"value\": 7}]},"
    "{\"id\": 4, \"name\": \"record_param_comms\", \"ctrl_deps\": 2,"
    " \"inputs\": {\"values\": [], \"shapes\": [], \"types\": []},"
    " \"outputs\": {\"values\": [], \"shapes\": [], \"types\": []},"
    " \"attrs\": [{\"name\": \"rf_id\", \"type\": \"uint64\", \"value\": 8},"
    "  {\"name\": \"collective_name\", \"type\": \"string\", \"value\": \"broadcast\"},"
    "  {\"name\": \"dtype\", \"type\": \"string\", \"value\": \"Float\"},"
    "  {\"name\": \"in_msg_nelems\", \"type\": \"uint64\", \"value\": 53120},"
    "  {\"name\": \"out_msg_nelems\", \"type\": \"uint64\", \"value\": 53120},"
    "  {\"name\": \"pg_name\", \"type\": \"string\", \"value\": \"7\"}]}"
    "]}";

static void test_et_layouts(void **state)
{
    (void)state;
    pt_strs *s = pt_strs_new();
    loom_err err = {0};
    char *p1 = tu_path(dir, "a.json"), *p2 = tu_path(dir, "b.json.gz");
    tu_write(p1, et_101, sizeof et_101 - 1);
    tu_write_gz(p2, et_110, sizeof et_110 - 1); /* gzip: told by its magic */
    pt_rank r;
    pt_et_info info;
    assert_int_equal(pt_et_read(p1, s, &r, &info, &err), 0);
    assert_string_equal(info.schema, "1.0.1");
    assert_int_equal(info.pid, 42);
    assert_int_equal(info.gemm, 1);
    assert_int_equal(info.membound, 1);
    assert_int_equal(r.nn, 3); /* start, aten::mm, aten::relu */
    assert_int_equal(r.n[1].num_ops, 65536);
    assert_int_equal(r.n[1].tensor_size, 14336);
    assert_int_equal(r.n[2].num_ops, 0);
    assert_int_equal(r.n[2].tensor_size, 8192);
    assert_int_equal(r.n[2].deps[0], 1); /* in thread order */
    pt_rank_free(&r);
    pt_et_done(&info);
    assert_int_equal(pt_et_read(p2, s, &r, &info, &err), 0);
    assert_string_equal(info.schema, "1.1.0-chakra.0.0.4");
    assert_int_equal(r.nn, 3); /* start, aten::mm, the broadcast */
    assert_int_equal(r.n[1].num_ops, 65536);
    assert_int_equal(r.n[2].type, ET_COMM_COLL_NODE);
    assert_int_equal(r.n[2].comm_type, 5);
    assert_int_equal(r.n[2].comm_size, 212480);
    assert_string_equal(pt_str_get(s, r.n[2].pg), "7");
    pt_rank_free(&r);
    pt_et_done(&info);
    free(p1);
    free(p2);
    pt_strs_free(s);
}

/* Kernel shapes (1.1.x layout): aten::linear of x [4, 256, 512] bf16 by
 * w [1024, 512]: one GEMM of 1,024 rows (4 x 256), N 1,024, K 512, 2-byte
 * operands; an autograd node whose two aten::mm children ([1024, 512] x
 * [512, 256] and [256, 1024] x [1024, 512], floats) are one fused node of
 * two GEMMs; aten::_scaled_dot_product_flash_attention of q, k, v [2, 8,
 * 128, 64] bf16, is_causal (input 4) true: attention of query and key
 * length 128, head dim 64, batch 2 x 8 = 16, causal, dropout_p (input 3)
 * 0.0: no dropout; its backward (q at input 1, is_causal at 11) false,
 * dropout_p (input 10) 0.1: dropout inside; aten::native_dropout: a dropout; a
 * convolution: priced, no shape (the node has none, its only kernel
 * being shapeless); aten::matmul of A [64, 32] by a batched B [4, 32, 16]
 * (broadcast): 4 products, 2 x 4 x 64 x 32 x 16 = 262,144 FLOPs. */
static const char et_shapes[] =
    "{\"schema\": \"1.1.0-chakra.0.0.4\", \"pid\": 44, \"nodes\": ["
    "{\"id\": 2, \"name\": \"[pytorch|profiler|execution_trace|thread]\", \"ctrl_deps\": 1},"
    "{\"id\": 3, \"name\": \"aten::linear\", \"ctrl_deps\": 2,"
    " \"inputs\": {\"values\": [[1,2,0,1,2,\"cuda:0\"],"
    " [3,4,0,1,2,\"cuda:0\"], null], \"shapes\": [[4, 256, 512], [1024, 512], []],"
    " \"types\": [\"Tensor(c10::BFloat16)\", \"Tensor(c10::BFloat16)\", \"None\"]},"
    " \"outputs\": {\"values\": [], \"shapes\": [[4, 256, 1024]],"
    " \"types\": [\"Tensor(c10::BFloat16)\"]},"
    " \"attrs\": [{\"name\": \"rf_id\", \"type\": \"uint64\", \"value\": 10}]},"
    "{\"id\": 4, \"name\": \"MmBackward0\", \"ctrl_deps\": 2,"
    " \"attrs\": [{\"name\": \"rf_id\", \"type\": \"uint64\", \"value\": 11}]},"
    "{\"id\": 5, \"name\": \"aten::mm\", \"ctrl_deps\": 4, \"inputs\": {\"values\": [],"
    " \"shapes\": [[1024, 512], [512, 256]], \"types\": [\"Tensor(float)\", \"Tensor(float)\"]},"
    " \"outputs\": {\"values\": [], \"shapes\": [[1024, 256]], \"types\": [\"Tensor(float)\"]},"
    " \"attrs\": [{\"name\": \"rf_id\", \"type\": \"uint64\", \"value\": 12}]},"
    "{\"id\": 6, \"name\": \"aten::mm\", \"ctrl_deps\": 4, \"inputs\": {\"values\": [],"
    " \"shapes\": [[256, 1024], [1024, 512]], \"types\": [\"Tensor(float)\", \"Tensor(float)\"]},"
    " \"outputs\": {\"values\": [], \"shapes\": [[256, 512]], \"types\": [\"Tensor(float)\"]},"
    " \"attrs\": [{\"name\": \"rf_id\", \"type\": \"uint64\", \"value\": 13}]},"
    "{\"id\": 7, \"name\": \"aten::_scaled_dot_product_flash_attention\", \"ctrl_deps\": 2,"
    " \"inputs\": {\"values\": [[], [], [], 0.0, true, false],"
    " \"shapes\": [[2, 8, 128, 64], [2, 8, 128, 64], [2, 8, 128, 64], [], [], []],"
    " \"types\": [\"Tensor(c10::BFloat16)\", \"Tensor(c10::BFloat16)\", \"Tensor(c10::BFloat16)\","
    " \"Double\", \"Bool\", \"Bool\"]},"
    " \"outputs\": {\"values\": [], \"shapes\": [[2, 8, 128, 64]],"
    " \"types\": [\"Tensor(c10::BFloat16)\"]},"
    " \"attrs\": [{\"name\": \"rf_id\", \"type\": \"uint64\", \"value\": 14}]},"
    "{\"id\": 8, \"name\": \"aten::_scaled_dot_product_flash_attention_backward\","
    " \"ctrl_deps\": 2,"
    " \"inputs\": {\"values\": [[], [], [], [], [], [], [], [], 128, 128, 0.1, false],"
    " \"shapes\": [[2, 8, 128, 64], [2, 8, 128, 64], [2, 8, 128, 64], [2, 8, 128, 64],"
    " [2, 8, 128, 64],"
    " [2, 8, 128], [], [], [], [], [], []],"
    " \"types\": [\"Tensor(c10::BFloat16)\", \"Tensor(c10::BFloat16)\", \"Tensor(c10::BFloat16)\","
    " \"Tensor(c10::BFloat16)\", \"Tensor(c10::BFloat16)\", \"Tensor(float)\", \"None\", \"None\","
    " \"Int\", \"Int\", \"Double\", \"Bool\"]},"
    " \"outputs\": {\"values\": [], \"shapes\": [], \"types\": []},"
    " \"attrs\": [{\"name\": \"rf_id\", \"type\": \"uint64\", \"value\": 15}]},"
    "{\"id\": 9, \"name\": \"aten::native_dropout\", \"ctrl_deps\": 2, \"inputs\": {\"values\": [],"
    " \"shapes\": [[1024, 1024]], \"types\": [\"Tensor(c10::BFloat16)\"]},"
    " \"outputs\": {\"values\": [], \"shapes\": [[1024, 1024], [1024, 1024]],"
    " \"types\": [\"Tensor(c10::BFloat16)\", \"Tensor(bool)\"]},"
    " \"attrs\": [{\"name\": \"rf_id\", \"type\": \"uint64\", \"value\": 16}]},"
    "{\"id\": 10, \"name\": \"aten::conv2d\", \"ctrl_deps\": 2, \"inputs\": {\"values\": [],"
    " \"shapes\": [[8, 3, 32, 32], [16, 3, 3, 3]],"
    " \"types\": [\"Tensor(float)\", \"Tensor(float)\"]},"
    " \"outputs\": {\"values\": [], \"shapes\": [[8, 16, 32, 32]], \"types\": [\"Tensor(float)\"]},"
    " \"attrs\": [{\"name\": \"rf_id\", \"type\": \"uint64\", \"value\": 17}]},"
    "{\"id\": 11, \"name\": \"aten::matmul\", \"ctrl_deps\": 2, \"inputs\": {\"values\": [],"
    " \"shapes\": [[64, 32], [4, 32, 16]], \"types\": [\"Tensor(float)\", \"Tensor(float)\"]},"
    " \"outputs\": {\"values\": [], \"shapes\": [[4, 64, 16]], \"types\": [\"Tensor(float)\"]},"
    " \"attrs\": [{\"name\": \"rf_id\", \"type\": \"uint64\", \"value\": 18}]},"
    "{\"id\": 12, \"name\": \"aten::layer_norm\", \"ctrl_deps\": 2, \"inputs\": {\"values\": [],"
    " \"shapes\": [[4, 256, 512], [], [512], [512]],"
    " \"types\": [\"Tensor(c10::BFloat16)\", \"GenericList[Int]\", \"Tensor(c10::BFloat16)\","
    " \"Tensor(c10::BFloat16)\"]},"
    " \"outputs\": {\"values\": [], \"shapes\": [[4, 256, 512]],"
    " \"types\": [\"Tensor(c10::BFloat16)\"]},"
    " \"attrs\": [{\"name\": \"rf_id\", \"type\": \"uint64\", \"value\": 19}]},"
    "{\"id\": 13, \"name\": \"aten::native_layer_norm\", \"ctrl_deps\": 12,"
    " \"inputs\": {\"values\": [], \"shapes\": [[4, 256, 512], [], [512], [512]],"
    " \"types\": [\"Tensor(c10::BFloat16)\", \"GenericList[Int]\", \"Tensor(c10::BFloat16)\","
    " \"Tensor(c10::BFloat16)\"]},"
    " \"outputs\": {\"values\": [], \"shapes\": [[4, 256, 512], [4, 256, 1], [4, 256, 1]],"
    " \"types\": [\"Tensor(c10::BFloat16)\", \"Tensor(float)\", \"Tensor(float)\"]},"
    " \"attrs\": [{\"name\": \"rf_id\", \"type\": \"uint64\", \"value\": 20}]},"
    "{\"id\": 14, \"name\": \"aten::sum\", \"ctrl_deps\": 2, \"inputs\": {\"values\": [],"
    " \"shapes\": [[4096, 1024], [], [], []],"
    " \"types\": [\"Tensor(c10::BFloat16)\", \"GenericList[Int]\", \"Bool\", \"None\"]},"
    " \"outputs\": {\"values\": [], \"shapes\": [[1024]], \"types\": [\"Tensor(c10::BFloat16)\"]},"
    " \"attrs\": [{\"name\": \"rf_id\", \"type\": \"uint64\", \"value\": 21}]}"
    "]}";

static void expect_shape(const loom_kshape *k, int cls, uint32_t m, uint32_t n, uint32_t kk,
                         uint32_t batch, int width, int causal)
{
    assert_int_equal(k->cls, cls);
    assert_int_equal(k->m, m);
    assert_int_equal(k->n, n);
    assert_int_equal(k->k, kk);
    assert_int_equal(k->batch, batch);
    assert_int_equal(k->dtype_bytes, width);
    assert_int_equal(k->causal, causal);
}

static void test_et_shapes(void **state)
{
    (void)state;
    pt_strs *s = pt_strs_new();
    loom_err err = {0};
    char *p = tu_path(dir, "shapes.json");
    tu_write(p, et_shapes, sizeof et_shapes - 1);
    pt_rank r;
    pt_et_info info;
    assert_int_equal(pt_et_read(p, s, &r, &info, &err), 0);
    assert_int_equal(r.nn, 10); /* start and nine priced ops */
    const pt_node *lin = &r.n[1], *mmb = &r.n[2], *fa = &r.n[3], *fab = &r.n[4];
    const pt_node *dr = &r.n[5], *cv = &r.n[6];
    assert_int_equal(lin->nkern, 1);
    expect_shape(&r.ks[lin->kern], LOOM_K_GEMM, 1024, 1024, 512, 1, 2, 0);
    assert_int_equal(r.kw[2 * lin->kern], 2ull * 1024 * 1024 * 512);
    assert_int_equal(mmb->nkern, 2);
    expect_shape(&r.ks[mmb->kern], LOOM_K_GEMM, 1024, 256, 512, 1, 4, 0);
    expect_shape(&r.ks[mmb->kern + 1], LOOM_K_GEMM, 256, 512, 1024, 1, 4, 0);
    assert_int_equal(mmb->num_ops, r.kw[2 * mmb->kern] + r.kw[2 * mmb->kern + 2]);
    assert_int_equal(fa->nkern, 1);
    expect_shape(&r.ks[fa->kern], LOOM_K_ATTN, 128, 128, 64, 16, 2, 1);
    assert_int_equal(r.ks[fa->kern].dropout, 0);
    assert_int_equal(fab->nkern, 1);
    expect_shape(&r.ks[fab->kern], LOOM_K_ATTN_BWD, 128, 128, 64, 16, 2, 0);
    assert_int_equal(r.ks[fab->kern].dropout, 1);
    assert_int_equal(dr->nkern, 1);
    assert_int_equal(r.ks[dr->kern].cls, LOOM_K_DROPOUT);
    /* in (2 MiB) and out (2 MiB and the 1 MiB mask) */
    assert_int_equal(r.kw[2 * dr->kern + 1], 2u * 1048576 + 2 * 1048576 + 1048576);
    assert_int_equal(cv->nkern, 0); /* a convolution: no shape, roofline */
    assert_true(cv->num_ops > 0);
    const pt_node *bm = &r.n[7];
    assert_int_equal(bm->num_ops, 262144);
    assert_int_equal(bm->nkern, 1);
    expect_shape(&r.ks[bm->kern], LOOM_K_GEMM, 64, 16, 32, 4, 4, 0);
    /* a layer norm: one node, its leaf aten::native_layer_norm a kernel
     * of the norm class moving its input and output (4 x 256 x 512 bf16
     * each), the two 1 KiB weights and the fp32 mean and rstd (4 KiB each) */
    const pt_node *ln = &r.n[8];
    assert_int_equal(ln->nkern, 1);
    assert_int_equal(r.ks[ln->kern].cls, LOOM_K_NORM);
    assert_int_equal(r.kw[2 * ln->kern + 1], 2u * (4 * 256 * 512 * 2) + 2 * 1024 + 2 * 4096);
    /* a sum over rows (a bias gradient: autograd's sum_to_size), a
     * reduction: the norm class, its 8 MiB input read and 2 KiB written */
    const pt_node *sm = &r.n[9];
    assert_int_equal(sm->nkern, 1);
    assert_int_equal(r.ks[sm->kern].cls, LOOM_K_NORM);
    assert_int_equal(r.kw[2 * sm->kern + 1], 4096u * 1024 * 2 + 1024 * 2);
    pt_rank_free(&r);
    pt_et_done(&info);
    free(p);
    pt_strs_free(s);
}

static void test_et_bad(void **state)
{
    (void)state;
    pt_strs *s = pt_strs_new();
    loom_err err = {0};
    pt_et_info info;
    pt_rank r;
    char *p = tu_path(dir, "bad.json");
    char buf[sizeof et_101];
    memcpy(buf, et_101, sizeof et_101);
    memcpy(strstr(buf, "1.0.1"), "9.0.0", 5);
    tu_write(p, buf, sizeof buf - 1);
    assert_true(pt_et_read(p, s, &r, &info, &err) < 0);
    assert_non_null(strstr(err.msg, "unknown execution-trace schema \"9.0.0\""));
    pt_et_done(&info);
    loom_err_clear(&err);
    tu_write(p, et_101, 200);
    assert_true(pt_et_read(p, s, &r, &info, &err) < 0);
    assert_non_null(strstr(err.msg, "truncated JSON"));
    assert_non_null(strstr(err.msg, p));
    pt_et_done(&info);
    free(p);
    pt_strs_free(s);
}

/* The ET's aten::mm has rf_id 7; the Kineto aten::mm has Record function
 * id 7: one link. */
static void test_link(void **state)
{
    (void)state;
    pt_strs *s = pt_strs_new();
    loom_err err = {0};
    char *p = tu_path(dir, "l.json");
    tu_write(p, et_101, sizeof et_101 - 1);
    pt_et_info info;
    assert_int_equal(pt_et_read(p, s, NULL, &info, &err), 0);
    pt_kineto k;
    assert_int_equal(pt_kineto_parse("k.json", kineto, sizeof kineto - 1, s, &k, &err), 0);
    pt_et_link(&info, &k, s);
    assert_int_equal(info.linked, 1);
    pt_kineto_free(&k);
    pt_et_done(&info);
    free(p);
    pt_strs_free(s);
}

/* A pair from two processes (ET pid 42, Kineto pid 5) is refused, naming
 * both files and both pids, and nothing is written. */
static void test_mismatch(void **state)
{
    (void)state;
    char *pe = tu_path(dir, "e.json"), *pk = tu_path(dir, "k.json"), *out = tu_path(dir, "o");
    tu_write(pe, et_101, sizeof et_101 - 1);
    tu_write(pk, kineto, sizeof kineto - 1);
    const char *et[] = {pe}, *kin[] = {pk};
    pt_import_opts o = {.et = et, .net = 1, .kineto = kin, .nkineto = 1, .out = out, .step = -1,
                        .quiet = 1};
    loom_err err = {0};
    assert_int_equal(pt_import(&o, &err), LOOM_ETRACE);
    assert_non_null(strstr(err.msg, "(pid 42)"));
    assert_non_null(strstr(err.msg, "(pid 5)"));
    assert_non_null(strstr(err.msg, pe));
    char *o0 = tu_path(dir, "o.0.et");
    assert_int_equal(access(o0, F_OK), -1);
    /* the Kineto file alone imports: rank 1 of distributedInfo is not
     * 0 .. n-1 for one file, so the order gives rank 0 */
    o.net = 0;
    loom_set_quiet(1);
    assert_int_equal(pt_import(&o, &err), 0);
    loom_set_quiet(0);
    assert_int_equal(access(o0, F_OK), 0);
    free(o0);
    free(pe);
    free(pk);
    free(out);
}


/* Thread 5 launches kernel A on stream 7 (runs 10 .. 20 us), records an
 * event, makes stream 20 wait for it, and launches B on stream 20 (runs
 * 21 .. 22 us): B waits for A.  Then a blocking copy: cudaMemcpyAsync
 * 30 .. 41 us whose copy ran 31 .. 40 us: the copy follows the gap before
 * the call (not the call), and the call waits for the copy. */
static const char waits[] =
    "{\"traceEvents\": ["
    "{\"ph\": \"X\", \"cat\": \"user_annotation\", \"name\": \"ProfilerStep#0\", \"pid\": 5,"
    "  \"tid\": 5, \"ts\": 0, \"dur\": 50},"
    "{\"ph\": \"X\", \"cat\": \"cuda_runtime\", \"name\": \"cudaLaunchKernel\", \"pid\": 5, \"tid\": 5,"
    "  \"ts\": 1, \"dur\": 2, \"args\": {\"correlation\": 1}},"
    "{\"ph\": \"X\", \"cat\": \"cuda_runtime\", \"name\": \"cudaEventRecord\", \"pid\": 5, \"tid\": 5,"
    "  \"ts\": 4, \"dur\": 1, \"args\": {\"correlation\": 2}},"
    "{\"ph\": \"X\", \"cat\": \"cuda_runtime\", \"name\": \"cudaStreamWaitEvent\", \"pid\": 5, \"tid\": 5,"
    "  \"ts\": 6, \"dur\": 1, \"args\": {\"correlation\": 3}},"
    "{\"ph\": \"X\", \"cat\": \"cuda_runtime\", \"name\": \"cudaLaunchKernel\", \"pid\": 5, \"tid\": 5,"
    "  \"ts\": 8, \"dur\": 1, \"args\": {\"correlation\": 4}},"
    "{\"ph\": \"X\", \"cat\": \"cuda_runtime\", \"name\": \"cudaMemcpyAsync\", \"pid\": 5, \"tid\": 5,"
    "  \"ts\": 30, \"dur\": 11, \"args\": {\"correlation\": 5}},"
    "{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"A\", \"pid\": 0, \"tid\": 7,"
    "  \"ts\": 10, \"dur\": 10, \"args\": {\"stream\": 7, \"correlation\": 1}},"
    "{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"B\", \"pid\": 0, \"tid\": 20,"
    "  \"ts\": 21, \"dur\": 1, \"args\": {\"stream\": 20, \"correlation\": 4}},"
    "{\"ph\": \"X\", \"cat\": \"gpu_memcpy\", \"name\": \"Memcpy HtoD (Pageable -> Device)\","
    "  \"pid\": 0, \"tid\": 7, \"ts\": 31, \"dur\": 9, \"args\": {\"stream\": 7, \"correlation\": 5}}"
    "]}";

static int find_node(const pt_rank *r, const pt_strs *s, const char *name)
{
    for (size_t i = 0; i < r->nn; i++)
        if (strcmp(pt_str_get(s, r->n[i].name), name) == 0)
            return (int)i;
    return -1;
}

static int has_dep(const pt_node *n, int d)
{
    for (uint32_t i = 0; i < n->nd; i++)
        if ((int)n->deps[i] == d)
            return 1;
    return 0;
}

/* The waits read from json, its copy call named `copy`. */
static void check_waits(const char *json, const char *copy)
{
    pt_strs *s = pt_strs_new();
    pt_kineto k;
    loom_err err = {0};
    assert_int_equal(pt_kineto_parse("w.json", json, strlen(json), s, &k, &err), 0);
    pt_rank r;
    assert_int_equal(pt_build_kineto(&k, s, -1, 0, &r, &err), 0);
    int a = find_node(&r, s, "A"), b = find_node(&r, s, "B");
    int cp = find_node(&r, s, "Memcpy HtoD (Pageable -> Device)");
    int call = find_node(&r, s, copy);
    assert_true(a >= 0 && b >= 0 && cp >= 0 && call >= 0);
    assert_true(has_dep(&r.n[b], a));     /* the cross-stream wait */
    assert_false(has_dep(&r.n[cp], call)); /* the copy does not wait for its call */
    assert_true(has_dep(&r.n[call], cp));  /* the call waits for the copy */
    /* the call starts when the copy ended (40 us) and keeps 1 us */
    assert_int_equal(r.n[call].t0, 40000);
    assert_int_equal(r.n[call].dur_ns, 1000);
    assert_int_equal(r.nsync, 2);
    pt_rank_free(&r);
    pt_kineto_free(&k);
    pt_strs_free(s);
}

/* The same calls as CUDA's runtime and as HIP's (ROCm's PyTorch, whose
 * Kineto files them under the same category), whose event record and
 * stream wait mean the same: the same edges. */
static void test_waits(void **state)
{
    (void)state;
    check_waits(waits, "cudaMemcpyAsync");
    char hip[sizeof waits];
    snprintf(hip, sizeof hip, "%s", waits);
    int n = 0;
    const char *key = "\"name\": \"cuda";
    for (char *p = hip; (p = strstr(p, key)) != NULL; n++) { /* cudaX -> hipX, in place */
        p += strlen(key) - 4;
        memcpy(p, "hip", 3);
        memmove(p + 3, p + 4, strlen(p + 4) + 1);
    }
    assert_true(n == 5 && strstr(hip, "\"hipStreamWaitEvent\""));
    check_waits(hip, "hipMemcpyAsync");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_kineto_read),
        cmocka_unit_test(test_kineto_old_names),
        cmocka_unit_test(test_links),
        cmocka_unit_test(test_kineto_build),
        cmocka_unit_test(test_kineto_bad),
        cmocka_unit_test(test_waits),
        cmocka_unit_test(test_et_layouts),
        cmocka_unit_test(test_et_shapes),
        cmocka_unit_test(test_et_bad),
        cmocka_unit_test(test_link),
        cmocka_unit_test(test_mismatch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

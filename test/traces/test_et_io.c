/*
 * test_et_io.c: the Chakra reader and writer.
 *
 * Every fixture file (written by ASTRA-sim's and Chakra's own tools) must
 * decode and re-encode byte for byte; bad files made here must fail with a
 * message naming the file, never crash.  The last group pins down how
 * protobuf-c re-encodes non-canonical input, which is what limits the
 * round-trip guarantee (docs/TRACES.md).
 */
#include "et_io.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "et_testutil.h"

#define CHAKRA FIXTURES "/chakra"

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Decodes src node by node and writes it back to dst; returns the number
 * of nodes.  The reader's digest and offset must match an independent
 * read of the decompressed bytes. */
static size_t roundtrip(const char *src, const char *dst)
{
    loom_err err = {0, ""};
    et_reader *r = et_reader_open(src, &err);
    if (r == NULL)
        fail_msg("%s", err.msg);
    et_writer *w = et_writer_open(dst, et_reader_is_gzip(r), &err);
    assert_non_null(w);
    const ChakraProtoMsg__GlobalMetadata *m = et_reader_metadata(r);
    if (m != NULL)
        assert_int_equal(et_writer_metadata(w, m, &err), 0);
    ChakraProtoMsg__Node *nd;
    int rc;
    size_t n = 0;
    while ((rc = et_reader_next(r, &nd, &err)) == 1) {
        assert_int_equal(et_writer_node(w, nd, &err), 0);
        et_node_free(nd);
        n++;
    }
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(et_reader_nodes(r), n);
    uint64_t digest = et_reader_digest(r), off = et_reader_offset(r);
    int gz = et_reader_is_gzip(r);
    et_reader_close(r);
    assert_int_equal(et_writer_close(w, &err), 0);

    size_t na, nb;
    uint8_t *a = tu_read_all(src, &na), *b = tu_read_all(dst, &nb);
    assert_non_null(a);
    assert_non_null(b);
    size_t i = 0;
    while (i < na && i < nb && a[i] == b[i])
        i++;
    if (na != nb || i != na)
        fail_msg("%s: round trip differs at byte %zu (sizes %zu, %zu)", src,
                 i, na, nb);
    assert_int_equal(off, na);
    assert_true(digest == et_digest(a, na));
    free(a);
    free(b);

    /* a gzip source is written back as gzip (magic 1f 8b), plain as plain */
    size_t nr;
    uint8_t *raw = tu_read_raw(dst, &nr);
    assert_int_equal(nr >= 2 && raw[0] == 0x1f && raw[1] == 0x8b, gz);
    free(raw);
    return n;
}

static void test_roundtrip_every_fixture(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir();
    DIR *top = opendir(CHAKRA);
    assert_non_null(top);
    struct dirent *d;
    int files = 0, gz = 0, folders = 0;
    while ((d = readdir(top)) != NULL) {
        if (d->d_name[0] == '.')
            continue;
        char *dir = tu_path(CHAKRA, d->d_name);
        DIR *sub = opendir(dir);
        if (sub == NULL) {
            free(dir);
            continue;
        }
        folders++;
        struct dirent *f;
        while ((f = readdir(sub)) != NULL) {
            if (!ends_with(f->d_name, ".et") && !ends_with(f->d_name, ".et.gz"))
                continue;
            char *src = tu_path(dir, f->d_name);
            char *dst = tu_path(tmp, f->d_name);
            roundtrip(src, dst);
            files++;
            gz += ends_with(f->d_name, ".gz");
            free(src);
            free(dst);
        }
        closedir(sub);
        free(dir);
    }
    closedir(top);
    /* 17 folders, 225 files as shipped; at least the gzip one */
    assert_true(folders >= 17);
    assert_true(files >= 225);
    assert_true(gz >= 1);
    tu_rmtree(tmp);
}

/* The raw path copies messages verbatim, metadata included. */
static void test_raw_copy(void **state)
{
    (void)state;
    const char *src = CHAKRA "/custom_ring_allreduce_8npus_1MB/custom_allreduce.3.et";
    char *tmp = tu_tmpdir(), *dst = tu_path(tmp, "copy.et");
    loom_err err = {0, ""};
    et_reader *r = et_reader_open(src, &err);
    assert_non_null(r);
    et_writer *w = et_writer_open(dst, 0, &err);
    assert_non_null(w);
    const uint8_t *msg;
    size_t len;
    et_reader_metadata_raw(r, &msg, &len);
    assert_non_null(msg);
    assert_int_equal(et_writer_raw(w, msg, len, &err), 0);
    int rc;
    while ((rc = et_reader_next_raw(r, &msg, &len, &err)) == 1)
        assert_int_equal(et_writer_raw(w, msg, len, &err), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(et_reader_nodes(r), 35); /* 14 + 14 + 7 */
    et_reader_close(r);
    assert_int_equal(et_writer_close(w, &err), 0);
    size_t na, nb;
    uint8_t *a = tu_read_raw(src, &na), *b = tu_read_raw(dst, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
    free(dst);
    tu_rmtree(tmp);
}

static void test_metadata_and_legacy(void **state)
{
    (void)state;
    loom_err err = {0, ""};
    et_reader *r = et_reader_open(
        CHAKRA "/micro_all_reduce_8npus_1MB/all_reduce.0.et", &err);
    assert_non_null(r);
    assert_non_null(et_reader_metadata(r));
    assert_string_equal(et_reader_metadata(r)->version, "0.0.4");
    assert_int_equal(et_reader_is_gzip(r), 0);
    et_reader_close(r);

    /* old layout: first message is node 0 (id 0 is not even encoded) */
    r = et_reader_open(
        CHAKRA "/legacy_resnet50_dp_64npus/resnet50_DataParallel.0.et", &err);
    assert_non_null(r);
    assert_null(et_reader_metadata(r));
    const uint8_t *msg;
    size_t len;
    et_reader_metadata_raw(r, &msg, &len);
    assert_null(msg);
    assert_int_equal(len, 0);
    ChakraProtoMsg__Node *nd;
    assert_int_equal(et_reader_next(r, &nd, &err), 1);
    assert_int_equal(nd->id, 0);
    assert_string_equal(nd->name, "COMP_NODE_conv1_FWD");
    et_node_free(nd);
    size_t n = 1;
    while (et_reader_next(r, &nd, &err) == 1) {
        et_node_free(nd);
        n++;
    }
    assert_int_equal(n, 215);
    et_reader_close(r);

    r = et_reader_open(CHAKRA "/pytorch_converted_1rank/chakra.0.et.gz", &err);
    assert_non_null(r);
    assert_int_equal(et_reader_is_gzip(r), 1);
    assert_non_null(et_reader_metadata(r));
    et_reader_close(r);
}

/* Legacy detection on files written here: a first node whose only fields
 * besides the name are type, or deps, is still seen as a node. */
static void test_legacy_written(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), *p = tu_path(tmp, "old.0.et");
    tb b = {0};
    ChakraProtoMsg__Node *nodes[2];
    nodes[0] = tb_node(&b, 0, 4, "first"); /* id 0: only fields 2 and 3 */
    nodes[1] = tb_node(&b, 1, 4, "second");
    tb_ctrl(&b, nodes[1], 0);
    tb_write(p, NULL, nodes, 2, 1);
    loom_err err = {0, ""};
    et_reader *r = et_reader_open(p, &err);
    assert_non_null(r);
    assert_null(et_reader_metadata(r));
    assert_int_equal(et_reader_is_gzip(r), 1);
    ChakraProtoMsg__Node *nd;
    assert_int_equal(et_reader_next(r, &nd, &err), 1);
    assert_string_equal(nd->name, "first");
    et_node_free(nd);
    assert_int_equal(et_reader_next(r, &nd, &err), 1);
    assert_int_equal(nd->n_ctrl_deps, 1);
    et_node_free(nd);
    assert_int_equal(et_reader_next(r, &nd, &err), 0);
    assert_null(nd);
    assert_int_equal(et_reader_next(r, &nd, &err), 0); /* stays at EOF */
    et_reader_close(r);
    tb_free(&b);
    free(p);
    tu_rmtree(tmp);
}

/* Opens path and reads to the end; returns the first error code (0 if
 * none) with its message in err. */
static int read_through(const char *path, loom_err *err)
{
    et_reader *r = et_reader_open(path, err);
    if (r == NULL)
        return err->code;
    ChakraProtoMsg__Node *nd;
    int rc;
    while ((rc = et_reader_next(r, &nd, err)) == 1)
        et_node_free(nd);
    et_reader_close(r);
    return rc;
}

/* Writes bytes to dir/name, reads them, expects LOOM_ETRACE with the file
 * and want in the message. */
static void expect_bad(const char *dir, const char *name, const void *buf,
                       size_t n, const char *want)
{
    char *p = tu_path(dir, name);
    tu_write(p, buf, n);
    loom_err err = {0, ""};
    int rc = read_through(p, &err);
    if (rc != LOOM_ETRACE || strstr(err.msg, p) == NULL ||
        strstr(err.msg, want) == NULL)
        fail_msg("%s: rc %d, message \"%s\", wanted \"%s\"", name, rc, err.msg,
                 want);
    free(p);
}

/* 08 bytes of metadata "0.0.4", then a node of 0x27 bytes. */
static const uint8_t meta[] = {0x07, 0x0a, 0x05, '0', '.', '0', '.', '4'};

static void test_bad_inputs(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir();
    loom_err err = {0, ""};

    char *missing = tu_path(tmp, "missing.0.et");
    assert_null(et_reader_open(missing, &err));
    assert_int_equal(err.code, LOOM_ETRACE);
    assert_non_null(strstr(err.msg, missing));
    assert_non_null(strstr(err.msg, "cannot open"));
    free(missing);

    expect_bad(tmp, "empty.et", "", 0, "empty");

    /* a folder is refused for what it is */
    loom_err_clear(&err);
    assert_null(et_reader_open(tmp, &err));
    assert_non_null(strstr(err.msg, tmp));
    assert_non_null(strstr(err.msg, "is a directory, not a regular file"));
    loom_err_clear(&err);

    /* a real file cut in the middle of its node message */
    size_t n;
    uint8_t *ar = tu_read_raw(CHAKRA "/micro_all_reduce_8npus_1MB/all_reduce.0.et", &n);
    assert_true(n > 20);
    expect_bad(tmp, "cut.et", ar, n - 10,
               "message 1 at byte 8: length"); /* ...runs past the end */
    expect_bad(tmp, "cut2.et", ar, n - 10, "runs past the end");

    uint8_t buf[64];
    memcpy(buf, meta, sizeof meta);
    buf[8] = 0x80; /* length prefix with its continuation bit, then EOF */
    expect_bad(tmp, "varint.et", buf, 9, "ends inside its length prefix");
    memset(buf + 8, 0xff, 11);
    expect_bad(tmp, "longvarint.et", buf, 19, "longer than 10 bytes");
    /* 2^29 > the 256 MiB cap */
    buf[8] = 0x80, buf[9] = 0x80, buf[10] = 0x80, buf[11] = 0x80, buf[12] = 0x02;
    expect_bad(tmp, "cap.et", buf, 13, "exceeds the 268435456-byte cap");
    /* framing fine, protobuf not: a varint field cut short */
    buf[8] = 0x02, buf[9] = 0x08, buf[10] = 0x80;
    expect_bad(tmp, "unpack.et", buf, 11, "do not decode as a Node");
    /* first message not protobuf at all (field 0 / bad wire type) */
    expect_bad(tmp, "notpb.et", "\x03\xff\xff\xff", 4, "not a protobuf");
    expect_bad(tmp, "novalue.et", "\x01\x08", 2, "not a protobuf");
    const char *text = "this is not a Chakra trace, just some text\n";
    expect_bad(tmp, "text.et", text, strlen(text), "message 0 at byte 0");

    /* gzip: corrupt the deflate data, and cut the stream short */
    size_t gn;
    uint8_t *gzb = tu_read_raw(CHAKRA "/pytorch_converted_1rank/chakra.0.et.gz", &gn);
    uint8_t *bad = malloc(gn);
    memcpy(bad, gzb, gn);
    /* flipped deflate bytes may still inflate (to garbage that fails as
     * protobuf before the CRC at the end is reached): any error will do */
    for (size_t i = gn / 2; i < gn / 2 + 64; i++)
        bad[i] ^= 0x5a;
    expect_bad(tmp, "flipped.et.gz", bad, gn, "at byte");
    memcpy(bad, gzb, gn);
    bad[2] = 7; /* compression method: only 8 (deflate) exists */
    expect_bad(tmp, "method.et.gz", bad, gn, "corrupt or truncated gzip");
    expect_bad(tmp, "short.et.gz", gzb, gn / 2, "gzip");
    /* a corrupt trailer (CRC) is caught too, at the very end */
    memcpy(bad, gzb, gn);
    bad[gn - 6] ^= 0xff;
    expect_bad(tmp, "crc.et.gz", bad, gn, "gzip");
    free(bad);
    free(gzb);

    /* a length of 0 ends the trace; what follows is hashed but ignored */
    uint8_t *withend = malloc(n + 5);
    memcpy(withend, ar, n);
    memcpy(withend + n, "\x00junk", 5);
    char *p = tu_path(tmp, "end.et");
    tu_write(p, withend, n + 5);
    et_reader *r = et_reader_open(p, &err);
    assert_non_null(r);
    ChakraProtoMsg__Node *nd;
    assert_int_equal(et_reader_next(r, &nd, &err), 1);
    et_node_free(nd);
    assert_int_equal(et_reader_next(r, &nd, &err), 0);
    assert_int_equal(et_reader_offset(r), n + 5);
    assert_true(et_reader_digest(r) == et_digest(withend, n + 5));
    et_reader_close(r);
    free(p);
    free(withend);
    free(ar);
    tu_rmtree(tmp);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_writer(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), *p = tu_path(tmp, "w.0.et");
    loom_err err = {0, ""};
    tb b = {0};

    /* abort: nothing left behind, not even the temporary */
    et_writer *w = et_writer_open(p, 0, &err);
    assert_non_null(w);
    assert_int_equal(count_entries(tmp), 1); /* the temporary */
    ChakraProtoMsg__Node *ok = tb_node(&b, 7, 4, "n");
    assert_int_equal(et_writer_node(w, ok, &err), 0);
    et_writer_abort(w);
    assert_int_equal(count_entries(tmp), 0);
    et_writer_abort(NULL);

    /* an all-default node encodes to 0 bytes: refused */
    w = et_writer_open(p, 1, &err);
    ChakraProtoMsg__Node *empty = tb_node(&b, 0, 0, NULL);
    assert_int_equal(et_writer_node(w, empty, &err), LOOM_ETRACE);
    assert_non_null(strstr(err.msg, "0 bytes"));
    loom_err_clear(&err);
    /* metadata after a node: refused */
    assert_int_equal(et_writer_node(w, ok, &err), 0);
    ChakraProtoMsg__GlobalMetadata m;
    chakra_proto_msg__global_metadata__init(&m);
    m.version = "1.0.0";
    assert_int_equal(et_writer_metadata(w, &m, &err), LOOM_ETRACE);
    loom_err_clear(&err);
    assert_int_equal(et_writer_raw(w, (const uint8_t *)"", 0, &err), LOOM_ETRACE);
    loom_err_clear(&err);
    assert_int_equal(et_writer_close(w, &err), 0);
    assert_int_equal(count_entries(tmp), 1); /* only w.0.et */
    loom_err_clear(&err);
    assert_int_equal(read_through(p, &err), 0);

    /* a folder that does not exist: error naming the file */
    char *nodir = tu_path(tmp, "no/such/dir.et");
    assert_null(et_writer_open(nodir, 0, &err));
    assert_int_equal(err.code, LOOM_EIO);
    assert_non_null(strstr(err.msg, nodir));
    free(nodir);

    tb_free(&b);
    free(p);
    tu_rmtree(tmp);
}

/* Unpacks bytes as a Node and packs it again. */
static void repack(const uint8_t *in, size_t n, const uint8_t *want, size_t wn)
{
    ChakraProtoMsg__Node *nd = chakra_proto_msg__node__unpack(NULL, n, in);
    assert_non_null(nd);
    uint8_t out[64];
    assert_true(protobuf_c_message_get_packed_size(&nd->base) <= sizeof out);
    size_t k = chakra_proto_msg__node__pack(nd, out);
    chakra_proto_msg__node__free_unpacked(nd, NULL);
    assert_int_equal(k, wn);
    assert_memory_equal(out, want, wn);
}

#define B(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

/* What protobuf-c keeps and what it canonicalises (docs/TRACES.md).
 * Canonical input (what Python protobuf and protobuf-c write) comes back
 * unchanged; these are the non-canonical forms that do not. */
static void test_protobuf_c_fidelity(void **state)
{
    (void)state;
    /* kept: a oneof member at its zero value (is_cpu_op: bool_val false,
     * as every ASTRA-sim microbenchmark writes it) */
    repack(B(0x08, 1, 0x52, 6, 0x0a, 1, 'x', 0xd8, 0x01, 0x00),
           B(0x08, 1, 0x52, 6, 0x0a, 1, 'x', 0xd8, 0x01, 0x00));
    /* kept: empty string_val and empty bool_list in the oneof */
    repack(B(0x08, 1, 0x52, 6, 0x0a, 1, 'x', 0xea, 0x01, 0x00),
           B(0x08, 1, 0x52, 6, 0x0a, 1, 'x', 0xea, 0x01, 0x00));
    repack(B(0x08, 1, 0x52, 6, 0x0a, 1, 'x', 0xe2, 0x01, 0x00),
           B(0x08, 1, 0x52, 6, 0x0a, 1, 'x', 0xe2, 0x01, 0x00));
    /* kept: an empty IOInfo submessage; an unknown enum value (type 9);
     * an unknown field already at the end; bytes that are not UTF-8 */
    repack(B(0x08, 1, 0x42, 0), B(0x08, 1, 0x42, 0));
    repack(B(0x08, 1, 0x18, 9), B(0x08, 1, 0x18, 9));
    repack(B(0x08, 1, 0x12, 1, 'a', 0x78, 7), B(0x08, 1, 0x12, 1, 'a', 0x78, 7));
    repack(B(0x08, 1, 0x12, 1, 0xff), B(0x08, 1, 0x12, 1, 0xff));

    /* changed: unpacked repeated deps are packed; split packed runs merged */
    repack(B(0x08, 1, 0x20, 5, 0x20, 6), B(0x08, 1, 0x22, 2, 5, 6));
    repack(B(0x08, 1, 0x22, 1, 5, 0x22, 1, 6), B(0x08, 1, 0x22, 2, 5, 6));
    /* changed: proto3 defaults written explicitly outside a oneof vanish */
    repack(B(0x08, 0, 0x12, 1, 'a'), B(0x12, 1, 'a'));
    repack(B(0x08, 1, 0x12, 0), B(0x08, 1));
    repack(B(0x08, 1, 0x22, 0), B(0x08, 1));
    /* changed: unknown fields move to the end; fields sorted by number */
    repack(B(0x08, 1, 0x78, 7, 0x12, 1, 'a'), B(0x08, 1, 0x12, 1, 'a', 0x78, 7));
    repack(B(0x12, 1, 'a', 0x08, 1), B(0x08, 1, 0x12, 1, 'a'));
    /* changed: over-long varints shortened; a repeated scalar: last wins */
    repack(B(0x08, 0x81, 0x00), B(0x08, 1));
    repack(B(0x08, 1, 0x08, 2), B(0x08, 2));
    /* changed: two oneof members: the last wins; bool 2 becomes 1; a
     * negative int32 in 5 bytes is written in the standard 10 */
    repack(B(0x08, 1, 0x52, 8, 0x0a, 1, 'x', 0x48, 5, 0xd8, 0x01, 0x01),
           B(0x08, 1, 0x52, 6, 0x0a, 1, 'x', 0xd8, 0x01, 0x01));
    repack(B(0x08, 1, 0x52, 6, 0x0a, 1, 'x', 0xd8, 0x01, 0x02),
           B(0x08, 1, 0x52, 6, 0x0a, 1, 'x', 0xd8, 0x01, 0x01));
    repack(B(0x08, 1, 0x52, 9, 0x0a, 1, 'x', 0x38, 0xff, 0xff, 0xff, 0xff, 0x0f),
           B(0x08, 1, 0x52, 14, 0x0a, 1, 'x', 0x38, 0xff, 0xff, 0xff, 0xff, 0xff,
             0xff, 0xff, 0xff, 0xff, 0x01));
}


/* Runs fn(arg) in a child whose address space may grow by at most extra
 * bytes; returns its exit status (0: fn returned), or -1 where the cap
 * cannot be applied (ASan reserves terabytes of shadow up front). */
static int run_capped(size_t extra, void (*fn)(void *), void *arg)
{
#if defined(__SANITIZE_ADDRESS__)
    (void)extra, (void)fn, (void)arg;
    return -1;
#else
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(30); /* a regression hangs nothing */
        unsigned long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (f == NULL || fscanf(f, "%lu", &pages) != 1)
            _exit(99);
        fclose(f);
        size_t now = (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
        struct rlimit rl = {now + extra, now + extra};
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(98);
        fn(arg);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
#endif
}

/* An 11-byte file whose second length prefix claims 221 MB: the reader
 * must say it runs past the end without first allocating the 221 MB. */
static void read_claim(void *path)
{
    loom_err err = {0, ""};
    if (read_through(path, &err) != LOOM_ETRACE || !strstr(err.msg, "runs past the end") ||
        !strstr(err.msg, "(1 bytes left)"))
        _exit(2);
}

static void test_length_claim(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir();
    /* 221,000,000 as a varint: c0 e2 b0 69; then one byte of it */
    uint8_t c[13];
    memcpy(c, meta, sizeof meta);
    c[8] = 0xc0, c[9] = 0xe2, c[10] = 0xb0, c[11] = 0x69, c[12] = 0x08;
    char *p = tu_path(tmp, "claim.et");
    tu_write(p, c, 13);
    loom_err err = {0, ""};
    assert_int_equal(read_through(p, &err), LOOM_ETRACE);
    if (!strstr(err.msg, "length 221000000 runs past the end of the file (1 bytes left)"))
        fail_msg("%s", err.msg);
    /* and it costs no 221 MB: under a 64 MiB cap the same read still
     * fails cleanly (before, it died allocating 256 MiB) */
    int rc = run_capped(64u << 20, read_claim, p);
    if (rc != -1 && rc != 0)
        fail_msg("capped read: exit %d", rc);
    free(p);
    tu_rmtree(tmp);
}

/* Refused for what they are, at once: nothing that is not a regular file
 * is read (a FIFO would block forever, /dev/zero would never end). */
static void test_special_files(void **state)
{
    (void)state;
    alarm(20);
    char *tmp = tu_tmpdir();
    loom_err err = {0, ""};
    char *fifo = tu_path(tmp, "fifo.0.et");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_null(et_reader_open(fifo, &err));
    if (!strstr(err.msg, fifo) || !strstr(err.msg, "is a FIFO (named pipe), not a regular file"))
        fail_msg("%s", err.msg);
    loom_err_clear(&err);
    assert_null(et_reader_open("/dev/zero", &err));
    if (!strstr(err.msg, "/dev/zero: is a character device, not a regular file"))
        fail_msg("%s", err.msg);
    /* a symlink loop: the OS reason */
    loom_err_clear(&err);
    char *loop = tu_path(tmp, "loop.0.et");
    assert_int_equal(symlink(loop, loop), 0);
    assert_null(et_reader_open(loop, &err));
    if (!strstr(err.msg, loop) || !strstr(err.msg, strerror(ELOOP)))
        fail_msg("%s", err.msg);
    unlink(fifo);
    unlink(loop);
    free(fifo);
    free(loop);
    tu_rmtree(tmp);
    alarm(0);
}

/* A 0 length ends the trace; what follows is not read past 1 MiB: a gzip
 * file holding 48 MiB of zeros after it is read only that far, with the
 * trace intact. */
static void test_zero_length_bound(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir();
    size_t n;
    uint8_t *ar = tu_read_raw(CHAKRA "/micro_all_reduce_8npus_1MB/all_reduce.0.et", &n);
    size_t big = 48u << 20;
    uint8_t *buf = calloc(1, n + 1 + big);
    memcpy(buf, ar, n); /* the trace, then 0 (the end), then zeros */
    char *p = tu_path(tmp, "bomb.0.et.gz");
    tu_write_gz(p, buf, n + 1 + big);
    loom_err err = {0, ""};
    et_reader *r = et_reader_open(p, &err);
    assert_non_null(r);
    ChakraProtoMsg__Node *nd;
    int rc, nodes = 0;
    while ((rc = et_reader_next(r, &nd, &err)) == 1) {
        et_node_free(nd);
        nodes++;
    }
    assert_int_equal(rc, 0);
    assert_true(nodes > 0);
    uint64_t off = et_reader_offset(r);
    if (off > n + 1 + (1u << 20) + 1)
        fail_msg("read %llu decompressed bytes of a %zu-byte trace", (unsigned long long)off, n);
    et_reader_close(r);
    /* a short tail is still read whole (and warned about) */
    tu_write(p, buf, n + 1 + 100);
    r = et_reader_open(p, &err);
    while ((rc = et_reader_next(r, &nd, &err)) == 1)
        et_node_free(nd);
    assert_int_equal(et_reader_offset(r), n + 1 + 100);
    et_reader_close(r);
    free(buf);
    free(ar);
    free(p);
    tu_rmtree(tmp);
}

int main(void)
{
    loom_set_quiet(1); /* the 0-length test warns by design */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_fixture),
        cmocka_unit_test(test_raw_copy),
        cmocka_unit_test(test_metadata_and_legacy),
        cmocka_unit_test(test_legacy_written),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_length_claim),
        cmocka_unit_test(test_special_files),
        cmocka_unit_test(test_zero_length_bound),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_protobuf_c_fidelity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

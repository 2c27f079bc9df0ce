#include "et_testutil.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "et_io.h"

char *tu_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *t = tu_path(base && *base ? base : "/tmp", "loom-et-XXXXXX");
    assert_non_null(mkdtemp(t));
    return t;
}

void tu_rmtree(char *dir)
{
    if (dir == NULL)
        return;
    /* test folders are flat: files only */
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *p = tu_path(dir, e->d_name);
            remove(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

char *tu_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void tu_write(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

void tu_write_gz(const char *path, const void *buf, size_t n)
{
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, buf, (unsigned)n), (int)n);
    assert_int_equal(gzclose(g), Z_OK);
}

uint8_t *tu_read_all(const char *path, size_t *n)
{
    gzFile g = gzopen(path, "rb");
    if (g == NULL)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        int got = gzread(g, buf + len, (unsigned)(cap - len));
        assert_true(got >= 0);
        if (got == 0)
            break;
        len += (size_t)got;
    }
    gzclose(g);
    *n = len;
    return buf;
}

uint8_t *tu_read_raw(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(sz > 0 ? (size_t)sz : 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return buf;
}

int tu_count(const char *s, const char *needle)
{
    int c = 0;
    size_t nl = strlen(needle);
    for (const char *p = strstr(s, needle); p != NULL; p = strstr(p + nl, needle))
        c++;
    return c;
}

void *tb_alloc(tb *b, size_t size)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->ptr = realloc(b->ptr, b->cap * sizeof *b->ptr);
        assert_non_null(b->ptr);
    }
    void *p = calloc(1, size ? size : 1);
    assert_non_null(p);
    b->ptr[b->n++] = p;
    return p;
}

void tb_free(tb *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->ptr[i]);
    free(b->ptr);
    b->ptr = NULL;
    b->n = b->cap = 0;
}

static char *tb_strdup(tb *b, const char *s)
{
    char *d = tb_alloc(b, strlen(s) + 1);
    strcpy(d, s);
    return d;
}

ChakraProtoMsg__Node *tb_node(tb *b, uint64_t id, int type, const char *name)
{
    ChakraProtoMsg__Node *n = tb_alloc(b, sizeof *n);
    chakra_proto_msg__node__init(n);
    n->id = id;
    n->type = (ChakraProtoMsg__NodeType)type;
    if (name != NULL)
        n->name = tb_strdup(b, name);
    return n;
}

/* Appends v to a uint64 array kept in builder memory. */
static uint64_t *push_u64(tb *b, uint64_t *a, size_t n, uint64_t v)
{
    uint64_t *na = tb_alloc(b, (n + 1) * sizeof *na);
    if (n)
        memcpy(na, a, n * sizeof *na);
    na[n] = v;
    return na;
}

void tb_data(tb *b, ChakraProtoMsg__Node *n, uint64_t dep)
{
    n->data_deps = push_u64(b, n->data_deps, n->n_data_deps++, dep);
}

void tb_ctrl(tb *b, ChakraProtoMsg__Node *n, uint64_t dep)
{
    n->ctrl_deps = push_u64(b, n->ctrl_deps, n->n_ctrl_deps++, dep);
}

ChakraProtoMsg__AttributeProto *tb_attr(tb *b, ChakraProtoMsg__Node *n,
                                        const char *name)
{
    ChakraProtoMsg__AttributeProto *a = tb_alloc(b, sizeof *a);
    chakra_proto_msg__attribute_proto__init(a);
    a->name = tb_strdup(b, name);
    ChakraProtoMsg__AttributeProto **na =
        tb_alloc(b, (n->n_attr + 1) * sizeof *na);
    if (n->n_attr)
        memcpy(na, n->attr, n->n_attr * sizeof *na);
    na[n->n_attr++] = a;
    n->attr = na;
    return a;
}

#define V(x) CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_##x

void tb_i64(tb *b, ChakraProtoMsg__Node *n, const char *name, int64_t v)
{
    ChakraProtoMsg__AttributeProto *a = tb_attr(b, n, name);
    a->value_case = V(INT64_VAL);
    a->int64_val = v;
}

void tb_i32(tb *b, ChakraProtoMsg__Node *n, const char *name, int32_t v)
{
    ChakraProtoMsg__AttributeProto *a = tb_attr(b, n, name);
    a->value_case = V(INT32_VAL);
    a->int32_val = v;
}

void tb_u64(tb *b, ChakraProtoMsg__Node *n, const char *name, uint64_t v)
{
    ChakraProtoMsg__AttributeProto *a = tb_attr(b, n, name);
    a->value_case = V(UINT64_VAL);
    a->uint64_val = v;
}

void tb_bool(tb *b, ChakraProtoMsg__Node *n, const char *name, int v)
{
    ChakraProtoMsg__AttributeProto *a = tb_attr(b, n, name);
    a->value_case = V(BOOL_VAL);
    a->bool_val = v != 0;
}

void tb_str(tb *b, ChakraProtoMsg__Node *n, const char *name, const char *v)
{
    ChakraProtoMsg__AttributeProto *a = tb_attr(b, n, name);
    a->value_case = V(STRING_VAL);
    a->string_val = tb_strdup(b, v);
}

void tb_dbl(tb *b, ChakraProtoMsg__Node *n, const char *name, double v)
{
    ChakraProtoMsg__AttributeProto *a = tb_attr(b, n, name);
    a->value_case = V(DOUBLE_VAL);
    a->double_val = v;
}

void tb_bools(tb *b, ChakraProtoMsg__Node *n, const char *name, const int *v,
              size_t k)
{
    ChakraProtoMsg__AttributeProto *a = tb_attr(b, n, name);
    ChakraProtoMsg__BoolList *l = tb_alloc(b, sizeof *l);
    chakra_proto_msg__bool_list__init(l);
    l->values = tb_alloc(b, k * sizeof *l->values);
    for (size_t i = 0; i < k; i++)
        l->values[i] = v[i] != 0;
    l->n_values = k;
    a->value_case = V(BOOL_LIST);
    a->bool_list = l;
}

void tb_i64s(tb *b, ChakraProtoMsg__Node *n, const char *name, const int64_t *v, size_t k)
{
    ChakraProtoMsg__AttributeProto *a = tb_attr(b, n, name);
    ChakraProtoMsg__Int64List *l = tb_alloc(b, sizeof *l);
    chakra_proto_msg__int64_list__init(l);
    l->values = tb_alloc(b, (k ? k : 1) * sizeof *l->values);
    for (size_t i = 0; i < k; i++)
        l->values[i] = v[i];
    l->n_values = k;
    a->value_case = V(INT64_LIST);
    a->int64_list = l;
}

void tb_write(const char *path, const char *version,
              ChakraProtoMsg__Node **nodes, size_t n, int gzip)
{
    loom_err err = {0, ""};
    et_writer *w = et_writer_open(path, gzip, &err);
    assert_non_null(w);
    if (version != NULL) {
        ChakraProtoMsg__GlobalMetadata m;
        chakra_proto_msg__global_metadata__init(&m);
        m.version = (char *)version;
        assert_int_equal(et_writer_metadata(w, &m, &err), 0);
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(et_writer_node(w, nodes[i], &err), 0);
    assert_int_equal(et_writer_close(w, &err), 0);
}

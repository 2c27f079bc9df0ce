/*
 * et_testutil.h: helpers shared by the traces/ tests: a scratch folder,
 * whole-file reads (decompressed, independently of et_io), and a small
 * builder of Chakra nodes from protobuf-c structs, written with et_writer.
 *
 * Everything a builder hands out is owned by the builder and freed by
 * tb_free(); tu_tmpdir() folders are removed by tu_rmtree().
 */
#ifndef LOOM_ET_TESTUTIL_H
#define LOOM_ET_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "et_def.pb-c.h"

/* Creates a fresh folder under $TMPDIR or /tmp; returns a malloc'd path. */
char *tu_tmpdir(void);
/* Removes a flat folder and the files in it; frees dir. */
void tu_rmtree(char *dir);
/* malloc'd "<dir>/<name>". */
char *tu_path(const char *dir, const char *name);
/* Writes n raw bytes to path. */
void tu_write(const char *path, const void *buf, size_t n);
/* Whole file through zlib (gzip or plain): malloc'd bytes, *n set; NULL if
 * it cannot be opened. */
uint8_t *tu_read_all(const char *path, size_t *n);
/* Whole file as stored on disk. */
uint8_t *tu_read_raw(const char *path, size_t *n);
/* Writes a gzip copy of buf to path. */
void tu_write_gz(const char *path, const void *buf, size_t n);
/* Lines in s containing needle. */
int tu_count(const char *s, const char *needle);

typedef struct tb {
    void **ptr;  /* everything allocated for the nodes */
    size_t n;    /* used */
    size_t cap;  /* allocated */
} tb;

void *tb_alloc(tb *b, size_t size); /* zeroed, freed by tb_free */
void tb_free(tb *b);

ChakraProtoMsg__Node *tb_node(tb *b, uint64_t id, int type, const char *name);
void tb_data(tb *b, ChakraProtoMsg__Node *n, uint64_t dep);
void tb_ctrl(tb *b, ChakraProtoMsg__Node *n, uint64_t dep);
/* Adds an attribute; the caller sets its value through the returned
 * pointer (value_case and the union member). */
ChakraProtoMsg__AttributeProto *tb_attr(tb *b, ChakraProtoMsg__Node *n,
                                        const char *name);
void tb_i64(tb *b, ChakraProtoMsg__Node *n, const char *name, int64_t v);
void tb_i32(tb *b, ChakraProtoMsg__Node *n, const char *name, int32_t v);
void tb_u64(tb *b, ChakraProtoMsg__Node *n, const char *name, uint64_t v);
void tb_bool(tb *b, ChakraProtoMsg__Node *n, const char *name, int v);
void tb_str(tb *b, ChakraProtoMsg__Node *n, const char *name, const char *v);
void tb_dbl(tb *b, ChakraProtoMsg__Node *n, const char *name, double v);
void tb_bools(tb *b, ChakraProtoMsg__Node *n, const char *name,
              const int *v, size_t k);

void tb_i64s(tb *b, ChakraProtoMsg__Node *n, const char *name, const int64_t *v, size_t k);

/* Writes a trace: metadata with version (NULL: legacy layout, none), then
 * the nodes; asserts success. */
void tb_write(const char *path, const char *version,
              ChakraProtoMsg__Node **nodes, size_t n, int gzip);

#endif

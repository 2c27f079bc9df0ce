/*
 * et_io.h: streaming reader and writer of Chakra execution-trace files.
 *
 * A file is a sequence of protobuf messages, each preceded by its length as
 * a base-128 varint: one GlobalMetadata, then Node messages to the end.  A
 * length of 0 also ends the file.  Files are read through zlib, so gzip
 * (magic 1f 8b) and plain files are both accepted, told apart by content,
 * never by name.
 *
 * Legacy layout: files written before October 2023 have no GlobalMetadata.
 * The reader tells the two apart by the first message's top-level fields:
 * GlobalMetadata has only fields 1 and 2, both length-delimited; a Node has
 * field 1 as a varint (id) and uses fields 3..10.  So the first message is
 * a Node when any of its fields is numbered above 2 or field 1 is not
 * length-delimited; otherwise it is GlobalMetadata.  (A Node with id 0,
 * type INVALID_NODE and nothing but a name is indistinguishable from
 * metadata; no writer produces one as its first node.)
 *
 * Reading streams: one buffer that grows to the largest message, never the
 * whole file.  Every error names the file, the message index (0 is the
 * first message, metadata or not) and the byte offset in the decompressed
 * stream where that message's length prefix starts.
 *
 * Ownership: et_reader_open() returns a reader freed by et_reader_close();
 * the metadata and raw buffers it hands out live until the next call or
 * close.  Nodes from et_reader_next() belong to the caller, who frees them
 * with et_node_free().  The writer writes to "<path>.tmp.XXXXXX" and renames
 * it to path only when et_writer_close() succeeds; et_writer_abort() (or a
 * failed close) removes the temporary file, so no half-written trace is
 * ever left under the real name.
 */
#ifndef LOOM_ET_IO_H
#define LOOM_ET_IO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "et_def.pb-c.h"

/* Largest message accepted: 2^28 bytes, which is also what ASTRA-sim's
 * varint32 reader can express.  A longer length is taken as corruption. */
#define ET_MAX_MSG (256u << 20)

typedef struct et_reader et_reader;
typedef struct et_writer et_writer;

/* Opens path for reading if it is a regular file (a symlink to one
 * included): returns the descriptor, or LOOM_ETRACE with "WHAT PATH: ..."
 * naming the OS reason (ENOENT, ELOOP, EACCES) or what the file is (a
 * directory, a FIFO, a device), never blocking on a FIFO. */
int et_open_regular(const char *path, const char *what, loom_err *err);

/* Opens path and reads its first message (the metadata, or the first node
 * of a legacy file).  An empty file is an error. */
et_reader *et_reader_open(const char *path, loom_err *err);
void et_reader_close(et_reader *r);

/* The file's GlobalMetadata, or NULL for the legacy layout. */
const ChakraProtoMsg__GlobalMetadata *et_reader_metadata(const et_reader *r);

/* The metadata message's bytes as stored (without the length prefix);
 * returns 0 and sets *msg = NULL, *len = 0 for the legacy layout. */
int et_reader_metadata_raw(const et_reader *r, const uint8_t **msg /* OUT */,
                           size_t *len /* OUT */);

/* Reads the next node: returns 1 with *out set, 0 at end of file (*out =
 * NULL), or a negative LOOM_E* code with err filled.  The node lives in the
 * reader's memory until the next et_reader_next or et_reader_close (copy
 * what must outlive it); et_node_free is kept for callers and does
 * nothing. */
int et_reader_next(et_reader *r, ChakraProtoMsg__Node **out /* OUT */,
                   loom_err *err);

/* Like et_reader_next() but hands out the node message's bytes as stored,
 * without unpacking them; *msg stays valid until the next call. */
int et_reader_next_raw(et_reader *r, const uint8_t **msg /* OUT */,
                       size_t *len /* OUT */, loom_err *err);

void et_node_free(ChakraProtoMsg__Node *n);

const char *et_reader_path(const et_reader *r);
int et_reader_is_gzip(const et_reader *r);   /* 1 if the file is gzip */
uint64_t et_reader_nodes(const et_reader *r);  /* nodes handed out so far */
uint64_t et_reader_offset(const et_reader *r); /* decompressed bytes read */

/* The digest (et_digest) of every decompressed byte read so far; once a
 * next call has returned 0 this covers the whole file, bytes after a 0
 * length included up to the first 1 MiB of them (they are not read
 * further). */
uint64_t et_reader_digest(const et_reader *r);

/* A file's content digest: XXH3 64 (libxxhash), twenty times FNV-1a's
 * speed, which had been a tenth of loading a trace.  Exposed so callers
 * and tests hash the same way. */
uint64_t et_digest(const void *p, size_t n);

/* A file's identity, as a hash key: hard links share it (rank files that
 * are read once, et_set and et_check). */
typedef struct et_inode_key {
    dev_t dev;
    ino_t ino;
} et_inode_key;

static inline et_inode_key et_inode_key_of(const struct stat *st)
{
    et_inode_key k;
    memset(&k, 0, sizeof k); /* padding takes part in the hash */
    k.dev = st->st_dev;
    k.ino = st->st_ino;
    return k;
}

/* FNV-1a 64, for short keys (interned names). */
#define ET_FNV_OFFSET 0xcbf29ce484222325ull
#define ET_FNV_PRIME 0x100000001b3ull
uint64_t et_fnv1a(uint64_t h, const void *p, size_t n);

/* Creates a writer for path; gzip != 0 compresses the output. */
et_writer *et_writer_open(const char *path, int gzip, loom_err *err);

/* Writes the GlobalMetadata; optional (leave it out for the legacy layout)
 * but only before the first node. */
int et_writer_metadata(et_writer *w, const ChakraProtoMsg__GlobalMetadata *m,
                       loom_err *err);

/* Writes one node.  A node whose encoding is empty (id 0, no name, type
 * INVALID_NODE, nothing else) is refused: its length 0 would read back as
 * the end of the file. */
int et_writer_node(et_writer *w, const ChakraProtoMsg__Node *n, loom_err *err);

/* Writes an already encoded message (metadata or node) verbatim, with its
 * length prefix; len must be 1..ET_MAX_MSG. */
int et_writer_raw(et_writer *w, const uint8_t *msg, size_t len, loom_err *err);

/* Flushes, closes and renames the temporary file to the real name; on any
 * failure removes it and returns a negative code.  Frees w either way. */
int et_writer_close(et_writer *w, loom_err *err);

/* Discards everything written and frees w; w may be NULL. */
void et_writer_abort(et_writer *w);

#endif

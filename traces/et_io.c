#include "et_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t's size: allocated like the rest */
#include <xxhash.h>
#include <zlib.h>

/*
 * Framing is ours (Chakra puts the length outside the protobuf message);
 * the messages themselves are packed and unpacked by protobuf-c, and the
 * bytes come and go through zlib's gz* stream, which reads plain files
 * transparently and buffers, so varints are read a byte at a time with
 * gzgetc() at no real cost.
 *
 * Invariant: r->offset and r->digest always cover exactly the bytes
 * consumed from the decompressed stream, so a caller that reads to EOF
 * gets the size and digest of the whole decompressed file (but for bytes
 * beyond the first DRAIN_MAX after a 0 length, which are never consumed).
 */

#define VARINT_MAX 10     /* bytes in a 64-bit base-128 varint */
#define DRAIN_CHUNK 65536 /* read size when hashing bytes after a 0 length */
#define DRAIN_MAX (1u << 20) /* bytes after a 0 length read at most */
#define READ_CHUNK (1u << 20) /* a message's buffer grows by at most this, or
                                 by what has arrived, per read */

struct et_reader {
    char *path;           /* file name, for messages */
    gzFile gz;            /* zlib stream (gzip or plain) */
    int gzip;             /* 1 if the file is gzip-compressed */
    uint8_t *buf;         /* current message; grows to the largest */
    size_t cap;           /* bytes allocated in buf */
    size_t len;           /* bytes of the current message in buf */
    uint64_t offset;      /* decompressed bytes consumed */
    XXH3_state_t *xs;     /* XXH3 64 of those bytes, so far (et_digest) */
    uint64_t msg;         /* index of the next message to read */
    uint64_t nodes;       /* nodes handed out */
    int pending;          /* legacy: buf holds node 0, not yet handed out */
    int eof;              /* end reached; next calls return 0 */
    uint8_t *meta_raw;    /* metadata bytes as stored; NULL if legacy */
    size_t meta_len;      /* bytes in meta_raw */
    ChakraProtoMsg__GlobalMetadata *meta; /* unpacked metadata or NULL */
    /* the current node's memory (node_alloc): protobuf-c unpacks each node
     * into these blocks, emptied by the next et_reader_next, so a node costs
     * neither its dozens of mallocs nor protobuf-c's walk to free them */
    uint8_t **blk;        /* blocks, NODE_BLOCK bytes or one large request */
    size_t *blksz;        /* their sizes */
    int nblk, capblk;     /* blocks allocated, slots */
    int cur;              /* the block being filled */
    size_t used;          /* bytes of it handed out */
    ProtobufCAllocator alloc; /* node_alloc over this reader */
};

enum { NODE_BLOCK = 64 * 1024 };

/* protobuf-c's allocator for a node: bump allocation in the reader's blocks
 * (16-byte aligned), a new block when one is full; et_reader_next starts
 * again at the first. */
static void *node_alloc(void *data, size_t size)
{
    et_reader *r = data;
    size = (size + 15) & ~(size_t)15;
    while (r->cur < r->nblk && r->used + size > r->blksz[r->cur]) {
        r->cur++;
        r->used = 0;
    }
    if (r->cur == r->nblk) {
        if (r->nblk == r->capblk) {
            r->capblk = r->capblk ? 2 * r->capblk : 4;
            r->blk = loom_xrealloc(r->blk, (size_t)r->capblk * sizeof *r->blk);
            r->blksz = loom_xrealloc(r->blksz, (size_t)r->capblk * sizeof *r->blksz);
        }
        size_t bs = size > NODE_BLOCK ? size : NODE_BLOCK;
        r->blk[r->nblk] = loom_xmalloc(bs);
        r->blksz[r->nblk++] = bs;
        r->used = 0;
    }
    void *p = r->blk[r->cur] + r->used;
    r->used += size;
    return p;
}

static void node_free(void *data, void *p)
{
    (void)data, (void)p; /* emptied as a whole by the next node */
}

struct et_writer {
    char *path;  /* final name */
    char *tmp;   /* temporary name, renamed to path on close */
    gzFile gz;   /* zlib stream; "wbT" writes plain bytes */
    uint8_t *buf; /* packing buffer, grows to the largest message */
    size_t cap;  /* bytes allocated in buf */
    uint64_t nodes; /* nodes written */
    int meta;    /* 1 once metadata (or raw message 0) was written */
    int failed;  /* a write failed: close must not rename */
};

uint64_t et_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= ET_FNV_PRIME;
    }
    return h;
}

static void grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c *= 2;
    *buf = loom_xrealloc(*buf, c);
    *cap = c;
}

/* Nonzero (and err filled) if the zlib stream is in error: a corrupt or
 * truncated gzip file shows up here, not as a short read. */
static int gz_failed(et_reader *r, uint64_t at, loom_err *err)
{
    int errnum = Z_OK;
    const char *msg = gzerror(r->gz, &errnum);
    if (errnum == Z_OK || errnum == Z_STREAM_END)
        return 0;
    if (errnum == Z_ERRNO) /* the file itself: EIO, EISDIR, ... */
        loom_err_set(err, LOOM_ETRACE,
                     "trace %s: message %llu at byte %llu: read error: %s",
                     r->path, (unsigned long long)r->msg,
                     (unsigned long long)at, strerror(errno));
    else
        loom_err_set(err, LOOM_ETRACE,
                     "trace %s: message %llu at byte %llu: corrupt or "
                     "truncated gzip data (zlib: %s)",
                     r->path, (unsigned long long)r->msg,
                     (unsigned long long)at, msg);
    return 1;
}

/* Hashes what follows a 0 length, up to DRAIN_MAX bytes.  A 0 length ends
 * the trace (as in Chakra's Python reader): bytes after it are not read as
 * messages, but a warning says how many there were.  They are not part of
 * the trace, so reading them is bounded: a 4 MB gzip file that inflates to
 * 4 GiB of zeros after its 0 length costs 1 MiB of inflating, not 15 s.
 * The digest then covers the trace and the first DRAIN_MAX bytes after it;
 * two files that differ only beyond that hold the same trace anyway. */
static int drain(et_reader *r, uint64_t at, loom_err *err)
{
    uint64_t extra = 0;
    int more = 0;
    grow(&r->buf, &r->cap, DRAIN_CHUNK);
    for (;;) {
        if (extra >= DRAIN_MAX) {
            int c = gzgetc(r->gz); /* one byte: is there anything past the bound? */
            if (c < 0 && gz_failed(r, at, err))
                return LOOM_ETRACE;
            if (c >= 0) {
                unsigned char b = (unsigned char)c;
                XXH3_64bits_update(r->xs, &b, 1);
                r->offset++;
                more = 1;
            }
            break;
        }
        int got = gzread(r->gz, r->buf, DRAIN_CHUNK);
        if (got < DRAIN_CHUNK && gz_failed(r, at, err))
            return LOOM_ETRACE;
        if (got < 0)
            return loom_err_set(err, LOOM_ETRACE,
                                "trace %s: read error after byte %llu",
                                r->path, (unsigned long long)r->offset);
        XXH3_64bits_update(r->xs, r->buf, (size_t)got);
        r->offset += (uint64_t)got;
        extra += (uint64_t)got;
        if (got < DRAIN_CHUNK)
            break;
    }
    if (more)
        loom_warn("trace %s: length 0 at byte %llu ends the trace; more than %u bytes "
                  "after it ignored (not read further)",
                  r->path, (unsigned long long)at, DRAIN_MAX);
    else if (extra > 0)
        loom_warn("trace %s: length 0 at byte %llu ends the trace; %llu bytes "
                  "after it ignored",
                  r->path, (unsigned long long)at, (unsigned long long)extra);
    return 0;
}

/* Reads one length-prefixed message into r->buf.  Returns 1, 0 at end of
 * file (clean EOF or a 0 length), or LOOM_ETRACE. */
static int read_msg(et_reader *r, loom_err *err)
{
    uint64_t at = r->offset, len = 0;
    int i;
    for (i = 0; i < VARINT_MAX; i++) {
        int c = gzgetc(r->gz);
        if (c < 0) {
            if (gz_failed(r, at, err))
                return LOOM_ETRACE;
            if (i == 0)
                return 0; /* clean end between messages */
            return loom_err_set(err, LOOM_ETRACE,
                                "trace %s: message %llu at byte %llu: file "
                                "ends inside its length prefix (%d bytes)",
                                r->path, (unsigned long long)r->msg,
                                (unsigned long long)at, i);
        }
        unsigned char b = (unsigned char)c;
        XXH3_64bits_update(r->xs, &b, 1);
        r->offset++;
        len |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            break;
    }
    if (i == VARINT_MAX)
        return loom_err_set(err, LOOM_ETRACE,
                            "trace %s: message %llu at byte %llu: length "
                            "prefix longer than %d bytes (not a Chakra trace?)",
                            r->path, (unsigned long long)r->msg,
                            (unsigned long long)at, VARINT_MAX);
    if (len == 0)
        return drain(r, at, err) < 0 ? LOOM_ETRACE : 0;
    if (len > ET_MAX_MSG)
        return loom_err_set(err, LOOM_ETRACE,
                            "trace %s: message %llu at byte %llu: length %llu "
                            "exceeds the %u-byte cap (corrupt or not a Chakra "
                            "trace)",
                            r->path, (unsigned long long)r->msg,
                            (unsigned long long)at, (unsigned long long)len,
                            ET_MAX_MSG);
    /* The buffer grows with the bytes that arrive, never ahead of them by
     * more than READ_CHUNK or the bytes already read: a length prefix that
     * claims 200 MB in an 11-byte file costs a 1 MiB buffer, not 256 MiB
     * (the decompressed size is not known up front, so the check is the
     * read itself). */
    size_t got = 0;
    for (;;) {
        size_t want = (size_t)len - got, step = got > READ_CHUNK ? got : READ_CHUNK;
        if (want > step)
            want = step;
        grow(&r->buf, &r->cap, got + want);
        int n = gzread(r->gz, r->buf + got, (unsigned)want);
        if (n > 0)
            got += (size_t)n;
        if (n < 0 || (size_t)n < want || got == len)
            break;
    }
    if (got < len) {
        if (gz_failed(r, at, err))
            return LOOM_ETRACE;
        return loom_err_set(err, LOOM_ETRACE,
                            "trace %s: message %llu at byte %llu: length %llu "
                            "runs past the end of the file (%zu bytes left)",
                            r->path, (unsigned long long)r->msg,
                            (unsigned long long)at, (unsigned long long)len,
                            got);
    }
    XXH3_64bits_update(r->xs, r->buf, (size_t)len);
    r->offset += len;
    r->len = (size_t)len;
    r->msg++;
    return 1;
}

/* Reads a varint from p[*i..n); -1 if it is cut short or too long. */
static int scan_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
    *v = 0;
    for (int k = 0; k < VARINT_MAX; k++) {
        if (*i >= n)
            return -1;
        uint8_t b = p[(*i)++];
        *v |= (uint64_t)(b & 0x7f) << (7 * k);
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* Legacy detection (see et_io.h): returns 1 if the message's top-level
 * fields can only be a Node, 0 if they fit GlobalMetadata, -1 if the bytes
 * are not a protobuf message at all. */
static int looks_like_node(const uint8_t *p, size_t n)
{
    size_t i = 0;
    int node = 0;
    while (i < n) {
        uint64_t key, v;
        if (scan_varint(p, n, &i, &key) < 0 || (key >> 3) == 0)
            return -1;
        uint64_t field = key >> 3, wire = key & 7;
        if (field > 2 || (field == 1 && wire != 2))
            node = 1;
        switch (wire) {
        case 0: /* varint */
            if (scan_varint(p, n, &i, &v) < 0)
                return -1;
            break;
        case 1: /* 64-bit */
            if (n - i < 8)
                return -1;
            i += 8;
            break;
        case 2: /* length-delimited */
            if (scan_varint(p, n, &i, &v) < 0 || v > n - i)
                return -1;
            i += (size_t)v;
            break;
        case 5: /* 32-bit */
            if (n - i < 4)
                return -1;
            i += 4;
            break;
        default: /* groups (3, 4) are not in the schema */
            return -1;
        }
    }
    return node;
}

int et_open_regular(const char *path, const char *what, loom_err *err)
{
    /* O_NONBLOCK: opening a FIFO for reading must not wait for a writer;
     * it is cleared again once the file is known to be regular */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return loom_err_set(err, LOOM_ETRACE, "%s %s: cannot open: %s", what, path,
                            strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return loom_err_set(err, LOOM_ETRACE, "%s %s: cannot read: %s", what, path,
                            strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return loom_err_set(err, LOOM_ETRACE,
                            "%s %s: is %s, not a regular file (a trace is read from a file "
                            "on disk)", what, path, loom_file_kind(st.st_mode));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

et_reader *et_reader_open(const char *path, loom_err *err)
{
    et_reader *r = loom_xcalloc(1, sizeof *r);
    r->path = loom_xstrdup(path);
    r->xs = loom_xcalloc_aligned(1, sizeof *r->xs, 64);
    XXH3_INITSTATE(r->xs);
    XXH3_64bits_reset(r->xs);
    r->alloc = (ProtobufCAllocator){node_alloc, node_free, r};
    int fd = et_open_regular(path, "trace", err);
    if (fd < 0)
        goto err;
    r->gz = gzdopen(fd, "rb");
    if (r->gz == NULL) {
        close(fd);
        loom_err_set(err, LOOM_ETRACE, "trace %s: cannot open: %s", path,
                     errno ? strerror(errno) : "out of memory");
        goto err;
    }
    gzbuffer(r->gz, 1u << 17);
    int rc = read_msg(r, err);
    if (rc < 0)
        goto err;
    r->gzip = !gzdirect(r->gz);
    if (rc == 0) {
        loom_err_set(err, LOOM_ETRACE,
                     "trace %s: empty: no GlobalMetadata and no node", path);
        goto err;
    }
    int kind = looks_like_node(r->buf, r->len);
    if (kind < 0) {
        loom_err_set(err, LOOM_ETRACE,
                     "trace %s: message 0 at byte 0: %zu bytes that are not a "
                     "protobuf message (not a Chakra trace?)",
                     path, r->len);
        goto err;
    }
    if (kind == 1) {
        r->pending = 1; /* legacy: the first message is node 0 */
        return r;
    }
    r->meta = chakra_proto_msg__global_metadata__unpack(NULL, r->len, r->buf);
    if (r->meta == NULL) {
        loom_err_set(err, LOOM_ETRACE,
                     "trace %s: message 0 at byte 0: %zu bytes do not decode "
                     "as GlobalMetadata",
                     path, r->len);
        goto err;
    }
    r->meta_raw = loom_xmalloc(r->len);
    memcpy(r->meta_raw, r->buf, r->len);
    r->meta_len = r->len;
    return r;
err:
    et_reader_close(r);
    return NULL;
}

void et_reader_close(et_reader *r)
{
    if (r == NULL)
        return;
    if (r->gz != NULL)
        gzclose(r->gz);
    if (r->meta != NULL)
        chakra_proto_msg__global_metadata__free_unpacked(r->meta, NULL);
    free(r->meta_raw);
    free(r->buf);
    free(r->path);
    free(r->xs);
    for (int i = 0; i < r->nblk; i++)
        free(r->blk[i]);
    free(r->blk);
    free(r->blksz);
    free(r);
}

const ChakraProtoMsg__GlobalMetadata *et_reader_metadata(const et_reader *r)
{
    return r->meta;
}

int et_reader_metadata_raw(const et_reader *r, const uint8_t **msg, size_t *len)
{
    *msg = r->meta_raw;
    *len = r->meta_len;
    return 0;
}

int et_reader_next_raw(et_reader *r, const uint8_t **msg, size_t *len,
                       loom_err *err)
{
    *msg = NULL;
    *len = 0;
    if (r->eof)
        return 0;
    if (r->pending) {
        r->pending = 0;
    } else {
        int rc = read_msg(r, err);
        if (rc <= 0) {
            r->eof = 1;
            return rc;
        }
    }
    r->nodes++;
    *msg = r->buf;
    *len = r->len;
    return 1;
}

int et_reader_next(et_reader *r, ChakraProtoMsg__Node **out, loom_err *err)
{
    const uint8_t *msg;
    size_t len;
    *out = NULL;
    uint64_t at = r->offset; /* where the next message starts, unless legacy */
    int rc = et_reader_next_raw(r, &msg, &len, err);
    if (rc <= 0)
        return rc;
    r->cur = 0; /* the previous node's memory is reused */
    r->used = 0;
    *out = chakra_proto_msg__node__unpack(&r->alloc, len, msg);
    if (*out == NULL) {
        uint64_t idx = r->msg - 1;
        if (r->nodes == 1 && r->meta == NULL)
            at = 0;
        return loom_err_set(err, LOOM_ETRACE,
                            "trace %s: message %llu at byte %llu: %zu bytes "
                            "do not decode as a Node",
                            r->path, (unsigned long long)idx,
                            (unsigned long long)at, len);
    }
    return 1;
}

void et_node_free(ChakraProtoMsg__Node *n)
{
    (void)n; /* its memory is the reader's, reused by the next node */
}

const char *et_reader_path(const et_reader *r) { return r->path; }
int et_reader_is_gzip(const et_reader *r) { return r->gzip; }
uint64_t et_reader_nodes(const et_reader *r) { return r->nodes; }
uint64_t et_reader_offset(const et_reader *r) { return r->offset; }
uint64_t et_reader_digest(const et_reader *r) { return XXH3_64bits_digest(r->xs); }

uint64_t et_digest(const void *p, size_t n) { return XXH3_64bits(p, n); }

/* ---- writer ---- */

et_writer *et_writer_open(const char *path, int gzip, loom_err *err)
{
    et_writer *w = loom_xcalloc(1, sizeof *w);
    size_t n = strlen(path);
    w->path = loom_xstrdup(path);
    w->tmp = loom_xmalloc(n + sizeof ".tmp.XXXXXX");
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(w->tmp);
    if (fd < 0) {
        loom_err_set(err, LOOM_EIO, "trace %s: cannot create %s: %s", path,
                     w->tmp, strerror(errno));
        w->tmp[0] = '\0'; /* nothing to remove */
        goto err;
    }
    /* mkstemp makes it 0600; a trace is as readable as any output file */
    (void)fchmod(fd, 0644);
    /* "T" writes plain bytes through the same gz* calls */
    w->gz = gzdopen(fd, gzip ? "wb" : "wbT");
    if (w->gz == NULL) {
        close(fd);
        loom_err_set(err, LOOM_EIO, "trace %s: cannot start a zlib stream",
                     path);
        goto err;
    }
    return w;
err:
    et_writer_abort(w);
    return NULL;
}

static int write_bytes(et_writer *w, const void *p, size_t n, loom_err *err)
{
    if (n == 0)
        return 0;
    if (gzwrite(w->gz, p, (unsigned)n) != (int)n) {
        int errnum = Z_OK;
        const char *msg = gzerror(w->gz, &errnum);
        w->failed = 1;
        return loom_err_set(err, LOOM_EIO, "trace %s: write failed: %s",
                            w->path,
                            errnum == Z_ERRNO ? strerror(errno) : msg);
    }
    return 0;
}

int et_writer_raw(et_writer *w, const uint8_t *msg, size_t len, loom_err *err)
{
    if (w->failed)
        return loom_err_set(err, LOOM_EIO, "trace %s: earlier write failed",
                            w->path);
    if (len == 0 || len > ET_MAX_MSG)
        return loom_err_set(err, LOOM_ETRACE,
                            "trace %s: message %llu: %zu bytes is outside "
                            "1..%u (0 would read back as the end of file)",
                            w->path,
                            (unsigned long long)(w->nodes + (uint64_t)w->meta),
                            len, ET_MAX_MSG);
    uint8_t pre[VARINT_MAX];
    size_t k = 0;
    uint64_t v = len;
    do {
        pre[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v != 0);
    if (write_bytes(w, pre, k, err) < 0 || write_bytes(w, msg, len, err) < 0)
        return LOOM_EIO;
    return 0;
}

/* Packs m into w->buf and writes it. */
static int write_msg(et_writer *w, const ProtobufCMessage *m, const char *what,
                     uint64_t id, loom_err *err)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    if (n == 0)
        return loom_err_set(err, LOOM_ETRACE,
                            "trace %s: %s encodes to 0 bytes, which would read "
                            "back as the end of the file (node id %llu)",
                            w->path, what, (unsigned long long)id);
    if (n > ET_MAX_MSG)
        return loom_err_set(err, LOOM_ETRACE,
                            "trace %s: %s (node id %llu) is %zu bytes, over "
                            "the %u-byte cap",
                            w->path, what, (unsigned long long)id, n,
                            ET_MAX_MSG);
    grow(&w->buf, &w->cap, n);
    size_t packed = protobuf_c_message_pack(m, w->buf);
    LOOM_ASSERT(packed == n);
    return et_writer_raw(w, w->buf, n, err);
}

int et_writer_metadata(et_writer *w, const ChakraProtoMsg__GlobalMetadata *m,
                       loom_err *err)
{
    if (w->meta || w->nodes > 0)
        return loom_err_set(err, LOOM_ETRACE,
                            "trace %s: GlobalMetadata must come first, once",
                            w->path);
    int rc = write_msg(w, &m->base, "GlobalMetadata", 0, err);
    if (rc == 0)
        w->meta = 1;
    return rc;
}

int et_writer_node(et_writer *w, const ChakraProtoMsg__Node *n, loom_err *err)
{
    int rc = write_msg(w, &n->base, "node", n->id, err);
    if (rc == 0)
        w->nodes++;
    return rc;
}

int et_writer_close(et_writer *w, loom_err *err)
{
    int rc = 0;
    if (w->failed)
        rc = loom_err_set(err, LOOM_EIO, "trace %s: not written: a write "
                          "failed", w->path);
    int zrc = gzclose(w->gz);
    w->gz = NULL;
    if (rc == 0 && zrc != Z_OK)
        rc = loom_err_set(err, LOOM_EIO, "trace %s: closing %s failed: %s",
                          w->path, w->tmp,
                          zrc == Z_ERRNO ? strerror(errno) : "zlib error");
    if (rc == 0 && rename(w->tmp, w->path) != 0)
        rc = loom_err_set(err, LOOM_EIO, "trace %s: cannot rename %s: %s",
                          w->path, w->tmp, strerror(errno));
    if (rc == 0)
        w->tmp[0] = '\0'; /* renamed: nothing left to remove */
    et_writer_abort(w);
    return rc;
}

void et_writer_abort(et_writer *w)
{
    if (w == NULL)
        return;
    if (w->gz != NULL)
        gzclose(w->gz);
    if (w->tmp != NULL && w->tmp[0] != '\0')
        unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    free(w->buf);
    free(w);
}

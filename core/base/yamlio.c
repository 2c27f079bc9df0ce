#include "yamlio.h"

/*
 * yamlio.c: builds the document from libyaml's events (not with
 * yaml_parser_load) so that every check of yamlio.h fires at the event that
 * breaks it, before the rest is read:
 *  - a 100,000-deep nesting stops at level 65 (libyaml's scanner costs
 *    O(depth) per token in flow context, so reading it all took minutes);
 *  - a billion-laughs alias stops at the alias that crosses the budget: each
 *    node's expanded size is known when it closes, so an alias costs O(1)
 *    to count however much it stands for;
 *  - a cycle is an alias to a collection that is still open (libyaml's own
 *    loader registers the anchor on the way in and so builds the cycle).
 * Nothing here recurses: open collections are an explicit stack of at most
 * LOOM_YAML_MAX_DEPTH frames.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sbuf.h"

/* A node with its aliases expanded. */
typedef struct nsize {
    uint64_t nodes; /* nodes of its subtree, itself included */
    uint64_t text;  /* scalar bytes of its subtree */
    int height;     /* levels of its subtree (a scalar: 1); 0 while it is open */
} nsize;

typedef struct frame {
    int node;  /* the open collection */
    int key;   /* a mapping's key still waiting for its value, or 0 */
    nsize sub; /* its children so far: summed nodes and text, tallest height */
} frame;

typedef struct anchor {
    char *name; /* NULL: a free slot */
    int node;   /* the node it names */
} anchor;

typedef struct builder {
    yaml_document_t *doc;
    const char *name;          /* the source, for messages */
    const unsigned char *text; /* the input, for positions libyaml does not give */
    size_t len;
    loom_err *err;
    nsize *sz;                 /* per node, at index - 1 */
    size_t szcap;
    frame st[LOOM_YAML_MAX_DEPTH]; /* open collections, outermost first */
    int depth;                 /* frames in st */
    uint64_t nodes, bytes;     /* the document so far, aliases expanded */
    anchor *anc;               /* open addressing, capacity a power of two */
    size_t anccap, nanc;
} builder;

static const char one_doc[] = "a file holds one YAML document or JSON value";
static const char budget[] = "the limit for every loom file, docs/CONFIG.md";

static int bad(builder *b, yaml_mark_t m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(builder *b, yaml_mark_t m, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return loom_err_set(b->err, LOOM_EUSAGE, "%s: line %zu, column %zu: %s", b->name,
                        m.line + 1, m.column + 1, msg);
}

static int oom(builder *b)
{
    return loom_err_set(b->err, LOOM_EINTERNAL, "%s: out of memory building the document", b->name);
}

/* ---- anchors --------------------------------------------------------------- */

static anchor *anc_slot(anchor *tab, size_t cap, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = (h ^ *c) * 0x100000001b3ULL;
    for (size_t i = (size_t)h & (cap - 1);; i = (i + 1) & (cap - 1))
        if (tab[i].name == NULL || strcmp(tab[i].name, name) == 0)
            return &tab[i];
}

/* Names node with anchor `name`; an anchor defined twice is refused, as
 * libyaml's own loader did before this file replaced it. */
static int anc_put(builder *b, const char *name, int node, yaml_mark_t m)
{
    if (2 * (b->nanc + 1) > b->anccap) { /* at most half full */
        size_t cap = b->anccap ? 2 * b->anccap : 64;
        anchor *tab = loom_xcalloc(cap, sizeof *tab);
        for (size_t i = 0; i < b->anccap; i++)
            if (b->anc[i].name)
                *anc_slot(tab, cap, b->anc[i].name) = b->anc[i];
        free(b->anc);
        b->anc = tab;
        b->anccap = cap;
    }
    anchor *a = anc_slot(b->anc, b->anccap, name);
    if (a->name)
        return bad(b, m, "anchor '&%s' is defined twice (first on line %zu)", name,
                   yaml_document_get_node(b->doc, a->node)->start_mark.line + 1);
    a->name = loom_xstrdup(name);
    a->node = node;
    b->nanc++;
    return 0;
}

static int anc_get(builder *b, const char *name)
{
    if (b->anccap == 0)
        return 0;
    anchor *a = anc_slot(b->anc, b->anccap, name);
    return a->name ? a->node : 0;
}

/* ---- building ---------------------------------------------------------------- */

static const char *kind_name(yaml_node_type_t t)
{
    return t == YAML_SEQUENCE_NODE ? "a list" : t == YAML_MAPPING_NODE ? "a mapping" : "a scalar";
}

/* Records node i (new, or an alias's target) under the innermost open
 * collection, at the event at m; s is what it amounts to expanded. */
static int place(builder *b, int i, yaml_mark_t m, nsize s)
{
    frame *f = b->depth ? &b->st[b->depth - 1] : NULL;
    yaml_node_t *n = yaml_document_get_node(b->doc, i);
    int is_key = f && yaml_document_get_node(b->doc, f->node)->type == YAML_MAPPING_NODE &&
                 f->key == 0;
    if (is_key && n->type != YAML_SCALAR_NODE)
        return bad(b, m, "a mapping key must be a scalar (a name), not %s", kind_name(n->type));
    b->nodes += s.nodes;
    b->bytes += s.text;
    if (b->nodes > LOOM_YAML_MAX_NODES)
        return bad(b, m, "more than %d nodes with aliases expanded (%s)", LOOM_YAML_MAX_NODES, budget);
    if (b->bytes > LOOM_YAML_MAX_TEXT)
        return bad(b, m, "more than %d MiB of scalar text with aliases expanded (%s)",
                   LOOM_YAML_MAX_TEXT >> 20, budget);
    if (b->depth + s.height > LOOM_YAML_MAX_DEPTH)
        return bad(b, m, "nested deeper than %d levels%s (%s)", LOOM_YAML_MAX_DEPTH,
                   s.height > 1 ? " with aliases expanded" : "", budget);
    if (f == NULL)
        return 0; /* the root: node 1 */
    int ok;
    if (is_key) {
        f->key = i;
        ok = 1;
    } else if (f->key) {
        ok = yaml_document_append_mapping_pair(b->doc, f->node, f->key, i);
        f->key = 0;
    } else
        ok = yaml_document_append_sequence_item(b->doc, f->node, i);
    return ok ? 0 : oom(b);
}

/* Adds what a finished node amounts to to its parent's sums. */
static void account(builder *b, nsize s)
{
    if (b->depth == 0)
        return;
    nsize *p = &b->st[b->depth - 1].sub;
    p->nodes += s.nodes;
    p->text += s.text;
    if (s.height > p->height)
        p->height = s.height;
}

static nsize *size_of(builder *b, int i)
{
    if ((size_t)i > b->szcap)
        b->sz = loom_vgrow(b->sz, &b->szcap, (size_t)i, sizeof *b->sz);
    return &b->sz[i - 1];
}

/* A new node for event e (scalar or collection start); its index or < 0. */
static int add_node(builder *b, const yaml_event_t *e)
{
    int i;
    const yaml_char_t *anchor;
    if (e->type == YAML_SCALAR_EVENT) {
        if (memchr(e->data.scalar.value, '\0', e->data.scalar.length))
            return bad(b, e->start_mark, "a scalar may not hold a NUL character (\\0)");
        i = yaml_document_add_scalar(b->doc, e->data.scalar.tag, e->data.scalar.value,
                                     (int)e->data.scalar.length, e->data.scalar.style);
        anchor = e->data.scalar.anchor;
    } else if (e->type == YAML_SEQUENCE_START_EVENT) {
        i = yaml_document_add_sequence(b->doc, e->data.sequence_start.tag,
                                       e->data.sequence_start.style);
        anchor = e->data.sequence_start.anchor;
    } else {
        i = yaml_document_add_mapping(b->doc, e->data.mapping_start.tag,
                                      e->data.mapping_start.style);
        anchor = e->data.mapping_start.anchor;
    }
    if (i == 0)
        return oom(b);
    yaml_node_t *n = yaml_document_get_node(b->doc, i);
    n->start_mark = e->start_mark;
    n->end_mark = e->end_mark;
    nsize *s = size_of(b, i);
    if (e->type == YAML_SCALAR_EVENT)
        *s = (nsize){1, e->data.scalar.length, 1};
    else
        *s = (nsize){0, 0, 0}; /* open: an alias to it now is a cycle */
    if (anchor && anc_put(b, (const char *)anchor, i, e->start_mark) < 0)
        return LOOM_EUSAGE;
    return i;
}

static int on_event(builder *b, const yaml_event_t *e)
{
    int i, rc;
    switch (e->type) {
    case YAML_SCALAR_EVENT:
        if ((i = add_node(b, e)) < 0)
            return i;
        if ((rc = place(b, i, e->start_mark, b->sz[i - 1])) < 0)
            return rc;
        account(b, b->sz[i - 1]);
        return 0;
    case YAML_ALIAS_EVENT: {
        const char *a = (const char *)e->data.alias.anchor;
        i = anc_get(b, a);
        if (i == 0)
            return bad(b, e->start_mark, "alias '*%s' names no anchor defined before it", a);
        nsize s = b->sz[i - 1];
        if (s.height == 0)
            return bad(b, e->start_mark, "alias '*%s' refers to a collection that contains it "
                                         "(a cycle)", a);
        if ((rc = place(b, i, e->start_mark, s)) < 0)
            return rc;
        account(b, s);
        return 0;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if ((i = add_node(b, e)) < 0)
            return i;
        if ((rc = place(b, i, e->start_mark, (nsize){1, 0, 1})) < 0)
            return rc;
        b->st[b->depth++] = (frame){i, 0, {0, 0, 0}}; /* place() checked depth + 1 fits */
        return 0;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        frame f = b->st[--b->depth];
        nsize s = {1 + f.sub.nodes, f.sub.text, 1 + f.sub.height};
        b->sz[f.node - 1] = s;
        yaml_document_get_node(b->doc, f.node)->end_mark = e->end_mark;
        account(b, s);
        return 0;
    }
    default:
        return 0;
    }
}

/* ---- errors libyaml reports ---------------------------------------------------- */

/* 1-based line and column (in characters) of byte `off`, breaking lines
 * where libyaml does (LF, CR, CRLF, NEL, LS, PS): libyaml's reader reports
 * only a byte offset, its marks then still read line 1, column 1. */
static void position(const unsigned char *s, size_t len, size_t off, size_t *line, size_t *col)
{
    size_t l = 1, c = 1;
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        unsigned char ch = s[i];
        if (ch == '\n' || (ch == '\r' && (i + 1 == len || s[i + 1] != '\n'))) {
            l++;
            c = 1;
        } else if (ch == 0xC2 && i + 1 < off && s[i + 1] == 0x85) { /* NEL */
            l++;
            c = 1;
            i++;
        } else if (ch == 0xE2 && i + 2 < off && s[i + 1] == 0x80 &&
                   (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) { /* LS, PS */
            l++;
            c = 1;
            i += 2;
        } else if (ch != '\r' && (ch & 0xC0) != 0x80) { /* not a continuation byte */
            c++;
        }
    }
    *line = l;
    *col = c;
}

static int parse_error(builder *b, yaml_parser_t *p, int ended)
{
    if (p->error == YAML_MEMORY_ERROR)
        return oom(b);
    if (p->error == YAML_READER_ERROR) {
        char what[48] = "";
        if (p->problem_value == 0 && strstr(p->problem, "control"))
            snprintf(what, sizeof what, " (a NUL byte)");
        else if (p->problem_value >= 0 && strstr(p->problem, "octet"))
            snprintf(what, sizeof what, " (byte 0x%02X)", (unsigned)p->problem_value);
        else if (p->problem_value >= 0)
            snprintf(what, sizeof what, " (U+%04X)", (unsigned)p->problem_value);
        if (p->encoding != YAML_UTF8_ENCODING) /* UTF-16: offsets count bytes of it */
            return loom_err_set(b->err, LOOM_EUSAGE, "%s: byte %zu: %s%s", b->name,
                                p->problem_offset, p->problem, what);
        size_t line, col;
        position(b->text, b->len, p->problem_offset, &line, &col);
        return loom_err_set(b->err, LOOM_EUSAGE, "%s: line %zu, column %zu: %s%s", b->name, line,
                            col, p->problem, what);
    }
    if (ended)
        return bad(b, p->problem_mark, "text after the end of the document (%s)", one_doc);
    return loom_err_set(b->err, LOOM_EUSAGE, "%s: line %zu, column %zu: %s%s%s", b->name,
                        p->problem_mark.line + 1, p->problem_mark.column + 1,
                        p->problem ? p->problem : "malformed YAML/JSON", p->context ? " " : "",
                        p->context ? p->context : "");
}

static int build(builder *b, yaml_parser_t *p)
{
    int docs = 0, ended = 0;
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(p, &e))
            return parse_error(b, p, ended);
        int rc = 0, type = e.type;
        if (type == YAML_DOCUMENT_START_EVENT && docs++)
            rc = bad(b, e.start_mark, "a second document (%s)", one_doc);
        else if (type == YAML_DOCUMENT_END_EVENT)
            ended = 1;
        else
            rc = on_event(b, &e);
        yaml_event_delete(&e);
        if (rc < 0)
            return rc;
        if (type == YAML_STREAM_END_EVENT)
            return 0;
    }
}

/* A trailing comma ({"a": 1,} or [1, 2,]) is YAML but not JSON: libyaml
 * reads it without a word, while ASTRA-sim's JSON parser (nlohmann) stops
 * on it.  A file named *.json is therefore scanned for a comma token right
 * before a closing bracket first.  The scan stops at the first scanner
 * error (build() reports it) and past LOOM_YAML_MAX_DEPTH open brackets
 * (build() refuses that depth; the scanner's cost grows with it). */
static int json_trailing_comma(const char *name, const unsigned char *text, size_t len,
                               loom_err *err)
{
    size_t n = strlen(name);
    if (n < 5 || strcasecmp(name + n - 5, ".json") != 0)
        return 0;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return loom_err_set(err, LOOM_EINTERNAL, "%s: cannot start the YAML parser", name);
    yaml_parser_set_input_string(&p, text, len);
    int rc = 0, depth = 0, comma = 0;
    yaml_mark_t at = {0};
    for (;;) {
        yaml_token_t t;
        if (!yaml_parser_scan(&p, &t))
            break;
        yaml_token_type_t ty = t.type;
        if ((ty == YAML_FLOW_SEQUENCE_END_TOKEN || ty == YAML_FLOW_MAPPING_END_TOKEN) && comma)
            rc = loom_err_set(err, LOOM_EUSAGE,
                              "%s: line %zu, column %zu: a comma before the closing '%c' (JSON "
                              "allows no trailing comma; ASTRA-sim refuses it too)",
                              name, at.line + 1, at.column + 1,
                              ty == YAML_FLOW_SEQUENCE_END_TOKEN ? ']' : '}');
        comma = ty == YAML_FLOW_ENTRY_TOKEN;
        at = t.start_mark;
        if (ty == YAML_FLOW_SEQUENCE_START_TOKEN || ty == YAML_FLOW_MAPPING_START_TOKEN)
            depth++;
        else if (ty == YAML_FLOW_SEQUENCE_END_TOKEN || ty == YAML_FLOW_MAPPING_END_TOKEN)
            depth--;
        yaml_token_delete(&t);
        if (rc < 0 || ty == YAML_STREAM_END_TOKEN || depth > LOOM_YAML_MAX_DEPTH)
            break;
    }
    yaml_parser_delete(&p);
    return rc;
}

static int load(const char *name, const unsigned char *text, size_t len, yaml_document_t *doc,
                loom_err *err)
{
    int rc0 = json_trailing_comma(name, text, len, err);
    if (rc0 < 0) {
        memset(doc, 0, sizeof *doc);
        return rc0;
    }
    yaml_parser_t p;
    memset(doc, 0, sizeof *doc);
    if (!yaml_parser_initialize(&p))
        return loom_err_set(err, LOOM_EINTERNAL, "%s: cannot start the YAML parser", name);
    if (!yaml_document_initialize(doc, NULL, NULL, NULL, 1, 1)) {
        yaml_parser_delete(&p);
        return loom_err_set(err, LOOM_EINTERNAL, "%s: out of memory", name);
    }
    yaml_parser_set_input_string(&p, text, len);
    builder b = {.doc = doc, .name = name, .text = text, .len = len, .err = err};
    int rc = build(&b, &p);
    yaml_parser_delete(&p);
    free(b.sz);
    for (size_t i = 0; i < b.anccap; i++)
        free(b.anc[i].name);
    free(b.anc);
    if (rc < 0) {
        yaml_document_delete(doc);
        memset(doc, 0, sizeof *doc);
    }
    return rc;
}

int loom_yaml_load_file(const char *path, yaml_document_t *doc, loom_err *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return loom_err_set(err, LOOM_EUSAGE, "%s: cannot open: %s", path, strerror(errno));
    /* whole, so that a reader error's byte offset can be turned into a line */
    size_t n = 0, cap = 0, got;
    unsigned char *buf = NULL;
    do {
        if (n == cap)
            buf = loom_vgrow(buf, &cap, n + 65536, 1);
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0 && n <= LOOM_YAML_MAX_FILE);
    int rc;
    if (ferror(f))
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: cannot read: %s", path, strerror(errno));
    else if (n > LOOM_YAML_MAX_FILE)
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: larger than %d MiB (%s)", path,
                          LOOM_YAML_MAX_FILE >> 20, budget);
    else
        rc = load(path, buf, n, doc, err);
    free(buf);
    fclose(f);
    return rc;
}

int loom_yaml_load_string(const char *name, const unsigned char *text, size_t len,
                          yaml_document_t *doc, loom_err *err)
{
    return load(name, text, len, doc, err);
}

/* ---- duplicates ------------------------------------------------------------ */

typedef struct dup_ent {
    const char *s; /* the string */
    int i;         /* its index */
} dup_ent;

static int dup_cmp(const void *a, const void *b)
{
    const dup_ent *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

int loom_yaml_first_dup(const char *const *s, int n, int *earlier)
{
    if (n < 2)
        return -1;
    dup_ent *e = loom_xmalloc((size_t)n * sizeof *e);
    for (int i = 0; i < n; i++)
        e[i] = (dup_ent){s[i], i};
    qsort(e, (size_t)n, sizeof *e, dup_cmp);
    int best = -1;
    /* in a run of equal strings (sorted by index) the second is the first
     * repeat and the first its least earlier twin */
    for (int k = 1; k < n; k++)
        if (strcmp(e[k].s, e[k - 1].s) == 0 && (k < 2 || strcmp(e[k - 1].s, e[k - 2].s) != 0) &&
            (best < 0 || e[k].i < best)) {
            best = e[k].i;
            *earlier = e[k - 1].i;
        }
    free(e);
    return best;
}

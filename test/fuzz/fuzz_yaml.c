/*
 * libFuzzer target, structure-aware: the input bytes are a program that
 * writes a YAML text (block and flow mappings and lists, scalars in every
 * style, anchors, aliases to earlier anchors, to undefined ones and to an
 * enclosing collection, complex keys, directives, second documents,
 * trailing garbage and raw odd bytes), keys and values drawn mostly from
 * the words loom's loaders know.  The text then goes
 *  1. through core/base/yamlio, and a document it accepts is checked
 *     against yamlio.h's promises by an independent walk (keys scalars, no
 *     NUL, acyclic, depth and expanded-node budgets) and against libyaml's
 *     own loader (same node count); a refusal must be LOOM_EUSAGE naming
 *     the source;
 *  2. into one loader picked by the first byte: network file (both forms),
 *     system file, comm-group file, remote-memory file, a --set value, the
 *     device catalog, a sweep spec, `loom topo describe`'s reader.
 * fuzz_config.c feeds raw bytes instead; the two share nothing but loaders.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "comp_dev.h"
#include "config.h"
#include "net_topo.h"
#include "sbuf.h"
#include "sweep_int.h"
#include "yamlio.h"

#define NET FIXTURES "/astra-sim-configs/Ring_4npus.yml"
#define SYS FIXTURES "/astra-sim-configs/Ring_4chunks.json"
#define CAP 65536 /* bytes of generated text */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keys and values of every loader, so that structure reaches their code. */
static const char *const words[] = {
    /* network: dims and explicit fabrics */
    "topology", "npus_count", "bandwidth", "latency", "kind", "npus", "npus_per_node", "tiers",
    "hosts_per_leaf", "leaves_per_pod", "oversubscription", "nodes", "gpus_per_node", "dims",
    "groups", "routers_per_group", "hosts_per_router", "global_links_per_router", "nccl",
    "channels", "gpu", "cpu", "intra", "ll128", "Ring", "Switch", "FullyConnected", "fat_tree",
    "rail", "torus", "dragonfly",
    /* system */
    "endpoint-delay", "active-chunks-per-dimension", "preferred-dataset-splits",
    "all-reduce-implementation", "all-to-all-implementation", "local-mem-bw", "roofline-enabled",
    "peak-perf", "network-model", "device", "compute-model", "compute-dtype", "rank-devices",
    "straggler", "scheduling-policy", "ring", "direct", "halvingDoubling", "flow", "analytical",
    "h100-sxm", "a100-80g", "roofline", "bf16", "LIFO", "0-3", "1,2",
    /* comm groups, remote memory */
    "stride", "size", "tp", "dp", "memory-type", "NO_MEMORY_EXPANSION",
    /* device catalog */
    "description", "source", "peak-tflops", "memory-gib", "memory-bw-gbs", "link-bw-gbs",
    "matrix-efficiency", "matrix-overhead-us", "memory-efficiency", "memory-overhead-us",
    "efficiency-source", "fp32", "fp16", "fp8", "sms", "gemm-tiles", "kernel-source",
    "attention-efficiency", "flash2", "cudnn",
    /* sweep spec */
    "workload", "network", "system", "comm-group", "ignore-ctrl-deps", "set", "axes", "gen",
    "generator", "micro", "llm", "network.bandwidth[0]", "network.npus_count",
    "system.preferred-dataset-splits", "system.all-reduce-implementation", "gen.size", "gen.out",
    /* values */
    "0", "1", "2", "4", "8", "-1", "1e9", "0.5", "100", "65536", "16777216", "true", "false",
    "null", "~", "", "x",
};
enum { NWORDS = sizeof words / sizeof words[0] };

static const char *const set_keys[] = {
    "network.bandwidth", "network.bandwidth[0]", "network.npus_count", "network.topology",
    "network.dims[0].latency", "network.kind", "system.all-reduce-implementation",
    "system.rank-devices", "system.straggler", "system.preferred-dataset-splits",
};

typedef struct gen {
    const uint8_t *d; /* the program */
    size_t n, i;
    sbuf out;         /* the YAML text */
    int anchors;      /* &a0 .. defined so far */
    int open[96];     /* anchors of the enclosing collections, -1 for none */
    int depth;
} gen;

static unsigned byte(gen *g) { return g->i < g->n ? g->d[g->i++] : 0; }
static int full(const gen *g) { return g->out.n > CAP; }

static void indent(gen *g, int ind)
{
    sb_str(&g->out, "\n");
    for (int k = 0; k < ind; k++)
        sb_str(&g->out, " ");
}

static void scalar(gen *g, int key)
{
    unsigned c = byte(g), w = byte(g) % NWORDS;
    switch (c % (key ? 4 : 8)) {
    case 0:
    case 1:
        sb_str(&g->out, words[w][0] ? words[w] : "''");
        break;
    case 2: /* double-quoted, maybe with escapes (\0 is refused by yamlio) */
        sb_printf(&g->out, "\"%s%s\"", words[w],
                  c & 0x10 ? "\\0" : c & 0x20 ? "\\x01\\u263A" : c & 0x40 ? "\\t" : "");
        break;
    case 3:
        sb_printf(&g->out, "'%s'", words[w]);
        break;
    case 4: { /* raw bytes of the program: odd bytes, NUL, bad UTF-8, stray syntax */
        unsigned k = byte(g) % 8;
        for (unsigned j = 0; j < k && g->i < g->n; j++) {
            char ch = (char)g->d[g->i++];
            sb_add(&g->out, &ch, 1);
        }
        break;
    }
    case 5: { /* an alias: to an enclosing collection (a cycle), a defined or an undefined anchor */
        int j = g->depth ? g->open[byte(g) % g->depth] : -1;
        if (j >= 0 && (c & 0x30) == 0x30)
            sb_printf(&g->out, "*a%d", j);
        else
            sb_printf(&g->out, "*a%u", byte(g) % (g->anchors + 1));
        break;
    }
    case 6:
        sb_printf(&g->out, "%u%s", byte(g) * 257u, c & 0x10 ? ".5" : "");
        break;
    default:
        sb_str(&g->out, c & 0x10 ? "|\n  text\n" : "null");
        break;
    }
}

static void node(gen *g, int ind, int flow);

/* A key: mostly a word; sometimes a complex key (a list or a mapping). */
static void key(gen *g, int ind, int flow)
{
    unsigned c = byte(g);
    if (c % 16 == 15 && g->depth < 90) {
        if (!flow)
            sb_str(&g->out, "? ");
        node(g, ind + 2, 1);
        if (!flow)
            indent(g, ind);
        return;
    }
    scalar(g, 1);
}

static void node(gen *g, int ind, int flow)
{
    unsigned c = byte(g);
    int anchor = -1;
    if (c & 0x80) { /* an anchor on this node */
        anchor = g->anchors++;
        sb_printf(&g->out, "&a%d ", anchor);
    }
    int kind = (int)(c % 8);
    if (full(g) || g->depth >= 90 || kind < 3) {
        scalar(g, 0);
        return;
    }
    if (kind == 7) { /* a chain of flow lists, to reach the depth limit cheaply */
        unsigned k = byte(g) % 120;
        for (unsigned j = 0; j < k; j++)
            sb_str(&g->out, "[");
        scalar(g, 0);
        for (unsigned j = 0; j < k; j++)
            sb_str(&g->out, "]");
        return;
    }
    unsigned items = byte(g) % 6;
    g->open[g->depth++] = anchor;
    int block = !flow && (kind == 5 || kind == 6);
    int map = kind == 4 || kind == 6;
    if (!block)
        sb_str(&g->out, map ? "{" : "[");
    for (unsigned k = 0; k < items && !full(g); k++) {
        if (!block && k)
            sb_str(&g->out, ", ");
        if (block)
            indent(g, ind);
        if (block && !map) {
            sb_str(&g->out, "- ");
            node(g, ind + 2, 0);
            continue;
        }
        if (map) {
            key(g, ind, !block);
            sb_str(&g->out, ": ");
        }
        node(g, ind + 2, !block);
    }
    if (!block)
        sb_str(&g->out, map ? "}" : "]");
    g->depth--;
}

/* The whole text: directives, documents, garbage after them. */
static void text(gen *g)
{
    unsigned c = byte(g);
    if (c & 1)
        sb_str(&g->out, "%YAML 1.1\n---");
    else if (c & 2)
        sb_str(&g->out, "--- ");
    if (c & 4) { /* a block mapping of loader words at the top, as every file has */
        unsigned n = 1 + byte(g) % 8;
        for (unsigned k = 0; k < n && !full(g); k++) {
            indent(g, 0);
            key(g, 0, 0);
            sb_str(&g->out, ": ");
            node(g, 2, 0);
        }
    } else
        node(g, 0, 0);
    if (c & 8)
        sb_str(&g->out, "\n...\n");
    if (c & 16) {
        sb_str(&g->out, "\n---\n");
        node(g, 0, 0);
    }
    if (c & 32)
        sb_str(&g->out, c & 64 ? "{\"b\": 2}" : "] garbage");
    sb_str(&g->out, "\n");
}

/* ---- yamlio.h's promises, checked by a walk of our own ----------------------- */

typedef struct tally {
    uint64_t *nodes; /* per node, expanded; 0 = not yet */
} tally;

static uint64_t walk(yaml_document_t *d, int i, int depth, tally *t)
{
    if (depth > LOOM_YAML_MAX_DEPTH)
        abort(); /* deeper than promised (or a cycle) */
    if (t->nodes[i - 1])
        return t->nodes[i - 1];
    yaml_node_t *n = yaml_document_get_node(d, i);
    uint64_t s = 1;
    if (n->type == YAML_SCALAR_NODE) {
        if (memchr(n->data.scalar.value, '\0', n->data.scalar.length))
            abort();
    } else if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
            s += walk(d, *it, depth + 1, t);
    } else {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            if (yaml_document_get_node(d, p->key)->type != YAML_SCALAR_NODE)
                abort();
            s += walk(d, p->key, depth + 1, t) + walk(d, p->value, depth + 1, t);
        }
    }
    if (s > LOOM_YAML_MAX_NODES)
        abort();
    t->nodes[i - 1] = s;
    return s;
}

static void check_yamlio(const char *s, size_t len)
{
    yaml_document_t d;
    loom_err err = {0};
    if (loom_yaml_load_string("gen", (const unsigned char *)s, len, &d, &err) < 0) {
        if (err.code != LOOM_EUSAGE || strncmp(err.msg, "gen: ", 5) != 0)
            abort();
        return;
    }
    size_t n = (size_t)(d.nodes.top - d.nodes.start);
    if (n) {
        tally t = {calloc(n, sizeof *t.nodes)};
        walk(&d, 1, 1, &t);
        free(t.nodes);
    }
    /* libyaml's own loader agrees on what was read */
    yaml_parser_t p;
    yaml_document_t ld;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)s, len);
    if (!yaml_parser_load(&p, &ld))
        abort();
    if ((size_t)(ld.nodes.top - ld.nodes.start) != n)
        abort();
    yaml_document_delete(&ld);
    yaml_parser_delete(&p);
    yaml_document_delete(&d);
}

/* ---- the loaders ----------------------------------------------------------------- */

static void run_loader(unsigned which, const char *path, const char *s)
{
    loom_err err = {0};
    loom_cfg_files files = {.network = NET, .system = SYS};
    const char *sets[1];
    char set[CAP + 64];
    switch (which % 9) {
    case 0:
        files.network = path;
        break;
    case 1:
        files.system = path;
        break;
    case 2:
        files.comm_group = path;
        break;
    case 3:
        files.remote_mem = path;
        break;
    case 4: /* a --set value: text up to its first NUL */
        snprintf(set, sizeof set, "%s=%s", set_keys[(which / 9) % 10], s);
        sets[0] = set;
        files.sets = sets;
        files.nsets = 1;
        break;
    case 5: {
        comp_catalog *c = comp_catalog_new();
        comp_catalog_add_file(c, path, &err);
        comp_catalog_free(c);
        return;
    }
    case 6: {
        sw_spec sp;
        sw_spec_load(&sp, path, &err);
        sw_spec_free(&sp);
        return;
    }
    case 7: {
        net_topo t; /* a value: nothing to free */
        net_topo_load_file(path, &t, &err);
        return;
    }
    default:
        files.network = path;
        files.comm_group = path;
        break;
    }
    loom_cfg cfg;
    if (loom_cfg_load(&cfg, &files, &err) == 0)
        loom_cfg_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[96];
    if (!path[0]) {
        snprintf(path, sizeof path, "/dev/shm/loom-fuzz-yaml-%d", (int)getpid());
        loom_set_quiet(1);
    }
    if (size < 1)
        return 0;
    gen g = {.d = data + 1, .n = size - 1};
    text(&g);
    check_yamlio(g.out.p, g.out.n);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        free(g.out.p);
        return 0;
    }
    fwrite(g.out.p, 1, g.out.n, f);
    fclose(f);
    run_loader(data[0], path, g.out.p);
    free(g.out.p);
    return 0;
}

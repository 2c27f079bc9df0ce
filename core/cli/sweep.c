#include "cmds.h"
#include "yamlio.h"

/*
 * sweep.c: `loom sweep`.
 *
 * Invariants:
 *  - The CSV holds only whole lines: every row is built in memory and
 *    handed to one write() on an O_APPEND descriptor, then fsync'd.  A row
 *    has no raw newline inside (values are YAML flow text, error text is
 *    cut at its first line), so a write cut short by a kill is the only
 *    way to get a partial line, and it is always the last one: on start it
 *    is truncated away.
 *  - A configuration is identified by its key, a 64-bit FNV-1a hash of its
 *    axis keys and value texts, and the spec by the hash of its base run
 *    and axis names (the "spec" column).  Adding values to an axis keeps
 *    the keys of the configurations already run, so a grown sweep resumes.
 *  - Row contents do not depend on -j or on completion order: nothing
 *    time- or pid-dependent goes into a row.
 *
 * With a `gen` recipe a configuration has two phases in its slot: `loom gen
 * ... --out TMP/IDX/w` and, when that succeeds, `loom run --workload
 * TMP/IDX/w`; the trace is removed when the row is written.
 *
 * Worker processes are `/proc/self/exe run ... --json TMP --quiet`, each in
 * its own process group (a terminal's Ctrl-C reaches only the sweep, which
 * then kills them) and with PR_SET_PDEATHSIG so that a SIGKILLed sweep
 * leaves no worker running.  libev's default loop watches their exits
 * (ev_child), their stderr pipes (ev_io), their timeouts and the progress
 * bar (ev_timer), and SIGINT/SIGTERM/SIGHUP (ev_signal).
 *
 * CSV quoting and reading use libcsv (Debian libcsv-dev): csv_write()
 * quotes a field RFC 4180 style, csv_parse() reads the rows back on resume.
 */

#include <csv.h>
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"
#include "cliutil.h"
#include "err.h"
#include "sbuf.h"

#define MAX_CONFS 100000000LL /* 10^8: 800 MB of keys; more is surely a typo */
#define ERR_TEXT_MAX 400      /* bytes of a worker's first stderr line kept */

/* ---- small helpers -------------------------------------------------------- */


#define FNV0 0xcbf29ce484222325ULL

/* FNV-1a over s and its NUL, so that ("ab","c") and ("a","bc") differ. */
static uint64_t fnv_str(uint64_t h, const char *s)
{
    const unsigned char *c = (const unsigned char *)s;
    do {
        h ^= *c;
        h *= 0x100000001b3ULL;
    } while (*c++);
    return h;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* write() all of buf, retrying on EINTR and short writes. */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync the directory holding path, so a newly created file's entry is on disk. */
static void fsync_dir_of(const char *path)
{
    char *d = loom_xstrdup(path);
    char *slash = strrchr(d, '/');
    const char *dir = ".";
    if (slash) {
        slash[slash == d ? 1 : 0] = '\0';
        dir = d;
    }
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(d);
}

/* ---- the spec ------------------------------------------------------------- */

enum ax_kind { AX_SET, AX_WORKLOAD, AX_NETWORK, AX_SYSTEM, AX_COMM, AX_GEN };

typedef struct sw_axis {
    char *key;   /* column name: a --set key or a file key */
    int kind;    /* enum ax_kind */
    char **vals; /* each value as YAML flow text (a file axis: the path as written) */
    int line;    /* line in the spec, for messages */
} sw_axis;

typedef struct sw_group {
    int first; /* index of its first axis in sw_spec.axes */
    int naxes; /* axes that advance together (1: a plain axis) */
    int len;   /* values of each of them */
} sw_group;

typedef struct sw_spec {
    const char *path;   /* the spec file, as given */
    char *dir;          /* its directory: relative paths in it start there */
    char *base[4];      /* workload, network, system, comm-group as written (or NULL) */
    int noctrl;         /* ignore-ctrl-deps: true */
    char *gen;          /* `loom gen` generator (micro, llm) in place of workload, or NULL */
    char **genflags;    /* its flags: name, value, name, value, ... */
    int ngenflags;      /* names in genflags */
    char **sets;        /* base overrides "key=value", in file order */
    int nsets;          /* entries in sets */
    sw_axis *axes;      /* every axis, group by group */
    int naxes;          /* entries in axes */
    sw_group *groups;   /* cartesian factors; the last varies fastest */
    int ngroups;        /* entries in groups */
    long long nconf;    /* product of the groups' lengths */
    uint64_t hash;      /* base run and axis names: the CSV's "spec" column */
} sw_spec;

static const char *const base_keys[4] = {"workload", "network", "system", "comm-group"};

static void spec_free(sw_spec *s)
{
    free(s->dir);
    free(s->gen);
    for (int i = 0; i < 2 * s->ngenflags; i++)
        free(s->genflags[i]);
    free(s->genflags);
    for (int i = 0; i < 4; i++)
        free(s->base[i]);
    for (int i = 0; i < s->nsets; i++)
        free(s->sets[i]);
    free(s->sets);
    for (int a = 0; a < s->naxes; a++) {
        free(s->axes[a].key);
        for (int v = 0; s->axes[a].vals && s->axes[a].vals[v]; v++)
            free(s->axes[a].vals[v]);
        free(s->axes[a].vals);
    }
    free(s->axes);
    free(s->groups);
    memset(s, 0, sizeof *s);
}

typedef struct yctx {
    yaml_document_t d; /* the spec */
    const char *path;  /* for messages */
    loom_err *err;
} yctx;

static yaml_node_t *ynode(yctx *y, int i) { return yaml_document_get_node(&y->d, i); }
static int yline(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 0; }

static const char *yscalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int spec_bad(yctx *y, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int spec_bad(yctx *y, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n)
        return loom_err_set(y->err, LOOM_EUSAGE, "%s: line %d: %s", y->path, yline(n), msg);
    return loom_err_set(y->err, LOOM_EUSAGE, "%s: %s", y->path, msg);
}

/* A scalar that YAML reads back as the same text without quotes. */
static int plain_safe(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '+' || c == '-' || c == '/'))
            return 0;
    }
    return 1;
}

/* Node i as YAML flow text: what `--set KEY=TEXT` parses back to the same value. */
static void yflow(yctx *y, int i, sbuf *b)
{
    yaml_node_t *n = ynode(y, i);
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        const char *s = (const char *)n->data.scalar.value;
        size_t len = n->data.scalar.length;
        if (plain_safe(s, len)) {
            sb_add(b, s, len);
            break;
        }
        sb_str(b, "\"");
        for (size_t k = 0; k < len; k++) {
            unsigned char c = (unsigned char)s[k];
            if (c == '"' || c == '\\')
                sb_printf(b, "\\%c", c);
            else if (c == '\n')
                sb_str(b, "\\n");
            else if (c == '\t')
                sb_str(b, "\\t");
            else if (c < 0x20 || c == 0x7f)
                sb_printf(b, "\\x%02x", c);
            else
                sb_add(b, &s[k], 1);
        }
        sb_str(b, "\"");
        break;
    }
    case YAML_SEQUENCE_NODE: {
        sb_str(b, "[");
        int cnt = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
        for (int k = 0; k < cnt; k++) {
            if (k)
                sb_str(b, ",");
            yflow(y, ynode(y, i)->data.sequence.items.start[k], b);
        }
        sb_str(b, "]");
        break;
    }
    case YAML_MAPPING_NODE: {
        sb_str(b, "{");
        int cnt = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
        for (int k = 0; k < cnt; k++) {
            yaml_node_pair_t p = ynode(y, i)->data.mapping.pairs.start[k];
            if (k)
                sb_str(b, ",");
            yflow(y, p.key, b);
            sb_str(b, ": ");
            yflow(y, p.value, b);
        }
        sb_str(b, "}");
        break;
    }
    default:
        break;
    }
}

static char *yflow_dup(yctx *y, int i)
{
    sbuf b = {0};
    yflow(y, i, &b);
    if (b.p == NULL)
        return loom_xstrdup("");
    return b.p;
}

static int check_unique_keys(yctx *y, yaml_node_t *map)
{
    yaml_node_pair_t *p = map->data.mapping.pairs.start;
    int n = (int)(map->data.mapping.pairs.top - p);
    for (int i = 0; i < n; i++) {
        yaml_node_t *kn = ynode(y, p[i].key);
        if (yscalar(kn) == NULL)
            return spec_bad(y, kn, "a key must be a plain name");
        for (int j = 0; j < i; j++)
            if (strcmp(yscalar(ynode(y, p[j].key)), yscalar(kn)) == 0)
                return spec_bad(y, kn, "key '%s' appears twice", yscalar(kn));
    }
    return 0;
}

static int axis_kind(const char *k)
{
    if (strncmp(k, "network.", 8) == 0 || strncmp(k, "system.", 7) == 0)
        return AX_SET;
    for (int i = 0; i < 4; i++)
        if (strcmp(k, base_keys[i]) == 0)
            return AX_WORKLOAD + i;
    return -1;
}

/* A `loom gen` flag a spec may set: the sweep owns the output and the noise. */
static int gen_flag_ok(const char *f)
{
    static const char *const owned[] = {"out", "o", "quiet", "q", "help", "h", "network-out",
                                        "system-out"};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (strcmp(f, owned[i]) == 0)
            return 0;
    return f[0] != '-';
}

/* Adds one group from a mapping {key: [values], ...} whose lists have equal length. */
static int add_group(yctx *y, sw_spec *s, yaml_node_t *map, int zipped)
{
    int rc = check_unique_keys(y, map);
    if (rc < 0)
        return rc;
    int n = (int)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    if (n == 0)
        return spec_bad(y, map, "an entry of 'axes' must name at least one axis");
    s->groups = loom_xrealloc(s->groups, (size_t)(s->ngroups + 1) * sizeof *s->groups);
    sw_group *g = &s->groups[s->ngroups++];
    g->first = s->naxes;
    g->naxes = 0;
    g->len = -1;
    for (int k = 0; k < n; k++) {
        yaml_node_pair_t p = map->data.mapping.pairs.start[k];
        yaml_node_t *kn = ynode(y, p.key), *vn = ynode(y, p.value);
        const char *key = yscalar(kn);
        int kind = axis_kind(key);
        if (strncmp(key, "gen.", 4) == 0) {
            if (s->gen == NULL)
                return spec_bad(y, kn, "axis '%s': a generator flag needs a 'gen' recipe", key);
            if (!key[4] || !gen_flag_ok(key + 4))
                return spec_bad(y, kn, "axis '%s': not a flag the sweep may set (it sets --out "
                                       "and --quiet itself)", key);
            kind = AX_GEN;
        }
        if (kind == AX_WORKLOAD && s->gen)
            return spec_bad(y, kn, "axis 'workload' and a 'gen' recipe exclude each other");
        if (kind < 0)
            return spec_bad(y, kn, "unknown axis key '%s' (an axis is a --set key such as "
                                   "network.bandwidth[1] or system.preferred-dataset-splits, "
                                   "or an input file: workload, network, system, comm-group)",
                            key);
        for (int a = 0; a < s->naxes; a++)
            if (strcmp(s->axes[a].key, key) == 0)
                return spec_bad(y, kn, "axis '%s' is given twice", key);
        if (vn->type != YAML_SEQUENCE_NODE)
            return spec_bad(y, vn, "axis '%s' must be a list of values, e.g. [25, 50, 100]", key);
        int len = (int)(vn->data.sequence.items.top - vn->data.sequence.items.start);
        if (len == 0)
            return spec_bad(y, vn, "axis '%s' has no values", key);
        if (g->len >= 0 && len != g->len)
            return spec_bad(y, vn, "zipped axis '%s' has %d values but '%s' has %d: lists in one "
                                   "zip group advance together and need the same length",
                            key, len, s->axes[g->first].key, g->len);
        g->len = len;
        s->axes = loom_xrealloc(s->axes, (size_t)(s->naxes + 1) * sizeof *s->axes);
        sw_axis *ax = &s->axes[s->naxes++];
        g->naxes++;
        ax->key = loom_xstrdup(key);
        ax->kind = kind;
        ax->line = yline(kn);
        ax->vals = loom_xcalloc((size_t)len + 1, sizeof *ax->vals);
        for (int v = 0; v < len; v++) {
            int item = ynode(y, p.value)->data.sequence.items.start[v];
            yaml_node_t *it = ynode(y, item);
            if (kind == AX_GEN && yscalar(it) == NULL)
                return spec_bad(y, it, "axis '%s': value %d must be a single value", key, v);
            if (kind != AX_SET && kind != AX_GEN && (yscalar(it) == NULL || !yscalar(it)[0]))
                return spec_bad(y, it, "axis '%s': value %d must be a file name", key, v);
            ax->vals[v] = kind == AX_SET ? yflow_dup(y, item) : loom_xstrdup(yscalar(it));
        }
    }
    /* a repeated value (or tuple, for a zip group) would make two rows with one key */
    for (int v = 0; v < g->len; v++)
        for (int w = 0; w < v; w++) {
            int same = 1;
            for (int a = g->first; a < g->first + g->naxes && same; a++)
                same = strcmp(s->axes[a].vals[v], s->axes[a].vals[w]) == 0;
            if (same)
                return spec_bad(y, map, "%s '%s' lists value %s twice (entries %d and %d)",
                                zipped ? "zip group of" : "axis", s->axes[g->first].key,
                                s->axes[g->first].vals[v], w, v);
        }
    return 0;
}

static int spec_load(sw_spec *s, const char *path, loom_err *err)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    yctx y = {.path = path, .err = err};
    if (loom_yaml_load_file(path, &y.d, err) < 0)
        return LOOM_EUSAGE;

    const char *slash = strrchr(path, '/');
    s->dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : loom_xstrdup(".");

    static const char *const keys[] = {"workload", "network", "system", "comm-group",
                                       "ignore-ctrl-deps", "set", "axes", "gen"};
    enum { NKEYS = 8 };
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&y.d);
    if (root == NULL) {
        rc = spec_bad(&y, NULL, "the file is empty");
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        rc = spec_bad(&y, root, "the top level must be a mapping of keys (%s, ...)", keys[0]);
        goto out;
    }
    if ((rc = check_unique_keys(&y, root)) < 0)
        goto out;
    yaml_node_t *axes = NULL;
    int npairs = (int)(root->data.mapping.pairs.top - root->data.mapping.pairs.start);
    for (int i = 0; i < npairs; i++) {
        yaml_node_pair_t pr = root->data.mapping.pairs.start[i];
        yaml_node_t *kn = ynode(&y, pr.key), *vn = ynode(&y, pr.value);
        const char *k = yscalar(kn);
        int ki = -1;
        for (int j = 0; j < NKEYS; j++)
            if (strcmp(k, keys[j]) == 0)
                ki = j;
        if (ki < 0) {
            rc = spec_bad(&y, kn, "unknown key '%s' (known keys: workload, gen, network, system, "
                                  "comm-group, ignore-ctrl-deps, set, axes)", k);
            goto out;
        }
        if (ki < 4) {
            if (yscalar(vn) == NULL || !yscalar(vn)[0]) {
                rc = spec_bad(&y, vn, "key '%s' must be a file name", k);
                goto out;
            }
            s->base[ki] = loom_xstrdup(yscalar(vn));
        } else if (ki == 4) {
            const char *v = yscalar(vn);
            if (v && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0))
                s->noctrl = strcmp(v, "true") == 0;
            else {
                rc = spec_bad(&y, vn, "key 'ignore-ctrl-deps' must be true or false");
                goto out;
            }
        } else if (ki == 5) {
            if (vn->type != YAML_MAPPING_NODE) {
                rc = spec_bad(&y, vn, "key 'set' must be a mapping of --set keys to values, "
                                      "e.g. system.preferred-dataset-splits: 8");
                goto out;
            }
            if ((rc = check_unique_keys(&y, vn)) < 0)
                goto out;
            int n = (int)(vn->data.mapping.pairs.top - vn->data.mapping.pairs.start);
            s->sets = loom_xcalloc((size_t)n + 1, sizeof *s->sets);
            for (int j = 0; j < n; j++) {
                yaml_node_pair_t sp = ynode(&y, pr.value)->data.mapping.pairs.start[j];
                const char *sk = yscalar(ynode(&y, sp.key));
                if (axis_kind(sk) != AX_SET) {
                    rc = spec_bad(&y, ynode(&y, sp.key), "set: '%s' is not a --set key (network.<key>, "
                                                         "network.<key>[i], system.<key>)", sk);
                    goto out;
                }
                char *v = yflow_dup(&y, sp.value);
                size_t len = strlen(sk) + strlen(v) + 2;
                s->sets[s->nsets] = loom_xmalloc(len);
                snprintf(s->sets[s->nsets++], len, "%s=%s", sk, v);
                free(v);
            }
        } else if (ki == 6) {
            axes = vn;
        } else { /* gen: {generator: NAME, FLAG: VALUE, ...} */
            if (vn->type != YAML_MAPPING_NODE) {
                rc = spec_bad(&y, vn, "key 'gen' must be a mapping: generator: micro (or llm), "
                                      "then `loom gen` flags, e.g. collective: all_reduce");
                goto out;
            }
            if ((rc = check_unique_keys(&y, vn)) < 0)
                goto out;
            int n = (int)(vn->data.mapping.pairs.top - vn->data.mapping.pairs.start);
            s->genflags = loom_xcalloc((size_t)(2 * n) + 1, sizeof *s->genflags);
            for (int j = 0; j < n; j++) {
                yaml_node_pair_t gp = ynode(&y, pr.value)->data.mapping.pairs.start[j];
                yaml_node_t *gk = ynode(&y, gp.key), *gv = ynode(&y, gp.value);
                const char *name = yscalar(gk), *val = yscalar(gv);
                if (val == NULL) {
                    rc = spec_bad(&y, gv, "gen: '%s' must be a single value", name);
                    goto out;
                }
                if (strcmp(name, "generator") == 0) {
                    s->gen = loom_xstrdup(val);
                    continue;
                }
                if (!gen_flag_ok(name)) {
                    rc = spec_bad(&y, gk, "gen: '%s' is not a flag the sweep may set (it sets "
                                          "--out and --quiet itself)", name);
                    goto out;
                }
                s->genflags[2 * s->ngenflags] = loom_xstrdup(name);
                s->genflags[2 * s->ngenflags++ + 1] = loom_xstrdup(val);
            }
            if (s->gen == NULL) {
                rc = spec_bad(&y, vn, "gen: 'generator' is missing (micro or llm: `loom gen "
                                      "--help`)");
                goto out;
            }
        }
    }
    if (s->gen && s->base[0]) {
        rc = spec_bad(&y, NULL, "'workload' and 'gen' exclude each other: name a trace or a "
                                "recipe");
        goto out;
    }
    for (int i = s->gen ? 1 : 0; i < 3; i++)
        if (s->base[i] == NULL) {
            rc = spec_bad(&y, NULL, "key '%s' is missing (a sweep needs workload (or gen), "
                                    "network and system)", base_keys[i]);
            goto out;
        }
    if (axes == NULL) {
        rc = spec_bad(&y, NULL, "key 'axes' is missing: a sweep needs at least one axis");
        goto out;
    }
    int axes_i = (int)(axes - y.d.nodes.start) + 1;
    if (axes->type == YAML_MAPPING_NODE) { /* shorthand: every key its own axis */
        int n = (int)(axes->data.mapping.pairs.top - axes->data.mapping.pairs.start);
        if (n == 0) {
            rc = spec_bad(&y, axes, "'axes' names no axis");
            goto out;
        }
        if ((rc = check_unique_keys(&y, axes)) < 0)
            goto out;
        for (int k = 0; k < n; k++) {
            /* a one-key mapping node for each axis: build it in the document */
            yaml_node_pair_t pr = ynode(&y, axes_i)->data.mapping.pairs.start[k];
            int m = yaml_document_add_mapping(&y.d, NULL, YAML_BLOCK_MAPPING_STYLE);
            yaml_document_append_mapping_pair(&y.d, m, pr.key, pr.value);
            ynode(&y, m)->start_mark = ynode(&y, pr.key)->start_mark;
            if ((rc = add_group(&y, s, ynode(&y, m), 0)) < 0)
                goto out;
        }
    } else if (axes->type == YAML_SEQUENCE_NODE) {
        int n = (int)(axes->data.sequence.items.top - axes->data.sequence.items.start);
        if (n == 0) {
            rc = spec_bad(&y, axes, "'axes' names no axis");
            goto out;
        }
        for (int k = 0; k < n; k++) {
            yaml_node_t *g = ynode(&y, ynode(&y, axes_i)->data.sequence.items.start[k]);
            if (g->type != YAML_MAPPING_NODE) {
                rc = spec_bad(&y, g, "each entry of 'axes' must map keys to lists of values");
                goto out;
            }
            int nk = (int)(g->data.mapping.pairs.top - g->data.mapping.pairs.start);
            if ((rc = add_group(&y, s, g, nk > 1)) < 0)
                goto out;
        }
    } else {
        rc = spec_bad(&y, axes, "'axes' must be a mapping (one axis per key) or a list of "
                                "mappings (each a group of lists that advance together)");
        goto out;
    }
    for (int i = 0; i < s->nsets; i++)
        for (int a = 0; a < s->naxes; a++) {
            size_t kl = strlen(s->axes[a].key);
            if (strncmp(s->sets[i], s->axes[a].key, kl) == 0 && s->sets[i][kl] == '=') {
                rc = spec_bad(&y, NULL, "'%s' is both in 'set' and an axis", s->axes[a].key);
                goto out;
            }
        }
    s->nconf = 1;
    for (int g = 0; g < s->ngroups; g++) {
        s->nconf *= s->groups[g].len;
        if (s->nconf > MAX_CONFS) {
            rc = spec_bad(&y, NULL, "the axes make more than %lld configurations", MAX_CONFS);
            goto out;
        }
    }
    uint64_t h = fnv_str(FNV0, "loom-sweep-1");
    for (int i = 0; i < 4; i++)
        h = fnv_str(h, s->base[i] ? s->base[i] : "");
    h = fnv_str(h, s->noctrl ? "noctrl" : "ctrl");
    if (s->gen) {
        h = fnv_str(h, "gen");
        h = fnv_str(h, s->gen);
        for (int i = 0; i < 2 * s->ngenflags; i++)
            h = fnv_str(h, s->genflags[i]);
    }
    for (int i = 0; i < s->nsets; i++)
        h = fnv_str(h, s->sets[i]);
    h = fnv_str(h, "axes");
    for (int a = 0; a < s->naxes; a++)
        h = fnv_str(h, s->axes[a].key);
    s->hash = h;
out:
    yaml_document_delete(&y.d);
    return rc;
}

/* Position of configuration i along each group; the last group varies fastest. */
static void conf_pos(const sw_spec *s, long long i, int *pos)
{
    for (int g = s->ngroups - 1; g >= 0; g--) {
        pos[g] = (int)(i % s->groups[g].len);
        i /= s->groups[g].len;
    }
}

static const char *conf_val(const sw_spec *s, const int *pos, int a)
{
    int g = 0;
    while (a >= s->groups[g].first + s->groups[g].naxes)
        g++;
    return s->axes[a].vals[pos[g]];
}

static uint64_t conf_key(const sw_spec *s, const int *pos)
{
    uint64_t h = FNV0;
    for (int a = 0; a < s->naxes; a++) {
        h = fnv_str(h, s->axes[a].key);
        h = fnv_str(h, conf_val(s, pos, a));
    }
    return h;
}

/* What one configuration runs: its input files resolved against the spec's
 * directory and its --set list (the base's, then the axes'). */
typedef struct sw_conf {
    char *file[4];     /* workload prefix (NULL with gen), network, system, comm-group */
    char **gargs;      /* `loom gen` flags: "--name", "value", ... */
    int ngargs;        /* entries in gargs */
    char **sets;       /* "key=value" */
    int nsets;         /* entries in sets */
} sw_conf;

static char *resolve(const sw_spec *s, const char *p)
{
    if (p[0] == '/' || strcmp(s->dir, ".") == 0)
        return loom_xstrdup(p);
    size_t n = strlen(s->dir) + strlen(p) + 2;
    char *r = loom_xmalloc(n);
    snprintf(r, n, "%s/%s", s->dir, p);
    return r;
}

static void conf_build(const sw_spec *s, const int *pos, sw_conf *c)
{
    memset(c, 0, sizeof *c);
    const char *f[4] = {s->base[0], s->base[1], s->base[2], s->base[3]};
    c->sets = loom_xcalloc((size_t)(s->nsets + s->naxes) + 1, sizeof *c->sets);
    for (int i = 0; i < s->nsets; i++)
        c->sets[c->nsets++] = loom_xstrdup(s->sets[i]);
    c->gargs = loom_xcalloc((size_t)(2 * (s->ngenflags + s->naxes)) + 1, sizeof *c->gargs);
    for (int i = 0; i < s->ngenflags; i++) {
        size_t n = strlen(s->genflags[2 * i]) + 3;
        c->gargs[c->ngargs] = loom_xmalloc(n);
        snprintf(c->gargs[c->ngargs++], n, "--%s", s->genflags[2 * i]);
        c->gargs[c->ngargs++] = loom_xstrdup(s->genflags[2 * i + 1]);
    }
    for (int a = 0; a < s->naxes; a++) {
        const char *v = conf_val(s, pos, a);
        if (s->axes[a].kind == AX_GEN) { /* replaces the recipe's value, or adds the flag */
            const char *flag = s->axes[a].key + 4;
            int k = 0;
            while (k < c->ngargs && strcmp(c->gargs[k] + 2, flag) != 0)
                k += 2;
            if (k == c->ngargs) {
                size_t n = strlen(flag) + 3;
                c->gargs[k] = loom_xmalloc(n);
                snprintf(c->gargs[k], n, "--%s", flag);
                c->ngargs += 2;
            } else
                free(c->gargs[k + 1]);
            c->gargs[k + 1] = loom_xstrdup(v);
            continue;
        }
        if (s->axes[a].kind != AX_SET) {
            f[s->axes[a].kind - AX_WORKLOAD] = v;
            continue;
        }
        size_t n = strlen(s->axes[a].key) + strlen(v) + 2;
        c->sets[c->nsets] = loom_xmalloc(n);
        snprintf(c->sets[c->nsets++], n, "%s=%s", s->axes[a].key, v);
    }
    for (int i = 0; i < 4; i++) /* ASTRA-sim writes "empty" for no comm-group file */
        c->file[i] = f[i] && !(i == 3 && strcmp(f[i], "empty") == 0) ? resolve(s, f[i]) : NULL;
}

static void conf_free(sw_conf *c)
{
    for (int i = 0; i < 4; i++)
        free(c->file[i]);
    for (int i = 0; i < c->ngargs; i++)
        free(c->gargs[i]);
    free(c->gargs);
    for (int i = 0; i < c->nsets; i++)
        free(c->sets[i]);
    free(c->sets);
}

/* "k=v k=v" for messages and --dry-run. */
static void conf_describe(const sw_spec *s, const int *pos, sbuf *b)
{
    for (int a = 0; a < s->naxes; a++)
        sb_printf(b, "%s%s=%s", a ? " " : "", s->axes[a].key, conf_val(s, pos, a));
}

/* argv of `loom gen` for configuration c, writing prefix; free the array only. */
static const char **gen_argv(const sw_spec *s, const sw_conf *c, const char *prefix)
{
    const char **argv = loom_xcalloc((size_t)c->ngargs + 8, sizeof *argv);
    int n = 0;
    argv[n++] = "loom";
    argv[n++] = "gen";
    argv[n++] = s->gen;
    for (int i = 0; i < c->ngargs; i++)
        argv[n++] = c->gargs[i];
    argv[n++] = "--out";
    argv[n++] = prefix;
    argv[n++] = "--quiet";
    argv[n] = NULL;
    return argv;
}

/* Removes a directory of plain files (a generated trace). */
static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char p[PATH_MAX + 300];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Runs /proc/self/exe with argv to its end; returns its exit code (128 +
 * the signal if one killed it) and the first line of its stderr. */
static int run_sync(const char *const *argv, char *line, size_t cap)
{
    int pfd[2];
    line[0] = '\0';
    if (pipe(pfd) != 0)
        return 127;
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_RDWR);
        if (dn < 0 || dup2(dn, 0) < 0 || dup2(dn, 1) < 0 || dup2(pfd[1], 2) < 0)
            _exit(127);
        close(pfd[0]);
        execv("/proc/self/exe", (char *const *)argv);
        dprintf(2, "loom sweep: cannot run /proc/self/exe: %s\n", strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    size_t n = 0;
    int done = 0;
    char buf[4096];
    ssize_t r;
    while ((r = read(pfd[0], buf, sizeof buf)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        for (ssize_t k = 0; k < r && !done; k++) {
            if (buf[k] == '\n')
                done = 1;
            else if (n + 1 < cap)
                line[n++] = buf[k];
        }
    }
    line[n] = '\0';
    close(pfd[0]);
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return 127;
    return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

/* Runs the configuration's generator into a scratch directory and removes
 * what it wrote: how a gen recipe and its flags are checked. */
static int gen_check(const sw_spec *s, const int *pos, loom_err *err)
{
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX], prefix[PATH_MAX + 16], line[ERR_TEXT_MAX + 1];
    snprintf(dir, sizeof dir, "%s/loom-sweep-gen-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        return loom_err_set(err, LOOM_EIO, "%s: cannot create: %s", dir, strerror(errno));
    snprintf(prefix, sizeof prefix, "%s/w", dir);
    sw_conf c;
    conf_build(s, pos, &c);
    const char **argv = gen_argv(s, &c, prefix);
    int code = run_sync(argv, line, sizeof line);
    free(argv);
    conf_free(&c);
    rm_dir(dir);
    if (code != 0)
        return loom_err_set(err, LOOM_EUSAGE, "loom gen %s (exit %d): %s", s->gen, code,
                            line[0] ? line : "no message");
    return 0;
}

/* Loads a configuration in-process as `loom run` would: the same key
 * tables check the --set keys and values, and the trace's rank 0 file must
 * exist.  Replays nothing.  only >= 0: the base run plus that one axis at
 * pos (the other axes left at the base files' values); -2: the base alone. */
static int conf_check(const sw_spec *s, const int *pos, int only, loom_err *err)
{
    sw_conf c;
    conf_build(s, pos, &c);
    if (only != -1) { /* keep the base's sets and the one axis */
        char *keep = NULL;
        for (int a = 0, k = s->nsets; a < s->naxes; a++) {
            if (s->axes[a].kind != AX_SET)
                continue;
            if (a == only)
                keep = c.sets[k];
            else
                free(c.sets[k]);
            c.sets[k++] = NULL;
        }
        c.nsets = s->nsets;
        if (keep)
            c.sets[c.nsets++] = keep;
    }
    int rc = 0;
    if (c.file[0]) { /* a generated workload is checked by running its generator */
        sbuf p0 = {0};
        sb_printf(&p0, "%s.0.et", c.file[0]);
        struct stat st;
        if (stat(p0.p, &st) != 0) {
            sb_str(&p0, ".gz");
            if (stat(p0.p, &st) != 0)
                rc = loom_err_set(err, LOOM_EUSAGE, "workload %s: no trace file %s.0.et (or "
                                                    ".et.gz)", c.file[0], c.file[0]);
        }
        free(p0.p);
    }
    if (rc == 0) {
        loom_cfg_files files = {c.file[1], c.file[2], c.file[3], NULL,
                                (const char *const *)c.sets, c.nsets};
        loom_cfg cfg;
        rc = loom_cfg_load(&cfg, &files, err);
        if (rc == 0)
            loom_cfg_free(&cfg);
    }
    conf_free(&c);
    return rc;
}

/* Checks the base run, then each --set axis alone (so that an unknown key
 * is blamed on its axis), then every value of every axis once with the
 * other axes at their first values: sum of the axis lengths loads, not
 * their product.  Warnings are shown for configuration 0 only. */
static int spec_check(const sw_spec *s, int quiet, loom_err *err)
{
    int *pos = loom_xcalloc((size_t)s->ngroups, sizeof *pos);
    loom_err e = {0};
    sbuf d = {0};
    int rc = 0;
    loom_set_quiet(1);
    for (int a = -2; a < s->naxes && rc == 0; a++) {
        if (a == -1 || (a >= 0 && s->axes[a].kind != AX_SET))
            continue;
        if ((rc = conf_check(s, pos, a, &e)) < 0) {
            if (a < 0)
                loom_err_set(err, rc, "%s: the base run: %s", s->path, e.msg);
            else
                loom_err_set(err, rc, "%s: line %d: axis '%s': %s", s->path, s->axes[a].line,
                             s->axes[a].key, e.msg);
        }
    }
    loom_set_quiet(quiet);
    if (rc == 0 && (rc = conf_check(s, pos, -1, &e)) == 0 && s->gen)
        rc = gen_check(s, pos, &e);
    if (rc < 0 && !err->code) {
        conf_describe(s, pos, &d);
        loom_err_set(err, rc, "%s: configuration 0 (%s): %s", s->path, d.p, e.msg);
    }
    loom_set_quiet(1);
    for (int g = 0; g < s->ngroups && rc == 0; g++) {
        for (int v = 1; v < s->groups[g].len && rc == 0; v++) {
            pos[g] = v;
            loom_err_clear(&e);
            rc = conf_check(s, pos, -1, &e);
            for (int a = s->groups[g].first; rc == 0 && a < s->groups[g].first + s->groups[g].naxes;
                 a++)
                if (s->axes[a].kind == AX_GEN) { /* run the generator once per value */
                    rc = gen_check(s, pos, &e);
                    break;
                }
            if (rc < 0) {
                const sw_axis *ax = &s->axes[s->groups[g].first];
                d.n = 0;
                conf_describe(s, pos, &d);
                loom_err_set(err, rc, "%s: line %d: axis '%s' value %s (configuration %s): %s",
                             s->path, ax->line, ax->key, ax->vals[v], d.p, e.msg);
            }
        }
        pos[g] = 0;
    }
    loom_set_quiet(quiet);
    free(pos);
    free(d.p);
    return rc;
}

/* ---- the CSV -------------------------------------------------------------- */

enum { C_STATUS, C_EXIT, C_RANKS, C_STEP, C_CMEAN, C_CMAX, C_EMEAN, C_EMAX, C_IMEAN, C_IMAX,
       C_ERROR, C_SPEC, C_FIXED };
static const char *const fixed_cols[C_FIXED] = {
    "status", "exit_code", "ranks", "step_time_ns", "compute_mean_ns", "compute_max_ns",
    "exposed_comm_mean_ns", "exposed_comm_max_ns", "idle_mean_ns", "idle_max_ns", "error",
    "spec"};

/* One field, quoted (by libcsv) only when it must be: a comma, a quote, a
 * line break or an edge space (libcsv's reader trims unquoted spaces). */
static void csv_field(sbuf *b, const char *s, int first)
{
    if (!first)
        sb_str(b, ",");
    size_t n = strlen(s);
    if (strpbrk(s, ",\"\r\n") == NULL && !(n && (s[0] == ' ' || s[n - 1] == ' '))) {
        sb_add(b, s, n);
        return;
    }
    size_t need = csv_write(NULL, 0, s, n);
    char *q = loom_xmalloc(need + 1);
    csv_write(q, need, s, n);
    sb_add(b, q, need);
    free(q);
}

static void csv_header(const sw_spec *s, sbuf *b)
{
    csv_field(b, "key", 1);
    for (int a = 0; a < s->naxes; a++)
        csv_field(b, s->axes[a].key, 0);
    for (int c = 0; c < C_FIXED; c++)
        csv_field(b, fixed_cols[c], 0);
    sb_str(b, "\n");
}

/* Rows already in the CSV. */
typedef struct done_row {
    uint64_t key; /* configuration key */
    int ok;       /* status was "ok" */
} done_row;

typedef struct csv_reader {
    const sw_spec *s;
    const char *path;  /* for messages */
    char **f;          /* fields of the current record */
    int nf, capf;      /* used, allocated */
    long rec;          /* records seen; 0 is the header */
    int ncols;         /* expected fields per record */
    int retry;         /* --retry-failed: drop rows not ok */
    done_row *rows;    /* kept rows */
    size_t nrows, caprows;
    long dropped;      /* rows dropped by --retry-failed */
    sbuf kept;         /* header and kept rows, re-serialized (only with retry) */
    loom_err *err;
} csv_reader;

static void rd_field(void *data, size_t len, void *ctx)
{
    csv_reader *r = ctx;
    if (r->nf == r->capf) {
        r->capf = r->capf * 2 + 16;
        r->f = loom_xrealloc(r->f, (size_t)r->capf * sizeof *r->f);
    }
    char *v = loom_xmalloc(len + 1);
    memcpy(v, data ? data : "", len);
    v[len] = '\0';
    r->f[r->nf++] = v;
}

static void rd_record(int term, void *ctx)
{
    (void)term;
    csv_reader *r = ctx;
    long rec = r->rec++;
    if (r->err->code)
        goto out;
    if (rec == 0) {
        sbuf want = {0}, got = {0};
        csv_header(r->s, &want);
        for (int i = 0; i < r->nf; i++)
            csv_field(&got, r->f[i], i == 0);
        sb_str(&got, "\n");
        if (strcmp(want.p, got.p) != 0) {
            want.p[want.n - 1] = got.p[got.n - 1] = '\0';
            loom_err_set(r->err, LOOM_EUSAGE,
                         "%s: its columns are not this spec's:\n  file: %s\n  spec: %s\n"
                         "(write this sweep to another --out)", r->path, got.p, want.p);
        } else if (r->retry)
            sb_str(&r->kept, want.p);
        free(want.p);
        free(got.p);
        goto out;
    }
    if (r->nf != r->ncols) {
        loom_err_set(r->err, LOOM_EUSAGE, "%s: row %ld has %d fields, the header %d", r->path,
                     rec, r->nf, r->ncols);
        goto out;
    }
    char want[32];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)r->s->hash);
    if (strcmp(r->f[r->ncols - 1], want) != 0) {
        loom_err_set(r->err, LOOM_EUSAGE,
                     "%s: row %ld was written by another spec (spec %s, this one %s): its base "
                     "run or axes differ; write this sweep to another --out", r->path, rec,
                     r->f[r->ncols - 1], want);
        goto out;
    }
    char *end;
    errno = 0;
    unsigned long long key = strtoull(r->f[0], &end, 16);
    if (errno || *end || strlen(r->f[0]) != 16) {
        loom_err_set(r->err, LOOM_EUSAGE, "%s: row %ld: bad key '%s'", r->path, rec, r->f[0]);
        goto out;
    }
    int ok = strcmp(r->f[1 + r->s->naxes + C_STATUS], "ok") == 0;
    if (r->retry && !ok) {
        r->dropped++;
        goto out;
    }
    if (r->nrows == r->caprows) {
        r->caprows = r->caprows * 2 + 64;
        r->rows = loom_xrealloc(r->rows, r->caprows * sizeof *r->rows);
    }
    r->rows[r->nrows++] = (done_row){key, ok};
    if (r->retry) {
        for (int i = 0; i < r->nf; i++)
            csv_field(&r->kept, r->f[i], i == 0);
        sb_str(&r->kept, "\n");
    }
out:
    for (int i = 0; i < r->nf; i++)
        free(r->f[i]);
    r->nf = 0;
}

static int cmp_row(const void *a, const void *b)
{
    uint64_t x = ((const done_row *)a)->key, y = ((const done_row *)b)->key;
    return x < y ? -1 : x > y;
}

static const done_row *done_find(const done_row *rows, size_t n, uint64_t key)
{
    done_row k = {key, 0};
    if (n == 0)
        return NULL;
    return bsearch(&k, rows, n, sizeof *rows, cmp_row);
}

/* Reads the CSV at path (absent or empty: no rows).  With fix, a partial
 * last line left by a killed sweep is truncated away (fd is the file open
 * for writing) and --retry-failed rows are removed by rewriting the file.
 * Fills r->rows, sorted by key. */
static int csv_load(csv_reader *r, int fd, int fix, int quiet)
{
    FILE *f = fopen(r->path, "rb");
    if (f == NULL)
        return errno == ENOENT ? 0
                               : loom_err_set(r->err, LOOM_EUSAGE, "%s: cannot read: %s", r->path,
                                              strerror(errno));
    sbuf b = {0};
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sb_add(&b, buf, n);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(b.p);
        return loom_err_set(r->err, LOOM_EUSAGE, "%s: cannot read", r->path);
    }
    if (b.n > 0 && b.p[b.n - 1] != '\n') { /* a row cut by a kill: drop it */
        size_t keep = b.n;
        while (keep > 0 && b.p[keep - 1] != '\n')
            keep--;
        if (fix) {
            if (ftruncate(fd, (off_t)keep) != 0 || fsync(fd) != 0) {
                free(b.p);
                return loom_err_set(r->err, LOOM_EIO, "%s: cannot truncate: %s", r->path,
                                    strerror(errno));
            }
            if (!quiet)
                fprintf(stderr, "loom sweep: %s: dropped a partial last line (%zu bytes) left by "
                                "an interrupted sweep\n", r->path, b.n - keep);
        }
        b.n = keep;
    }
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
    if (b.n && csv_parse(&p, b.p, b.n, rd_field, rd_record, r) != b.n && !r->err->code)
        loom_err_set(r->err, LOOM_EUSAGE, "%s: row %ld: %s", r->path, r->rec,
                     csv_strerror(csv_error(&p)));
    if (!r->err->code && csv_fini(&p, rd_field, rd_record, r) != 0)
        loom_err_set(r->err, LOOM_EUSAGE, "%s: %s", r->path, csv_strerror(csv_error(&p)));
    csv_free(&p);
    for (int i = 0; i < r->nf; i++)
        free(r->f[i]);
    free(r->f);
    r->f = NULL;
    r->nf = 0;
    free(b.p);
    if (r->err->code)
        return r->err->code;
    if (r->nrows)
        qsort(r->rows, r->nrows, sizeof *r->rows, cmp_row);
    if (fix && r->retry && r->dropped > 0) { /* rewrite without the rows to rerun */
        size_t pl = strlen(r->path);
        char *tmp = loom_xmalloc(pl + 16);
        snprintf(tmp, pl + 16, "%s.tmp.XXXXXX", r->path);
        int tfd = mkstemp(tmp);
        int bad = tfd < 0 || write_all(tfd, r->kept.p, r->kept.n) != 0 || fsync(tfd) != 0 ||
                  fchmod(tfd, 0644) != 0;
        if (tfd >= 0 && close(tfd) != 0)
            bad = 1;
        if (!bad && rename(tmp, r->path) != 0)
            bad = 1;
        if (bad) {
            int e = errno;
            unlink(tmp);
            free(tmp);
            return loom_err_set(r->err, LOOM_EIO, "%s: cannot rewrite: %s", r->path, strerror(e));
        }
        free(tmp);
        fsync_dir_of(r->path);
        if (!quiet)
            fprintf(stderr, "loom sweep: %s: removed %ld row%s not ok, to run again\n", r->path,
                    r->dropped, r->dropped == 1 ? "" : "s");
    }
    return 0;
}

/* ---- running -------------------------------------------------------------- */

typedef struct sweep sweep;

typedef struct job {
    ev_child cw;          /* its exit */
    ev_io iow;            /* its stderr */
    ev_timer tw;          /* --timeout */
    sweep *sw;            /* owner */
    long long idx;        /* configuration; -1: slot free */
    pid_t pid;            /* the worker */
    int fd;               /* read end of its stderr; -1 after EOF */
    int exited;           /* ev_child fired */
    int status;           /* its wait status */
    int timed_out;        /* killed by --timeout, or outlived it */
    double t_start;       /* monotonic seconds when the configuration started */
    int killed;           /* killed by us (timeout or interrupt) */
    char line[ERR_TEXT_MAX + 1]; /* first line of its stderr */
    size_t nline;         /* bytes in line */
    int line_done;        /* saw the end of the first line */
    char json[PATH_MAX + 32]; /* where it writes its report */
    int phase;            /* 0: `loom gen` (with a gen recipe), 1: `loom run` */
    char gendir[PATH_MAX + 32]; /* the generated trace's directory */
    char genprefix[PATH_MAX + 48]; /* and its prefix */
} job;

struct sweep {
    const sw_spec *spec;
    const char *out;        /* the CSV path */
    int outfd;              /* O_APPEND descriptor of it */
    int jobs;               /* -j */
    double timeout;         /* seconds; 0: none */
    int quiet;              /* --quiet */
    int bar;                /* draw the progress bar */
    char tmpdir[PATH_MAX];  /* workers' JSON files */
    long long *todo;        /* configurations to run, in index order */
    long long ntodo, next;  /* entries, next to start */
    job *slot;              /* jobs slots */
    int running;            /* busy slots */
    long long total;        /* this shard's configurations */
    long long skipped;      /* already in the CSV */
    long long n_ok, n_failed, n_timeout, n_crashed; /* rows written now */
    long long old_bad;      /* this shard's rows already in the CSV, not ok */
    double t0;              /* start, monotonic seconds */
    int interrupted;        /* the signal that stopped us, or 0 */
    loom_err err;           /* a fatal error (the CSV cannot be written) */
    struct ev_loop *loop;
    ev_timer bar_w;         /* redraws the progress bar */
    ev_signal sig_w[3];     /* SIGINT, SIGTERM, SIGHUP */
};

static void start_jobs(sweep *sw);

static void kill_all(sweep *sw)
{
    for (int i = 0; i < sw->jobs; i++) {
        job *j = &sw->slot[i];
        if (j->idx >= 0 && !j->exited) {
            kill(-j->pid, SIGKILL);
            j->killed = 1;
        }
    }
}

static void stats(json_t *ranks, const char *field, double *mean, double *max)
{
    size_t n = json_array_size(ranks);
    double sum = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        double v = json_number_value(json_object_get(json_array_get(ranks, i), field));
        sum += v;
        if (i == 0 || v > mx)
            mx = v;
    }
    /* loom's times are whole picoseconds: round the mean to one, so that the
     * mean of equal figures prints as that figure, not 707806.460000001 */
    *mean = n ? round(sum / (double)n * 1000.0) / 1000.0 : 0;
    *max = mx;
}

/* Replaces every `from` in s (capacity cap) with `to`. */
static void replace_all(char *s, size_t cap, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    char *p = s;
    while (fl && (p = strstr(p, from)) != NULL) {
        size_t rest = strlen(p + fl);
        if ((size_t)(p - s) + tl + rest + 1 > cap)
            return;
        memmove(p + tl, p + fl, rest + 1);
        memcpy(p, to, tl);
        p += tl;
    }
}

static void num_field(sbuf *b, double v)
{
    char t[64];
    snprintf(t, sizeof t, "%.15g", v);
    csv_field(b, t, 0);
}

/* Builds the row of a finished job and appends it to the CSV. */
static void write_row(sweep *sw, job *j)
{
    const sw_spec *s = sw->spec;
    int *pos = loom_xcalloc((size_t)s->ngroups, sizeof *pos);
    conf_pos(s, j->idx, pos);
    sbuf b = {0};
    char t[64], err[ERR_TEXT_MAX + 128] = "";
    snprintf(t, sizeof t, "%016llx", (unsigned long long)conf_key(s, pos));
    csv_field(&b, t, 1);
    for (int a = 0; a < s->naxes; a++)
        csv_field(&b, conf_val(s, pos, a), 0);
    const char *status;
    int code;
    json_t *root = NULL;
    if (j->timed_out) {
        status = "timeout";
        code = 128 + SIGKILL;
        snprintf(err, sizeof err, "no result after %g s (--timeout); killed", sw->timeout);
        sw->n_timeout++;
    } else if (WIFSIGNALED(j->status)) {
        status = "crashed";
        code = 128 + WTERMSIG(j->status);
        snprintf(err, sizeof err, "killed by signal %d (%s)%s%s", WTERMSIG(j->status),
                 strsignal(WTERMSIG(j->status)), j->nline ? ": " : "", j->line);
        sw->n_crashed++;
    } else if ((code = WEXITSTATUS(j->status)) != 0) {
        status = "failed";
        snprintf(err, sizeof err, "%s%s", j->phase == 0 && sw->spec->gen ? "loom gen: " : "",
                 j->nline ? j->line : "exited with no message");
        sw->n_failed++;
    } else {
        json_error_t je;
        root = json_load_file(j->json, 0, &je);
        json_t *ranks = root ? json_object_get(root, "ranks") : NULL;
        if (root == NULL || !json_is_number(json_object_get(root, "step_time_ns")) ||
            !json_is_array(ranks)) {
            status = "failed";
            snprintf(err, sizeof err, "worker exited 0 but its JSON report is unreadable: %s",
                     root ? "no step_time_ns or ranks" : je.text);
            sw->n_failed++;
            json_decref(root);
            root = NULL;
        } else {
            status = "ok";
            sw->n_ok++;
        }
    }
    csv_field(&b, status, 0);
    snprintf(t, sizeof t, "%d", code);
    csv_field(&b, t, 0);
    if (root) {
        json_t *ranks = json_object_get(root, "ranks");
        snprintf(t, sizeof t, "%zu", json_array_size(ranks));
        csv_field(&b, t, 0);
        num_field(&b, json_number_value(json_object_get(root, "step_time_ns")));
        static const char *const f[3] = {"compute_ns", "exposed_comm_ns", "idle_ns"};
        for (int k = 0; k < 3; k++) {
            double mean, max;
            stats(ranks, f[k], &mean, &max);
            num_field(&b, mean);
            num_field(&b, max);
        }
        json_decref(root);
    } else {
        for (int k = C_RANKS; k <= C_IMAX; k++)
            csv_field(&b, "", 0);
    }
    for (char *c = err; *c; c++) /* one line, printable */
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    /* the scratch paths differ from run to run: name them stably */
    if (sw->spec->gen)
        replace_all(err, sizeof err, j->genprefix, "<generated trace>");
    replace_all(err, sizeof err, j->json, "<json report>");
    csv_field(&b, err, 0);
    snprintf(t, sizeof t, "%016llx", (unsigned long long)s->hash);
    csv_field(&b, t, 0);
    sb_str(&b, "\n");
    if (write_all(sw->outfd, b.p, b.n) != 0 || fsync(sw->outfd) != 0) {
        loom_err_set(&sw->err, LOOM_EIO, "%s: cannot append a row: %s", sw->out, strerror(errno));
        kill_all(sw);
    }
    free(b.p);
    free(pos);
}

static int spawn(sweep *sw, job *j, long long idx, int phase);

static void job_maybe_done(sweep *sw, job *j)
{
    if (!j->exited || j->fd >= 0)
        return;
    sw->running--;
    if (j->phase == 0 && sw->spec->gen && !j->killed && !sw->err.code && !sw->interrupted &&
        WIFEXITED(j->status) && WEXITSTATUS(j->status) == 0) {
        /* the trace is written: replay it in the same slot, under the same timeout */
        if (spawn(sw, j, j->idx, 1) == 0)
            return;
    } else {
        ev_timer_stop(sw->loop, &j->tw);
        /* a worker we killed on interrupt, or a generator whose trace is not
         * replayed yet, has no result: it reruns on resume */
        int unfinished = (j->killed && !j->timed_out) ||
                         (j->phase == 0 && WIFEXITED(j->status) && WEXITSTATUS(j->status) == 0);
        if (!sw->err.code && !unfinished)
            write_row(sw, j);
        unlink(j->json);
        if (sw->spec->gen)
            rm_dir(j->gendir);
        j->idx = -1;
    }
    start_jobs(sw);
    if (sw->running == 0)
        ev_break(sw->loop, EVBREAK_ALL);
}

static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    job *j = w->data;
    ev_child_stop(loop, w);
    j->exited = 1;
    j->status = w->rstatus;
    /* A run that outlived --timeout is a timeout even when its exit reached
     * the loop before the timer did (a busy machine delays both): the row
     * then does not depend on which event libev happened to run first. */
    if (j->sw->timeout > 0 && !j->timed_out && now_s() - j->t_start > j->sw->timeout)
        j->timed_out = 1;
    job_maybe_done(j->sw, j);
}

static void on_stderr(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    job *j = w->data;
    char buf[4096];
    for (;;) {
        ssize_t n = read(j->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) { /* EOF (or an error: treat as EOF) */
            ev_io_stop(loop, w);
            close(j->fd);
            j->fd = -1;
            job_maybe_done(j->sw, j);
            return;
        }
        for (ssize_t k = 0; k < n && !j->line_done; k++) {
            if (buf[k] == '\n')
                j->line_done = 1;
            else if (j->nline < ERR_TEXT_MAX)
                j->line[j->nline++] = buf[k];
        }
        j->line[j->nline] = '\0';
    }
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    job *j = w->data;
    if (!j->exited) {
        kill(-j->pid, SIGKILL);
        j->timed_out = j->killed = 1;
    }
}

static void draw_bar(sweep *sw, int final)
{
    long long done = sw->skipped + sw->n_ok + sw->n_failed + sw->n_timeout + sw->n_crashed;
    long long ran = done - sw->skipped;
    double el = now_s() - sw->t0;
    int width = 30;
    int fill = sw->total ? (int)(width * done / sw->total) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    char eta[32] = "";
    if (ran > 0 && done < sw->total)
        snprintf(eta, sizeof eta, ", ETA %.0f s",
                 el / (double)ran * (double)(sw->total - done));
    long long bad = sw->n_failed + sw->n_timeout + sw->n_crashed;
    fprintf(stderr, "\r[%s] %lld/%lld, %d running, %lld not ok, %.1f s%s\033[K%s", bar, done,
            sw->total, sw->running, bad, el, eta, final ? "\n" : "");
    fflush(stderr);
}

static void on_bar(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    draw_bar(w->data, 0);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    sweep *sw = w->data;
    if (!sw->interrupted)
        sw->interrupted = w->signum;
    kill_all(sw);
    if (sw->running == 0)
        ev_break(sw->loop, EVBREAK_ALL);
}

/* Starts phase `phase` of configuration idx in slot j (0: its generator, when
 * the spec has a gen recipe, else straight to 1: the run); -1 (and a failed
 * row) when no process starts. */
static int spawn(sweep *sw, job *j, long long idx, int phase)
{
    const sw_spec *s = sw->spec;
    int *pos = loom_xcalloc((size_t)s->ngroups, sizeof *pos);
    conf_pos(s, idx, pos);
    sw_conf c;
    conf_build(s, pos, &c);
    free(pos);
    snprintf(j->json, sizeof j->json, "%s/%lld.json", sw->tmpdir, idx);
    snprintf(j->gendir, sizeof j->gendir, "%s/%lld", sw->tmpdir, idx);
    snprintf(j->genprefix, sizeof j->genprefix, "%s/w", j->gendir);
    if (!s->gen)
        phase = 1;
    const char **argv = loom_xcalloc((size_t)(2 * c.nsets + c.ngargs + 20), sizeof *argv);
    int n = 0;
    argv[n++] = "loom";
    argv[n++] = "run";
    argv[n++] = "--workload";
    argv[n++] = c.file[0] ? c.file[0] : j->genprefix;
    argv[n++] = "--network";
    argv[n++] = c.file[1];
    argv[n++] = "--system";
    argv[n++] = c.file[2];
    if (c.file[3]) {
        argv[n++] = "--comm-group";
        argv[n++] = c.file[3];
    }
    if (s->noctrl)
        argv[n++] = "--ignore-ctrl-deps";
    for (int i = 0; i < c.nsets; i++) {
        argv[n++] = "--set";
        argv[n++] = c.sets[i];
    }
    argv[n++] = "--json";
    argv[n++] = j->json;
    argv[n++] = "--quiet";
    argv[n] = NULL;
    if (phase == 0) {
        free(argv);
        argv = gen_argv(s, &c, j->genprefix);
    }

    memset(j->line, 0, sizeof j->line);
    j->nline = 0;
    j->line_done = j->exited = j->status = j->timed_out = j->killed = 0;
    j->idx = idx;
    j->sw = sw;
    j->phase = phase;
    if (phase == 0 || !s->gen) { /* --timeout covers generating and running */
        ev_timer_init(&j->tw, on_timeout, sw->timeout, 0);
        j->tw.data = j;
        j->t_start = now_s();
    }
    int pfd[2];
    pid_t parent = getpid();
    pid_t pid = -1;
    if (pipe(pfd) == 0 && fcntl(pfd[0], F_SETFD, FD_CLOEXEC) == 0 &&
        fcntl(pfd[1], F_SETFD, FD_CLOEXEC) == 0) {
        pid = fork();
        if (pid == 0) { /* the worker */
            close(sw->outfd); /* so that the CSV's lock dies with the sweep, not with us */
            setpgid(0, 0);                  /* the terminal's Ctrl-C is the sweep's alone */
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* a SIGKILLed sweep takes its workers along */
            if (getppid() != parent)
                _exit(127);
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (dn < 0 || dup2(dn, 0) < 0 || dup2(dn, 1) < 0 || dup2(pfd[1], 2) < 0)
                _exit(127);
            execv("/proc/self/exe", (char *const *)argv);
            dprintf(2, "loom sweep: cannot run /proc/self/exe: %s\n", strerror(errno));
            _exit(127);
        }
        close(pfd[1]);
        if (pid < 0)
            close(pfd[0]);
    }
    free(argv);
    conf_free(&c);
    if (pid < 0) { /* no process: record it as a failed row and go on */
        j->status = 127 << 8;
        snprintf(j->line, sizeof j->line, "loom sweep: cannot start a worker: %s",
                 strerror(errno));
        j->nline = strlen(j->line);
        ev_timer_stop(sw->loop, &j->tw);
        if (!sw->err.code)
            write_row(sw, j);
        if (s->gen)
            rm_dir(j->gendir);
        j->idx = -1;
        return -1;
    }
    j->pid = pid;
    j->fd = pfd[0];
    fcntl(j->fd, F_SETFL, fcntl(j->fd, F_GETFL) | O_NONBLOCK);
    sw->running++;
    ev_child_init(&j->cw, on_child, pid, 0);
    j->cw.data = j;
    ev_child_start(sw->loop, &j->cw);
    ev_io_init(&j->iow, on_stderr, j->fd, EV_READ);
    j->iow.data = j;
    ev_io_start(sw->loop, &j->iow);
    if (sw->timeout > 0 && !ev_is_active(&j->tw))
        ev_timer_start(sw->loop, &j->tw);
    return 0;
}

static void start_jobs(sweep *sw)
{
    if (sw->interrupted || sw->err.code)
        return;
    for (int i = 0; i < sw->jobs && sw->next < sw->ntodo && !sw->err.code; i++)
        while (sw->slot[i].idx < 0 && sw->next < sw->ntodo && !sw->err.code)
            spawn(sw, &sw->slot[i], sw->todo[sw->next++], 0);
}

static int run_sweep(sweep *sw)
{
    sw->loop = EV_DEFAULT;
    if (sw->loop == NULL)
        return loom_err_set(&sw->err, LOOM_EINTERNAL, "cannot start the libev loop");
    const char *tmp = getenv("TMPDIR");
    snprintf(sw->tmpdir, sizeof sw->tmpdir, "%s/loom-sweep-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(sw->tmpdir) == NULL)
        return loom_err_set(&sw->err, LOOM_EIO, "%s: cannot create a temporary directory: %s",
                            sw->tmpdir, strerror(errno));
    sw->slot = loom_xcalloc((size_t)sw->jobs, sizeof *sw->slot);
    for (int i = 0; i < sw->jobs; i++) {
        sw->slot[i].idx = -1;
        sw->slot[i].fd = -1;
    }
    static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        ev_signal_init(&sw->sig_w[i], on_signal, sigs[i]);
        sw->sig_w[i].data = sw;
        ev_signal_start(sw->loop, &sw->sig_w[i]);
    }
    if (sw->bar) {
        ev_timer_init(&sw->bar_w, on_bar, 0.2, 0.2);
        sw->bar_w.data = sw;
        ev_timer_start(sw->loop, &sw->bar_w);
    }
    start_jobs(sw);
    if (sw->running > 0)
        ev_run(sw->loop, 0);
    if (sw->bar) {
        ev_timer_stop(sw->loop, &sw->bar_w);
        draw_bar(sw, 1);
    }
    for (int i = 0; i < 3; i++)
        ev_signal_stop(sw->loop, &sw->sig_w[i]);
    rmdir(sw->tmpdir);
    free(sw->slot);
    ev_loop_destroy(sw->loop);
    return sw->err.code;
}

/* ---- the command ---------------------------------------------------------- */

static void sweep_help(FILE *o)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    fprintf(o,
            "usage: loom sweep SPEC.yaml --out RESULTS.csv [options]\n"
            "       loom sweep SPEC.yaml --dry-run [--out RESULTS.csv] [--shard K/N]\n"
            "\n"
            "Runs every configuration of a sweep spec (docs/SWEEP.md): a base run (a trace\n"
            "or a `loom gen` recipe) and axes over --set keys, input files and generator\n"
            "flags, combined as a cartesian product, with zip groups whose lists advance\n"
            "together.  Each configuration runs as a child\n"
            "`loom run`; one CSV row is appended (and fsync'd) as each finishes, in\n"
            "completion order.  Rerunning the same command resumes: configurations whose\n"
            "rows are already in the CSV are skipped, and a partial last line left by a\n"
            "killed sweep is dropped first.\n"
            "\n"
            "options:\n"
            "  -o, --out FILE        the results CSV (required unless --dry-run); created\n"
            "                        with a header row when missing, else appended to\n"
            "  -j, --jobs N          worker processes at once, N >= 1 (default: the online\n"
            "                        CPUs, %ld here)\n"
            "      --shard K/N       run only configurations whose index i has i mod N = K;\n"
            "                        K is 0-based, 0 <= K < N (default 0/1: all)\n"
            "      --timeout SECONDS wall-clock seconds one configuration may run before it\n"
            "                        is killed and recorded with status \"timeout\"\n"
            "                        (default 0: no limit)\n"
            "      --retry-failed    run again the configurations whose rows are not \"ok\"\n"
            "                        (their rows are removed from the CSV first)\n"
            "      --dry-run         list this shard's configurations, one per line: index,\n"
            "                        key, axis values (and \"done\" when --out has its row);\n"
            "                        checks the spec, runs nothing\n"
            "  -q, --quiet           no progress bar, warnings or summary on stderr\n"
            "  -h, --help            this help\n"
            "\n"
            "CSV columns: key, one per axis, status (ok, failed, crashed, timeout),\n"
            "exit_code, ranks, step_time_ns, compute/exposed_comm/idle mean and max over\n"
            "ranks (ns), error (first line of the worker's stderr), spec (hash of the base\n"
            "run and axis names).  The progress bar is drawn on stderr only when it is a\n"
            "terminal.\n"
            "\n"
            "exit codes: 0 every configuration has an ok row, 4 every configuration has a\n"
            "row but some are not ok, 2 usage or spec error, 5 the CSV cannot be written,\n"
            "130/143 interrupted by SIGINT/SIGTERM (finished rows are kept).\n",
            cpus > 0 ? cpus : 1);
}

static int parse_count(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

int loom_cmd_sweep(int argc, char **argv)
{
    enum { O_SHARD = 256, O_DRY, O_TIMEOUT, O_RETRY };
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"jobs", required_argument, NULL, 'j'},
        {"shard", required_argument, NULL, O_SHARD},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"retry-failed", no_argument, NULL, O_RETRY},
        {"dry-run", no_argument, NULL, O_DRY},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    long jobs = sysconf(_SC_NPROCESSORS_ONLN), shard_k = 0, shard_n = 1;
    double timeout = 0;
    int dry = 0, quiet = 0, retry = 0, c;
    if (jobs < 1)
        jobs = 1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:j:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'j':
            if (parse_count(optarg, &jobs) < 0 || jobs < 1 || jobs > 4096)
                return loom_usage("sweep", "-j %s: expected a number of workers, 1 to 4096", optarg);
            break;
        case O_SHARD: {
            char *slash = strchr(optarg, '/');
            char kbuf[32];
            if (slash == NULL || (size_t)(slash - optarg) >= sizeof kbuf)
                return loom_usage("sweep", "--shard %s: expected K/N, e.g. 0/4 (K is 0-based)", optarg);
            memcpy(kbuf, optarg, (size_t)(slash - optarg));
            kbuf[slash - optarg] = '\0';
            if (parse_count(kbuf, &shard_k) < 0 || parse_count(slash + 1, &shard_n) < 0 ||
                shard_n < 1 || shard_k < 0 || shard_k >= shard_n)
                return loom_usage("sweep", "--shard %s: expected K/N with N >= 1 and 0 <= K < N (K is 0-based)",
                             optarg);
            break;
        }
        case O_TIMEOUT: {
            char *end;
            errno = 0;
            timeout = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(timeout >= 0) || timeout > 1e9)
                return loom_usage("sweep", "--timeout %s: expected seconds >= 0 (0: no limit)", optarg);
            break;
        }
        case O_RETRY: retry = 1; break;
        case O_DRY: dry = 1; break;
        case 'q': quiet = 1; break;
        case 'h': sweep_help(stdout); return 0;
        case ':': return loom_usage("sweep", "option '%s' needs a value", argv[optind - 1]);
        default: return loom_usage("sweep", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return loom_usage("sweep", "%s", "expects a sweep spec: loom sweep SPEC.yaml --out RESULTS.csv");
    if (optind + 1 < argc)
        return loom_usage("sweep", "unexpected argument '%s'", argv[optind + 1]);
    if (!dry && out == NULL)
        return loom_usage("sweep", "%s", "needs --out RESULTS.csv (or --dry-run)");
    loom_set_quiet(quiet);

    loom_err err = {0};
    sw_spec spec;
    int rc = spec_load(&spec, argv[optind], &err);
    if (rc == 0)
        rc = spec_check(&spec, quiet, &err);
    if (rc < 0) {
        spec_free(&spec);
        return loom_fail(&err);
    }

    /* the CSV: lock it, drop a torn last line, read the rows already there */
    int fd = -1;
    csv_reader rd = {.s = &spec, .path = out, .ncols = 1 + spec.naxes + C_FIXED, .retry = retry,
                     .err = &err};
    if (out && !dry) {
        struct stat st;
        int existed = stat(out, &st) == 0;
        fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            loom_err_set(&err, LOOM_EIO, "%s: cannot open: %s", out, strerror(errno));
            goto done;
        }
        /* a SIGKILLed sweep's workers may hold the lock for the moment they
         * take to die (forked, not yet exec'd): wait up to 2 s for it */
        int locked = -1;
        for (int tries = 0; tries < 40 && (locked = flock(fd, LOCK_EX | LOCK_NB)) != 0 &&
                            errno == EWOULDBLOCK;
             tries++)
            nanosleep(&(struct timespec){0, 50000000}, NULL);
        if (locked != 0) {
            loom_err_set(&err, LOOM_EIO, "%s: %s", out,
                         errno == EWOULDBLOCK ? "another loom sweep is writing it"
                                              : strerror(errno));
            goto done;
        }
        if (!existed)
            fsync_dir_of(out);
    }
    if (out && csv_load(&rd, fd, !dry, quiet) < 0)
        goto done;
    if (out && !dry && retry && rd.dropped > 0) { /* the file was replaced: reopen and relock */
        close(fd);
        fd = open(out, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
            loom_err_set(&err, LOOM_EIO, "%s: cannot reopen: %s", out, strerror(errno));
            goto done;
        }
    }
    if (fd >= 0 && rd.rec == 0) { /* new or empty file: the header */
        sbuf h = {0};
        csv_header(&spec, &h);
        if (write_all(fd, h.p, h.n) != 0 || fsync(fd) != 0)
            loom_err_set(&err, LOOM_EIO, "%s: cannot write: %s", out, strerror(errno));
        free(h.p);
        if (err.code)
            goto done;
    }

    /* this shard's configurations, minus those already done */
    sweep sw = {.spec = &spec, .out = out, .outfd = fd, .jobs = (int)jobs, .timeout = timeout,
                .quiet = quiet, .bar = !quiet && !dry && isatty(2), .t0 = now_s()};
    int *pos = loom_xcalloc((size_t)spec.ngroups, sizeof *pos);
    uint64_t *keys = loom_xmalloc((size_t)spec.nconf * sizeof *keys);
    for (long long i = 0; i < spec.nconf; i++) {
        conf_pos(&spec, i, pos);
        keys[i] = conf_key(&spec, pos);
    }
    {   /* distinct values make distinct keys, unless FNV-1a collides */
        done_row *tmp = loom_xmalloc((size_t)spec.nconf * sizeof *tmp);
        for (long long i = 0; i < spec.nconf; i++)
            tmp[i] = (done_row){keys[i], 0};
        qsort(tmp, (size_t)spec.nconf, sizeof *tmp, cmp_row);
        for (long long i = 1; i < spec.nconf; i++)
            if (tmp[i].key == tmp[i - 1].key)
                loom_err_set(&err, LOOM_EINTERNAL, "%s: two configurations hash to key %016llx",
                             spec.path, (unsigned long long)tmp[i].key);
        free(tmp);
    }
    sw.todo = loom_xmalloc((size_t)(spec.nconf / shard_n + 1) * sizeof *sw.todo);
    sbuf line = {0};
    for (long long i = shard_k; i < spec.nconf && !err.code; i += shard_n) {
        const done_row *d = done_find(rd.rows, rd.nrows, keys[i]);
        sw.total++;
        if (d) {
            sw.skipped++;
            sw.old_bad += !d->ok;
        } else
            sw.todo[sw.ntodo++] = i;
        if (dry) {
            conf_pos(&spec, i, pos);
            line.n = 0;
            conf_describe(&spec, pos, &line);
            printf("%lld %016llx %s%s\n", i, (unsigned long long)keys[i], line.p,
                   d ? (d->ok ? " done" : " done (not ok)") : "");
        }
    }
    free(line.p);
    free(pos);
    free(keys);
    if (!err.code && !dry) {
        if (run_sweep(&sw) < 0)
            err = sw.err;
        if (sw.err.code)
            err = sw.err;
    }
    free(sw.todo);
    if (!err.code && !quiet) {
        long long bad = sw.n_failed + sw.n_timeout + sw.n_crashed;
        if (dry)
            fprintf(stderr, "loom sweep: %lld configuration%s in shard %ld/%ld of %lld; %lld "
                            "already in %s\n", sw.total, sw.total == 1 ? "" : "s", shard_k,
                    shard_n, spec.nconf, sw.skipped, out ? out : "(no --out)");
        else
            fprintf(stderr, "loom sweep: %s%lld configuration%s (shard %ld/%ld of %lld): %lld run "
                            "(%lld ok, %lld failed, %lld crashed, %lld timeout), %lld already in "
                            "%s; %.1f s\n", sw.interrupted ? "interrupted: " : "", sw.total,
                    sw.total == 1 ? "" : "s", shard_k, shard_n, spec.nconf,
                    sw.n_ok + bad, sw.n_ok, sw.n_failed, sw.n_crashed, sw.n_timeout,
                    sw.skipped, out, now_s() - sw.t0);
    }
    if (!err.code) {
        if (sw.interrupted)
            rc = 128 + sw.interrupted;
        else if (!dry && (sw.n_failed + sw.n_timeout + sw.n_crashed + sw.old_bad) > 0)
            rc = 4;
    }
done:
    if (fd >= 0)
        close(fd);
    free(rd.rows);
    free(rd.kept.p);
    spec_free(&spec);
    if (err.code)
        return loom_fail(&err);
    return rc;
}

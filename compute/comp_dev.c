#include "comp_dev.h"

#include "yamlio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

/*
 * The catalog is a sorted array of devices; files are parsed into a libyaml
 * document and walked once, every key checked against the table below.
 * Invariant: names are unique (a later file replaces an earlier entry in
 * place), and the array is sorted by name after every file.
 */

#ifndef LOOM_DEVICES_SRC
#define LOOM_DEVICES_SRC "compute/devices.yaml"
#endif
#ifndef LOOM_DEVICES_INSTALLED
#define LOOM_DEVICES_INSTALLED "/usr/local/share/loom/devices.yaml"
#endif

struct comp_catalog {
    comp_device *d; /* sorted by name */
    size_t n;       /* devices */
    char **files;   /* files read */
    size_t nfiles;
};

static const char *const dtype_names[COMP_DTYPES] = {"fp32", "tf32", "fp16", "bf16", "fp8"};

const char *comp_dtype_name(comp_dtype t)
{
    return (unsigned)t < COMP_DTYPES ? dtype_names[t] : "?";
}

int comp_dtype_parse(const char *s, comp_dtype *out)
{
    for (int i = 0; i < COMP_DTYPES; i++)
        if (strcmp(s, dtype_names[i]) == 0) {
            *out = (comp_dtype)i;
            return 0;
        }
    return -1;
}

int comp_dtype_bytes(comp_dtype t)
{
    static const int b[COMP_DTYPES] = {4, 4, 2, 2, 1};
    return (unsigned)t < COMP_DTYPES ? b[t] : 0;
}

static void dev_free(comp_device *d)
{
    free(d->name);
    free(d->description);
    free(d->source);
    free(d->eff_source);
    free(d->kernel_source);
    free(d->file);
}

comp_catalog *comp_catalog_new(void) { return loom_xcalloc(1, sizeof(comp_catalog)); }

void comp_catalog_free(comp_catalog *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        dev_free(&c->d[i]);
    free(c->d);
    for (size_t i = 0; i < c->nfiles; i++)
        free(c->files[i]);
    free(c->files);
    free(c);
}

size_t comp_catalog_files(const comp_catalog *c) { return c->nfiles; }
const char *comp_catalog_file(const comp_catalog *c, size_t i) { return c->files[i]; }
size_t comp_catalog_count(const comp_catalog *c) { return c->n; }
const comp_device *comp_catalog_at(const comp_catalog *c, size_t i) { return &c->d[i]; }

const comp_device *comp_catalog_find(const comp_catalog *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->d[i].name, name) == 0)
            return &c->d[i];
    return NULL;
}

/* ---- one file ------------------------------------------------------------- */

typedef struct walk {
    yaml_document_t doc;
    const char *path;
    loom_err *err;
} walk;

static yaml_node_t *node(walk *w, int i) { return yaml_document_get_node(&w->doc, i); }

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static size_t line_of(const yaml_node_t *n) { return n->start_mark.line + 1; }

static int bad(walk *w, const yaml_node_t *n, const char *dev, const char *key, const char *what)
{
    return loom_err_set(w->err, LOOM_EUSAGE, "%s: line %zu: device '%s', key '%s': %s", w->path,
                        line_of(n), dev, key, what);
}

static int get_num(walk *w, const yaml_node_t *n, const char *dev, const char *key, double lo,
                   double hi, int lo_open, double *out)
{
    const char *s = scalar(n);
    char msg[200];
    if (s == NULL || *s == '\0')
        return bad(w, n, dev, key, "expected a number");
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno != 0 || !isfinite(v)) {
        snprintf(msg, sizeof msg, "'%s' is not a number", s);
        return bad(w, n, dev, key, msg);
    }
    if ((lo_open ? !(v > lo) : !(v >= lo)) || !(v <= hi)) {
        snprintf(msg, sizeof msg, "%s is out of range: allowed %s%g .. %g", s, lo_open ? "> " : "",
                 lo, hi);
        return bad(w, n, dev, key, msg);
    }
    *out = v;
    return 0;
}

static int get_str(walk *w, const yaml_node_t *n, const char *dev, const char *key, char **out)
{
    const char *s = scalar(n);
    if (s == NULL || *s == '\0')
        return bad(w, n, dev, key, "expected text");
    free(*out);
    *out = loom_xstrdup(s);
    return 0;
}

static const char *const dev_keys[] = {
    "description", "source", "peak-tflops", "memory-gib", "memory-bw-gbs", "link-bw-gbs",
    "matrix-efficiency", "matrix-overhead-us", "memory-efficiency", "memory-overhead-us",
    "efficiency-source", "sms", "gemm-tiles", "kernel-source", "attention-efficiency",
    "gemm-efficiency-scale"};
enum { DEV_KEYS = sizeof dev_keys / sizeof dev_keys[0] };

static int unknown(walk *w, const yaml_node_t *kn, const char *dev, const char *k,
                   const char *const *keys, int n)
{
    char list[512];
    int off = 0;
    for (int i = 0; i < n && off < (int)sizeof list; i++)
        off += snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", keys[i]);
    return loom_err_set(w->err, LOOM_EUSAGE, "%s: line %zu: device '%s': unknown key '%s' "
                        "(known keys: %s)", w->path, line_of(kn), dev, k, list);
}

static int parse_peaks(walk *w, yaml_node_t *m, comp_device *d)
{
    if (m->type != YAML_MAPPING_NODE)
        return bad(w, m, d->name, "peak-tflops", "expected a mapping of datatype to TFLOP/s "
                   "(fp32, tf32, fp16, bf16, fp8)");
    int seen[COMP_DTYPES] = {0};
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node(w, p->key);
        const char *k = scalar(kn);
        comp_dtype t;
        if (k == NULL || comp_dtype_parse(k, &t) < 0)
            return unknown(w, kn, d->name, k ? k : "?", dtype_names, COMP_DTYPES);
        if (seen[t]++)
            return bad(w, kn, d->name, "peak-tflops", "a datatype appears twice");
        double v;
        char key[32];
        snprintf(key, sizeof key, "peak-tflops.%s", k);
        if (get_num(w, node(w, p->value), d->name, key, 0, 1e6, 1, &v) < 0)
            return LOOM_EUSAGE;
        d->peak[t] = v * 1e12;
    }
    if (!seen[COMP_FP32])
        return bad(w, m, d->name, "peak-tflops", "fp32 is required");
    return 0;
}

/* gemm-tiles: a sequence of "MxN", 1 .. COMP_MAX_TILES entries, each side
 * 1 .. 4096. */
static int parse_tiles(walk *w, yaml_node_t *m, comp_device *d)
{
    const char *key = "gemm-tiles";
    if (m->type != YAML_SEQUENCE_NODE)
        return bad(w, m, d->name, key, "expected a list of tile shapes such as [128x256, 128x128]");
    long n = m->data.sequence.items.top - m->data.sequence.items.start;
    if (n < 1 || n > COMP_MAX_TILES) {
        char msg[80];
        snprintf(msg, sizeof msg, "%ld tiles; give 1 .. %d", n, COMP_MAX_TILES);
        return bad(w, m, d->name, key, msg);
    }
    for (long i = 0; i < n; i++) {
        yaml_node_t *t = node(w, m->data.sequence.items.start[i]);
        const char *s = scalar(t);
        unsigned a, b;
        char tail, msg[160];
        if (s == NULL || sscanf(s, "%ux%u%c", &a, &b, &tail) != 2 || a < 1 || b < 1 || a > 4096 ||
            b > 4096) {
            snprintf(msg, sizeof msg, "'%s' is not a tile shape MxN with sides 1 .. 4096",
                     s ? s : "?");
            return bad(w, t, d->name, key, msg);
        }
        d->tile_m[i] = (uint16_t)a;
        d->tile_n[i] = (uint16_t)b;
    }
    d->ntiles = (uint32_t)n;
    return 0;
}

/* attention-efficiency: a mapping of attention family (flash2, cudnn) to
 * [forward, backward], each in (0, 1]: the family's efficiencies measured
 * on this device, in place of the ones fitted on the H200. */
static int parse_attn(walk *w, yaml_node_t *m, comp_device *d)
{
    const char *key = "attention-efficiency";
    if (m->type != YAML_MAPPING_NODE)
        return bad(w, m, d->name, key, "expected a mapping of attention family (flash2, cudnn) "
                   "to [forward, backward] efficiencies");
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node(w, p->key), *v = node(w, p->value);
        const char *k = scalar(kn);
        comp_attn a;
        if (k == NULL || comp_attn_parse(k, &a) < 0)
            return unknown(w, kn, d->name, k ? k : "?", comp_attn_names, COMP_ATTN_KINDS);
        if (d->attn_eff[a][0] > 0)
            return bad(w, kn, d->name, key, "a family appears twice");
        if (v->type != YAML_SEQUENCE_NODE ||
            v->data.sequence.items.top - v->data.sequence.items.start != 2)
            return bad(w, v, d->name, key, "expected [forward, backward], two efficiencies");
        char sub[64];
        snprintf(sub, sizeof sub, "%s.%s", key, k);
        for (int i = 0; i < 2; i++)
            if (get_num(w, node(w, v->data.sequence.items.start[i]), d->name, sub, 0, 1, 1,
                        &d->attn_eff[a][i]) < 0)
                return LOOM_EUSAGE;
    }
    return 0;
}

static int parse_device(walk *w, const char *name, yaml_node_t *m, comp_device *d)
{
    memset(d, 0, sizeof *d);
    d->name = loom_xstrdup(name);
    d->file = loom_xstrdup(w->path);
    if (m->type != YAML_MAPPING_NODE)
        return loom_err_set(w->err, LOOM_EUSAGE, "%s: line %zu: device '%s' must be a mapping of "
                            "keys", w->path, line_of(m), name);
    int seen[DEV_KEYS] = {0};
    double t_mat = 0, t_mem = 0;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node(w, p->key), *v = node(w, p->value);
        const char *k = scalar(kn);
        int ki = -1;
        for (int i = 0; k && i < DEV_KEYS; i++)
            if (strcmp(k, dev_keys[i]) == 0)
                ki = i;
        if (ki < 0)
            return unknown(w, kn, name, k ? k : "?", dev_keys, DEV_KEYS);
        if (seen[ki]++)
            return loom_err_set(w->err, LOOM_EUSAGE, "%s: line %zu: device '%s': key '%s' appears "
                                "twice", w->path, line_of(kn), name, k);
        int rc = 0;
        switch (ki) {
        case 0: rc = get_str(w, v, name, k, &d->description); break;
        case 1: rc = get_str(w, v, name, k, &d->source); break;
        case 2: rc = parse_peaks(w, v, d); break;
        case 3: rc = get_num(w, v, name, k, 0, 1e6, 1, &d->mem_bytes); d->mem_bytes *= 1073741824.0; break;
        case 4: rc = get_num(w, v, name, k, 0, 1e7, 1, &d->mem_bw); d->mem_bw *= 1e9; break;
        case 5: rc = get_num(w, v, name, k, 0, 1e7, 1, &d->link_bw); d->link_bw *= 1e9; break;
        case 6: rc = get_num(w, v, name, k, 0, 1, 1, &d->matrix_eff); break;
        case 7: rc = get_num(w, v, name, k, 0, 1e6, 0, &t_mat); break;
        case 8: rc = get_num(w, v, name, k, 0, 1, 1, &d->memory_eff); break;
        case 9: rc = get_num(w, v, name, k, 0, 1e6, 0, &t_mem); break;
        case 10: rc = get_str(w, v, name, k, &d->eff_source); break;
        case 11: {
            double sms;
            rc = get_num(w, v, name, k, 1, 100000, 0, &sms);
            if (rc == 0 && sms != floor(sms))
                rc = bad(w, v, name, k, "expected a whole number of SMs");
            d->sms = (uint32_t)sms;
            break;
        }
        case 12: rc = parse_tiles(w, v, d); break;
        case 13: rc = get_str(w, v, name, k, &d->kernel_source); break;
        case 14: rc = parse_attn(w, v, d); break;
        case 15: rc = get_num(w, v, name, k, 0, 2, 1, &d->gemm_scale); break;
        }
        if (rc < 0)
            return rc;
    }
    d->matrix_overhead = t_mat * 1e-6;
    d->memory_overhead = t_mem * 1e-6;
    for (int i = 0; i < 6; i++)
        if (!seen[i])
            return loom_err_set(w->err, LOOM_EUSAGE, "%s: line %zu: device '%s': missing key '%s'",
                                w->path, line_of(m), name, dev_keys[i]);
    int curve = seen[6] + seen[7] + seen[8] + seen[9] + seen[10];
    if (curve != 0 && curve != 5)
        return loom_err_set(w->err, LOOM_EUSAGE, "%s: line %zu: device '%s': give all of "
                            "matrix-efficiency, matrix-overhead-us, memory-efficiency, "
                            "memory-overhead-us and efficiency-source, or none", w->path,
                            line_of(m), name);
    int kern = seen[11] + seen[12] + seen[13];
    if (kern != 0 && kern != 3)
        return loom_err_set(w->err, LOOM_EUSAGE, "%s: line %zu: device '%s': give all of sms, "
                            "gemm-tiles and kernel-source, or none", w->path, line_of(m), name);
    if ((seen[14] || seen[15]) && !kern)
        return loom_err_set(w->err, LOOM_EUSAGE, "%s: line %zu: device '%s': %s is the kernel "
                            "model's; give sms, gemm-tiles and kernel-source too", w->path,
                            line_of(m), name, seen[14] ? "attention-efficiency" :
                            "gemm-efficiency-scale");
    return 0;
}

static int cmp_dev(const void *a, const void *b)
{
    return strcmp(((const comp_device *)a)->name, ((const comp_device *)b)->name);
}

int comp_catalog_add_file(comp_catalog *c, const char *path, loom_err *err)
{
    walk w = {.path = path, .err = err};
    if (loom_yaml_load_file(path, &w.doc, err) < 0)
        return LOOM_EUSAGE;
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&w.doc);
    if (root == NULL || root->type != YAML_MAPPING_NODE) {
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: a device catalog is a mapping of device names "
                          "to their figures%s", path, root ? "" : " (the file is empty)");
        goto out;
    }
    size_t first_new = c->n;
    /* names first, unique within the file: a sort, not a pairwise search */
    int npairs = (int)(root->data.mapping.pairs.top - root->data.mapping.pairs.start), twice, w0;
    const char **names = loom_xcalloc((size_t)npairs + 1, sizeof *names);
    for (int i = 0; i < npairs && rc == 0; i++) {
        yaml_node_t *kn = node(&w, root->data.mapping.pairs.start[i].key);
        names[i] = scalar(kn);
        if (names[i] == NULL || *names[i] == '\0')
            rc = loom_err_set(err, LOOM_EUSAGE, "%s: line %zu: a device name must be plain text",
                              path, line_of(kn));
    }
    if (rc == 0 && (twice = loom_yaml_first_dup(names, npairs, &w0)) >= 0)
        rc = loom_err_set(err, LOOM_EUSAGE, "%s: line %zu: device '%s' appears twice", path,
                          line_of(node(&w, root->data.mapping.pairs.start[twice].key)), names[twice]);
    free(names);
    if (rc < 0)
        goto out;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        const char *name = scalar(node(&w, pr->key));
        comp_device d;
        if ((rc = parse_device(&w, name, node(&w, pr->value), &d)) < 0) {
            dev_free(&d);
            goto out;
        }
        size_t at = c->n;
        for (size_t i = 0; i < first_new; i++)
            if (strcmp(c->d[i].name, name) == 0)
                at = i;
        if (at < c->n) {
            dev_free(&c->d[at]);
            c->d[at] = d;
        } else {
            c->d = loom_xrealloc(c->d, (c->n + 1) * sizeof *c->d);
            c->d[c->n++] = d;
        }
    }
    if (c->n > 1) /* qsort(NULL, 0, ...) is undefined: an empty first catalog */
        qsort(c->d, c->n, sizeof *c->d, cmp_dev);
    c->files = loom_xrealloc(c->files, (c->nfiles + 1) * sizeof *c->files);
    c->files[c->nfiles++] = loom_xstrdup(path);
out:
    yaml_document_delete(&w.doc);
    return rc;
}

/* ---- search paths --------------------------------------------------------- */

const char *comp_catalog_builtin_path(void)
{
    const char *env = getenv("LOOM_DEVICE_CATALOG");
    if (env && *env)
        return env;
    if (access(LOOM_DEVICES_SRC, R_OK) == 0)
        return LOOM_DEVICES_SRC;
    return LOOM_DEVICES_INSTALLED;
}

const char *comp_catalog_user_path(char *buf, size_t n)
{
    const char *x = getenv("XDG_CONFIG_HOME");
    const char *h = getenv("HOME");
    if (x && *x)
        snprintf(buf, n, "%s/loom/devices.yaml", x);
    else if (h && *h)
        snprintf(buf, n, "%s/.config/loom/devices.yaml", h);
    else
        return NULL;
    return buf;
}

comp_catalog *comp_catalog_load(const char *extra, loom_err *err)
{
    comp_catalog *c = comp_catalog_new();
    const char *builtin = comp_catalog_builtin_path();
    if (access(builtin, R_OK) != 0) {
        loom_err_set(err, LOOM_EUSAGE, "cannot read the device catalog: tried %s%s%s "
                     "(set LOOM_DEVICE_CATALOG to its path)", builtin,
                     strcmp(builtin, LOOM_DEVICES_INSTALLED) ? " and " : "",
                     strcmp(builtin, LOOM_DEVICES_INSTALLED) ? LOOM_DEVICES_INSTALLED : "");
        comp_catalog_free(c);
        return NULL;
    }
    char ubuf[1024];
    const char *user = comp_catalog_user_path(ubuf, sizeof ubuf);
    if (comp_catalog_add_file(c, builtin, err) < 0 ||
        (user && access(user, F_OK) == 0 && comp_catalog_add_file(c, user, err) < 0) ||
        (extra && comp_catalog_add_file(c, extra, err) < 0)) {
        comp_catalog_free(c);
        return NULL;
    }
    return c;
}

int comp_device_cfg(const comp_device *d, comp_dtype t, comp_cfg *out, loom_err *err)
{
    if ((unsigned)t >= COMP_DTYPES || d->peak[t] <= 0) {
        char have[64] = "";
        int off = 0;
        for (int i = 0; i < COMP_DTYPES; i++)
            if (d->peak[i] > 0)
                off += snprintf(have + off, sizeof have - off, "%s%s", off ? ", " : "", dtype_names[i]);
        return loom_err_set(err, LOOM_EUSAGE, "device '%s' has no %s peak in %s (it has: %s)",
                            d->name, comp_dtype_name(t), d->file, have);
    }
    out->peak_flops = d->peak[t];
    out->mem_bw = d->mem_bw;
    out->matrix = (comp_curve){0, 0};
    out->memory = (comp_curve){0, 0};
    if (d->matrix_eff > 0)
        out->matrix = (comp_curve){d->matrix_eff, d->matrix_overhead * d->peak[t] * d->matrix_eff};
    if (d->memory_eff > 0)
        out->memory = (comp_curve){d->memory_eff, d->memory_overhead * d->mem_bw * d->memory_eff};
    out->kp = comp_kparams_default();
    out->kp.sms = d->sms;
    out->kp.ntiles = d->ntiles;
    memcpy(out->kp.tile_m, d->tile_m, sizeof d->tile_m);
    memcpy(out->kp.tile_n, d->tile_n, sizeof d->tile_n);
    out->kp.peak_fp8 = d->peak[COMP_FP8];
    if (d->gemm_scale > 0) /* this device's GEMMs against the H200's, where e_gemm was fitted */
        out->kp.gemm_eff = fmin(1.0, out->kp.gemm_eff * d->gemm_scale);
    /* an FP8 run (Transformer Engine's recipe) keeps attention in bf16:
     * kernels that say 2-byte operands take the bf16 peak */
    out->kp.peak_16 = t == COMP_FP8 ? d->peak[COMP_BF16] : 0;
    /* kernels that say 4-byte operands: FP32 (PyTorch's default for float
     * matmuls, torch.backends.cuda.matmul.allow_tf32 False), TF32 when the
     * run's datatype is TF32 */
    out->kp.peak_32 = d->peak[t == COMP_TF32 ? COMP_TF32 : COMP_FP32];
    memcpy(out->kp.attn_dev, d->attn_eff, sizeof d->attn_eff);
    comp_kparams_attention(&out->kp, COMP_ATTN_FLASH2); /* the default family, as measured here */
    return 0;
}

const char *comp_catalog_names(const comp_catalog *c, char *buf, size_t n)
{
    size_t off = 0;
    if (n > 0)
        buf[0] = '\0';
    for (size_t i = 0; i < comp_catalog_count(c) && off < n; i++) {
        int k = snprintf(buf + off, n - off, "%s%s", i ? ", " : "", comp_catalog_at(c, i)->name);
        if (k < 0)
            break;
        off += (size_t)k;
    }
    return buf;
}

/*
 * config_int.h: private to core/sim's configuration loader: the parsed
 * document and the typed readers that the file kinds share, and the seams
 * between config.c (documents, values, keys, --set, entry points),
 * config_net.c (the network file), config_sys.c (the system file),
 * config_comp.c (its device and compute-model keys) and config_groups.c
 * (comm-group and remote-memory files).
 *
 * Every reader fails with LOOM_EUSAGE and a message naming the file (or
 * "--set"), the key, its list index and its line.  Nothing outside these
 * files includes this header.
 */
#ifndef LOOM_CONFIG_INT_H
#define LOOM_CONFIG_INT_H

#include <yaml.h>

#include "comp_dev.h"
#include "config.h"

/* ---- documents (config.c) ------------------------------------------------ */

typedef struct cfg_doc {
    yaml_document_t d; /* the parsed file */
    const char *path;  /* for messages; "--set" for override values */
    int loaded;        /* d must be deleted */
} cfg_doc;

/* Parses a file; "the file is empty" is an error, since every loom file
 * has keys.  cfg_doc_free() is safe on a document that did not load. */
int cfg_doc_load(cfg_doc *dc, const char *path, loom_err *err);
void cfg_doc_free(cfg_doc *dc);

static inline yaml_node_t *cfg_node(cfg_doc *dc, int i)
{
    return yaml_document_get_node(&dc->d, i);
}

/* The text of a scalar node; NULL for a list, a mapping or no node. */
static inline const char *cfg_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* ---- typed values (config.c) ---------------------------------------------- */

typedef struct cfg_ctx {
    const char *path; /* file name, or "--set" */
    const char *key;  /* key being read */
    int index;        /* list index, or -1 */
    loom_err *err;    /* where a failure goes */
} cfg_ctx;

/* Fails with "PATH: key 'KEY'[I] (line L): WHAT"; returns LOOM_EUSAGE. */
int cfg_bad(const cfg_ctx *c, const yaml_node_t *n, const char *what);
/* A number in [lo, hi] ((lo, hi] when lo_open). */
int cfg_get_double(const cfg_ctx *c, const yaml_node_t *n, double lo, double hi, int lo_open,
                   double *out /* OUT */);
/* An integer in [lo, hi]; true/false are 1/0, 10.0 is 10. */
int cfg_get_int(const cfg_ctx *c, const yaml_node_t *n, long long lo, long long hi,
                long long *out /* OUT */);
/* One of names[0..count); the message lists them. */
int cfg_get_enum(const cfg_ctx *c, const yaml_node_t *n, const char *const *names, int count,
                 int *out /* OUT */);
/* The items of a list value; a scalar counts as a list of one (held in
 * *one).  -1 for a mapping. */
int cfg_list_items(cfg_doc *dc, yaml_node_t *n, int **items /* OUT */, int *count /* OUT */,
                   int *one);

/* ---- keys (config.c) -------------------------------------------------------- */

int cfg_key_index(const char *const *keys, int n, const char *k); /* or -1 */
int cfg_unknown_key(loom_err *err, const char *path, const yaml_node_t *kn, const char *k,
                    const char *const *keys, int n);
/* The top-level mapping's pairs; NULL (err set) when it is no mapping. */
yaml_node_pair_t *cfg_pairs(cfg_doc *dc, int *n /* OUT */, loom_err *err);
/* Rejects duplicate keys and keys not in `keys`. */
int cfg_check_keys(cfg_doc *dc, const char *const *keys, int nkeys, loom_err *err);
yaml_node_t *cfg_lookup(cfg_doc *dc, const char *key); /* the value, or NULL */

/* Applies the --set overrides of `section` ("network", "system") to dc. */
int cfg_apply_overrides(cfg_doc *dc, const char *section, const loom_cfg_files *f, loom_err *err);

/* Records a setting accepted but not modelled; fmt has one %s, for a. */
void cfg_note(loom_cfg *cfg, const char *fmt, const char *a);

/* ---- the file kinds ----------------------------------------------------------- */

enum { CFG_NET_KEYS = 4 };
extern const char *const cfg_net_keys[CFG_NET_KEYS]; /* config_net.c */
extern const char *const cfg_sys_keys[];            /* config_sys.c */
extern const int cfg_nsys_keys;                     /* entries in cfg_sys_keys */

int cfg_load_network(loom_cfg *cfg, const loom_cfg_files *f, loom_err *err);
int cfg_load_system(loom_cfg *cfg, const loom_cfg_files *f, loom_err *err);
int cfg_load_groups(loom_cfg *cfg, const char *path, loom_err *err);
int cfg_load_remote_mem(loom_cfg *cfg, const char *path, loom_err *err);
/* The system key `stack: NAME|FILE` (config_stack.c): sets stack_scale
 * and stack_name. */
int cfg_load_stack(loom_cfg *cfg, const char *value, const char *sys_path, loom_err *err);
/* The time keys a stack profile may carry and the system file may give
 * (us, 0 .. max_us; config_stack.c): index LOOM_STACK_*, or -1. */
typedef struct cfg_stack_time {
    const char *key;
    double max_us;
} cfg_stack_time;
extern const cfg_stack_time cfg_stack_times[LOOM_STACK_TIMES];
int cfg_stack_time_index(const char *key);
/* The configuration's value of time key i (&cfg->host_launch, ...). */
sim_time *cfg_stack_time_field(loom_cfg *cfg, int i);
/* After the system file: each time key it did not give takes the
 * profile's (0 without one). */
void cfg_apply_stack_times(loom_cfg *cfg);
/* config_custom.c: *-implementation-custom's traces into cfg->custom[op];
 * sys is the system file (relative prefixes are also looked for beside it). */
int cfg_load_custom(loom_cfg *cfg, net_impl_op op, const char *prefix, const char *sys,
                    loom_err *err);

/* ---- the system file's device and compute keys (config_comp.c) ------------- */

typedef struct cfg_sys_comp {
    const char *device;      /* device name, or NULL */
    char *device_file;       /* resolved path, or NULL */
    int model;               /* comp_kind, or -1 when compute-model is absent */
    int roofline_key;        /* roofline-enabled: -1 absent, 0, 1 */
    comp_dtype dtype;        /* compute-dtype (bf16) */
    char *table;             /* resolved compute-table path, or NULL */
    double eff[2], ovh[2];   /* curve overrides: matrix, memory; < 0 absent */
    yaml_node_t *rank_dev;   /* rank-devices mapping, or NULL */
    yaml_node_t *straggler;  /* straggler mapping, or NULL */
    char *comm_group;        /* resolved comm-group path, or NULL */
    double mem_bw, peak;     /* explicit local-mem-bw and peak-perf (bytes/s, FLOP/s), or 0 */
    int have_mem;            /* local-mem-bw given (or taken from the device) */
    int have_peak;           /* peak-perf given */
    int attn;                /* attention-kernel (comp_attn), or -1 when absent */
} cfg_sys_comp;

/* Reads key k (value v) into sc (and cfg) when it is a device or compute
 * key: 1 when it was, 0 when k is not such a key, < 0 on an error. */
int cfg_comp_key(loom_cfg *cfg, cfg_sys_comp *sc, const cfg_ctx *c, const char *k, yaml_node_t *v);
/* Applies what was gathered, after the walk; frees nothing of sc. */
int cfg_load_compute(loom_cfg *cfg, cfg_doc *dc, cfg_sys_comp *sc, const loom_cfg_files *f,
                     loom_err *err);

#endif

#include "sweep_int.h"

/*
 * sweep_check.c: a spec checked before anything runs.  Every value of
 * every axis is loaded in-process exactly as `loom run` would load it (the
 * other axes at their first values), and a gen recipe's generator runs once
 * for configuration 0 and once per value of each gen.* axis: the sum of
 * the axis lengths, not their product.  So an unknown --set key, a value
 * out of range or a missing file stops the sweep at once, naming the axis;
 * combinations that only fail together run and become failed rows.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

/* Runs the configuration's generator into a new scratch directory, dir
 * (PATH_MAX bytes; the caller removes it), writing dir/w.*: how a gen
 * recipe and its flags are checked, and what a generated system file is
 * checked with.  On failure dir is removed and set to "". */
static int gen_into(const sw_spec *s, const int *pos, char *dir, loom_err *err)
{
    const char *tmp = getenv("TMPDIR");
    char prefix[PATH_MAX + 16], line[SW_ERR_TEXT_MAX + 1];
    snprintf(dir, PATH_MAX, "%s/loom-sweep-gen-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        int e = errno;
        loom_err_set(err, LOOM_EIO, "%s: cannot create: %s", dir, strerror(e));
        dir[0] = '\0';
        return LOOM_EIO;
    }
    snprintf(prefix, sizeof prefix, "%s/w", dir);
    sw_conf c;
    sw_conf_build(s, pos, &c);
    const char **argv = sw_conf_gen_argv(s, &c, prefix);
    int code = sw_run_sync(argv, line, sizeof line);
    free(argv);
    sw_conf_free(&c);
    if (code != 0) {
        sw_rm_dir(dir);
        dir[0] = '\0';
        return loom_err_set(err, LOOM_EUSAGE, "loom gen %s (exit %d): %s", s->gen, code,
                            line[0] ? line : "no message");
    }
    return 0;
}

/* Keeps the base's sets and, if it is a --set axis, axis `only`'s. */
static void conf_keep_only(const sw_spec *s, sw_conf *c, int only)
{
    char *keep = NULL;
    for (int a = 0, k = s->nsets; a < s->naxes; a++) {
        if (s->axes[a].kind != AX_SET)
            continue;
        if (a == only)
            keep = c->sets[k];
        else
            free(c->sets[k]);
        c->sets[k++] = NULL;
    }
    c->nsets = s->nsets;
    if (keep)
        c->sets[c->nsets++] = keep;
}

/* The trace's rank 0 file, PREFIX.0.et or PREFIX.0.et.gz, must exist. */
static int workload_check(const char *prefix, loom_err *err)
{
    sbuf p0 = {0};
    sb_printf(&p0, "%s.0.et", prefix);
    struct stat st;
    int rc = 0;
    if (stat(p0.p, &st) != 0) {
        sb_str(&p0, ".gz");
        if (stat(p0.p, &st) != 0)
            rc = loom_err_set(err, LOOM_EUSAGE, "workload %s: no trace file %s.0.et (or .et.gz)",
                              prefix, prefix);
    }
    free(p0.p);
    return rc;
}

/* Loads a configuration in-process as `loom run` would: the same key
 * tables check the --set keys and values, and the trace's rank 0 file must
 * exist.  Replays nothing.  only >= 0: the base run plus that one axis at
 * pos (the other axes left at the base files' values); -2: the base alone;
 * -1: the whole configuration.  gendir: where its generator wrote (gen_into),
 * or NULL without a gen recipe. */
static int conf_check(const sw_spec *s, const int *pos, int only, const char *gendir,
                      loom_err *err)
{
    sw_conf c;
    sw_conf_build(s, pos, &c);
    if (only != -1)
        conf_keep_only(s, &c, only);
    if (gendir && gendir[0]) { /* what its generator wrote there (gen llm's system file) */
        char prefix[PATH_MAX + 16];
        snprintf(prefix, sizeof prefix, "%s/w", gendir);
        sw_conf_generated(s, &c, prefix);
    }
    int rc = 0;
    if (c.file[0]) /* a generated workload is checked by running its generator */
        rc = workload_check(c.file[0], err);
    if (rc == 0) {
        loom_cfg_files files = {c.file[1], c.file[2], c.file[3], NULL,
                                (const char *const *)c.sets, c.nsets, NULL, NULL};
        loom_cfg cfg;
        rc = loom_cfg_load(&cfg, &files, err);
        if (rc == 0)
            loom_cfg_free(&cfg);
    }
    sw_conf_free(&c);
    return rc;
}

/* Each value of group g but the first, the other groups at pos; gendir0:
 * configuration 0's generated files, for a group with no gen axis. */
static int group_check(const sw_spec *s, int *pos, int g, const char *gendir0, loom_err *e,
                       loom_err *err)
{
    int rc = 0;
    sbuf d = {0};
    const sw_group *gr = &s->groups[g];
    int gen = 0;
    for (int a = gr->first; a < gr->first + gr->naxes; a++)
        gen |= s->axes[a].kind == AX_GEN;
    for (int v = 1; v < gr->len && rc == 0; v++) {
        pos[g] = v;
        loom_err_clear(e);
        char dir[PATH_MAX] = "";
        if (gen) /* run the generator once per value */
            rc = gen_into(s, pos, dir, e);
        if (rc == 0)
            rc = conf_check(s, pos, -1, gen ? dir : gendir0, e);
        if (dir[0])
            sw_rm_dir(dir);
        if (rc < 0) {
            const sw_axis *ax = &s->axes[gr->first];
            sw_conf_describe(s, pos, &d);
            loom_err_set(err, rc, "%s: line %d: axis '%s' value %s (configuration %s): %s",
                         s->path, ax->line, ax->key, ax->vals[v], d.p, e->msg);
        }
    }
    pos[g] = 0;
    free(d.p);
    return rc;
}

/* Configuration 0's generator first (with a gen recipe: what it writes is
 * what gen llm's configurations are checked with), then the base run, then
 * each --set axis alone (so that an unknown key is blamed on its axis),
 * then configuration 0, then every other value of every axis.  Warnings
 * are shown for configuration 0 only. */
int sw_spec_check(const sw_spec *s, int quiet, loom_err *err)
{
    int *pos = loom_xcalloc((size_t)s->ngroups, sizeof *pos);
    loom_err e = {0};
    char dir0[PATH_MAX] = "";
    int rc = s->gen ? gen_into(s, pos, dir0, &e) : 0;
    loom_set_quiet(1);
    for (int a = -2; a < s->naxes && rc == 0; a++) {
        if (a == -1 || (a >= 0 && s->axes[a].kind != AX_SET))
            continue;
        if ((rc = conf_check(s, pos, a, dir0, &e)) < 0) {
            if (a < 0)
                loom_err_set(err, rc, "%s: the base run: %s", s->path, e.msg);
            else
                loom_err_set(err, rc, "%s: line %d: axis '%s': %s", s->path, s->axes[a].line,
                             s->axes[a].key, e.msg);
        }
    }
    loom_set_quiet(quiet);
    if (rc == 0)
        rc = conf_check(s, pos, -1, dir0, &e);
    if (rc < 0 && !err->code) {
        sbuf d = {0};
        sw_conf_describe(s, pos, &d);
        loom_err_set(err, rc, "%s: configuration 0 (%s): %s", s->path, d.p, e.msg);
        free(d.p);
    }
    loom_set_quiet(1);
    for (int g = 0; g < s->ngroups && rc == 0; g++)
        rc = group_check(s, pos, g, dir0, &e, err);
    loom_set_quiet(quiet);
    if (dir0[0])
        sw_rm_dir(dir0);
    free(pos);
    return rc;
}

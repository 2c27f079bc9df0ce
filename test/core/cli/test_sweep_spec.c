/*
 * The sweep spec (core/cli/sweep_spec.c): configurations of a cartesian
 * product and of zip groups, numbered as docs/SWEEP.md says; values as
 * flow text; keys against FNV-1a written out here from the docs; what a
 * configuration runs; and every spec error naming the file, line and key.
 * Expected values are worked out by hand from the spec texts below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sweep_testutil.h"

#define BASE "workload: w/trace\nnetwork: net.yml\nsystem: sys.json\n" /* lines 1-3 */

/* "k=v k=v" of configuration i. */
static char *describe(const sw_spec *s, long long i)
{
    int pos[8];
    assert_true(s->ngroups <= 8);
    sw_conf_pos(s, i, pos);
    sbuf b = {0};
    sw_conf_describe(s, pos, &b);
    return b.p;
}

static void expect_conf(const sw_spec *s, long long i, const char *want)
{
    char *got = describe(s, i);
    assert_string_equal(got, want);
    free(got);
}

/* A mapping of axes: the cartesian product, the first axis slowest. */
static void test_cartesian_order(void **state)
{
    (void)state;
    sw_spec s;
    loom_err err;
    assert_int_equal(su_spec(&s, "cart.yaml", BASE "axes:\n"
                                 "  network.bandwidth[0]: [25, 50]\n"
                                 "  system.all-reduce-implementation: [[ring], [direct], [ring, direct]]\n"
                                 "  network.latency[0]: [1, 2]\n", &err), 0);
    assert_int_equal(s.nconf, 2 * 3 * 2);
    assert_int_equal(s.ngroups, 3);
    assert_int_equal(s.naxes, 3);
    static const char *const bw[] = {"25", "50"};
    static const char *const alg[] = {"[ring]", "[direct]", "[ring,direct]"};
    static const char *const lat[] = {"1", "2"};
    char want[256];
    long long i = 0;
    for (int b = 0; b < 2; b++)
        for (int a = 0; a < 3; a++)
            for (int l = 0; l < 2; l++, i++) {
                snprintf(want, sizeof want, "network.bandwidth[0]=%s "
                         "system.all-reduce-implementation=%s network.latency[0]=%s",
                         bw[b], alg[a], lat[l]);
                expect_conf(&s, i, want);
            }
    sw_spec_free(&s);
}

/* A list of groups: lists in a group advance together, groups multiply. */
static void test_zip_groups(void **state)
{
    (void)state;
    sw_spec s;
    loom_err err;
    assert_int_equal(su_spec(&s, "zip.yaml", BASE "axes:\n"
                                 "  - network.bandwidth[1]: [12.5, 25, 50]\n"
                                 "    network.latency[1]: [2000, 1500, 1000]\n"
                                 "  - system.all-gather-implementation: [[ring, ring], [direct, direct]]\n",
                             &err), 0);
    assert_int_equal(s.nconf, 6); /* 3 zipped x 2, not 3 x 3 x 2 */
    assert_int_equal(s.ngroups, 2);
    assert_int_equal(s.groups[0].first, 0);
    assert_int_equal(s.groups[0].naxes, 2);
    assert_int_equal(s.groups[0].len, 3);
    assert_int_equal(s.groups[1].first, 2);
    assert_int_equal(s.groups[1].naxes, 1);
    assert_int_equal(s.groups[1].len, 2);
    static const char *const want[6] = {
        "network.bandwidth[1]=12.5 network.latency[1]=2000 system.all-gather-implementation=[ring,ring]",
        "network.bandwidth[1]=12.5 network.latency[1]=2000 system.all-gather-implementation=[direct,direct]",
        "network.bandwidth[1]=25 network.latency[1]=1500 system.all-gather-implementation=[ring,ring]",
        "network.bandwidth[1]=25 network.latency[1]=1500 system.all-gather-implementation=[direct,direct]",
        "network.bandwidth[1]=50 network.latency[1]=1000 system.all-gather-implementation=[ring,ring]",
        "network.bandwidth[1]=50 network.latency[1]=1000 system.all-gather-implementation=[direct,direct]",
    };
    for (int i = 0; i < 6; i++)
        expect_conf(&s, i, want[i]);
    sw_spec_free(&s);
}

/* A --set value is YAML flow text that reads back as the same value; a
 * file axis keeps the name as written. */
static void test_value_text(void **state)
{
    (void)state;
    sw_spec s;
    loom_err err;
    assert_int_equal(su_spec(&s, "text.yaml", BASE "axes:\n"
                                 "  system.x: [12.5, \"a b\", 'x\"y', {k: v}, [1, [2, 3]], \"007\"]\n"
                                 "  network: [\"my net.yml\"]\n", &err), 0);
    static const char *const want[] = {"12.5", "\"a b\"", "\"x\\\"y\"", "{k: v}", "[1,[2,3]]",
                                       "007"};
    for (int v = 0; v < 6; v++)
        assert_string_equal(s.axes[0].vals[v], want[v]);
    assert_null(s.axes[0].vals[6]);
    assert_int_equal(s.axes[0].kind, AX_SET);
    assert_int_equal(s.axes[1].kind, AX_NETWORK);
    assert_string_equal(s.axes[1].vals[0], "my net.yml");
    sw_spec_free(&s);
}

/* FNV-1a 64 over s and its NUL, written out from docs/SWEEP.md. */
static uint64_t fnv(uint64_t h, const char *s)
{
    for (size_t i = 0; i <= strlen(s); i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t key_of(const sw_spec *s, long long i)
{
    int pos[8];
    sw_conf_pos(s, i, pos);
    return sw_conf_key(s, pos);
}

/* The key hashes each axis key and value; a grown axis keeps the old keys
 * and the spec's hash, the base run changes the hash alone. */
static void test_keys(void **state)
{
    (void)state;
    sw_spec a, grown, block, other;
    loom_err err;
    const char *axes = "  network.bandwidth[0]: [25, 50]\n  network.latency[0]: [1, 2]\n";
    char text[512];
    snprintf(text, sizeof text, BASE "axes:\n%s", axes);
    assert_int_equal(su_spec(&a, "k1.yaml", text, &err), 0);
    uint64_t h = 14695981039346656037ULL; /* 0xcbf29ce484222325 */
    h = fnv(fnv(fnv(fnv(h, "network.bandwidth[0]"), "50"), "network.latency[0]"), "1");
    assert_true(key_of(&a, 2) == h); /* configuration 2: 50, 1 */

    assert_int_equal(su_spec(&grown, "k2.yaml", BASE "axes:\n"
                                     "  network.bandwidth[0]: [12.5, 25, 50]\n"
                                     "  network.latency[0]: [1, 2]\n", &err), 0);
    assert_true(grown.hash == a.hash);
    for (int i = 0; i < 4; i++) /* a's (25|50, 1|2) are grown's 2..5 */
        assert_true(key_of(&a, i) == key_of(&grown, i + 2));

    /* the same axes as a list of one-key groups: the same sweep */
    assert_int_equal(su_spec(&block, "k3.yaml", BASE "axes:\n"
                                     "  - network.bandwidth[0]: [25, 50]\n"
                                     "  - network.latency[0]: [1, 2]\n", &err), 0);
    assert_true(block.hash == a.hash);
    for (int i = 0; i < 4; i++)
        assert_true(key_of(&block, i) == key_of(&a, i));

    snprintf(text, sizeof text, BASE "set:\n  system.preferred-dataset-splits: 4\naxes:\n%s", axes);
    assert_int_equal(su_spec(&other, "k4.yaml", text, &err), 0);
    assert_true(other.hash != a.hash);
    assert_true(key_of(&other, 3) == key_of(&a, 3));
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < i; j++)
            assert_true(key_of(&a, i) != key_of(&a, j));
    sw_spec_free(&a);
    sw_spec_free(&grown);
    sw_spec_free(&block);
    sw_spec_free(&other);
}

/* argv is want, NULL-terminated; frees argv. */
static void expect_argv(const char **argv, const char *const *want)
{
    int i = 0;
    for (; want[i]; i++)
        assert_string_equal(argv[i], want[i]);
    assert_null(argv[i]);
    free(argv);
}

/* What configurations run: files against the spec's folder, `set` before
 * the axes, "empty" for no comm-group, the `loom run` argv. */
static void test_conf_run(void **state)
{
    (void)state;
    sw_spec s;
    loom_err err;
    assert_int_equal(su_spec(&s, "run.yaml", "workload: traces/ar\nnetwork: net.yml\n"
                                 "system: /abs/sys.json\ncomm-group: empty\n"
                                 "ignore-ctrl-deps: true\n"
                                 "set:\n  system.preferred-dataset-splits: 4\n"
                                 "axes:\n  network.bandwidth[0]: [25, 50]\n"
                                 "  comm-group: [groups.json, empty]\n", &err), 0);
    int pos[2];
    sw_conf c;
    sw_conf_pos(&s, 0, pos);
    sw_conf_build(&s, pos, &c);
    assert_string_equal(c.file[0], su_path("traces/ar"));
    assert_string_equal(c.file[1], su_path("net.yml"));
    assert_string_equal(c.file[2], "/abs/sys.json");
    assert_string_equal(c.file[3], su_path("groups.json"));
    assert_int_equal(c.nsets, 2);
    assert_string_equal(c.sets[0], "system.preferred-dataset-splits=4");
    assert_string_equal(c.sets[1], "network.bandwidth[0]=25");
    sw_conf_free(&c);

    sw_conf_pos(&s, 1, pos); /* 25, empty */
    sw_conf_build(&s, pos, &c);
    assert_null(c.file[3]);
    const char **argv = sw_conf_run_argv(&s, &c, c.file[0], "/t/1.json");
    const char *want[] = {"loom", "run", "--workload", su_path("traces/ar"), "--network",
                          su_path("net.yml"), "--system", "/abs/sys.json", "--ignore-ctrl-deps",
                          "--set", "system.preferred-dataset-splits=4", "--set",
                          "network.bandwidth[0]=25", "--json", "/t/1.json", "--quiet", NULL};
    expect_argv(argv, want);
    sw_conf_free(&c);
    sw_spec_free(&s);
}

/* A gen recipe: its flags, replaced or added by gen.* axes. */
static void test_conf_gen(void **state)
{
    (void)state;
    sw_spec s;
    loom_err err;
    assert_int_equal(su_spec(&s, "gen.yaml", "gen:\n  generator: llm\n  preset: gpt3\n  tp: 8\n"
                                 "network: n.yml\nsystem: s.json\n"
                                 "axes:\n  gen.tp: [2, 4]\n  gen.pp: [1, 2]\n", &err), 0);
    assert_string_equal(s.gen, "llm");
    int pos[2];
    sw_conf c;
    sw_conf_pos(&s, 3, pos); /* tp 4, pp 2 */
    sw_conf_build(&s, pos, &c);
    assert_null(c.file[0]);
    const char **argv = sw_conf_gen_argv(&s, &c, "/t/3/w");
    const char *want[] = {"loom", "gen", "llm", "--preset", "gpt3", "--tp", "4", "--pp", "2",
                          "--out", "/t/3/w", "--quiet", NULL};
    expect_argv(argv, want);
    sw_conf_free(&c);
    sw_spec_free(&s);
}

/* gen llm writes its own system file: a spec may leave `system` out, and
 * each configuration then runs on PREFIX.system.yaml; one that names a
 * system gets PREFIX.comm.json, when the generator wrote it. */
static void test_conf_gen_system(void **state)
{
    (void)state;
    sw_spec s;
    loom_err err;
    assert_int_equal(su_spec(&s, "gen.yaml", "gen:\n  generator: llm\n  preset: gpt3\n"
                                 "network: n.yml\naxes:\n  gen.tp: [2, 4]\n", &err), 0);
    assert_true(sw_gen_system(&s));
    int pos[1] = {1};
    sw_conf c;
    sw_conf_build(&s, pos, &c);
    assert_null(c.file[2]);
    sw_conf_generated(&s, &c, "/t/1/w");
    const char **argv = sw_conf_run_argv(&s, &c, "/t/1/w", "/t/1.json");
    const char *want[] = {"loom", "run", "--workload", "/t/1/w", "--network", c.file[1],
                          "--system", "/t/1/w.system.yaml", "--json", "/t/1.json", "--quiet",
                          NULL};
    expect_argv(argv, want);
    sw_conf_free(&c);
    sw_spec_free(&s);
    /* a system named: the generated communicators go with it, if written */
    char dir[] = "/tmp/loom-test-gensys-XXXXXX", prefix[64], comm[80];
    assert_non_null(mkdtemp(dir));
    snprintf(prefix, sizeof prefix, "%s/w", dir);
    snprintf(comm, sizeof comm, "%s.comm.json", prefix);
    assert_int_equal(su_spec(&s, "gen.yaml", "gen:\n  generator: llm\n  preset: gpt3\n"
                                 "network: n.yml\nsystem: s.json\naxes:\n  gen.tp: [2, 4]\n",
                             &err), 0);
    sw_conf_build(&s, pos, &c);
    sw_conf_generated(&s, &c, prefix); /* not written: none */
    assert_null(c.file[3]);
    FILE *f = fopen(comm, "w");
    assert_non_null(f);
    fclose(f);
    sw_conf_generated(&s, &c, prefix);
    assert_string_equal(c.file[3], comm);
    assert_non_null(strstr(c.file[2], "s.json"));
    sw_conf_free(&c);
    sw_spec_free(&s);
    unlink(comm);
    rmdir(dir);
    /* "no communicator file" would leave every run without the groups its
     * trace names: refused, as the base file and as an axis value; a
     * micro recipe (no role-named groups) may still say it */
    assert_int_equal(su_spec(&s, "gen.yaml", "gen:\n  generator: llm\n  preset: gpt3\n"
                                 "network: n.yml\ncomm-group: empty\naxes:\n  gen.tp: [2]\n",
                             &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "'comm-group: empty'"));
    assert_non_null(strstr(err.msg, "PREFIX.comm.json"));
    sw_spec_free(&s); /* whatever a failed load kept */
    assert_int_equal(su_spec(&s, "gen.yaml", "gen:\n  generator: llm\n  preset: gpt3\n"
                                 "network: n.yml\naxes:\n  comm-group: [c.json, empty]\n",
                             &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "line 6: axis 'comm-group': value 1 is 'empty'"));
    sw_spec_free(&s);
    assert_int_equal(su_spec(&s, "gen.yaml", "gen:\n  generator: micro\n  ranks: 8\n"
                                 "network: n.yml\nsystem: s.json\n"
                                 "comm-group: empty\naxes:\n  gen.size: [1MiB]\n", &err), 0);
    sw_spec_free(&s);
    /* gen micro writes none: nothing is filled in */
    assert_int_equal(su_spec(&s, "gen.yaml", "gen:\n  generator: micro\n  ranks: 8\n"
                                 "network: n.yml\nsystem: s.json\naxes:\n  gen.size: [1MiB]\n",
                             &err), 0);
    assert_false(sw_gen_system(&s));
    pos[0] = 0;
    sw_conf_build(&s, pos, &c);
    sw_conf_generated(&s, &c, prefix);
    assert_null(c.file[3]);
    sw_conf_free(&c);
    sw_spec_free(&s);
}

/* Each bad spec, and the message: the file, the line where there is one,
 * the key. */
static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text; /* the spec */
        const char *msg;  /* after "PATH: " */
    } bad[] = {
        {BASE "colour: red\naxes:\n  network.bandwidth[0]: [1]\n",
         "line 4: unknown key 'colour' (known keys: workload, gen, network, system, comm-group, "
         "ignore-ctrl-deps, set, axes)"},
        {BASE "axes:\n  - network.bandwidth[0]: [1, 2, 3]\n    network.latency[0]: [5, 6]\n",
         "line 6: zipped axis 'network.latency[0]' has 2 values but 'network.bandwidth[0]' has "
         "3: lists in one zip group advance together and need the same length"},
        {BASE "axes:\n  network.bandwidth[0]: []\n", "line 5: axis 'network.bandwidth[0]' has no values"},
        {BASE "axes:\n  network.bandwidth[0]: [25, 50, 25]\n",
         "line 5: axis 'network.bandwidth[0]' lists value 25 twice (entries 0 and 2)"},
        {BASE "axes:\n  - network.bandwidth[0]: [1, 2, 1]\n    network.latency[0]: [5, 6, 5]\n",
         "line 5: zip group of 'network.bandwidth[0]' lists value 1 twice (entries 0 and 2)"},
        {BASE "axes:\n  - network.bandwidth[0]: [1]\n  - network.bandwidth[0]: [2]\n",
         "line 6: axis 'network.bandwidth[0]' is given twice"},
        {BASE "set:\n  network.bandwidth[0]: 5\naxes:\n  network.bandwidth[0]: [1]\n",
         "'network.bandwidth[0]' is both in 'set' and an axis"},
        {BASE "axes:\n  colour: [red]\n",
         "line 5: unknown axis key 'colour' (an axis is a --set key such as network.bandwidth[1] "
         "or system.preferred-dataset-splits, or an input file: workload, network, system, "
         "comm-group)"},
        {"workload: w\nsystem: s\naxes:\n  network.bandwidth[0]: [1]\n",
         "key 'network' is missing (a sweep needs workload (or gen), network and system; a gen "
         "llm recipe brings its own system)"},
        {"gen:\n  generator: micro\n  ranks: 8\nnetwork: n\naxes:\n  gen.size: [1MiB]\n",
         "key 'system' is missing (a sweep needs workload (or gen), network and system; a gen "
         "llm recipe brings its own system)"},
        {BASE, "key 'axes' is missing: a sweep needs at least one axis"},
        {BASE "gen:\n  generator: micro\naxes:\n  network.bandwidth[0]: [1]\n",
         "'workload' and 'gen' exclude each other: name a trace or a recipe"},
        {BASE "axes:\n  gen.size: [1MiB]\n", "line 5: axis 'gen.size': a generator flag needs a 'gen' recipe"},
        {"gen:\n  generator: micro\n  out: x\nnetwork: n\nsystem: s\naxes:\n  gen.size: [1]\n",
         "line 3: gen: 'out' is not a flag of `loom gen micro` the sweep may set: the sweep sets "
         "--out and --quiet itself, and writes no network or system file"},
        /* flags by their exact names only: getopt_long would take an
         * abbreviation of an owned flag (--network-o wrote a file anywhere)
         * or of any other */
        {"gen:\n  generator: micro\n  network-o: /tmp/x\nnetwork: n\nsystem: s\naxes:\n"
         "  gen.size: [1]\n",
         "line 3: gen: 'network-o' is not a flag of `loom gen micro` the sweep may set: "
         "no such flag (flags are named in full, as `loom gen GENERATOR --help` lists them)"},
        {"gen:\n  collective: all_reduce\n  system-o: /tmp/x\n  generator: llm\nnetwork: n\n"
         "system: s\naxes:\n  gen.tp: [1]\n",
         "line 2: gen: 'collective' is not a flag of `loom gen llm` the sweep may set: "
         "no such flag (flags are named in full, as `loom gen GENERATOR --help` lists them)"},
        {"gen:\n  generator: micro\n  coll: all_reduce\nnetwork: n\nsystem: s\naxes:\n"
         "  gen.size: [1]\n", "line 3: gen: 'coll' is not a flag of `loom gen micro` the sweep may set: "
         "no such flag (flags are named in full, as `loom gen GENERATOR --help` lists them)"},
        {"gen:\n  generator: micro\n  o: x\nnetwork: n\nsystem: s\naxes:\n  gen.size: [1]\n",
         "line 3: gen: 'o' is not a flag of `loom gen micro` the sweep may set: "
         "no such flag (flags are named in full, as `loom gen GENERATOR --help` lists them)"},
        {"gen:\n  generator: llm\n  sequence-parallel: '--network-out=/tmp/x'\nnetwork: n\n"
         "system: s\naxes:\n  gen.tp: [1]\n",
         "line 3: gen: 'sequence-parallel' is not a flag of `loom gen llm` the sweep may set: it takes no "
         "value"},
        {"gen:\n  generator: micro\nnetwork: n\nsystem: s\naxes:\n  gen.network-o: [a, b]\n",
         "line 6: axis 'gen.network-o': not a flag of `loom gen micro` the sweep may set: "
         "no such flag (flags are named in full, as `loom gen GENERATOR --help` lists them)"},
        {"gen:\n  generator: --network-out=x\nnetwork: n\nsystem: s\naxes:\n  gen.size: [1]\n",
         "line 2: gen: generator '--network-out=x' is not micro or llm"},
        {"gen:\n  ranks: 8\nnetwork: n\nsystem: s\naxes:\n  gen.size: [1]\n",
         "line 2: gen: 'generator' is missing (micro or llm: `loom gen --help`)"},
        {BASE "ignore-ctrl-deps: yes\naxes:\n  network.bandwidth[0]: [1]\n",
         "line 4: key 'ignore-ctrl-deps' must be true or false"},
        {BASE "workload: again\naxes:\n  network.bandwidth[0]: [1]\n",
         "line 4: key 'workload' appears twice"},
        {BASE "axes:\n  network.bandwidth[0]: 5\n",
         "line 5: axis 'network.bandwidth[0]' must be a list of values, e.g. [25, 50, 100]"},
        {BASE "axes:\n  network: [net.yml, [a]]\n", "line 5: axis 'network': value 1 must be a file name"},
        {BASE "axes: 5\n", "line 4: 'axes' must be a mapping (one axis per key) or a list of "
                           "mappings (each a group of lists that advance together)"},
        {BASE "axes: {}\n", "line 4: 'axes' names no axis"},
        /* core/base/yamlio's checks, before the spec is walked (docs/CONFIG.md) */
        {BASE "axes:\n  system.x: [&a [*a]]\n",
         "line 5, column 18: alias '*a' refers to a collection that contains it (a cycle)"},
        {BASE "axes:\n  ? [system.x]\n  : [1]\n",
         "line 5, column 5: a mapping key must be a scalar (a name), not a list"},
        {BASE "axes: {system.x: [1]}\n---\naxes: {system.x: [2]}\n",
         "line 5, column 1: a second document (a file holds one YAML document or JSON value)"},
        {"", "the file is empty"},
        {"[1, 2]\n", "line 1: the top level must be a mapping of keys (workload, ...)"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        sw_spec s;
        loom_err err;
        char name[32], want[1024];
        snprintf(name, sizeof name, "bad%zu.yaml", k);
        int rc = su_spec(&s, name, bad[k].text, &err);
        snprintf(want, sizeof want, "%s: %s", su_path(name), bad[k].msg);
        if (rc != LOOM_EUSAGE || strcmp(err.msg, want) != 0)
            fail_msg("spec %zu: rc %d, message\n  %s\nwanted\n  %s", k, rc, err.msg, want);
        sw_spec_free(&s); /* whatever a failed load kept */
    }
}

/* A YAML syntax error names the file, line and column (core/base/yamlio). */
static void test_yaml_syntax(void **state)
{
    (void)state;
    sw_spec s;
    loom_err err;
    assert_int_equal(su_spec(&s, "syntax.yaml", BASE "axes: {network.bandwidth[0]: [1]}\n", &err),
                     LOOM_EUSAGE);
    char want[600];
    snprintf(want, sizeof want, "%s: line 4, column ", su_path("syntax.yaml"));
    assert_memory_equal(err.msg, want, strlen(want));
    sw_spec_free(&s);
}

/* Aliases in a spec: an axis value that names an anchor is written out
 * whole (the flow text does not depend on how YAML spelled it); a
 * billion laughs (8 levels of 10 aliases: 10^8 nodes expanded) is refused
 * while it is read, naming the budget, before any text is built. */
static void test_aliases(void **state)
{
    (void)state;
    sw_spec s;
    loom_err err;
    assert_int_equal(su_spec(&s, "alias.yaml", BASE "set:\n  system.y: &v [1, {k: v}]\n"
                                 "axes:\n  system.x: [*v, [3]]\n", &err), 0);
    assert_string_equal(s.axes[0].vals[0], "[1,{k: v}]");
    assert_string_equal(s.sets[0], "system.y=[1,{k: v}]");
    sw_spec_free(&s);

    sbuf t = {0};
    sb_str(&t, BASE "axes:\n  system.x: [&l0 [x, x, x, x, x, x, x, x, x, x]");
    for (int k = 1; k < 8; k++) {
        sb_printf(&t, ",\n    &l%d [", k);
        for (int j = 0; j < 10; j++)
            sb_printf(&t, "%s*l%d", j ? ", " : "", k - 1);
        sb_str(&t, "]");
    }
    sb_str(&t, "]\n");
    assert_int_equal(su_spec(&s, "laughs.yaml", t.p, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "more than 4194304 nodes with aliases expanded"));
    assert_non_null(strstr(err.msg, "laughs.yaml: line 11, column "));
    sw_spec_free(&s);
    free(t.p);
}

/* More than 10^8 configurations is refused before anything is allocated per
 * configuration. */
static void test_too_many(void **state)
{
    (void)state;
    sbuf t = {0};
    sb_str(&t, BASE "axes:\n");
    for (int a = 0; a < 5; a++) { /* 50^5 = 3.1e8 */
        sb_printf(&t, "  system.k%d: [", a);
        for (int v = 0; v < 50; v++)
            sb_printf(&t, "%s%d", v ? ", " : "", v);
        sb_str(&t, "]\n");
    }
    sw_spec s;
    loom_err err;
    assert_int_equal(su_spec(&s, "many.yaml", t.p, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, ": the axes make more than 100000000 configurations"));
    sw_spec_free(&s);
    free(t.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cartesian_order),
        cmocka_unit_test(test_zip_groups),
        cmocka_unit_test(test_value_text),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_conf_run),
        cmocka_unit_test(test_conf_gen),
        cmocka_unit_test(test_conf_gen_system),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_yaml_syntax),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_too_many),
    };
    return cmocka_run_group_tests(tests, su_setup, su_teardown);
}

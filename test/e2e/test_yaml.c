/*
 * End to end: configuration input that once crashed loom, overflowed its
 * stack, ran it out of memory or was silently ignored, now refused by
 * core/base/yamlio through every command that reads YAML (run, topo
 * describe, sweep --dry-run, devices), with exit code 2 and a message
 * naming the file (or the --set key), the line, the column and the rule
 * (docs/CONFIG.md, "Limits of every file").  Positions are counted by hand
 * from the texts written here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loomrun.h"

#define CFG FIXTURES "/astra-sim-configs"
#define W FIXTURES "/chakra/micro_all_reduce_4npus_1MB/all_reduce"
#define NET CFG "/Ring_4npus.yml"
#define SYS CFG "/Ring_4chunks.json"

/* Exit 2 and every needle in stderr. */
static void refused(int rc, const char *const *needles)
{
    if (rc != 2)
        fail_msg("expected exit 2, got %d; stderr: %s", rc, loomrun_err);
    for (const char *const *n = needles; *n; n++)
        if (strstr(loomrun_err, *n) == NULL)
            fail_msg("stderr lacks \"%s\": %s", *n, loomrun_err);
}

#define REFUSED(rc, ...) refused(rc, (const char *const[]){__VA_ARGS__, NULL})

static int run_set(const char *set)
{
    return loomrun_run(loomrun_tmp, "run", "-w", W, "-n", NET, "-s", SYS, "--set", set, "--json",
                       loomrun_path("r.json"), NULL);
}

/* --set: a recursive alias overflowed the stack copying the node; text
 * after the value and a second JSON value were ignored. */
static void test_set(void **state)
{
    (void)state;
    REFUSED(run_set("network.bandwidth=&a [*a]"),
            "--set network.bandwidth: line 1, column 5: alias '*a' refers to a collection that "
            "contains it (a cycle)");
    REFUSED(run_set("network.bandwidth[0]=[50]] garbage"),
            "--set network.bandwidth[0]: line 1, column 5: text after the end of the document");
    REFUSED(run_set("system.straggler={\"0\": 2}{\"1\": 3}"),
            "--set system.straggler: line 1, column 9: text after the end of the document");
    assert_int_equal(access(loomrun_path("r.json"), F_OK), -1); /* nothing written */
    /* and what is right still runs */
    assert_int_equal(run_set("network.bandwidth=[&b 50]"), 0);
}

/* Network files, both forms: a complex key crashed in strcmp. */
static void test_network(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("ck.yml"), "topology: [Ring]\n? [a, b]\n: 1\n");
    int rc = loomrun_run(loomrun_tmp, "run", "-w", W, "-n", loomrun_path("ck.yml"), "-s", SYS, NULL);
    REFUSED(rc, "ck.yml: line 2, column 3: a mapping key must be a scalar (a name), not a list");
    loomrun_write(loomrun_path("ck2.yml"), "kind: rail\n{a: 1}: 2\n");
    rc = loomrun_run(loomrun_tmp, "topo", "describe", loomrun_path("ck2.yml"), NULL);
    REFUSED(rc, "ck2.yml: line 2, column 1: a mapping key must be a scalar (a name), not a mapping");
    loomrun_write(loomrun_path("two.yml"), "topology: [Ring]\nnpus_count: [4]\nbandwidth: [50]\n"
                                    "latency: [500]\n---\ntopology: [Switch]\n");
    rc = loomrun_run(loomrun_tmp, "run", "-w", W, "-n", loomrun_path("two.yml"), "-s", SYS, NULL);
    REFUSED(rc, "two.yml: line 5, column 1: a second document");
    /* 100,000 levels: refused at the 65th, in well under the two minutes it took */
    size_t n = 100000;
    char *deep = malloc(2 * n + 16);
    strcpy(deep, "topology: ");
    memset(deep + 10, '[', n);
    memset(deep + 10 + n, ']', n);
    strcpy(deep + 10 + 2 * n, "\n");
    loomrun_write(loomrun_path("deep.yml"), deep);
    free(deep);
    rc = loomrun_run(loomrun_tmp, "run", "-w", W, "-n", loomrun_path("deep.yml"), "-s", SYS, NULL);
    REFUSED(rc, "deep.yml: line 1, column 74: nested deeper than 64 levels");
}

/* Bytes libyaml's reader refuses were all "line 1, column 1". */
static void test_bytes(void **state)
{
    (void)state;
    FILE *f = fopen(loomrun_path("bad.json"), "wb");
    assert_non_null(f);
    fputs("{\"local-mem-bw\": 50,\n  \"endpoint-delay\": \"\xc3\xa9\xff\"}\n", f);
    fclose(f);
    int rc = loomrun_run(loomrun_tmp, "run", "-w", W, "-n", NET, "-s", loomrun_path("bad.json"), NULL);
    REFUSED(rc, "bad.json: line 2, column 23: invalid leading UTF-8 octet (byte 0xFF)");
    f = fopen(loomrun_path("nul.yml"), "wb");
    fwrite("topology: [Ring]\nnpus_count: [4\0]\n", 1, 34, f);
    fclose(f);
    rc = loomrun_run(loomrun_tmp, "run", "-w", W, "-n", loomrun_path("nul.yml"), "-s", SYS, NULL);
    REFUSED(rc, "nul.yml: line 2, column 15: control characters are not allowed (a NUL byte)");
}

/* Sweep specs: a recursive axis value overflowed the stack; a 650-byte
 * billion laughs took 2.4 GB and 32 s of --dry-run. */
static void test_sweep(void **state)
{
    (void)state;
    static const char base[] = "workload: w\nnetwork: " NET "\nsystem: " SYS "\naxes:\n";
    char spec[4096];
    snprintf(spec, sizeof spec, "%s  network.bandwidth[0]: [&a [1, *a]]\n", base);
    loomrun_write(loomrun_path("cyc.yaml"), spec);
    int rc = loomrun_run(loomrun_tmp, "sweep", loomrun_path("cyc.yaml"), "--dry-run", NULL);
    REFUSED(rc, "cyc.yaml: line 5, column 33: alias '*a' refers to a collection that contains it");
    /* nine levels of ten aliases: 10^10 nodes expanded */
    int off = snprintf(spec, sizeof spec, "%s  network.bandwidth[0]: [&l0 [1,1,1,1,1,1,1,1,1,1]", base);
    for (int k = 1; k < 10; k++) {
        off += snprintf(spec + off, sizeof spec - (size_t)off, ",\n    &l%d [", k);
        for (int j = 0; j < 10; j++)
            off += snprintf(spec + off, sizeof spec - (size_t)off, "%s*l%d", j ? "," : "", k - 1);
        off += snprintf(spec + off, sizeof spec - (size_t)off, "]");
    }
    snprintf(spec + off, sizeof spec - (size_t)off, "]\n");
    loomrun_write(loomrun_path("laughs.yaml"), spec);
    rc = loomrun_run(loomrun_tmp, "sweep", loomrun_path("laughs.yaml"), "--dry-run", NULL);
    REFUSED(rc, "laughs.yaml: line 11, column ",
            "more than 4194304 nodes with aliases expanded (the limit for every loom file, "
            "docs/CONFIG.md)");
}

/* The device catalog, through `loom devices --devices FILE`. */
/* A trailing comma in a .json file (issue 13, friction 4): refused with
 * the file, line and column of the comma; the same text named .yaml is
 * YAML flow syntax and loads.  Columns: "  \"memory-type\": " is 17
 * characters, the 21-character value ends at 38, the comma is 39; in
 * tc2.json "[" is column 53, "ring" in quotes 54..59, the comma 60. */
static void test_json_trailing_comma(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("tc.json"), "{\n  \"memory-type\": \"NO_MEMORY_EXPANSION\",\n}\n");
    REFUSED(loomrun_run(loomrun_tmp, "run", "-w", W, "-n", NET, "-s", SYS, "--remote-memory",
                        loomrun_path("tc.json"), NULL),
            "tc.json: line 2, column 39: a comma before the closing '}'");
    loomrun_write(loomrun_path("tc2.json"), "{\"local-mem-bw\": 1600, \"all-reduce-implementation\": "
                                            "[\"ring\",]}");
    REFUSED(loomrun_run(loomrun_tmp, "run", "-w", W, "-n", NET, "-s", loomrun_path("tc2.json"), NULL),
            "tc2.json: line 1, column 60: a comma before the closing ']'");
    loomrun_write(loomrun_path("tc.yaml"), "{\n  \"memory-type\": \"NO_MEMORY_EXPANSION\",\n}\n");
    assert_int_equal(loomrun_run(loomrun_tmp, "run", "-w", W, "-n", NET, "-s", SYS, "--remote-memory",
                                 loomrun_path("tc.yaml"), "-q", NULL),
                     0);
}

static void test_devices(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("dev.yaml"), "x: &d\n  description: *d\n");
    int rc = loomrun_run(loomrun_tmp, "devices", "--devices", loomrun_path("dev.yaml"), NULL);
    REFUSED(rc, "dev.yaml: line 2, column 16: alias '*d' refers to a collection that contains it");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set),   cmocka_unit_test(test_network), cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_sweep), cmocka_unit_test(test_devices),
        cmocka_unit_test(test_json_trailing_comma),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}

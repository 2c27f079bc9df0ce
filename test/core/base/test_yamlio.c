/* core/base/yamlio: what yamlio.h promises of a document it hands out, and
 * the file, line and column of every refusal.  Positions are counted by
 * hand from the texts (1-based; a column counts characters, not bytes);
 * budget boundaries are built so that the expanded node count, worked out
 * from the shape of the text, lands exactly on the limit and one past it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sbuf.h"
#include "yamlio.h"

static int load(const char *text, size_t len, yaml_document_t *d, loom_err *err)
{
    memset(err, 0, sizeof *err);
    return loom_yaml_load_string("t.yaml", (const unsigned char *)text, len, d, err);
}

static yaml_node_t *ok(const char *text, yaml_document_t *d)
{
    loom_err err;
    if (load(text, strlen(text), d, &err) < 0)
        fail_msg("refused \"%.60s\": %s", text, err.msg);
    return yaml_document_get_root_node(d);
}

/* Refused with LOOM_EUSAGE and a message "t.yaml: line L, column C: ..."
 * that holds `what`. */
static void bad_n(const char *text, size_t len, int line, int col, const char *what)
{
    yaml_document_t d;
    loom_err err;
    int rc = load(text, len, &d, &err);
    if (rc == 0) {
        yaml_document_delete(&d);
        fail_msg("loaded \"%.60s\", wanted \"%s\"", text, what);
    }
    assert_int_equal(rc, LOOM_EUSAGE);
    char want[64];
    snprintf(want, sizeof want, "t.yaml: line %d, column %d: ", line, col);
    if (strncmp(err.msg, want, strlen(want)) != 0 || strstr(err.msg, what) == NULL)
        fail_msg("message \"%s\", wanted \"%s...%s\"", err.msg, want, what);
}

static void bad(const char *text, int line, int col, const char *what)
{
    bad_n(text, strlen(text), line, col, what);
}

static void test_plain(void **state)
{
    (void)state;
    yaml_document_t d;
    yaml_node_t *r = ok("a: 1\nb: [x, {c: d}]\n", &d);
    assert_int_equal(r->type, YAML_MAPPING_NODE);
    assert_int_equal(r->data.mapping.pairs.top - r->data.mapping.pairs.start, 2);
    yaml_node_t *b = yaml_document_get_node(&d, r->data.mapping.pairs.start[1].value);
    assert_int_equal(b->type, YAML_SEQUENCE_NODE);
    assert_int_equal(b->start_mark.line, 1); /* marks are libyaml's, 0-based */
    assert_int_equal(b->start_mark.column, 3);
    yaml_document_delete(&d);
    r = ok("{\"a\": [1, 2]}", &d); /* JSON */
    assert_int_equal(r->type, YAML_MAPPING_NODE);
    yaml_document_delete(&d);
    /* nothing after the document but blanks, comments and an end marker */
    ok("a: 1\n# done\n\n", &d);
    yaml_document_delete(&d);
    ok("--- \na: 1\n...\n# done\n", &d);
    yaml_document_delete(&d);
    /* an empty stream is an empty document: no root, for the caller to refuse */
    assert_null(ok("", &d));
    yaml_document_delete(&d);
    assert_null(ok("# nothing\n", &d));
    yaml_document_delete(&d);
}

/* Aliases that stay within the rules: to a finished node, as a key (a scalar). */
static void test_aliases_ok(void **state)
{
    (void)state;
    yaml_document_t d;
    yaml_node_t *r = ok("a: &x [1, 2]\nb: *x\n&k c: 3\n*k : 4\n", &d);
    yaml_node_pair_t *p = r->data.mapping.pairs.start;
    assert_int_equal(p[0].value, p[1].value); /* shared, not copied */
    assert_int_equal(p[2].key, p[3].key);
    yaml_document_delete(&d);
}

/* Keys: only scalars, in block and flow mappings, at any level, and not
 * through an alias either. */
static void test_complex_keys(void **state)
{
    (void)state;
    bad("? [a, b]\n: 1\n", 1, 3, "a mapping key must be a scalar (a name), not a list");
    bad("? {a: 1}\n: 1\n", 1, 3, "not a mapping");
    bad("{[a]: 1}", 1, 2, "not a list");
    bad("top:\n  inner:\n    [x]: 1\n", 3, 5, "a mapping key must be a scalar");
    bad("a: &l [1]\n? *l\n: 2\n", 2, 3, "not a list");
    bad("[{[1]: 2}]", 1, 3, "not a list");
}

static void test_cycles(void **state)
{
    (void)state;
    bad("&a [*a]", 1, 5, "alias '*a' refers to a collection that contains it (a cycle)");
    bad("&a [[[*a]]]", 1, 7, "a cycle");
    bad("&m {k: *m}", 1, 8, "alias '*m'");
    bad("a: &m\n  b: [1, *m]\n", 2, 10, "a cycle");
    bad("[*nope]", 1, 2, "alias '*nope' names no anchor defined before it");
    bad("[*a, &a 1]", 1, 2, "names no anchor defined before it");
    bad("[&a 1, &a 2]", 1, 8, "anchor '&a' is defined twice (first on line 1)");
}

/* Depth: 64 levels load, 65 do not, in flow, block and through aliases. */
static void test_depth(void **state)
{
    (void)state;
    char s[256];
    int n = LOOM_YAML_MAX_DEPTH;
    memset(s, '[', (size_t)n);
    memset(s + n, ']', (size_t)n);
    s[2 * n] = '\0';
    yaml_document_t d;
    ok(s, &d); /* 64 lists: the innermost is level 64 */
    yaml_document_delete(&d);
    memset(s, '[', (size_t)n + 1);
    memset(s + n + 1, ']', (size_t)n + 1);
    s[2 * n + 2] = '\0';
    bad(s, 1, n + 1, "nested deeper than 64 levels");
    /* block: "- " at column 2k+1 opens level k+1; 64 dashes and a scalar is 65 */
    sbuf b = {0};
    for (int k = 0; k < n; k++)
        sb_str(&b, "- ");
    sb_str(&b, "x\n");
    bad(b.p, 1, 2 * n + 1, "nested deeper than 64 levels");
    free(b.p);
    /* an alias carries its depth: &x is 3 levels (a list holding a list
     * holding 1); *x inside the root and 60 more lists sits at level 62
     * and reaches level 64; inside one list more it would reach 65 */
    for (int extra = 0; extra < 2; extra++) {
        b = (sbuf){0};
        sb_str(&b, "[&x [[1]], ");
        int open = 60 + extra; /* the root is level 1; *x sits at level open + 2 */
        for (int k = 0; k < open; k++)
            sb_str(&b, "[");
        sb_str(&b, "*x");
        for (int k = 0; k < open; k++)
            sb_str(&b, "]");
        sb_str(&b, "]");
        if (extra == 0) {
            ok(b.p, &d);
            yaml_document_delete(&d);
        } else
            bad(b.p, 1, 11 + open + 1, "nested deeper than 64 levels with aliases expanded");
        free(b.p);
    }
    /* 100,000 levels: refused where level 65 opens, not after reading them all */
    size_t big = 100000;
    char *deep = malloc(2 * big + 1);
    memset(deep, '[', big);
    memset(deep + big, ']', big);
    deep[2 * big] = '\0';
    bad(deep, 1, 65, "nested deeper than 64 levels");
    free(deep);
}

/* [&a [x * 63], &b [*a * 1023], *b * r, x * e]: &a is 64 nodes, &b is
 * 1 + 1023 * 64 = 65473, the root adds 1.  e pads the count to the budget
 * exactly; one scalar more is refused at that scalar. */
static void test_node_budget(void **state)
{
    (void)state;
    const long long a = 64, bsz = 1 + 1023 * a, max = LOOM_YAML_MAX_NODES;
    long long r = (max - 1 - a) / bsz - 1;
    long long e = max - 1 - a - bsz * (1 + r);
    assert_true(e >= 0);
    for (int over = 0; over < 2; over++) {
        sbuf b = {0};
        sb_str(&b, "[&a [x");
        for (int k = 1; k < 63; k++)
            sb_str(&b, ",x");
        sb_str(&b, "],\n&b [*a");
        for (int k = 1; k < 1023; k++)
            sb_str(&b, ",*a");
        sb_str(&b, "],\n");
        for (long long k = 0; k < r; k++)
            sb_str(&b, "*b,");
        sb_str(&b, "\n");
        for (long long k = 0; k < e + over; k++)
            sb_str(&b, k ? ",x" : "x");
        sb_str(&b, "]");
        yaml_document_t d;
        if (over == 0) {
            ok(b.p, &d);
            yaml_document_delete(&d);
        } else /* the last x: line 4, column 2 * (e + 1) - 1 */
            bad(b.p, 4, (int)(2 * (e + 1) - 1), "more than 4194304 nodes with aliases expanded");
        free(b.p);
    }
}

/* A billion laughs: ten lists of ten aliases to the one before, 10^10
 * nodes expanded from a few hundred bytes.  List k expands to
 * s_k = 1 + 10 s_{k-1} nodes (s_0 = 11); lists 0..5 with their keys hold
 * about 1.23 M, and each alias of list 6 adds s_5 = 1,111,111: the third
 * (line 7, column 20) is the first past 2^22. */
static void test_laughs(void **state)
{
    (void)state;
    sbuf b = {0};
    sb_str(&b, "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int k = 1; k < 10; k++) {
        sb_printf(&b, "l%d: &l%d [", k, k);
        for (int j = 0; j < 10; j++)
            sb_printf(&b, "%s*l%d", j ? ", " : "", k - 1);
        sb_str(&b, "]\n");
    }
    /* expanded sizes: s0 = 11, s_k = 1 + 10 s_{k-1}; with the root and the
     * keys, the total after level k's j-th alias is found by counting */
    long long s[10], total = 1; /* the root mapping */
    s[0] = 11;
    for (int k = 1; k < 10; k++)
        s[k] = 1 + 10 * s[k - 1];
    int line = 0, col = 0;
    for (int k = 0; k < 10 && !line; k++) {
        total += 1 + (k == 0 ? s[0] : 1); /* the key, and l0 whole or lk's own node */
        for (int j = 0; k > 0 && j < 10; j++) {
            total += s[k - 1];
            if (total > LOOM_YAML_MAX_NODES) {
                line = k + 1;
                /* "lK: &lK [" is 9 characters; each "*lK-1, " 5 */
                col = 10 + 5 * j;
                break;
            }
        }
    }
    assert_int_equal(line, 7);
    assert_int_equal(col, 20);
    bad(b.p, line, col, "more than 4194304 nodes with aliases expanded");
    free(b.p);
}

/* Scalar text: 64 aliases of a 1 MiB scalar are the 64 MiB budget; 65 are not. */
static void test_text_budget(void **state)
{
    (void)state;
    const int mib = 1 << 20;
    for (int over = 0; over < 2; over++) {
        sbuf b = {0};
        sb_str(&b, "[&s ");
        char *big = malloc((size_t)mib + 1);
        memset(big, 'x', (size_t)mib);
        big[mib] = '\0';
        sb_str(&b, big);
        free(big);
        int aliases = LOOM_YAML_MAX_TEXT / mib - 1 + over;
        for (int k = 0; k < aliases; k++)
            sb_str(&b, ",\n*s");
        sb_str(&b, "]");
        yaml_document_t d;
        if (over == 0) {
            ok(b.p, &d);
            yaml_document_delete(&d);
        } else
            bad(b.p, aliases + 1, 1, "more than 64 MiB of scalar text with aliases expanded");
        free(b.p);
    }
}

/* One document, nothing after it. */
static void test_one_document(void **state)
{
    (void)state;
    bad("a: 1\n---\nb: 2\n", 2, 1, "a second document (a file holds one YAML document or JSON value)");
    bad("a: 1\n...\nb: 2\n", 3, 1, "text after the end of the document"); /* no '---' */
    bad("[50]] garbage", 1, 5, "text after the end of the document");
    bad("{\"a\": 1}{\"b\": 2}", 1, 9, "text after the end of the document");
    bad("{\"a\": 1}\n{\"b\": 2}\n", 2, 1, "text after the end of the document");
    bad("\"s\" trailing", 1, 5, "text after the end of the document");
}

/* Bytes the reader refuses: libyaml's mark says line 1, column 1 for them;
 * the position here is the bad byte's, in characters. */
static void test_bad_bytes(void **state)
{
    (void)state;
    bad_n("a: 1\nbb: x\xff", 11, 2, 6, "invalid leading UTF-8 octet (byte 0xFF)");
    bad_n("a: 1\nbb: x\0y\n", 13, 2, 6, "control characters are not allowed (a NUL byte)");
    bad_n("a: 1\r\nb: \x07\n", 11, 2, 4, "control characters are not allowed (U+0007)");
    bad_n("a: 1\rb: \x07", 9, 2, 4, "(U+0007)");                          /* CR alone breaks */
    /* "éé: " is 4 characters; then a lead byte (column 5) and '(' where its
     * trailing byte should be: the byte refused, at column 6 */
    bad_n("\xc3\xa9\xc3\xa9: \xc3\x28", 8, 1, 6, "invalid trailing UTF-8 octet (byte 0x28)");
    bad_n("a: \xe2\x82", 5, 1, 4, "incomplete UTF-8 octet sequence");
    bad_n("a:\n\n\n  - \x80", 10, 4, 5, "(byte 0x80)");
    /* an escaped NUL decodes into the scalar: C strings would cut it */
    bad("a: \"x\\0y\"", 1, 4, "a scalar may not hold a NUL character");
}

/* Libyaml's own syntax errors keep their position and wording. */
static void test_syntax(void **state)
{
    (void)state;
    bad("a: [1, 2\nb: 3\n", 2, 2, "did not find expected ',' or ']'");
    bad("a: b: c\n", 1, 5, "mapping values are not allowed in this context");
}

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/loom-yamlio-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    yaml_document_t d;
    loom_err err = {0};
    snprintf(path, sizeof path, "%s/missing.yml", dir);
    assert_int_equal(loom_yaml_load_file(path, &d, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "missing.yml: cannot open: No such file"));
    loom_err_clear(&err);
    assert_int_equal(loom_yaml_load_file(dir, &d, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "cannot read: Is a directory"));
    /* positions in a file are the same as in a string */
    snprintf(path, sizeof path, "%s/bad.yml", dir);
    FILE *f = fopen(path, "wb");
    fputs("topology: [Ring]\nnpus: [4\xfe]\n", f);
    fclose(f);
    loom_err_clear(&err);
    assert_int_equal(loom_yaml_load_file(path, &d, &err), LOOM_EUSAGE);
    char want[256];
    snprintf(want, sizeof want, "%s: line 2, column 9: invalid leading UTF-8 octet (byte 0xFE)", path);
    assert_string_equal(err.msg, want);
    /* a file over 64 MiB is refused after reading 64 MiB + 1, whatever it holds */
    f = fopen(path, "wb");
    assert_int_equal(ftruncate(fileno(f), (off_t)LOOM_YAML_MAX_FILE + 1), 0);
    fclose(f);
    loom_err_clear(&err);
    assert_int_equal(loom_yaml_load_file(path, &d, &err), LOOM_EUSAGE);
    assert_non_null(strstr(err.msg, "larger than 64 MiB"));
    f = fopen(path, "wb");
    fputs("a: 1\n", f);
    fclose(f);
    assert_int_equal(loom_yaml_load_file(path, &d, &err), 0);
    yaml_document_delete(&d);
    remove(path);
    rmdir(dir);
}

/* loom_yaml_first_dup against the pairwise loop it replaced: the first j
 * with an equal earlier string, and the least such earlier one. */
/* A trailing comma in a file named *.json is refused at the comma (JSON
 * has none, ASTRA-sim's parser stops on it); in YAML it is flow syntax. */
static void test_json_trailing_comma(void **state)
{
    (void)state;
    const struct {
        const char *text;
        int line, col;
        char close;
    } cases[] = {
        {"{\"a\": 1,}", 1, 8, '}'},
        {"[1, 2,]", 1, 6, ']'},
        {"{\"a\": [1,\n  2 ,\n ],\n \"b\": 2}", 2, 5, ']'},
        {"{\"a\": {\"b\": 1 , }}", 1, 15, '}'},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        yaml_document_t d;
        loom_err err = {0};
        const char *t = cases[i].text;
        assert_int_equal(loom_yaml_load_string("x.JSON", (const unsigned char *)t, strlen(t), &d,
                                               &err),
                         LOOM_EUSAGE);
        char want[96];
        snprintf(want, sizeof want, "x.JSON: line %d, column %d: a comma before the closing '%c'",
                 cases[i].line, cases[i].col, cases[i].close);
        if (strncmp(err.msg, want, strlen(want)) != 0)
            fail_msg("\"%s\": message \"%s\", wanted \"%s...\"", t, err.msg, want);
        ok(t, &d); /* t.yaml: YAML's flow syntax allows it */
        yaml_document_delete(&d);
    }
    yaml_document_t d;
    loom_err err = {0};
    const char *good = "{\"a\": [1, 2], \"b\": \"x,]\"}"; /* a comma in a string is no token */
    assert_int_equal(loom_yaml_load_string("g.json", (const unsigned char *)good, strlen(good), &d,
                                           &err), 0);
    yaml_document_delete(&d);
}

static void test_first_dup(void **state)
{
    (void)state;
    static const char *const pool[] = {"a", "b", "c", "d", "e", "f", "g", "h", "", "ab"};
    unsigned seed = 12345;
    for (int round = 0; round < 2000; round++) {
        int n = round % 13;
        const char *s[16];
        for (int i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            s[i] = pool[(seed >> 16) % (3 + (unsigned)round % 8)];
        }
        int want = -1, want_w = -1;
        for (int j = 0; j < n && want < 0; j++)
            for (int i = 0; i < j; i++)
                if (strcmp(s[i], s[j]) == 0) {
                    want = j;
                    want_w = i;
                    break;
                }
        int w = -1, got = loom_yaml_first_dup(s, n, &w);
        assert_int_equal(got, want);
        if (want >= 0)
            assert_int_equal(w, want_w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),        cmocka_unit_test(test_aliases_ok),
        cmocka_unit_test(test_complex_keys), cmocka_unit_test(test_cycles),
        cmocka_unit_test(test_depth),        cmocka_unit_test(test_node_budget),
        cmocka_unit_test(test_laughs),       cmocka_unit_test(test_text_budget),
        cmocka_unit_test(test_one_document), cmocka_unit_test(test_bad_bytes),
        cmocka_unit_test(test_syntax),       cmocka_unit_test(test_files),
        cmocka_unit_test(test_first_dup),    cmocka_unit_test(test_json_trailing_comma),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

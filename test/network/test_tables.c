/*
 * test_tables.c: the ops tables of network/ are consistent, so that a new
 * collective algorithm (one file and one line of net_algos.def) is
 * checked here without a test of its own for the plumbing:
 *   - every entry has a name, its name and aliases parse back to it and to
 *     nothing else, and it is either a phase algorithm (label, closed form,
 *     step count and step plan) or a choice (force);
 *   - ASTRA-sim's list values 0..NET_ALGOS-1 each name exactly one phase
 *     algorithm, and its names parse back;
 *   - every step plan is balanced: in each step, the sends addressed to a
 *     member are exactly the receives that member waits for (a flow
 *     delivers into the same step index on both ends), on 2..12 members
 *     and every phase kind the algorithm says it runs;
 *   - every fabric kind (one file and one line of net_fabrics.def) has a
 *     name, a builder and a router; every explicit kind a loader, a view
 *     and `kind:` words that reach it; the keys --set accepts
 *     (net_xtopo_keys) are exactly the keys the kinds read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "net.h"
#include "net_algo.h"
#include "net_fabric.h"
#include "yamlio.h"

static void test_calgo_names(void **state)
{
    (void)state;
    for (int i = 0; i < NET_CALGOS; i++) {
        const net_algo_ops *o = net_algos[i];
        assert_non_null(o);
        assert_non_null(o->name);
        assert_true(o->name[0] != '\0');
        assert_string_equal(net_calgo_name((net_calgo)i), o->name);
        net_calgo back = NET_CALGOS;
        assert_int_equal(net_calgo_parse(o->name, &back), 0);
        assert_int_equal(back, i);
        for (const char *const *a = o->aliases; a && *a; a++) {
            assert_int_equal(net_calgo_parse(*a, &back), 0);
            assert_int_equal(back, i);
        }
        /* no word of this entry is a word of a later one */
        for (int j = i + 1; j < NET_CALGOS; j++) {
            assert_string_not_equal(o->name, net_algos[j]->name);
            for (const char *const *a = net_algos[j]->aliases; a && *a; a++)
                assert_string_not_equal(o->name, *a);
        }
        if (o->time) { /* a phase algorithm: everything the flow model needs */
            assert_non_null(o->label);
            assert_non_null(o->steps);
            assert_non_null(o->step);
            assert_true((o->setup == NULL) == (o->teardown == NULL));
        } else { /* a choice: says what runs */
            assert_non_null(o->force);
            assert_null(o->steps);
            assert_null(o->step);
            assert_int_equal(o->astra, -1);
        }
    }
    assert_string_equal(net_calgo_name(NET_CALGOS), "?");
    assert_int_equal(net_calgo_parse("no-such-algorithm", NULL), -1);
    assert_int_equal(net_calgo_parse(NULL, NULL), -1);
    /* the values loom compare's CSVs and the tests name */
    assert_string_equal(net_calgo_name(NET_CALGO_LISTS), "lists");
    assert_string_equal(net_calgo_name(NET_CALGO_RING2), "ring2");
    assert_string_equal(net_calgo_name(NET_CALGO_HIER), "hierarchical");
    assert_string_equal(net_calgo_name(NET_CALGO_NCCL), "nccl");
}

static void test_astra_names(void **state)
{
    (void)state;
    for (int a = 0; a < NET_ALGOS; a++) {
        int found = 0;
        for (int i = 0; i < NET_CALGOS; i++)
            if (net_algos[i]->astra == a) {
                found++;
                assert_non_null(net_algos[i]->time);
                assert_ptr_equal(net_algo_ops_of((net_algo)a), net_algos[i]);
                for (const char *const *n = net_algos[i]->astra_names; n && *n; n++) {
                    net_algo back = NET_ALGOS;
                    assert_int_equal(net_algo_parse(*n, &back), 0);
                    assert_int_equal(back, a);
                }
            }
        assert_int_equal(found, 1);
        net_algo back = NET_ALGOS;
        assert_int_equal(net_algo_parse(net_algo_name((net_algo)a), &back), 0);
        assert_int_equal(back, a);
    }
    assert_string_equal(net_algo_name(NET_ALGOS), "?");
    assert_string_equal(net_algo_name((net_algo)-1), "?");
}

/* Every send of step s lands on a member waiting for that many receives. */
static void check_balanced(const net_algo_ops *o, net_phase_kind kind, int p)
{
    net_xphase P = {0};
    P.ph.kind = kind;
    P.ph.reduce = 1;
    P.ph.algo = o;
    P.p = p;
    P.dim = NET_FLAT_DIM;
    P.buf = 1 << 20;
    if (o->setup)
        o->setup(&P);
    int steps = o->steps(&P);
    assert_true(steps >= (p > 1 ? 1 : 0));
    int *peer = malloc((size_t)p * sizeof *peer), *got = calloc((size_t)p, sizeof *got);
    int *want = calloc((size_t)p, sizeof *want);
    uint64_t *bytes = malloc((size_t)p * sizeof *bytes);
    for (int s = 0; s < steps; s++) {
        memset(got, 0, (size_t)p * sizeof *got);
        for (int i = 0; i < p; i++) {
            net_xstep st = {.peer = peer, .bytes = bytes};
            int ns = o->step(&P, i, s, P.buf, &st);
            assert_true(ns >= 0 && ns <= p);
            want[i] = st.nrecv;
            assert_true(st.red >= 0);
            for (int j = 0; j < ns; j++) {
                assert_true(peer[j] >= 0 && peer[j] < p && peer[j] != i);
                got[peer[j]]++;
            }
        }
        for (int i = 0; i < p; i++)
            if (got[i] != want[i])
                fail_msg("%s, phase kind %d, p %d, step %d: member %d gets %d sends, waits for %d",
                         o->name, (int)kind, p, s, i, got[i], want[i]);
    }
    if (o->teardown)
        o->teardown(&P);
    free(peer);
    free(got);
    free(want);
    free(bytes);
}

static void test_step_plans_balanced(void **state)
{
    (void)state;
    static const net_phase_kind kinds[] = {PH_RS, PH_AG, PH_AR, PH_A2A};
    for (int i = 0; i < NET_CALGOS + 1; i++) {
        const net_algo_ops *o = i < NET_CALGOS ? net_algos[i] : &net_algo_dissemination;
        if (o->time == NULL)
            continue;
        for (int p = 2; p <= 12; p++) {
            if (o == &net_algo_dissemination) {
                check_balanced(o, PH_BARRIER, p);
                continue;
            }
            net_vdim v = {.kind = NET_SWITCH, .dim = 0, .p = p};
            for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
                if (o->runs == NULL || o->runs(NULL, &v, kinds[k], NET_ALL_REDUCE, 0, 0))
                    check_balanced(o, kinds[k], p);
        }
    }
}

static int in_list(const char *const *w, const char *k)
{
    for (; w && *w; w++)
        if (strcmp(*w, k) == 0)
            return 1;
    return 0;
}

/* Loads "kind: <word>" alone: it must get past the kind (and fail on a
 * missing key of that kind, not on the word). */
static void kind_word_reaches(const char *word, int kind)
{
    char text[128];
    snprintf(text, sizeof text, "kind: %s\n", word);
    yaml_document_t d;
    net_topo t;
    loom_err e = {0};
    assert_int_equal(loom_yaml_load_string("t.yml", (const unsigned char *)text, strlen(text), &d, &e), 0);
    assert_true(net_xtopo_load(&d, "t.yml", &t, &e) < 0);
    assert_int_equal(t.x.kind, kind);
    assert_null(strstr(e.msg, "is not one of"));
    assert_non_null(strstr(e.msg, "missing key"));
    yaml_document_delete(&d);
}

static void test_fabric_table(void **state)
{
    (void)state;
    static const char *const common[] = {"kind", "npus", "bandwidth", "latency", "nccl", NULL};
    for (int k = 0; k < NET_XKINDS; k++) {
        const net_fabric_ops *f = net_fabrics[k];
        assert_non_null(f);
        assert_ptr_equal(net_fabric_of((net_xkind)k), f);
        assert_non_null(f->name);
        assert_string_equal(net_xkind_name((net_xkind)k), f->name);
        assert_non_null(f->load);
        assert_non_null(f->build);
        assert_non_null(f->route);
        if (k == NET_X_DIMS) { /* ASTRA-sim's form: no kind word, no view */
            assert_null(f->kind_names);
            assert_null(f->view);
            continue;
        }
        assert_non_null(f->view);
        if (k == NET_X_NS3) { /* read from ns-3's own files, not a `kind:` YAML */
            assert_null(f->kind_names);
            assert_null(f->keys);
            continue;
        }
        assert_non_null(f->kind_names);
        for (const char *const *w = f->kind_names; *w; w++) {
            for (int j = k + 1; j < NET_XKINDS; j++)
                assert_false(in_list(net_fabrics[j]->kind_names, *w));
            kind_word_reaches(*w, k);
        }
        for (const char *const *key = f->keys; key && *key; key++) {
            assert_false(in_list(common, *key));
            int found = 0;
            for (int i = 0; i < net_xtopo_nkeys; i++)
                found += strcmp(net_xtopo_keys[i], *key) == 0;
            if (found != 1)
                fail_msg("kind %s: key '%s' is not in net_xtopo_keys (net_fabric.c) once",
                         f->name, *key);
        }
    }
    for (int i = 0; i < net_xtopo_nkeys; i++) {
        int owners = in_list(common, net_xtopo_keys[i]);
        for (int k = 0; k < NET_XKINDS; k++)
            owners += in_list(net_fabrics[k]->keys, net_xtopo_keys[i]);
        if (owners == 0)
            fail_msg("net_xtopo_keys: '%s' is read by no kind", net_xtopo_keys[i]);
    }
    assert_null(net_fabric_of(NET_XKINDS));
    assert_string_equal(net_xkind_name(NET_XKINDS), "?");
}

int main(void)
{
    loom_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calgo_names),
        cmocka_unit_test(test_astra_names),
        cmocka_unit_test(test_step_plans_balanced),
        cmocka_unit_test(test_fabric_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

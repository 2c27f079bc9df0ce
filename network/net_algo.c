/*
 * net_algo.c: the table of collective algorithms (net_algos.def lists
 * it) and every name lookup, derived from it: ASTRA-sim's list names
 * (net_algo_name/parse) and the whole-collective choices
 * (net_calgo_name/parse).  The algorithms themselves are one file each,
 * net_algo_<name>.c; the "lists" choice, which is no algorithm but the
 * absence of a choice, lives here.
 */
#include "net_algo.h"

#include <stdio.h>
#include <string.h>

/* ASTRA-sim's per-dimension lists: nothing forced, nothing flat. */
static const net_algo_ops *lists_force(const net_model *m, const net_group *g, net_coll op,
                                       uint64_t bytes, int *flat)
{
    (void)m, (void)g, (void)op, (void)bytes;
    *flat = 0;
    return NULL;
}

const net_algo_ops net_algo_lists = {
    .name = "lists",
    .astra = -1,
    .force = lists_force,
};

const net_algo_ops *const net_algos[NET_CALGOS] = {
#define NET_ALGO(id, ops) [NET_CALGO_##id] = &ops,
#include "net_algos.def"
#undef NET_ALGO
};

/* The phase algorithm listed as a, or NULL.  A linear look over nine
 * entries per phase: cheaper than the phase's closed form, and no second
 * table to keep in step. */
static const net_algo_ops *listed(net_algo a)
{
    for (int i = 0; i < NET_CALGOS; i++)
        if (net_algos[i]->astra >= 0 && net_algos[i]->astra == (int)a)
            return net_algos[i];
    return NULL;
}

const net_algo_ops *net_algo_ops_of(net_algo a)
{
    const net_algo_ops *o = listed(a);
    LOOM_ASSERT(o != NULL); /* check_sys() let only listed values in */
    return o;
}

const char *net_dim_label(int dim, char *buf, size_t sz)
{
    if (dim == NET_FLAT_DIM)
        snprintf(buf, sz, "the flat dimension (all members as one)");
    else
        snprintf(buf, sz, "dimension %d", dim);
    return buf;
}

/* 1 when name is one of the NULL-ended words (NULL: none) */
static int in_words(const char *const *words, const char *name)
{
    for (; words && *words; words++)
        if (strcmp(*words, name) == 0)
            return 1;
    return 0;
}

const char *net_algo_name(net_algo a)
{
    const net_algo_ops *o = listed(a);
    return o ? o->label : "?";
}

int net_algo_parse(const char *name, net_algo *out)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < NET_CALGOS; i++) {
        const net_algo_ops *o = net_algos[i];
        if (o->astra < 0)
            continue;
        if (in_words(o->astra_names, name) || (o->astra_parse && o->astra_parse(name))) {
            if (out)
                *out = (net_algo)o->astra;
            return 0;
        }
    }
    return -1;
}

const char *net_calgo_name(net_calgo a)
{
    return (unsigned)a < NET_CALGOS ? net_algos[a]->name : "?";
}

int net_calgo_parse(const char *name, net_calgo *out)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < NET_CALGOS; i++)
        if (strcmp(name, net_algos[i]->name) == 0 || in_words(net_algos[i]->aliases, name)) {
            if (out)
                *out = (net_calgo)i;
            return 0;
        }
    return -1;
}

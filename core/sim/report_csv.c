/*
 * report_csv.c: the CSV tables (--csv, --csv-collectives; docs/REPORT.md,
 * "CSV"): one row per rank / per collective instance, whose columns after
 * the first ("rank", "index") are the LOOM_SHOW_CSV entries of the field
 * tables, in table order.
 */
#include "report_int.h"

#include <string.h>

/* RFC 4180 field: quoted when it holds a comma, quote or line break. */
static void csv_str(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* ",<value>": times in ns and reals with 3 decimals, counts whole. */
static void csv_value(FILE *f, loom_fval v)
{
    fputc(',', f);
    switch (v.kind) {
    case LOOM_FK_TIME:
        fprintf(f, "%.3f", rpt_ns(v.t));
        break;
    case LOOM_FK_COUNT:
        fprintf(f, "%llu", (unsigned long long)v.u);
        break;
    case LOOM_FK_REAL:
        fprintf(f, "%.3f", v.d);
        break;
    default:
        csv_str(f, v.s);
    }
}

static int write_csv_ranks(FILE *f, void *arg)
{
    const loom_result *res = arg;
    fputs("rank", f);
    for (int k = 0; k < loom_nrank_fields; k++)
        if (loom_rank_fields[k].show & LOOM_SHOW_CSV)
            fprintf(f, ",%s", loom_rank_fields[k].name);
    fputc('\n', f);
    for (int r = 0; r < res->nranks; r++) {
        fprintf(f, "%d", r);
        for (int k = 0; k < loom_nrank_fields; k++)
            if (loom_rank_fields[k].show & LOOM_SHOW_CSV)
                csv_value(f, loom_rank_value(&loom_rank_fields[k], &res->ranks[r]));
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

static int write_csv_colls(FILE *f, void *arg)
{
    const loom_result *res = arg;
    fputs("index", f);
    for (int k = 0; k < loom_ncoll_fields; k++)
        if (loom_coll_fields[k].show & LOOM_SHOW_CSV)
            fprintf(f, ",%s", loom_coll_fields[k].name);
    fputc('\n', f);
    for (size_t c = 0; c < res->ncolls; c++) {
        fprintf(f, "%zu", c);
        for (int k = 0; k < loom_ncoll_fields; k++)
            if (loom_coll_fields[k].show & LOOM_SHOW_CSV)
                csv_value(f, loom_coll_fields[k].get(&res->colls[c]));
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

int loom_report_csv_ranks(const char *path, const loom_result *res, loom_err *err)
{
    return loom_write_atomic(path, write_csv_ranks, (void *)res, err);
}

int loom_report_csv_colls(const char *path, const loom_result *res, loom_err *err)
{
    return loom_write_atomic(path, write_csv_colls, (void *)res, err);
}

int loom_report_csv_ranks_out(loom_outset *set, int k, const loom_result *res, loom_err *err)
{
    return loom_outset_write(set, k, write_csv_ranks, (void *)res, err);
}

int loom_report_csv_colls_out(loom_outset *set, int k, const loom_result *res, loom_err *err)
{
    return loom_outset_write(set, k, write_csv_colls, (void *)res, err);
}

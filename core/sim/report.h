/*
 * report.h: what a run prints and writes: the text report (report_text.c),
 * the JSON report (report_json.c), the CSV tables (report_csv.c) and
 * ASTRA-sim's log lines (report_astra.c, `run --astra-log`).  The
 * Chrome timeline and the progress line are beside them (timeline.h,
 * progress.h).  Field meanings: docs/REPORT.md.
 *
 * The figures the writers show are listed once, in the field tables of
 * report.c (loom_rank_fields, loom_coll_fields): each entry names a JSON
 * key and CSV column, its unit, how to read it from a record and which
 * writers show it.  The writers iterate the tables, so a new column is one
 * table line (plus, for a new figure, the member that replay fills).
 *
 * The text report goes to a FILE (stdout); the JSON and CSV files are
 * written through outfile.h: as output k of the command's output set
 * (the *_out forms: put into place with the run's other outputs, at the
 * set's commit), or on their own (the path forms).  Either way a failed
 * run leaves no half file.  Strings that come from inputs (paths, pg
 * names) are made valid UTF-8 (loom_utf8), so the JSON is always JSON.
 * Nothing here owns the result or the configuration it is given.
 */
#ifndef LOOM_REPORT_H
#define LOOM_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "outfile.h"
#include "replay.h"

typedef struct loom_run_info {
    const char *workload;   /* trace prefix */
    const char *network;    /* network file */
    const char *system;     /* system file */
    const char *comm_group; /* comm-group file or NULL */
} loom_run_info;

void loom_report_text(FILE *out, const loom_run_info *info, const loom_cfg *cfg,
                      const loom_result *res);
/* ASTRA-sim's log lines (its rings of node 0, per rank "sys[N] finished,
 * ..." and its statistics, "Exiting"), each behind three bracketed fields
 * as its logger writes them; times in whole ns (report_astra.c). */
void loom_report_astra(FILE *out, const loom_cfg *cfg, const loom_result *res);
/* The JSON report's flags.  REPRODUCIBLE zeroes the wall time and peak RSS
 * so that the same run gives byte-identical files; DETAIL adds every
 * collective instance and every rank (`run --json-detail`).  Without
 * DETAIL the report summarises: ranks are listed one by one only up to
 * LOOM_JSON_RANKS_LISTED of them, collectives by kind (docs/REPORT.md). */
enum { LOOM_JSON_REPRODUCIBLE = 1, LOOM_JSON_DETAIL = 2 };
enum { LOOM_JSON_RANKS_LISTED = 1024 };
int loom_report_json(const char *path, const loom_run_info *info, const loom_cfg *cfg,
                     const loom_result *res, int flags, loom_err *err);
int loom_report_json_out(loom_outset *set, int k, const loom_run_info *info, const loom_cfg *cfg,
                         const loom_result *res, int flags, loom_err *err);

/* One row per rank / per collective (docs/REPORT.md lists the columns). */
int loom_report_csv_ranks(const char *path, const loom_result *res, loom_err *err);
int loom_report_csv_colls(const char *path, const loom_result *res, loom_err *err);
int loom_report_csv_ranks_out(loom_outset *set, int k, const loom_result *res, loom_err *err);
int loom_report_csv_colls_out(loom_outset *set, int k, const loom_result *res, loom_err *err);

/* nccl-tests' bus bandwidth factor and data size of a collective: algbw =
 * size / time, busbw = algbw * factor.  size is comm_size, except for
 * all-gather and gather, whose size is the output, ranks * comm_size. */
double loom_busbw_factor(int type, int nranks);
double loom_coll_size(int type, uint64_t bytes, int nranks);

/* ---- the field tables ------------------------------------------------------ */

/* Which writers show a field (loom_field.show). */
enum {
    LOOM_SHOW_JSON = 1,      /* a key of each JSON object */
    LOOM_SHOW_CSV = 2,       /* a column of the CSV file */
    LOOM_SHOW_TEXT = 4,      /* a column of the text report's rank table, in us */
    LOOM_SHOW_TEXT_PCT = 8,  /* ... followed by its percentage of the rank's finish */
    LOOM_SHOW_GROUP = 16,    /* ranks share a text row only when this field agrees */
    LOOM_SHOW_JSON_LAST = 32,/* JSON writes it after the other keys (the collective
                              * instants have always closed each object) */
    LOOM_SHOW_SWEEP = 64,    /* loom sweep's results CSV: its mean and max over
                              * ranks, as NAME_mean_ns and NAME_max_ns (the field's
                              * name less "_ns"), read from each run's JSON */
};

/* How a value is typed, and so printed: JSON number kind, CSV format. */
typedef enum loom_fkind {
    LOOM_FK_TIME,  /* sim_time, shown in ns (JSON real, CSV %.3f) */
    LOOM_FK_COUNT, /* uint64_t count or size (JSON integer, CSV %llu) */
    LOOM_FK_REAL,  /* double (JSON real, CSV %.3f) */
    LOOM_FK_STR,   /* string (JSON string, CSV quoted as RFC 4180 says) */
} loom_fkind;

typedef struct loom_fval {
    loom_fkind kind; /* which member holds the value */
    sim_time t;      /* LOOM_FK_TIME */
    uint64_t u;      /* LOOM_FK_COUNT */
    double d;        /* LOOM_FK_REAL */
    const char *s;   /* LOOM_FK_STR; owned by the record */
} loom_fval;

/* A per-rank figure.  Every one is a member of loom_rank_stats, so the
 * accessor is its offset; kind is TIME or COUNT. */
typedef struct loom_rank_field {
    const char *name;  /* JSON key and CSV column, e.g. "compute_ns" */
    const char *unit;  /* "ns", or "" for a count */
    loom_fkind kind;   /* LOOM_FK_TIME (a sim_time) or LOOM_FK_COUNT (a uint64_t) */
    size_t off;        /* offsetof(loom_rank_stats, member) */
    unsigned show;     /* LOOM_SHOW_* */
    const char *text;  /* text-table heading before "(us)"; NULL when not shown */
} loom_rank_field;

/* A per-collective figure; get() reads (or derives) it from a record. */
typedef struct loom_coll_field {
    const char *name;  /* JSON key and CSV column, e.g. "exposed_ns" */
    const char *unit;  /* "ns", "bytes", "GB/s", or "" */
    loom_fval (*get)(const loom_coll_record *c);
    unsigned show;     /* LOOM_SHOW_JSON, _CSV, _JSON_LAST */
} loom_coll_field;

/* In output order (JSON keys after "rank"; CSV columns after "rank"). */
extern const loom_rank_field loom_rank_fields[];
extern const int loom_nrank_fields;
/* In CSV order (after "index"); JSON order differs only by JSON_LAST. */
extern const loom_coll_field loom_coll_fields[];
extern const int loom_ncoll_fields;

/* Field f of rank stats s. */
loom_fval loom_rank_value(const loom_rank_field *f, const loom_rank_stats *s);

#endif

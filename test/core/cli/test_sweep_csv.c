/*
 * The results CSV of a sweep (core/cli/sweep_csv.c): quoting by hand
 * against RFC 4180, rows built from a report and read back, resuming
 * (rows skipped, a partial last line dropped, --retry-failed rewriting the
 * file), a file of another sweep refused, the lock, and --shard K/N
 * covering every configuration exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "sweep_testutil.h"

#define BASE "workload: w/trace\nnetwork: net.yml\nsystem: sys.json\n"
/* 2 x 2 configurations; an axis name and values that need quoting */
#define SPEC2 BASE "axes:\n  \"system.a,b\": [[ring, direct], \" x\"]\n  network.bandwidth[0]: [25, 50]\n"
#define HEADER2                                                                             \
    "key,\"system.a,b\",network.bandwidth[0],status,exit_code,ranks,step_time_ns,"          \
    "compute_mean_ns,compute_max_ns,exposed_comm_mean_ns,exposed_comm_max_ns,idle_mean_ns," \
    "idle_max_ns,error,spec\n"

static void load2(sw_spec *s)
{
    loom_err err;
    assert_int_equal(su_spec(s, "spec2.yaml", SPEC2, &err), 0);
    assert_int_equal(s->nconf, 4);
}

static char *hex(uint64_t v, char buf[17])
{
    snprintf(buf, 17, "%016llx", (unsigned long long)v);
    return buf;
}

static uint64_t key_of(const sw_spec *s, long long i)
{
    int pos[8];
    sw_conf_pos(s, i, pos);
    return sw_conf_key(s, pos);
}

/* Row i of s: ok with a fixed report, or failed. */
static char *row(const sw_spec *s, long long i, int ok)
{
    json_t *rep = json_loads("{\"step_time_ns\": 7, \"ranks\": [{\"compute_ns\": 1, "
                             "\"exposed_comm_ns\": 2, \"idle_ns\": 3}]}", 0, NULL);
    sbuf b = {0};
    sw_csv_row(s, i, ok ? "ok" : "failed", ok ? 0 : 3, ok ? rep : NULL, ok ? "" : "boom", &b);
    json_decref(rep);
    return b.p;
}

/* Writes the header and rows (idx, ok) of s to name. */
static void write_csv(const sw_spec *s, const char *name, const long long *idx, const int *ok,
                      int n)
{
    sbuf t = {0};
    sw_csv_header(s, &t);
    for (int i = 0; i < n; i++) {
        char *r = row(s, idx[i], ok[i]);
        sb_str(&t, r);
        free(r);
    }
    su_put(name, t.p);
    free(t.p);
}

static void test_field_quoting(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out; /* a field and its CSV text, by RFC 4180 */
    } f[] = {
        {"25", "25"},
        {"", ""},
        {"mid space", "mid space"},
        {"a,b", "\"a,b\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {" lead", "\" lead\""},
        {"trail ", "\"trail \""},
        {"two\nlines", "\"two\nlines\""},
        {"cr\r", "\"cr\r\""},
    };
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
        sbuf b = {0};
        sw_csv_field(&b, f[k].in, 1);
        sw_csv_field(&b, f[k].in, 0);
        char want[64];
        snprintf(want, sizeof want, "%s,%s", f[k].out, f[k].out);
        assert_string_equal(b.p ? b.p : "", want);
        free(b.p);
    }
}

static void test_header_and_rows(void **state)
{
    (void)state;
    sw_spec s;
    load2(&s);
    sbuf b = {0};
    sw_csv_header(&s, &b);
    assert_string_equal(b.p, HEADER2);
    free(b.p);

    /* two ranks: means and maxes by hand; the idle mean (3 + 0.0005) / 2 =
     * 1.50025 ns rounds to the picosecond: 1.5 */
    json_t *rep = json_loads("{\"step_time_ns\": 1000.5, \"ranks\": ["
                             "{\"compute_ns\": 1, \"exposed_comm_ns\": 2, \"idle_ns\": 3},"
                             "{\"compute_ns\": 2, \"exposed_comm_ns\": 4, \"idle_ns\": 0.0005}]}",
                             0, NULL);
    assert_non_null(rep);
    char k[17], h[17], want[512];
    b = (sbuf){0};
    sw_csv_row(&s, 0, "ok", 0, rep, "", &b);
    json_decref(rep);
    snprintf(want, sizeof want, "%s,\"[ring,direct]\",25,ok,0,2,1000.5,1.5,2,3,4,1.5,3,,%s\n",
             hex(key_of(&s, 0), k), hex(s.hash, h));
    assert_string_equal(b.p, want);
    free(b.p);

    /* not ok: no figures; the error is one line, its quotes doubled */
    b = (sbuf){0};
    sw_csv_row(&s, 3, "failed", 3, NULL, "bad \"x\", then\nmore", &b);
    snprintf(want, sizeof want, "%s,\"\"\" x\"\"\",50,failed,3,,,,,,,,,\"bad \"\"x\"\", then more\",%s\n",
             hex(key_of(&s, 3), k), h);
    assert_string_equal(b.p, want);
    free(b.p);
    sw_spec_free(&s);
}

/* What was written reads back: quoted header and values, keys, statuses. */
static void test_round_trip(void **state)
{
    (void)state;
    sw_spec s;
    load2(&s);
    long long idx[] = {3, 0};
    int ok[] = {0, 1};
    write_csv(&s, "rt.csv", idx, ok, 2);
    loom_err err = {0};
    sw_csv r = {.s = &s, .path = su_path("rt.csv"), .err = &err};
    assert_int_equal(sw_csv_load(&r, -1, 0, 1), 0);
    assert_int_equal(r.rec, 3);
    assert_int_equal(r.nrows, 2);
    assert_int_equal(sw_csv_find(&r, key_of(&s, 0))->ok, 1);
    assert_int_equal(sw_csv_find(&r, key_of(&s, 3))->ok, 0);
    assert_null(sw_csv_find(&r, key_of(&s, 1)));
    assert_null(sw_csv_find(&r, key_of(&s, 2)));
    sw_csv_free(&r);
    sw_spec_free(&s);
}

/* Rows already there are skipped, failed ones counted; the rest is todo. */
static void test_resume_plan(void **state)
{
    (void)state;
    sw_spec s;
    load2(&s);
    long long idx[] = {0, 3};
    int ok[] = {1, 0};
    write_csv(&s, "plan.csv", idx, ok, 2);
    loom_err err = {0};
    sw_csv r = {.s = &s, .path = su_path("plan.csv"), .err = &err};
    assert_int_equal(sw_csv_load(&r, -1, 0, 1), 0);
    uint64_t keys[4];
    for (int i = 0; i < 4; i++)
        keys[i] = key_of(&s, i);
    sw_run_state sw = {0};
    sw_csv_plan(&r, keys, 0, 1, &sw);
    assert_int_equal(sw.total, 4);
    assert_int_equal(sw.skipped, 2);
    assert_int_equal(sw.old_bad, 1);
    assert_int_equal(sw.ntodo, 2);
    assert_int_equal(sw.todo[0], 1);
    assert_int_equal(sw.todo[1], 2);
    free(sw.todo);
    sw_csv_free(&r);
    sw_spec_free(&s);
}

/* --shard K/N for N = 1..5 over 12 configurations, 3 of them done: every
 * configuration lands in exactly one shard (todo or skipped there), each
 * shard's in index order with i mod N = K. */
static void test_shards_partition(void **state)
{
    (void)state;
    sw_spec s;
    loom_err err;
    assert_int_equal(su_spec(&s, "spec12.yaml", BASE "axes:\n  system.a: [1, 2, 3]\n"
                                 "  system.b: [1, 2, 3, 4]\n", &err), 0);
    assert_int_equal(s.nconf, 12);
    long long idx[] = {2, 5, 7};
    int ok[] = {1, 1, 0};
    write_csv(&s, "s12.csv", idx, ok, 3);
    sw_csv r = {.s = &s, .path = su_path("s12.csv"), .err = &err};
    loom_err_clear(&err);
    assert_int_equal(sw_csv_load(&r, -1, 0, 1), 0);
    uint64_t keys[12];
    for (int i = 0; i < 12; i++)
        keys[i] = key_of(&s, i);
    for (long n = 1; n <= 5; n++) {
        int seen[12] = {0};
        long long total = 0, skipped = 0, bad = 0;
        for (long k = 0; k < n; k++) {
            sw_run_state sw = {0};
            sw_csv_plan(&r, keys, k, n, &sw);
            for (long long j = 0; j < sw.ntodo; j++) {
                assert_int_equal(sw.todo[j] % n, k);
                assert_true(j == 0 || sw.todo[j] > sw.todo[j - 1]);
                seen[sw.todo[j]]++;
            }
            assert_int_equal(sw.total, sw.ntodo + sw.skipped);
            total += sw.total;
            skipped += sw.skipped;
            bad += sw.old_bad;
            free(sw.todo);
        }
        assert_int_equal(total, 12);
        assert_int_equal(skipped, 3);
        assert_int_equal(bad, 1);
        for (int i = 0; i < 12; i++)
            assert_int_equal(seen[i], i == 2 || i == 5 || i == 7 ? 0 : 1);
    }
    sw_csv_free(&r);
    sw_spec_free(&s);
}

/* A kill in the middle of a write: the partial last line is ignored on a
 * dry run and truncated away by a sweep that will write. */
static void test_partial_last_line(void **state)
{
    (void)state;
    sw_spec s;
    load2(&s);
    sbuf t = {0};
    sw_csv_header(&s, &t);
    char *r0 = row(&s, 0, 1), *r3 = row(&s, 3, 0);
    sb_str(&t, r0);
    size_t whole = t.n;
    sb_add(&t, r3, 10);
    su_put("torn.csv", t.p);

    loom_err err = {0};
    sw_csv r = {.s = &s, .path = su_path("torn.csv"), .err = &err};
    assert_int_equal(sw_csv_load(&r, -1, 0, 1), 0); /* --dry-run: reads, changes nothing */
    assert_int_equal(r.nrows, 1);
    char *after = su_read("torn.csv");
    assert_string_equal(after, t.p);
    free(after);
    sw_csv_free(&r);

    r = (sw_csv){.s = &s, .path = su_path("torn.csv"), .err = &err};
    int fd = sw_csv_open(&r, 1);
    assert_true(fd >= 0);
    assert_int_equal(r.nrows, 1);
    assert_int_equal(r.rec, 2);
    after = su_read("torn.csv");
    t.p[whole] = '\0';
    assert_string_equal(after, t.p);
    free(after);
    close(fd);
    sw_csv_free(&r);
    free(r0);
    free(r3);
    free(t.p);
    sw_spec_free(&s);
}

/* --retry-failed: the rows not ok leave the file (rewritten whole), the
 * others stay in order, and appending goes to the new file. */
static void test_retry_failed(void **state)
{
    (void)state;
    sw_spec s;
    load2(&s);
    long long idx[] = {0, 3, 1};
    int ok[] = {1, 0, 1};
    write_csv(&s, "retry.csv", idx, ok, 3);
    loom_err err = {0};
    sw_csv r = {.s = &s, .path = su_path("retry.csv"), .retry = 1, .err = &err};
    int fd = sw_csv_open(&r, 1);
    assert_true(fd >= 0);
    assert_int_equal(r.dropped, 1);
    assert_int_equal(r.nrows, 2);
    assert_null(sw_csv_find(&r, key_of(&s, 3)));
    assert_int_equal(sw_csv_append(fd, "x\n", 2), 0);
    close(fd);
    sbuf want = {0};
    sw_csv_header(&s, &want);
    char *r0 = row(&s, 0, 1), *r1 = row(&s, 1, 1);
    sb_str(&want, r0);
    sb_str(&want, r1);
    sb_str(&want, "x\n");
    char *got = su_read("retry.csv");
    assert_string_equal(got, want.p);
    free(got);
    free(want.p);
    free(r0);
    free(r1);
    sw_csv_free(&r);
    sw_spec_free(&s);
}

/* A new (or empty) file gets the header. */
static void test_new_file(void **state)
{
    (void)state;
    sw_spec s;
    load2(&s);
    loom_err err = {0};
    sw_csv r = {.s = &s, .path = su_path("new.csv"), .err = &err};
    unlink(r.path);
    int fd = sw_csv_open(&r, 1);
    assert_true(fd >= 0);
    assert_int_equal(r.rec, 0);
    close(fd);
    char *got = su_read("new.csv");
    assert_string_equal(got, HEADER2);
    free(got);
    sw_csv_free(&r);
    sw_spec_free(&s);
}

/* Expects loading text as a CSV of s to fail with "PATH: " msg (a prefix). */
static void expect_refused(const sw_spec *s, const char *text, const char *msg)
{
    loom_err err = {0};
    sw_csv r = {.s = s, .path = su_put("bad.csv", text), .err = &err};
    assert_int_equal(sw_csv_load(&r, -1, 0, 1), LOOM_EUSAGE);
    char want[1024];
    snprintf(want, sizeof want, "%s: %s", su_path("bad.csv"), msg);
    if (strncmp(err.msg, want, strlen(want)) != 0)
        fail_msg("message\n  %s\nwanted it to start\n  %s", err.msg, want);
    sw_csv_free(&r);
}

/* A file of another sweep is refused, never mixed with this one's. */
static void test_refusals(void **state)
{
    (void)state;
    sw_spec s;
    load2(&s);
    char *r0 = row(&s, 0, 1), text[2048], h[17], msg[512];
    expect_refused(&s, "key,other,status\n", "its columns are not this spec's:\n"
                                             "  file: key,other,status\n  spec: key,");
    /* a row of another spec: the same columns, another hash */
    char *other = loom_xstrdup(r0);
    memcpy(other + strlen(other) - 17, "0123456789abcdef", 16);
    snprintf(text, sizeof text, HEADER2 "%s", other);
    snprintf(msg, sizeof msg, "row 1 was written by another spec (spec 0123456789abcdef, this "
             "one %s): its base run or axes differ", hex(s.hash, h));
    expect_refused(&s, text, msg);
    expect_refused(&s, HEADER2 "a,b,c\n", "row 1 has 3 fields, the header 15");
    memcpy(other, r0, strlen(r0));
    memcpy(other, "zz", 2);
    snprintf(text, sizeof text, HEADER2 "%s", other);
    snprintf(msg, sizeof msg, "row 1: bad key 'zz%.14s'", r0 + 2);
    expect_refused(&s, text, msg);
    free(other);
    free(r0);
    sw_spec_free(&s);
}

/* While one sweep holds the file, a second one is refused (exit 5). */
static void test_lock(void **state)
{
    (void)state;
    sw_spec s;
    load2(&s);
    loom_err e1 = {0}, e2 = {0};
    sw_csv a = {.s = &s, .path = su_path("lock.csv"), .err = &e1};
    sw_csv b = {.s = &s, .path = su_path("lock.csv"), .err = &e2};
    int fd = sw_csv_open(&a, 1);
    assert_true(fd >= 0);
    assert_int_equal(sw_csv_open(&b, 1), -1); /* after its 2 s of patience */
    assert_int_equal(e2.code, LOOM_EIO);
    char want[600];
    snprintf(want, sizeof want, "%s: another loom sweep is writing it", su_path("lock.csv"));
    assert_string_equal(e2.msg, want);
    close(fd);
    sw_csv_free(&a);
    sw_csv_free(&b);
    sw_spec_free(&s);
}


/* The lock follows the path, not only the inode.  --retry-failed replaces
 * the file by rename: a sweep that was waiting on the old inode's lock
 * used to get it once the first sweep let go, append its rows to the
 * deleted file and exit 0.  Here a child sweep waits on the old file's
 * lock while this process replaces the file, locks the new one and only
 * then lets go of the old (as sw_csv_open does after its rewrite): the
 * child must notice the path names another file and be refused, never
 * hand back a descriptor of the deleted one. */
static void test_lock_follows_rename(void **state)
{
    (void)state;
    alarm(30);
    sw_spec s;
    load2(&s);
    long long idx[] = {0};
    int ok[] = {1};
    write_csv(&s, "race.csv", idx, ok, 1);
    const char *path = su_path("race.csv");
    char keep[600];
    snprintf(keep, sizeof keep, "%s", path);
    int old = open(keep, O_WRONLY | O_APPEND);
    assert_true(old >= 0);
    assert_int_equal(flock(old, LOCK_EX), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the second sweep: no cmocka here */
        close(old); /* its copy would keep the old file's lock held */
        loom_err e = {0};
        sw_csv b = {.s = &s, .path = keep, .err = &e};
        int fd = sw_csv_open(&b, 1);
        if (fd >= 0) {
            struct stat a, p;
            int same = fstat(fd, &a) == 0 && stat(keep, &p) == 0 && a.st_ino == p.st_ino;
            _exit(same ? 3 : 2); /* 2: the bug, a deleted file's descriptor */
        }
        _exit(strstr(e.msg, "another loom sweep is writing it") ? 0 : 4);
    }
    nanosleep(&(struct timespec){0, 300000000}, NULL); /* the child opens the old file */
    char tmp[620];
    snprintf(tmp, sizeof tmp, "%s.new", keep);
    char *text = su_read("race.csv");
    FILE *f = fopen(tmp, "w");
    fputs(text, f);
    fclose(f);
    free(text);
    assert_int_equal(rename(tmp, keep), 0);
    int nfd = open(keep, O_WRONLY | O_APPEND);
    assert_int_equal(flock(nfd, LOCK_EX), 0);
    close(old); /* the child now gets the old inode's lock */
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    close(nfd);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) != 0)
        fail_msg("second sweep: exit %d (2: it got the deleted file)", WEXITSTATUS(st));
    sw_spec_free(&s);
    alarm(0);
}

/* A FIFO (or anything not a regular file) as the results file is refused
 * at once, by the sweep and by --dry-run's reading (it used to hang). */
static void test_results_not_regular(void **state)
{
    (void)state;
    alarm(20);
    sw_spec s;
    load2(&s);
    const char *path = su_path("fifo.csv");
    char keep[600];
    snprintf(keep, sizeof keep, "%s", path);
    assert_int_equal(mkfifo(keep, 0600), 0);
    loom_err e1 = {0}, e2 = {0};
    sw_csv a = {.s = &s, .path = keep, .err = &e1};
    assert_int_equal(sw_csv_open(&a, 1), -1);
    assert_int_equal(e1.code, LOOM_EIO);
    char want[700];
    snprintf(want, sizeof want, "%s: is a FIFO (named pipe), not a regular file", keep);
    if (!strstr(e1.msg, want))
        fail_msg("%s", e1.msg);
    sw_csv b = {.s = &s, .path = keep, .err = &e2};
    assert_true(sw_csv_load(&b, -1, 0, 1) < 0);
    if (!strstr(e2.msg, want))
        fail_msg("%s", e2.msg);
    unlink(keep);
    sw_csv_free(&a);
    sw_csv_free(&b);
    sw_spec_free(&s);
    alarm(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_quoting),
        cmocka_unit_test(test_header_and_rows),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_resume_plan),
        cmocka_unit_test(test_shards_partition),
        cmocka_unit_test(test_partial_last_line),
        cmocka_unit_test(test_retry_failed),
        cmocka_unit_test(test_lock_follows_rename),
        cmocka_unit_test(test_results_not_regular),
        cmocka_unit_test(test_new_file),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_lock),
    };
    return cmocka_run_group_tests(tests, su_setup, su_teardown);
}

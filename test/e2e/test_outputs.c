/*
 * End-to-end tests of what loom's commands do with their output files
 * (docs/CLI.md, "Outputs"; issue 14, "never clobber, never half-commit"):
 * outputs are checked before any simulation (folder exists, distinct from
 * each other and from every input), written through symbolic links and
 * directly to FIFOs, devices and standard output, committed together or
 * not at all; the JSON report and the timeline are valid UTF-8 JSON
 * whatever bytes the trace holds; a failed write exits 5 naming the OS
 * reason and leaves no temporary (under ASan: no leak, or the exit would
 * be 1).  Nothing here needs root; everything happens in one scratch
 * folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "et_io.h"
#include "loomrun.h"

#define FIX FIXTURES "/chakra"
#define CFG FIXTURES "/astra-sim-configs"
#define AR4 FIX "/micro_all_reduce_4npus_1MB/all_reduce"
#define MLP FIX "/tutorial_mlp_model_parallel_32npus"

static int exists(const char *name)
{
    struct stat st;
    return lstat(loomrun_path(name), &st) == 0;
}

/* No name in the scratch folder holds ".tmp." (a temporary left behind). */
static void assert_no_temporaries(void)
{
    DIR *d = opendir(loomrun_tmp);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp."))
            fail_msg("temporary left behind: %s", e->d_name);
    closedir(d);
}

static void expect(int rc, int code, const char *needle1, const char *needle2)
{
    if (rc != code)
        fail_msg("expected exit %d, got %d; stderr: %s", code, rc, loomrun_err);
    if ((needle1 && !strstr(loomrun_err, needle1)) || (needle2 && !strstr(loomrun_err, needle2)))
        fail_msg("stderr lacks '%s' / '%s': %s", needle1, needle2 ? needle2 : "", loomrun_err);
    assert_no_temporaries();
}

/* A device named without naming /dev: "/proc/self/fd/N" for the device
 * opened here as N, which the loom child inherits.  A loom that renamed
 * over its output, run as root, would fail to create a temporary in
 * /proc instead of replacing the system's device. */
static const char *dev_path(const char *dev)
{
    static char buf[4][64];
    static int k;
    int fd = open(dev, O_WRONLY); /* not O_CLOEXEC: the child needs it */
    assert_true(fd >= 0);
    char *p = buf[k++ % 4];
    snprintf(p, 64, "/proc/self/fd/%d", fd);
    return p;
}

/* The 4-rank 1 MiB all-reduce copied to tmp as ar.<r>.et, and its network. */
static void copy_ar4(void)
{
    for (int r = 0; r < 4; r++) {
        char from[512], to[64];
        snprintf(from, sizeof from, "%s.%d.et", AR4, r);
        snprintf(to, sizeof to, "ar.%d.et", r);
        loomrun_copy(from, loomrun_path(to));
    }
    loomrun_copy(CFG "/Ring_4npus.yml", loomrun_path("net.yml"));
}

static int same_bytes(const char *a, const char *b)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

#define RUN_AR4(...)                                                                               \
    loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("ar"), "-n", loomrun_path("net.yml"), "-s",                     \
                CFG "/Ring_4chunks.json", "-q", __VA_ARGS__, NULL)

/* ---- where outputs land --------------------------------------------------- */

/* A symbolic link keeps being a link; its target gets the report. */
static void test_symlink_output(void **state)
{
    (void)state;
    copy_ar4();
    loomrun_write(loomrun_path("target.json"), "old");
    unlink(loomrun_path("link.json"));
    assert_int_equal(symlink("target.json", loomrun_path("link.json")), 0);
    int rc = RUN_AR4("--json", loomrun_path("link.json"));
    expect(rc, 0, NULL, NULL);
    struct stat st;
    assert_int_equal(lstat(loomrun_path("link.json"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    json_t *j = loomrun_json(loomrun_path("target.json"));
    assert_non_null(json_object_get(j, "step_time_ns"));
    json_decref(j);
}

/* "-" and /dev/stdout: the JSON on standard output, the text report on
 * standard error; here stdout is a file (loomrun's), which stays the same
 * file rather than being renamed over.  /dev/stdout is /proc/self/fd/1,
 * spelled so here when root (see dev_path). */
static void test_stdout_output(void **state)
{
    (void)state;
    copy_ar4();
    const char *spell[2] = {"-", geteuid() == 0 ? "/proc/self/fd/1" : "/dev/stdout"};
    for (int k = 0; k < 2; k++) {
        int rc = RUN_AR4("--json", spell[k]);
        expect(rc, 0, NULL, NULL);
        json_error_t je;
        json_t *j = json_loads(loomrun_out, 0, &je);
        if (j == NULL)
            fail_msg("--json %s: stdout is not JSON: %s\n%s", spell[k], je.text, loomrun_out);
        json_decref(j);
        assert_non_null(strstr(loomrun_err, "step time"));
    }
    /* /dev/null takes several outputs */
    const char *null = dev_path("/dev/null");
    int rc = RUN_AR4("--csv", null, "--csv-collectives", null, "--timeline", null);
    expect(rc, 0, NULL, NULL);
}

/* A FIFO is written, not replaced: a child reads the timeline from it. */
static void test_fifo_output(void **state)
{
    (void)state;
    copy_ar4();
    unlink(loomrun_path("tl.fifo"));
    assert_int_equal(mkfifo(loomrun_path("tl.fifo"), 0600), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(30); /* a FIFO replaced by a file would leave this open waiting */
        int in = open(loomrun_path("tl.fifo"), O_RDONLY);
        int out = open(loomrun_path("tl.got"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char buf[4096];
        ssize_t n;
        while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n)
                _exit(2);
        _exit(in >= 0 && out >= 0 ? 0 : 1);
    }
    int rc = RUN_AR4("--timeline", loomrun_path("tl.fifo"), "--json", loomrun_path("fifo.json"));
    int st;
    waitpid(pid, &st, 0);
    expect(rc, 0, NULL, NULL);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    struct stat sb;
    assert_int_equal(lstat(loomrun_path("tl.fifo"), &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode));
    json_t *j = loomrun_json(loomrun_path("tl.got"));
    assert_true(json_array_size(json_object_get(j, "traceEvents")) > 4);
    json_decref(j);
}

/* ---- refused before simulating ------------------------------------------- */

static void test_output_is_input(void **state)
{
    (void)state;
    copy_ar4();
    loomrun_copy(loomrun_path("ar.2.et"), loomrun_path("keep.et"));
    int rc = RUN_AR4("--json", loomrun_path("ar.2.et"));
    expect(rc, 2, "--json", "the rank trace");
    assert_true(same_bytes(loomrun_path("ar.2.et"), loomrun_path("keep.et")));
    loomrun_copy(loomrun_path("net.yml"), loomrun_path("keep.yml"));
    rc = RUN_AR4("--timeline", loomrun_path("net.yml"));
    expect(rc, 2, "--timeline", "the network file");
    assert_true(same_bytes(loomrun_path("net.yml"), loomrun_path("keep.yml")));
    /* through a symbolic link to the input */
    unlink(loomrun_path("sys.link"));
    assert_int_equal(symlink(CFG "/Ring_4chunks.json", loomrun_path("sys.link")), 0);
    rc = RUN_AR4("--csv", loomrun_path("sys.link"));
    expect(rc, 2, "--csv", "the system file");
    /* loom compare's CSV */
    rc = loomrun_run(loomrun_tmp, "compare", "-c", "all_reduce", "-S", "1K..4K", "-n", loomrun_path("net.yml"),
                     "--csv", loomrun_path("net.yml"), NULL);
    expect(rc, 2, "--csv", "the network file");
    assert_true(same_bytes(loomrun_path("net.yml"), loomrun_path("keep.yml")));
    /* convert-text whose rank files would overwrite the text it reads */
    loomrun_write(loomrun_path("txt.0.et"), "MICRO\n1\nl0 -1 10 NONE 0 20 NONE 0 30 ALLREDUCE 1024 10\n");
    loomrun_copy(loomrun_path("txt.0.et"), loomrun_path("keep.txt"));
    rc = loomrun_run(loomrun_tmp, "trace", "convert-text", loomrun_path("txt.0.et"), "-r", "2", "-o", loomrun_path("txt"),
                     NULL);
    expect(rc, 2, "--out", "the text workload");
    assert_true(same_bytes(loomrun_path("txt.0.et"), loomrun_path("keep.txt")));
    assert_false(exists("txt.1.et"));
}

static void test_outputs_alike(void **state)
{
    (void)state;
    copy_ar4();
    unlink(loomrun_path("same.out"));
    int rc = RUN_AR4("--json", loomrun_path("same.out"), "--csv", loomrun_path("same.out"));
    expect(rc, 2, "--json", "--csv");
    assert_false(exists("same.out"));
    unlink(loomrun_path("other.link"));
    assert_int_equal(symlink("same.out", loomrun_path("other.link")), 0);
    rc = RUN_AR4("--timeline", loomrun_path("same.out"), "--csv-collectives", loomrun_path("other.link"));
    expect(rc, 2, "--timeline", "--csv-collectives");
    assert_false(exists("same.out"));
    rc = RUN_AR4("--json", "-", "--csv", "/proc/self/fd/1");
    expect(rc, 2, "--json", "--csv");
    /* gen micro: a side file that is one of the rank files */
    rc = loomrun_run(loomrun_tmp, "gen", "micro", "-c", "all_reduce", "-b", "1K", "-r", "4", "-o",
                     loomrun_path("gm/x"), "--network-out", loomrun_path("gm/x.2.et"), NULL);
    expect(rc, 2, "--network-out", "x.2.et");
    assert_false(exists("gm"));
}

/* An output in a missing folder: exit 5 before simulating, naming the
 * folder and the reason; no other output is written. */
static void test_missing_folder(void **state)
{
    (void)state;
    copy_ar4();
    int rc = RUN_AR4("--json", loomrun_path("mf.json"), "--timeline", loomrun_path("mf.tl.json"), "--csv",
                     loomrun_path("nodir/x.csv"));
    expect(rc, 5, "nodir", "No such file or directory");
    assert_false(exists("mf.json"));
    assert_false(exists("mf.tl.json"));
    /* refused before any trace is read: a broken trace is not reached */
    loomrun_write(loomrun_path("broken.0.et"), "garbage");
    rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("broken"), "-n", CFG "/Ring_4npus.yml", "-s",
                     CFG "/Ring_4chunks.json", "--json", loomrun_path("nodir/j.json"), NULL);
    expect(rc, 5, "nodir", NULL);
    /* generators: nothing written, the folder they made removed */
    rc = loomrun_run(loomrun_tmp, "gen", "micro", "-c", "all_reduce", "-b", "1K", "-r", "4", "-o",
                     loomrun_path("gm2/x"), "--system-out", loomrun_path("nodir/s.json"), NULL);
    expect(rc, 5, "nodir", NULL);
    assert_false(exists("gm2"));
}

/* ---- valid UTF-8 JSON ----------------------------------------------------- */

/* One compute node per rank named `name`, for a 1-NPU network. */
static void write_named(const char *path, const char *name)
{
    loom_err err = {0};
    et_writer *w = et_writer_open(path, 0, &err);
    assert_non_null(w);
    ChakraProtoMsg__GlobalMetadata md = CHAKRA_PROTO_MSG__GLOBAL_METADATA__INIT;
    md.version = "1.0.0";
    assert_int_equal(et_writer_metadata(w, &md, &err), 0);
    ChakraProtoMsg__Node n = CHAKRA_PROTO_MSG__NODE__INIT;
    n.id = 1;
    n.name = (char *)name;
    n.type = CHAKRA_PROTO_MSG__NODE_TYPE__COMP_NODE;
    n.duration_micros = 5;
    assert_int_equal(et_writer_node(w, &n, &err), 0);
    assert_int_equal(et_writer_close(w, &err), 0);
}

/* With step-overhead-us the timeline has a "step overhead" slice per rank
 * on its cpu thread that ends at the rank's finish as the JSON report
 * gives it, and lasts the overhead (100 us); without the key, none. */
static void test_timeline_overhead(void **state)
{
    (void)state;
    copy_ar4();
    for (int on = 0; on < 2; on++) {
        int rc = on ? RUN_AR4("--set", "system.step-overhead-us=100", "--json",
                              loomrun_path("ov.json"), "--timeline", loomrun_path("ov.tl.json"))
                    : RUN_AR4("--json", loomrun_path("ov.json"), "--timeline",
                              loomrun_path("ov.tl.json"));
        expect(rc, 0, NULL, NULL);
        json_error_t je;
        json_t *rep = json_load_file(loomrun_path("ov.json"), 0, &je);
        json_t *tl = json_load_file(loomrun_path("ov.tl.json"), 0, &je);
        assert_non_null(rep);
        assert_non_null(tl);
        json_t *ranks = json_object_get(rep, "ranks"), *ev = json_object_get(tl, "traceEvents");
        size_t i, seen = 0;
        json_t *e;
        json_array_foreach(ev, i, e)
        {
            if (strcmp(json_string_value(json_object_get(e, "name")), "step overhead") != 0)
                continue;
            seen++;
            int pid = (int)json_integer_value(json_object_get(e, "pid"));
            double end = json_real_value(json_object_get(e, "ts")) +
                         json_real_value(json_object_get(e, "dur"));
            double fin = json_real_value(
                             json_object_get(json_array_get(ranks, (size_t)pid), "finish_ns")) / 1e3;
            assert_true(fabs(end - fin) < 1e-3);
            assert_true(fabs(json_real_value(json_object_get(e, "dur")) - 100) < 1e-9);
            assert_int_equal(json_integer_value(json_object_get(e, "tid")), 2);
        }
        assert_int_equal(seen, on ? 4 : 0);
        json_decref(rep);
        json_decref(tl);
    }
}

/* A node name "\xff\xfe" and a workload path with a byte that is not
 * UTF-8: the JSON report and the timeline parse (jansson checks UTF-8),
 * with U+FFFD for each invalid byte. */
static void test_invalid_utf8(void **state)
{
    (void)state;
    loomrun_write(loomrun_path("r1.yml"), "topology: [ Ring ]\nnpus_count: [ 1 ]\nbandwidth: [ 50 ]\n"
                                   "latency: [ 500 ]\n");
    write_named(loomrun_path("bad\xff.0.et"), "\xff\xfe");
    int rc = loomrun_run(loomrun_tmp, "run", "-w", loomrun_path("bad\xff"), "-n", loomrun_path("r1.yml"), "-s",
                         CFG "/Ring_4chunks.json", "--json", loomrun_path("u.json"), "--timeline",
                         loomrun_path("u.tl.json"), "-q", NULL);
    expect(rc, 0, NULL, NULL);
    json_t *j = loomrun_json(loomrun_path("u.json"));
    const char *wl = json_string_value(json_object_get(j, "workload"));
    assert_non_null(wl);
    assert_non_null(strstr(wl, "bad\xEF\xBF\xBD"));
    json_decref(j);
    j = loomrun_json(loomrun_path("u.tl.json"));
    json_t *evs = json_object_get(j, "traceEvents");
    int found = 0;
    for (size_t k = 0; k < json_array_size(evs); k++) {
        json_t *e = json_array_get(evs, k);
        const char *ph = json_string_value(json_object_get(e, "ph"));
        if (ph && strcmp(ph, "X") == 0) {
            assert_string_equal(json_string_value(json_object_get(e, "name")),
                                "\xEF\xBF\xBD\xEF\xBF\xBD");
            found++;
        }
    }
    assert_int_equal(found, 1);
    json_decref(j);
}

/* ---- failed writes -------------------------------------------------------- */

/* A full device: exit 5 with the OS reason (under ASan a leak would make
 * it 1). */
static void test_full_device(void **state)
{
    (void)state;
    copy_ar4();
    const char *full = dev_path("/dev/full");
    int rc = RUN_AR4("--json", full);
    expect(rc, 5, full, "No space left on device");
    rc = RUN_AR4("--timeline", full, "--json", loomrun_path("full.json"));
    expect(rc, 5, "--timeline", "No space left on device");
    assert_false(exists("full.json"));
    /* the text report on a full standard output: exit 5, and no file */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/full", O_WRONLY), fe = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fe, 2);
        execl(LOOM_BIN, LOOM_BIN, "run", "-w", loomrun_path("ar"), "-n", loomrun_path("net.yml"), "-s",
              CFG "/Ring_4chunks.json", "-q", "--json", loomrun_path("full2.json"), (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 5);
    assert_false(exists("full2.json"));
    assert_no_temporaries();
}

/* Every command's standard output is checked at exit (core/cli/main.c):
 * a listing, a table or a summary lost to a full device is exit 5, with
 * the reason on stderr. */
static void test_full_stdout_every_command(void **state)
{
    (void)state;
    const char *const cmds[][4] = {
        {"devices", NULL},
        {"trace", "info", FIX "/micro_all_reduce_4npus_1MB/all_reduce", NULL},
        {"--version", NULL},
        {"topo", "describe", CFG "/Ring_8npus.yml", NULL},
    };
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        char errpath[512];
        snprintf(errpath, sizeof errpath, "%s", loomrun_path("stdout-full.err"));
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int fd = open("/dev/full", O_WRONLY);
            int fe = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2(fd, 1);
            dup2(fe, 2);
            execl(LOOM_BIN, LOOM_BIN, cmds[c][0], cmds[c][1], cmds[c][2], cmds[c][3],
                  (char *)NULL);
            _exit(127);
        }
        int st;
        waitpid(pid, &st, 0);
        assert_true(WIFEXITED(st));
        if (WEXITSTATUS(st) != 5)
            fail_msg("loom %s > /dev/full: exit %d, expected 5", cmds[c][0], WEXITSTATUS(st));
        char err[4096];
        loomrun_slurp(errpath, err, sizeof err);
        if (strstr(err, "No space left on device") == NULL)
            fail_msg("loom %s > /dev/full: stderr '%s' does not name the reason", cmds[c][0], err);
    }
}

/* Starts loom under a file-size limit of `bytes` (as `ulimit -f` does:
 * the soft limit, which an unprivileged process may restore). */
static int run_limited(rlim_t bytes, const char *const *args)
{
    struct rlimit old, rl;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    rl = old;
    rl.rlim_cur = old.rlim_max != RLIM_INFINITY && old.rlim_max < bytes ? old.rlim_max : bytes;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
    pid_t pid = loomrun_startv(loomrun_tmp, args); /* the child inherits the limit */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    return loomrun_wait(loomrun_tmp, pid);
}

/* Beyond the file-size limit: exit 5 ("File too large"), not SIGXFSZ, and
 * no output or temporary left, for a run and for generators. */
static void test_file_size_limit(void **state)
{
    (void)state;
    const char *run[] = {"run", "-w", MLP "/MLP_ModelParallel", "-n", MLP "/DGX_H100-32.yml", "-s",
                         MLP "/DGX_H100.json", "-q", "--json", loomrun_path("lim.json"), "--timeline",
                         loomrun_path("lim.tl.json"), NULL};
    int rc = run_limited(16384, run);
    expect(rc, 5, "lim.tl.json", "File too large");
    assert_false(exists("lim.json"));
    assert_false(exists("lim.tl.json"));
    const char *llm[] = {"gen", "llm", "--preset", "llama3-8b", "--tp", "2", "--pp", "2", "--dp",
                         "1", "-q", "--out", loomrun_path("lim/l"), NULL};
    rc = run_limited(16384, llm);
    expect(rc, 5, "File too large", NULL);
    assert_false(exists("lim"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symlink_output),
        cmocka_unit_test(test_stdout_output),
        cmocka_unit_test(test_fifo_output),
        cmocka_unit_test(test_output_is_input),
        cmocka_unit_test(test_outputs_alike),
        cmocka_unit_test(test_missing_folder),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_timeline_overhead),
        cmocka_unit_test(test_full_device),
        cmocka_unit_test(test_full_stdout_every_command),
        cmocka_unit_test(test_file_size_limit),
    };
    return cmocka_run_group_tests(tests, loomrun_setup, loomrun_teardown);
}

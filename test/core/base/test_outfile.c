/*
 * Tests of core/base/outfile.c: where outputs land (symbolic links
 * followed, devices, FIFOs and standard output written directly), the
 * output set's checks (folders, outputs alike, outputs that are inputs),
 * all-or-nothing commits, failed writes (/dev/full, the file-size limit)
 * with the OS reason in the message and no temporary left, and
 * loom_utf8.  Linked with --wrap=malloc,... so every test is also a leak
 * check (the blocks loom's code allocates go through cmocka).  Nothing
 * here needs root or touches anything outside its scratch folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "outfile.h"

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_malloc(size_t n) { return _test_malloc(n, __FILE__, __LINE__); }
void *__wrap_calloc(size_t n, size_t size) { return _test_calloc(n, size, __FILE__, __LINE__); }
void *__wrap_realloc(void *p, size_t n) { return _test_realloc(p, n, __FILE__, __LINE__); }
void __wrap_free(void *p)
{
    if (p)
        _test_free(p, __FILE__, __LINE__);
}

static char dir[64]; /* this test's scratch folder, emptied before each test */

static const char *P(const char *name)
{
    static char buf[8][300];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 300, "%s/%s", dir, name);
    return p;
}

static void put(const char *name, const char *text)
{
    FILE *f = fopen(P(name), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The file's text ("" if absent; at most 4095 bytes). */
static const char *get(const char *name)
{
    static char buf[4096];
    buf[0] = '\0';
    FILE *f = fopen(P(name), "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

/* Entries of the scratch folder (and of its sub-folder "sub"), "." and ".."
 * not counted; fails on any name holding ".tmp.". */
static int entries(void)
{
    int n = 0;
    const char *dirs[2] = {dir, P("sub")};
    for (int i = 0; i < 2; i++) {
        DIR *d = opendir(dirs[i]);
        if (d == NULL)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (strstr(e->d_name, ".tmp."))
                fail_msg("temporary left: %s", e->d_name);
            n++;
        }
        closedir(d);
    }
    return n;
}

static void empty_dir(const char *d)
{
    DIR *dd = opendir(d);
    if (dd == NULL)
        return;
    struct dirent *e;
    char p[600];
    while ((e = readdir(dd)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", d, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            empty_dir(p);
            rmdir(p);
        } else {
            unlink(p);
        }
    }
    closedir(dd);
}

static int reset(void **state)
{
    (void)state;
    empty_dir(dir);
    return 0;
}

/* A device named without naming /dev: "/proc/self/fd/N" for the device
 * opened as N.  An outfile that renamed over its output, run as root,
 * would fail to create a temporary in /proc instead of replacing the
 * system's device.  Closed by the caller (*fd). */
static const char *dev_path(const char *dev, int *fd)
{
    static char buf[64];
    *fd = open(dev, O_WRONLY);
    assert_true(*fd >= 0);
    snprintf(buf, sizeof buf, "/proc/self/fd/%d", *fd);
    return buf;
}

static int put_str(FILE *f, void *arg) { return fputs(arg, f) < 0 ? -1 : 0; }

/* ---- where an output lands ------------------------------------------------ */

/* A link stays a link and its target gets the bytes, also through a chain
 * of links, a relative link in another folder, and a dangling link. */
static void test_symlinks(void **state)
{
    (void)state;
    loom_err err = {0};
    put("t.txt", "old");
    assert_int_equal(symlink("t.txt", P("l.txt")), 0);
    assert_int_equal(loom_write_text(P("l.txt"), "new", 3, &err), 0);
    struct stat st;
    assert_int_equal(lstat(P("l.txt"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_string_equal(get("t.txt"), "new");

    assert_int_equal(mkdir(P("sub"), 0755), 0);
    assert_int_equal(symlink("../l.txt", P("sub/l2")), 0); /* sub/l2 -> l.txt -> t.txt */
    assert_int_equal(loom_write_text(P("sub/l2"), "again", 5, &err), 0);
    assert_int_equal(lstat(P("sub/l2"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_string_equal(get("t.txt"), "again");

    assert_int_equal(symlink("new.txt", P("dangling")), 0);
    assert_int_equal(loom_write_text(P("dangling"), "x", 1, &err), 0);
    assert_int_equal(lstat(P("dangling"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_string_equal(get("new.txt"), "x");
    assert_int_equal(entries(), 6); /* t.txt l.txt sub sub/l2 dangling new.txt */

    /* a stream too */
    loom_out *o = loom_out_open(P("l.txt"), &err);
    assert_non_null(o);
    loom_out_printf(o, "%s", "streamed");
    assert_int_equal(loom_out_commit(o, &err), 0);
    assert_int_equal(lstat(P("l.txt"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_string_equal(get("t.txt"), "streamed");
}

/* A FIFO is opened and written, not replaced: a child reads it. */
static void test_fifo(void **state)
{
    (void)state;
    assert_int_equal(mkfifo(P("fifo"), 0600), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(30); /* a FIFO replaced by a file would leave this open waiting */
        int in = open(P("fifo"), O_RDONLY);
        int out = open(P("got"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char buf[256];
        ssize_t n;
        while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n)
                _exit(2);
        _exit(in >= 0 && out >= 0 ? 0 : 1);
    }
    loom_err err = {0};
    int rc = loom_write_text(P("fifo"), "through the pipe\n", 17, &err);
    int status;
    waitpid(pid, &status, 0);
    assert_int_equal(rc, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_string_equal(get("got"), "through the pipe\n");
    struct stat st;
    assert_int_equal(lstat(P("fifo"), &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    /* a character device, twice in one set: allowed */
    int nfd;
    const char *null = dev_path("/dev/null", &nfd);
    loom_outset *s = loom_outset_create();
    int a = loom_outset_add(s, null, "--a");
    int b = loom_outset_add(s, null, "--b");
    assert_int_equal(loom_outset_check(s, &err), 0);
    assert_int_equal(loom_outset_text(s, a, "x", 1, &err), 0);
    assert_int_equal(loom_outset_text(s, b, "y", 1, &err), 0);
    assert_int_equal(loom_outset_commit(s, &err), 0);
    loom_outset_free(s);
    close(nfd);
}

/* "-" and /dev/stdout write to standard output itself: here a file it is
 * redirected to, which stays the same file (no rename over it).
 * /dev/stdout is spelled /proc/self/fd/1 when root (see dev_path). */
static void test_stdout(void **state)
{
    (void)state;
    fflush(stdout);
    int saved = dup(1);
    int fd = open(P("out"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    struct stat before, after;
    assert_int_equal(fstat(fd, &before), 0);
    dup2(fd, 1);
    close(fd);
    loom_err err = {0};
    loom_outset *s = loom_outset_create();
    int k = loom_outset_add(s, "-", "--json");
    int rc1 = loom_outset_check(s, &err);
    int is_stdout = loom_outset_stdout(s);
    int rc2 = rc1 == 0 ? loom_outset_text(s, k, "one\n", 4, &err) : -1;
    int rc3 = rc2 == 0 ? loom_outset_commit(s, &err) : -1;
    loom_outset_free(s);
    printf("two\n"); /* stays in order with what the command prints */
    const char *std = geteuid() == 0 ? "/proc/self/fd/1" : "/dev/stdout";
    int rc4 = loom_write_text(std, "three\n", 6, &err);
    loom_out *o = loom_out_open(std, &err);
    int rc5 = o ? loom_out_printf(o, "four\n") : -1;
    int rc6 = o ? loom_out_commit(o, &err) : -1;
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    assert_int_equal(rc1, 0);
    assert_int_equal(is_stdout, 1);
    assert_int_equal(rc2, 0);
    assert_int_equal(rc3, 0);
    assert_int_equal(rc4, 0);
    assert_int_equal(rc5, 0);
    assert_int_equal(rc6, 0);
    assert_string_equal(get("out"), "one\ntwo\nthree\nfour\n");
    assert_int_equal(stat(P("out"), &after), 0);
    assert_true(before.st_ino == after.st_ino);
    assert_int_equal(entries(), 1);
}

/* ---- the set's checks ----------------------------------------------------- */

static void expect_refused(loom_outset *s, int code, const char *needle1, const char *needle2)
{
    loom_err err = {0};
    assert_int_equal(loom_outset_check(s, &err), code);
    if (strstr(err.msg, needle1) == NULL || (needle2 && strstr(err.msg, needle2) == NULL))
        fail_msg("message '%s' lacks '%s' / '%s'", err.msg, needle1, needle2 ? needle2 : "");
    loom_outset_free(s);
}

static void test_outputs_alike(void **state)
{
    (void)state;
    /* the same name twice */
    loom_outset *s = loom_outset_create();
    loom_outset_add(s, P("a.out"), "--json");
    loom_outset_add(s, P("a.out"), "--csv");
    expect_refused(s, LOOM_EUSAGE, "--json", "--csv");
    /* a link to the other, and "./" spellings */
    assert_int_equal(symlink("b.out", P("lb")), 0);
    s = loom_outset_create();
    loom_outset_add(s, P("b.out"), "--json");
    loom_outset_add(s, P("lb"), "--timeline");
    expect_refused(s, LOOM_EUSAGE, "--timeline", "same file");
    s = loom_outset_create();
    loom_outset_add(s, P("c.out"), "--json");
    char alias[300];
    snprintf(alias, sizeof alias, "%s/./c.out", dir);
    loom_outset_add(s, alias, "--csv");
    expect_refused(s, LOOM_EUSAGE, "same file", NULL);
    /* standard output twice */
    s = loom_outset_create();
    loom_outset_add(s, "-", "--json");
    loom_outset_add(s, "-", "--csv");
    expect_refused(s, LOOM_EUSAGE, "standard output", NULL);
    /* a side file that is one of the rank files */
    s = loom_outset_create();
    loom_outset_add_ranks(s, P("w"), 4, "--out");
    loom_outset_add(s, P("w.3.et"), "--network-out");
    expect_refused(s, LOOM_EUSAGE, "--network-out", "w.3.et");
    /* a rank file that links to a side file */
    assert_int_equal(symlink("side.yml", P("w.1.et")), 0);
    s = loom_outset_create();
    loom_outset_add_ranks(s, P("w"), 4, "--out");
    loom_outset_add(s, P("side.yml"), "--system-out");
    expect_refused(s, LOOM_EUSAGE, "w.1.et", "--system-out");
    assert_int_equal(entries(), 2); /* the two links: nothing created */
}

static void test_output_is_input(void **state)
{
    (void)state;
    put("net.yml", "topology: [ Ring ]\n");
    put("w.0.et", "trace bytes");
    loom_outset *s = loom_outset_create();
    loom_outset_add(s, P("net.yml"), "--json");
    loom_outset_input(s, P("net.yml"), "the network file");
    expect_refused(s, LOOM_EUSAGE, "--json", "the network file");
    /* through a link, and a hard link */
    assert_int_equal(symlink("w.0.et", P("l.json")), 0);
    assert_int_equal(link(P("w.0.et"), P("h.json")), 0);
    s = loom_outset_create();
    loom_outset_add(s, P("l.json"), "--json");
    loom_outset_input(s, P("w.0.et"), "the rank trace");
    expect_refused(s, LOOM_EUSAGE, "l.json", "the rank trace");
    s = loom_outset_create();
    loom_outset_add(s, P("h.json"), "--csv");
    loom_outset_input(s, P("w.0.et"), "the rank trace");
    expect_refused(s, LOOM_EUSAGE, "h.json", "w.0.et");
    /* a rank file of a generator that is its input */
    s = loom_outset_create();
    loom_outset_add_ranks(s, P("w"), 2, "--out");
    loom_outset_input(s, P("w.0.et"), "the text workload");
    expect_refused(s, LOOM_EUSAGE, "w.0.et", "the text workload");
    assert_string_equal(get("net.yml"), "topology: [ Ring ]\n");
    assert_string_equal(get("w.0.et"), "trace bytes");
    assert_int_equal(entries(), 4);
    /* an input that does not exist is its reader's business */
    loom_err err = {0};
    s = loom_outset_create();
    loom_outset_add(s, P("ok.json"), "--json");
    loom_outset_input(s, P("missing.yml"), "the network file");
    assert_int_equal(loom_outset_check(s, &err), 0);
    loom_outset_free(s); /* never written: its temporary goes */
    assert_int_equal(entries(), 4);
}

/* A missing folder is refused at check, naming it and the reason, before
 * anything is created for the other outputs. */
static void test_missing_folder(void **state)
{
    (void)state;
    loom_outset *s = loom_outset_create();
    loom_outset_add(s, P("first.json"), "--json");
    loom_outset_add(s, P("nodir/x.csv"), "--csv");
    expect_refused(s, LOOM_EIO, "nodir", "No such file or directory");
    s = loom_outset_create();
    loom_outset_add_ranks(s, P("nodir/w"), 2, "--out");
    expect_refused(s, LOOM_EIO, "nodir", "No such file or directory");
    put("file", "");
    s = loom_outset_create();
    loom_outset_add(s, P("file/x.csv"), "--csv");
    expect_refused(s, LOOM_EIO, "file/x.csv", "Not a directory");
    s = loom_outset_create();
    loom_outset_add(s, dir, "--csv");
    expect_refused(s, LOOM_EIO, "is a folder", NULL);
    assert_int_equal(entries(), 1);
}

/* ---- all or nothing ------------------------------------------------------- */

static int fail_enospc(FILE *f, void *arg)
{
    (void)f;
    (void)arg;
    errno = ENOSPC;
    return -1;
}

static void test_commit_together(void **state)
{
    (void)state;
    loom_err err = {0};
    put("b.csv", "old b");
    /* the second writer fails: neither output changes */
    loom_outset *s = loom_outset_create();
    int a = loom_outset_add(s, P("a.json"), "--json");
    int b = loom_outset_add(s, P("b.csv"), "--csv");
    assert_int_equal(loom_outset_check(s, &err), 0);
    assert_int_equal(loom_outset_write(s, a, put_str, "new a", &err), 0);
    assert_int_equal(loom_outset_write(s, b, fail_enospc, NULL, &err), LOOM_EIO);
    assert_non_null(strstr(err.msg, "No space left on device"));
    assert_non_null(strstr(err.msg, "--csv"));
    assert_int_equal(loom_outset_commit(s, &err), LOOM_EIO);
    loom_outset_free(s);
    assert_string_equal(get("a.json"), "");
    assert_string_equal(get("b.csv"), "old b");
    assert_int_equal(entries(), 1);
    /* both succeed: nothing appears before the commit */
    s = loom_outset_create();
    a = loom_outset_add(s, P("a.json"), "--json");
    b = loom_outset_add(s, P("b.csv"), "--csv");
    int r = loom_outset_add_ranks(s, P("w"), 3, "--out");
    assert_int_equal(loom_outset_check(s, &err), 0);
    assert_int_equal(loom_outset_write(s, a, put_str, "new a", &err), 0);
    loom_out *o = loom_outset_stream(s, b, &err);
    assert_non_null(o);
    loom_out_printf(o, "new %c", 'b');
    assert_int_equal(loom_out_commit(o, &err), 0);
    char tmp[400];
    for (int k = 0; k < 3; k++) {
        assert_int_equal(loom_outset_member(s, r, k, tmp, sizeof tmp, &err), 0);
        FILE *f = fopen(tmp, "w");
        assert_non_null(f);
        fprintf(f, "rank %d", k);
        fclose(f);
    }
    assert_string_equal(get("a.json"), "");
    assert_string_equal(get("b.csv"), "old b");
    assert_string_equal(get("w.0.et"), "");
    assert_int_equal(loom_outset_commit(s, &err), 0);
    loom_outset_free(s);
    assert_string_equal(get("a.json"), "new a");
    assert_string_equal(get("b.csv"), "new b");
    assert_string_equal(get("w.2.et"), "rank 2");
    assert_int_equal(entries(), 5);
    /* a family aborted half-written leaves nothing */
    s = loom_outset_create();
    r = loom_outset_add_ranks(s, P("v"), 3, "--out");
    assert_int_equal(loom_outset_check(s, &err), 0);
    assert_int_equal(loom_outset_member(s, r, 0, tmp, sizeof tmp, &err), 0);
    put(strrchr(tmp, '/') + 1, "half");
    loom_outset_free(s);
    assert_int_equal(entries(), 5);
    /* a family committed with a rank missing: refused before any rename,
     * so the files already there keep their old contents */
    s = loom_outset_create();
    r = loom_outset_add_ranks(s, P("w"), 3, "--out");
    assert_int_equal(loom_outset_check(s, &err), 0);
    assert_int_equal(loom_outset_member(s, r, 0, tmp, sizeof tmp, &err), 0);
    put(strrchr(tmp, '/') + 1, "new 0");
    loom_err e2 = {0};
    assert_int_equal(loom_outset_commit(s, &e2), LOOM_EIO);
    assert_non_null(strstr(e2.msg, "rank 1 was not written"));
    loom_outset_free(s);
    assert_string_equal(get("w.0.et"), "rank 0");
    assert_int_equal(entries(), 5);
}

/* ---- failed writes --------------------------------------------------------- */

static void test_dev_full(void **state)
{
    (void)state;
    loom_err err = {0};
    int fd;
    const char *full = dev_path("/dev/full", &fd);
    assert_int_equal(loom_write_text(full, "x", 1, &err), LOOM_EIO);
    assert_non_null(strstr(err.msg, full));
    assert_non_null(strstr(err.msg, "No space left on device"));
    loom_err e2 = {0};
    loom_out *o = loom_out_open(full, &e2);
    assert_non_null(o);
    static char big[1 << 16];
    loom_out_write(o, big, sizeof big);
    assert_int_equal(loom_out_commit(o, &e2), LOOM_EIO);
    assert_non_null(strstr(e2.msg, "No space left on device"));
    close(fd);
}

/* Under a file-size limit (setrlimit in a child, as `ulimit -f` does) a
 * write fails with EFBIG instead of SIGXFSZ killing the process, the
 * message says so, and no temporary is left; plain, gzip and a set. */
static void test_file_size_limit(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {4096, 4096};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(10);
        static char big[1 << 16];
        memset(big, 'x', sizeof big);
        loom_err err = {0};
        if (loom_write_text(P("big.txt"), big, sizeof big, &err) != LOOM_EIO ||
            strstr(err.msg, "File too large") == NULL)
            _exit(11);
        loom_err e2 = {0};
        loom_out *o = loom_out_open(P("big.json"), &e2);
        if (o == NULL)
            _exit(12);
        for (int k = 0; k < 4; k++)
            loom_out_write(o, big, sizeof big);
        if (loom_out_commit(o, &e2) != LOOM_EIO || strstr(e2.msg, "File too large") == NULL)
            _exit(13);
        loom_err e3 = {0};
        o = loom_out_open(P("big.json.gz"), &e3);
        if (o == NULL)
            _exit(14);
        for (int k = 0; k < 64; k++) { /* random enough not to compress below the limit */
            for (size_t i = 0; i < sizeof big; i++)
                big[i] = (char)(rand() & 0xff);
            loom_out_write(o, big, sizeof big);
        }
        if (loom_out_commit(o, &e3) != LOOM_EIO)
            _exit(15);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("child: %s %d", WIFEXITED(status) ? "exit" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    assert_int_equal(entries(), 0);
}

/* ---- UTF-8 ------------------------------------------------------------------ */

static void expect_utf8(const char *in, const char *want)
{
    char *fixed;
    const char *got = loom_utf8(in, &fixed);
    assert_string_equal(got, want);
    if (strcmp(in, want) == 0) {
        assert_ptr_equal(got, in); /* valid text is not copied */
        assert_null(fixed);
    }
    free(fixed);
}

#define FFFD "\xEF\xBF\xBD"

static void test_utf8(void **state)
{
    (void)state;
    expect_utf8("", "");
    expect_utf8("plain ascii", "plain ascii");
    expect_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    expect_utf8("\xff\xfe", FFFD FFFD);
    expect_utf8("a\xffz", "a" FFFD "z");
    expect_utf8("\xC0\xAF", FFFD FFFD);                 /* overlong '/' */
    expect_utf8("\xE0\x80\xAF", FFFD FFFD FFFD);        /* overlong, 3 bytes */
    expect_utf8("\xED\xA0\x80", FFFD FFFD FFFD);        /* a surrogate */
    expect_utf8("\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* above U+10FFFF */
    expect_utf8("x\xE2\x82", "x" FFFD FFFD);            /* cut short at the end */
    expect_utf8("\xE2\x82\xE2\x82\xAC", FFFD FFFD "\xE2\x82\xAC");
    expect_utf8("\x80" "ok", FFFD "ok");                /* a lone continuation byte */
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/loom-outfile-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    empty_dir(dir);
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_symlinks, reset),
        cmocka_unit_test_setup(test_fifo, reset),
        cmocka_unit_test_setup(test_stdout, reset),
        cmocka_unit_test_setup(test_outputs_alike, reset),
        cmocka_unit_test_setup(test_output_is_input, reset),
        cmocka_unit_test_setup(test_missing_folder, reset),
        cmocka_unit_test_setup(test_commit_together, reset),
        cmocka_unit_test_setup(test_dev_full, reset),
        cmocka_unit_test_setup(test_file_size_limit, reset),
        cmocka_unit_test_setup(test_utf8, reset),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

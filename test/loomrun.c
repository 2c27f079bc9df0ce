#define _XOPEN_SOURCE 700 /* nftw */
#include "loomrun.h"

#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

unsigned loomrun_alarm_s = 240;
unsigned long long loomrun_as_limit;
char loomrun_out[1 << 16];
char loomrun_err[1 << 16];

void loomrun_slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

void loomrun_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
        fprintf(stderr, "test: cannot write %s\n", path);
        abort();
    }
}

json_t *loomrun_json(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (j == NULL) {
        fprintf(stderr, "test: %s: line %d: %s\n", path, je.line, je.text);
        abort();
    }
    return j;
}

double loomrun_step_ns(const char *json)
{
    json_t *j = loomrun_json(json);
    double v = json_number_value(json_object_get(j, "step_time_ns"));
    json_decref(j);
    return v;
}

pid_t loomrun_startv(const char *dir, const char *const *args)
{
    const char *argv[64];
    int argc = 0;
    argv[argc++] = LOOM_BIN;
    for (int i = 0; args[i] && argc < 63; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    char so[600], se[600];
    snprintf(so, sizeof so, "%s/stdout", dir);
    snprintf(se, sizeof se, "%s/stderr", dir);
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(so, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(se, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fo, 1);
        dup2(fe, 2);
        if (loomrun_as_limit) {
            struct rlimit rl = {(rlim_t)loomrun_as_limit, (rlim_t)loomrun_as_limit};
            setrlimit(RLIMIT_AS, &rl);
        }
        alarm(loomrun_alarm_s); /* survives execv */
        execv(LOOM_BIN, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

int loomrun_wait(const char *dir, pid_t pid)
{
    int st;
    waitpid(pid, &st, 0);
    char so[600], se[600];
    snprintf(so, sizeof so, "%s/stdout", dir);
    snprintf(se, sizeof se, "%s/stderr", dir);
    loomrun_slurp(so, loomrun_out, sizeof loomrun_out);
    loomrun_slurp(se, loomrun_err, sizeof loomrun_err);
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "loom died of signal %d\nstderr: %s\n", WTERMSIG(st), loomrun_err);
        return 128 + WTERMSIG(st);
    }
    return WEXITSTATUS(st);
}

int loomrun_run(const char *dir, const char *first, ...)
{
    const char *args[64];
    int n = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 63; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return loomrun_wait(dir, loomrun_startv(dir, args));
}

char loomrun_tmp[256];

int loomrun_setup(void **state)
{
    (void)state;
    snprintf(loomrun_tmp, sizeof loomrun_tmp, "/tmp/loom-e2e-XXXXXX");
    return mkdtemp(loomrun_tmp) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

int loomrun_teardown(void **state)
{
    (void)state;
    /* depth first, not following links: a test's symlinks go, their targets stay */
    return nftw(loomrun_tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

char *loomrun_path(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", loomrun_tmp, name);
    return p;
}

void loomrun_copy(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    if (a == NULL || b == NULL) {
        fprintf(stderr, "loomrun_copy %s -> %s: cannot open\n", from, to);
        abort();
    }
    char buf[1 << 15];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        if (fwrite(buf, 1, n, b) != n) {
            fprintf(stderr, "loomrun_copy %s -> %s: write failed\n", from, to);
            abort();
        }
    fclose(a);
    if (fclose(b) != 0)
        abort();
}

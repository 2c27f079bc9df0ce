#include "sweep_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

/* The linker's --wrap sends loom's malloc/calloc/realloc/free here. */
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_malloc(size_t n) { return _test_malloc(n, __FILE__, __LINE__); }
void *__wrap_calloc(size_t n, size_t size) { return _test_calloc(n, size, __FILE__, __LINE__); }
void *__wrap_realloc(void *p, size_t n) { return _test_realloc(p, n, __FILE__, __LINE__); }
void __wrap_free(void *p)
{
    if (p) /* free(NULL) is a no-op; cmocka's test_free asserts on it */
        _test_free(p, __FILE__, __LINE__);
}

static char scratch[64];

int su_setup(void **state)
{
    (void)state;
    snprintf(scratch, sizeof scratch, "/tmp/loom_sweep_testXXXXXX");
    return mkdtemp(scratch) ? 0 : -1;
}

int su_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(scratch);
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlink(su_path(e->d_name));
    closedir(d);
    return rmdir(scratch);
}

const char *su_path(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", scratch, name);
    return p;
}

const char *su_put(const char *name, const char *text)
{
    const char *p = su_path(name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    return p;
}

char *su_read(const char *name)
{
    FILE *f = fopen(su_path(name), "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0, got;
    char *b = malloc(cap);
    while ((got = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0)
            b = realloc(b, cap *= 2);
    }
    fclose(f);
    b[n] = '\0';
    return b;
}

int su_spec(sw_spec *s, const char *name, const char *text, loom_err *err)
{
    loom_err_clear(err);
    return sw_spec_load(s, su_put(name, text), err);
}

#include "sim_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[64]; /* the scratch folder, "" before st_setup */

int st_setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/loom_simXXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        return -1;
    /* no user catalog may leak into a test */
    setenv("XDG_CONFIG_HOME", "/nonexistent-loom-test", 1);
    return 0;
}

int st_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

const char *st_dir(void) { return dir; }

const char *st_path(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

void st_put(const char *name, const char *text)
{
    FILE *f = fopen(st_path(name), "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

char *st_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0, got;
    char *s = malloc(cap);
    assert_non_null(s);
    while ((got = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) {
            cap *= 2;
            s = realloc(s, cap);
            assert_non_null(s);
        }
    }
    fclose(f);
    s[n] = '\0';
    return s;
}

int st_load(loom_cfg *cfg, const char *net_text, const char *sys_text, const char *const *sets,
            int nsets, loom_err *err)
{
    char net[512], sys[512];
    st_put("net.yml", net_text);
    st_put("sys.yaml", sys_text);
    snprintf(net, sizeof net, "%s", st_path("net.yml"));
    snprintf(sys, sizeof sys, "%s", st_path("sys.yaml"));
    loom_cfg_files f = {.network = net, .system = sys, .sets = sets, .nsets = nsets};
    memset(err, 0, sizeof *err);
    return loom_cfg_load(cfg, &f, err);
}

/*
 * prefault.c: the helper thread of prefault.h.  A ring of requests under
 * one mutex; the helper serves the newest first, a slice at a time, the
 * mutex released while the kernel populates.
 */
#include "prefault.h"

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
#define POPULATE 1
#else
#define POPULATE 0
#endif

enum { SLICE = 4 << 20 };

static struct {
    char *p;
    size_t n;
} q[LOOM_PREFAULT_QUEUE];
static size_t nq;           /* requests waiting: q[0 .. nq-1], newest last */
static int busy;            /* the helper is populating a slice */
static int state;           /* 0 not started, 1 running, -1 off */
static size_t done;         /* bytes populated */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;

#if POPULATE
static void *helper(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (nq == 0)
            pthread_cond_wait(&work, &mu);
        char *p = q[nq - 1].p;
        size_t n = q[nq - 1].n, k = n < SLICE ? n : SLICE;
        if (n > k) {
            q[nq - 1].p = p + k;
            q[nq - 1].n = n - k;
        } else {
            nq--;
        }
        busy = 1;
        pthread_mutex_unlock(&mu);
        int ok = madvise(p, k, MADV_POPULATE_WRITE) == 0;
        pthread_mutex_lock(&mu);
        busy = 0;
        if (ok)
            done += k;
        if (nq == 0)
            pthread_cond_broadcast(&idle);
    }
    return NULL;
}

/* In a child of fork(2) the helper does not exist (only the forking
 * thread is copied): begin again from nothing, so that a request there
 * starts a helper of its own and loom_prefault_wait cannot wait for one
 * that is not there. */
static void after_fork_child(void)
{
    pthread_mutex_init(&mu, NULL);
    pthread_cond_init(&work, NULL);
    pthread_cond_init(&idle, NULL);
    nq = 0;
    busy = 0;
    state = 0;
}

/* 1 when this kernel populates on request (probed once on a page of our
 * own: an old kernel answers EINVAL) and the helper started. */
static int start(void)
{
    static int registered;
    if (!registered && pthread_atfork(NULL, NULL, after_fork_child) == 0)
        registered = 1;
    long pg = sysconf(_SC_PAGESIZE);
    void *t = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED)
        return 0;
    int ok = madvise(t, (size_t)pg, MADV_POPULATE_WRITE) == 0;
    munmap(t, (size_t)pg);
    pthread_t th;
    if (!ok || pthread_create(&th, NULL, helper, NULL) != 0)
        return 0;
    pthread_detach(th);
    return 1;
}
#endif

void loom_prefault(void *p, size_t n)
{
#if POPULATE
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + pg - 1) & ~(pg - 1), b = ((uintptr_t)p + n) & ~(pg - 1);
    if (p == NULL || b <= a)
        return;
    pthread_mutex_lock(&mu);
    if (state == 0)
        state = start() ? 1 : -1;
    if (state == 1 && nq < LOOM_PREFAULT_QUEUE) {
        q[nq].p = (char *)a;
        q[nq].n = b - a;
        nq++;
        pthread_cond_signal(&work);
    }
    pthread_mutex_unlock(&mu);
#else
    (void)p;
    (void)n;
#endif
}

size_t loom_prefault_wait(void)
{
    pthread_mutex_lock(&mu);
    while (nq > 0 || busy)
        pthread_cond_wait(&idle, &mu);
    size_t d = done;
    pthread_mutex_unlock(&mu);
    return d;
}

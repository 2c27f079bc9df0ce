#include "sweep_int.h"

/*
 * sweep_run.c: the configurations of a sweep run as worker processes on
 * one libev loop (docs/SWEEP.md, "Workers").
 *
 * A worker is `/proc/self/exe run ... --json TMP --quiet` (the very binary
 * running the sweep), in its own process group (a terminal's Ctrl-C
 * reaches only the sweep, which then kills them) and with
 * PR_SET_PDEATHSIG, so a SIGKILLed sweep leaves no worker running.  With a
 * `gen` recipe a configuration has two phases in its slot: `loom gen ...
 * --out TMP/IDX/w` and, when that succeeds, `loom run --workload
 * TMP/IDX/w`; the trace is removed when the row is written.  libev's
 * default loop watches their exits (ev_child), their stderr pipes (ev_io),
 * their timeouts and the progress bar (ev_timer), and SIGINT/SIGTERM/
 * SIGHUP (ev_signal).
 *
 * Invariants: a slot is free exactly when its idx is -1; a configuration
 * gets a row only when its worker's exit and its stderr's EOF have both
 * been seen (or it could not start), and never when we killed it on an
 * interrupt: it reruns on resume.  Nothing time- or pid-dependent goes
 * into a row: scratch paths are replaced by stable names.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct sw_job {
    ev_child cw;          /* its exit */
    ev_io iow;            /* its stderr */
    ev_timer tw;          /* --timeout */
    sw_run_state *sw;     /* owner */
    long long idx;        /* configuration; -1: slot free */
    pid_t pid;            /* the worker */
    int fd;               /* read end of its stderr; -1 after EOF */
    int exited;           /* ev_child fired */
    int status;           /* its wait status */
    int timed_out;        /* killed by --timeout, or outlived it */
    double t_start;       /* monotonic seconds when the configuration started */
    int killed;           /* killed by us (timeout or interrupt) */
    char line[SW_ERR_TEXT_MAX + 1]; /* first line of its stderr */
    size_t nline;         /* bytes in line */
    int line_done;        /* saw the end of the first line */
    char json[PATH_MAX + 32]; /* where it writes its report */
    int phase;            /* 0: `loom gen` (with a gen recipe), 1: `loom run` */
    char gendir[PATH_MAX + 32]; /* the generated trace's directory */
    char genprefix[PATH_MAX + 48]; /* and its prefix */
};

double sw_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void sw_rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char p[PATH_MAX + 300];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Keeps the first line of what fd delivers (up to cap - 1 bytes) and reads
 * on to EOF, so the writer never blocks on a full pipe. */
static void first_line(int fd, char *line, size_t cap)
{
    size_t n = 0;
    int done = 0;
    char buf[4096];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        for (ssize_t k = 0; k < r && !done; k++) {
            if (buf[k] == '\n')
                done = 1;
            else if (n + 1 < cap)
                line[n++] = buf[k];
        }
    }
    line[n] = '\0';
}

int sw_run_sync(const char *const *argv, char *line, size_t cap)
{
    int pfd[2];
    line[0] = '\0';
    if (pipe(pfd) != 0)
        return 127;
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_RDWR);
        if (dn < 0 || dup2(dn, 0) < 0 || dup2(dn, 1) < 0 || dup2(pfd[1], 2) < 0)
            _exit(127);
        close(pfd[0]);
        execv("/proc/self/exe", (char *const *)argv);
        dprintf(2, "loom sweep: cannot run /proc/self/exe: %s\n", strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    first_line(pfd[0], line, cap);
    close(pfd[0]);
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return 127;
    return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

/* ---- rows ----------------------------------------------------------------- */

static void kill_all(sw_run_state *sw)
{
    for (int i = 0; i < sw->jobs; i++) {
        sw_job *j = &sw->slot[i];
        if (j->idx >= 0 && !j->exited) {
            kill(-j->pid, SIGKILL);
            j->killed = 1;
        }
    }
}

/* Replaces every `from` in s (capacity cap) with `to`. */
static void replace_all(char *s, size_t cap, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    char *p = s;
    while (fl && (p = strstr(p, from)) != NULL) {
        size_t rest = strlen(p + fl);
        if ((size_t)(p - s) + tl + rest + 1 > cap)
            return;
        memmove(p + tl, p + fl, rest + 1);
        memcpy(p, to, tl);
        p += tl;
    }
}

/* How a finished job ended: its status and exit code, an error text, and
 * for an ok row its JSON report (*report, the caller's to decref). */
static const char *job_outcome(sw_run_state *sw, sw_job *j, int *code, char *err, size_t cap,
                               json_t **report)
{
    *report = NULL;
    if (j->timed_out) {
        *code = 128 + SIGKILL;
        snprintf(err, cap, "no result after %g s (--timeout); killed", sw->timeout);
        sw->n_timeout++;
        return "timeout";
    }
    if (WIFSIGNALED(j->status)) {
        *code = 128 + WTERMSIG(j->status);
        snprintf(err, cap, "killed by signal %d (%s)%s%s", WTERMSIG(j->status),
                 strsignal(WTERMSIG(j->status)), j->nline ? ": " : "", j->line);
        sw->n_crashed++;
        return "crashed";
    }
    if ((*code = WEXITSTATUS(j->status)) != 0) {
        snprintf(err, cap, "%s%s", j->phase == 0 && sw->spec->gen ? "loom gen: " : "",
                 j->nline ? j->line : "exited with no message");
        sw->n_failed++;
        return "failed";
    }
    json_error_t je;
    json_t *root = json_load_file(j->json, 0, &je);
    if (root == NULL || !json_is_number(json_object_get(root, "step_time_ns")) ||
        !(json_is_array(json_object_get(root, "ranks")) ||
          json_is_object(json_object_get(root, "rank_summary")))) {
        snprintf(err, cap, "worker exited 0 but its JSON report is unreadable: %s",
                 root ? "no step_time_ns, ranks or rank_summary" : je.text);
        sw->n_failed++;
        json_decref(root);
        return "failed";
    }
    *report = root;
    sw->n_ok++;
    return "ok";
}

/* Builds the row of a finished job and appends it to the CSV. */
static void write_row(sw_run_state *sw, sw_job *j)
{
    char err[SW_ERR_TEXT_MAX + 128] = "";
    int code;
    json_t *report;
    const char *status = job_outcome(sw, j, &code, err, sizeof err, &report);
    /* the scratch paths differ from run to run: name them stably */
    if (sw->spec->gen)
        replace_all(err, sizeof err, j->genprefix, "<generated trace>");
    replace_all(err, sizeof err, j->json, "<json report>");
    sbuf b = {0};
    sw_csv_row(sw->spec, j->idx, status, code, report, err, &b);
    json_decref(report);
    if (sw_csv_append(sw->outfd, b.p, b.n) != 0) {
        loom_err_set(&sw->err, LOOM_EIO, "%s: cannot append a row: %s", sw->out, strerror(errno));
        kill_all(sw);
    }
    free(b.p);
}

/* ---- the loop ------------------------------------------------------------- */

static int spawn(sw_run_state *sw, sw_job *j, long long idx, int phase);
static void start_jobs(sw_run_state *sw);

static void job_maybe_done(sw_run_state *sw, sw_job *j)
{
    if (!j->exited || j->fd >= 0)
        return;
    sw->running--;
    if (j->phase == 0 && sw->spec->gen && !j->killed && !sw->err.code && !sw->interrupted &&
        WIFEXITED(j->status) && WEXITSTATUS(j->status) == 0) {
        /* the trace is written: replay it in the same slot, under the same timeout */
        if (spawn(sw, j, j->idx, 1) == 0)
            return;
    } else {
        ev_timer_stop(sw->loop, &j->tw);
        /* a worker we killed on interrupt, or a generator whose trace is not
         * replayed yet, has no result: it reruns on resume */
        int unfinished = (j->killed && !j->timed_out) ||
                         (j->phase == 0 && WIFEXITED(j->status) && WEXITSTATUS(j->status) == 0);
        if (!sw->err.code && !unfinished)
            write_row(sw, j);
        unlink(j->json);
        if (sw->spec->gen)
            sw_rm_dir(j->gendir);
        j->idx = -1;
    }
    start_jobs(sw);
    if (sw->running == 0)
        ev_break(sw->loop, EVBREAK_ALL);
}

static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    sw_job *j = w->data;
    ev_child_stop(loop, w);
    j->exited = 1;
    j->status = w->rstatus;
    /* A run that outlived --timeout is a timeout even when its exit reached
     * the loop before the timer did (a busy machine delays both): the row
     * then does not depend on which event libev happened to run first. */
    if (j->sw->timeout > 0 && !j->timed_out && sw_now() - j->t_start > j->sw->timeout)
        j->timed_out = 1;
    job_maybe_done(j->sw, j);
}

static void on_stderr(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    sw_job *j = w->data;
    char buf[4096];
    for (;;) {
        ssize_t n = read(j->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) { /* EOF (or an error: treat as EOF) */
            ev_io_stop(loop, w);
            close(j->fd);
            j->fd = -1;
            job_maybe_done(j->sw, j);
            return;
        }
        for (ssize_t k = 0; k < n && !j->line_done; k++) {
            if (buf[k] == '\n')
                j->line_done = 1;
            else if (j->nline < SW_ERR_TEXT_MAX)
                j->line[j->nline++] = buf[k];
        }
        j->line[j->nline] = '\0';
    }
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    sw_job *j = w->data;
    if (!j->exited) {
        kill(-j->pid, SIGKILL);
        j->timed_out = j->killed = 1;
    }
}

static void draw_bar(sw_run_state *sw, int final)
{
    long long done = sw->skipped + sw->n_ok + sw->n_failed + sw->n_timeout + sw->n_crashed;
    long long ran = done - sw->skipped;
    double el = sw_now() - sw->t0;
    int width = 30;
    int fill = sw->total ? (int)(width * done / sw->total) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    char eta[32] = "";
    if (ran > 0 && done < sw->total)
        snprintf(eta, sizeof eta, ", ETA %.0f s",
                 el / (double)ran * (double)(sw->total - done));
    long long bad = sw->n_failed + sw->n_timeout + sw->n_crashed;
    fprintf(stderr, "\r[%s] %lld/%lld, %d running, %lld not ok, %.1f s%s\033[K%s", bar, done,
            sw->total, sw->running, bad, el, eta, final ? "\n" : "");
    fflush(stderr);
}

static void on_bar(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    draw_bar(w->data, 0);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    sw_run_state *sw = w->data;
    if (!sw->interrupted)
        sw->interrupted = w->signum;
    kill_all(sw);
    if (sw->running == 0)
        ev_break(sw->loop, EVBREAK_ALL);
}

/* ---- workers -------------------------------------------------------------- */

/* Forks a worker running argv with its stderr on a pipe (*fd: the read
 * end); -1 when none starts, errno saying why. */
static pid_t fork_worker(sw_run_state *sw, const char *const *argv, int *fd /* OUT */)
{
    int pfd[2];
    pid_t parent = getpid();
    pid_t pid = -1;
    if (pipe(pfd) != 0)
        return -1;
    if (fcntl(pfd[0], F_SETFD, FD_CLOEXEC) != 0 || fcntl(pfd[1], F_SETFD, FD_CLOEXEC) != 0) {
        int e = errno;
        close(pfd[0]);
        close(pfd[1]);
        errno = e;
        return -1;
    }
    pid = fork();
    if (pid == 0) { /* the worker */
        close(sw->outfd); /* so that the CSV's lock dies with the sweep, not with us */
        setpgid(0, 0);                  /* the terminal's Ctrl-C is the sweep's alone */
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a SIGKILLed sweep takes its workers along */
        if (getppid() != parent)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (dn < 0 || dup2(dn, 0) < 0 || dup2(dn, 1) < 0 || dup2(pfd[1], 2) < 0)
            _exit(127);
        execv("/proc/self/exe", (char *const *)argv);
        dprintf(2, "loom sweep: cannot run /proc/self/exe: %s\n", strerror(errno));
        _exit(127);
    }
    int e = errno;
    close(pfd[1]);
    if (pid < 0)
        close(pfd[0]);
    *fd = pfd[0];
    errno = e;
    return pid;
}

/* Slot j takes phase `phase` of configuration idx. */
static void job_reset(sw_run_state *sw, sw_job *j, long long idx, int phase)
{
    memset(j->line, 0, sizeof j->line);
    j->nline = 0;
    j->line_done = j->exited = j->status = j->timed_out = j->killed = 0;
    j->idx = idx;
    j->sw = sw;
    j->phase = phase;
    if (phase == 0 || !sw->spec->gen) { /* --timeout covers generating and running */
        ev_timer_init(&j->tw, on_timeout, sw->timeout, 0);
        j->tw.data = j;
        j->t_start = sw_now();
    }
}

/* No process started: the configuration gets a failed row and the slot is free. */
static void spawn_failed(sw_run_state *sw, sw_job *j, int e)
{
    j->status = 127 << 8;
    snprintf(j->line, sizeof j->line, "loom sweep: cannot start a worker: %s", strerror(e));
    j->nline = strlen(j->line);
    ev_timer_stop(sw->loop, &j->tw);
    if (!sw->err.code)
        write_row(sw, j);
    if (sw->spec->gen)
        sw_rm_dir(j->gendir);
    j->idx = -1;
}

/* Starts phase `phase` of configuration idx in slot j (0: its generator, when
 * the spec has a gen recipe, else straight to 1: the run); -1 (and a failed
 * row) when no process starts. */
static int spawn(sw_run_state *sw, sw_job *j, long long idx, int phase)
{
    const sw_spec *s = sw->spec;
    int *pos = loom_xcalloc((size_t)s->ngroups, sizeof *pos);
    sw_conf_pos(s, idx, pos);
    sw_conf c;
    sw_conf_build(s, pos, &c);
    free(pos);
    snprintf(j->json, sizeof j->json, "%s/%lld.json", sw->tmpdir, idx);
    snprintf(j->gendir, sizeof j->gendir, "%s/%lld", sw->tmpdir, idx);
    snprintf(j->genprefix, sizeof j->genprefix, "%s/w", j->gendir);
    if (!s->gen)
        phase = 1;
    else if (phase == 1)
        sw_conf_generated(s, &c, j->genprefix);
    const char **argv = phase == 0 ? sw_conf_gen_argv(s, &c, j->genprefix)
                                   : sw_conf_run_argv(s, &c, c.file[0] ? c.file[0] : j->genprefix,
                                                      j->json);
    job_reset(sw, j, idx, phase);
    int fd = -1;
    pid_t pid = fork_worker(sw, argv, &fd);
    int e = errno;
    free(argv);
    sw_conf_free(&c);
    if (pid < 0) {
        spawn_failed(sw, j, e);
        return -1;
    }
    j->pid = pid;
    j->fd = fd;
    fcntl(j->fd, F_SETFL, fcntl(j->fd, F_GETFL) | O_NONBLOCK);
    sw->running++;
    ev_child_init(&j->cw, on_child, pid, 0);
    j->cw.data = j;
    ev_child_start(sw->loop, &j->cw);
    ev_io_init(&j->iow, on_stderr, j->fd, EV_READ);
    j->iow.data = j;
    ev_io_start(sw->loop, &j->iow);
    if (sw->timeout > 0 && !ev_is_active(&j->tw))
        ev_timer_start(sw->loop, &j->tw);
    return 0;
}

static void start_jobs(sw_run_state *sw)
{
    if (sw->interrupted || sw->err.code)
        return;
    for (int i = 0; i < sw->jobs && sw->next < sw->ntodo && !sw->err.code; i++)
        while (sw->slot[i].idx < 0 && sw->next < sw->ntodo && !sw->err.code)
            spawn(sw, &sw->slot[i], sw->todo[sw->next++], 0);
}

int sw_run(sw_run_state *sw)
{
    sw->loop = EV_DEFAULT;
    if (sw->loop == NULL)
        return loom_err_set(&sw->err, LOOM_EINTERNAL, "cannot start the libev loop");
    const char *tmp = getenv("TMPDIR");
    snprintf(sw->tmpdir, sizeof sw->tmpdir, "%s/loom-sweep-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(sw->tmpdir) == NULL)
        return loom_err_set(&sw->err, LOOM_EIO, "%s: cannot create a temporary directory: %s",
                            sw->tmpdir, strerror(errno));
    sw->slot = loom_xcalloc((size_t)sw->jobs, sizeof *sw->slot);
    for (int i = 0; i < sw->jobs; i++) {
        sw->slot[i].idx = -1;
        sw->slot[i].fd = -1;
    }
    static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        ev_signal_init(&sw->sig_w[i], on_signal, sigs[i]);
        sw->sig_w[i].data = sw;
        ev_signal_start(sw->loop, &sw->sig_w[i]);
    }
    if (sw->bar) {
        ev_timer_init(&sw->bar_w, on_bar, 0.2, 0.2);
        sw->bar_w.data = sw;
        ev_timer_start(sw->loop, &sw->bar_w);
    }
    start_jobs(sw);
    if (sw->running > 0)
        ev_run(sw->loop, 0);
    if (sw->bar) {
        ev_timer_stop(sw->loop, &sw->bar_w);
        draw_bar(sw, 1);
    }
    for (int i = 0; i < 3; i++)
        ev_signal_stop(sw->loop, &sw->sig_w[i]);
    rmdir(sw->tmpdir);
    free(sw->slot);
    ev_loop_destroy(sw->loop);
    return sw->err.code;
}

/* `cgalr grid`: every (method, learning rate, seed) of an evaluation grid as its own `cgalr train`
 * process and run directory. A manifest (DIR/grid.json) records the command, so rerunning it skips
 * finished runs and resumes interrupted ones, and a different command is refused unless --force.
 *
 * One writer at a time: the grid holds DIR/.grid.lock for its life and every run holds its own
 * DIR/<run>/.lock (cgalr train takes it), both released by the kernel when the holder dies. The
 * children die with the grid (PR_SET_PDEATHSIG), so a rerun never meets a live orphan. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgalr/ctrl.h"
#include "cgalr/lock.h"
#include "cgalr/report.h"
#include "cgalr/train.h"
#include "cli/cli.h"
#include "cli/dist.h"
#include "cli/grid.h"
#include "core/clock.h"
#include "core/files.h"

static volatile sig_atomic_t grid_stop = 0;
static void on_signal(int sig)
{
    grid_stop = 1;
    (void)sig;
}

/* ---- running ------------------------------------------------------------------------------- */

static pid_t launch(const char *self, const grid_args *g, job *j)
{
    char *args[MAX_PASS + 33];
    args[0] = "cgalr";
    grid_train_argv(g, j, args + 1);
    return cli_spawn_run(self, args, j->dir);
}

/* The finished run's final test accuracy from its summary.json ("?" when absent). */
static void final_acc(const char *dir, char *buf, size_t n)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/summary.json", dir);
    char *text = cli_read_text(p);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "final_test_acc");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "diverged");
    if (cJSON_IsTrue(d))
        snprintf(buf, n, "diverged");
    else if (cJSON_IsNumber(a))
        snprintf(buf, n, "test acc %.4f", a->valuedouble);
    else
        snprintf(buf, n, "test acc ?");
    cJSON_Delete(o);
}

typedef struct {
    size_t total, todo, finished_now, failed;
    double t0, run_seconds; /* sum of the wall time of the runs finished in this session */
    long jobs;
} progress;

static void report_done(progress *pr, const job *j, double t)
{
    char acc[64], eta[32], took[32];
    final_acc(j->dir, acc, sizeof acc);
    cli_fmt_time(took, sizeof took, t - j->t_start);
    pr->finished_now++;
    pr->run_seconds += t - j->t_start;
    size_t left = pr->todo - pr->finished_now - pr->failed;
    double per = pr->run_seconds / (double)pr->finished_now;
    double par = (double)(pr->jobs < (long)left ? pr->jobs : (long)(left ? left : 1));
    cli_fmt_time(eta, sizeof eta, left ? per * (double)left / par : 0);
    size_t k = pr->total - pr->todo + pr->finished_now + pr->failed;
    printf("[%zu/%zu] done   %s: %s (%s) | ETA %s\n", k, pr->total, j->dir, acc, took, eta);
}

/* The next run to start, its directory prepared (created; cleared when damaged or replaced), or
 * NULL when none is left. */
static job *next_job(job *J, long nj, long *next, progress *pr)
{
    while (*next < nj) {
        job *j = &J[(*next)++];
        if (j->state != J_TODO)
            continue;
        if (core_mkdirs(j->dir) != CGALR_OK) {
            fprintf(stderr, "cgalr grid: %s: cannot prepare: %s\n", j->dir, cgalr_last_error());
            j->state = J_FAILED;
            pr->failed++;
            continue;
        }
        if (j->clear && !grid_clear_run(j)) {
            fprintf(stderr, "cgalr grid: %s: cannot prepare: %s\n", j->dir, strerror(errno));
            j->state = J_FAILED;
            pr->failed++;
            continue;
        }
        return j;
    }
    return NULL;
}

static void started(job *j, int rank)
{
    j->state = J_RUNNING;
    j->t_start = core_now();
    char where[32] = "";
    if (cli_dist_size() > 1)
        snprintf(where, sizeof where, " [rank %d]", rank);
    printf("start  %s%s%s%s%s\n", j->dir, where, j->resumed ? " (resume: " : j->clear ? " (" : "",
           j->resumed || j->clear ? j->why : "", j->resumed || j->clear ? ")" : "");
    fflush(stdout);
}

/* A run ended with exit code rc: what it left in its directory decides. */
static void ended(job *j, int rc, progress *pr)
{
    j->rc = rc;
    cgalr_run_status_t rs;
    cgalr_run_status(j->dir, &rs);
    if (rc == 0 && rs.state == CGALR_RUN_FINISHED) {
        j->state = J_DONE;
        report_done(pr, j, core_now());
    } else if (grid_stop && rc == CGALR_EXIT_FAIL) {
        j->state = J_TODO; /* stopped at a checkpoint: left for the next run of the grid */
        printf("stopped %s (resumes when the grid is rerun)\n", j->dir);
    } else {
        j->state = J_FAILED;
        pr->failed++;
        printf("FAILED %s (exit %d, %s; see %s/train.log)\n", j->dir, rc, rs.why, j->dir);
    }
    fflush(stdout);
}

/* Runs every J_TODO job: up to g->jobs at once here, and under mpirun up to g->jobs on every
 * other rank as well, each rank's free slot asking for the next run (a work queue, so long and
 * short runs balance). Rank 0 never blocks while other ranks are at work: it polls their
 * messages and its own children in turn. */
static int run_all(const char *self, const grid_args *g, job *J, long nj, progress *pr)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    long next = 0;
    size_t running = 0;
    long remote_open = (long)(cli_dist_size() - 1) * g->jobs; /* worker slots not yet closed */
    for (;;) {
        while (!grid_stop && (long)running < g->jobs) {
            job *j = next_job(J, nj, &next, pr);
            if (!j)
                break;
            j->pid = launch(self, g, j);
            if (j->pid < 0) {
                fprintf(stderr, "cgalr grid: cannot start a process: %s\n", strerror(errno));
                j->state = J_FAILED;
                pr->failed++;
                continue;
            }
            started(j, 0);
            running++;
        }
        int rank, rrc;
        long idx;
        while (remote_open > 0 && cli_gq_poll(&rank, &idx, &rrc)) {
            if (idx >= 0 && idx < nj && J[idx].state == J_RUNNING && rrc == CLI_GQ_NOT_SHARED) {
                /* that rank does not see DIR: its run goes back in the queue for a rank that
                 * does, and the slot gets no more work (the worker printed why) */
                J[idx].state = J_TODO;
                J[idx].clear = 0;
                if (next > idx)
                    next = idx;
                printf("rank %d cannot see %s (--out must be on a file system every rank sees at the same "
                       "path): it gets no more runs; %s goes to another rank\n", rank, g->out, J[idx].dir);
                fflush(stdout);
                cli_gq_close(rank);
                remote_open--;
                continue;
            }
            if (idx >= 0 && idx < nj && J[idx].state == J_RUNNING)
                ended(&J[idx], rrc, pr);
            job *j = grid_stop ? NULL : next_job(J, nj, &next, pr);
            char *args[MAX_PASS + 33];
            args[0] = "cgalr";
            if (j)
                grid_train_argv(g, j, args + 1);
            if (j && cli_gq_send(rank, (long)(j - J), j->dir, args) == 0) {
                j->pid = -1;
                started(j, rank);
            } else {
                if (j) {
                    j->state = J_FAILED;
                    pr->failed++;
                }
                cli_gq_close(rank);
                remote_open--;
            }
        }
        if (running == 0 && remote_open == 0) {
            int left = 0; /* a run handed back by a rank that could not see DIR */
            for (long i = next; i < nj && !grid_stop && !left; i++)
                left = J[i].state == J_TODO;
            if (!left)
                break;
            continue;
        }
        if (grid_stop == 1) {
            /* pass the stop on (the runs may not share our terminal): each stops after a
             * consistent checkpoint, and rerunning the grid resumes them */
            for (long i = 0; i < nj; i++)
                if (J[i].state == J_RUNNING && J[i].pid > 0)
                    kill(J[i].pid, SIGINT);
            grid_stop = 2;
        }
        int status;
        pid_t p;
        if (remote_open > 0) {
            p = running ? waitpid(-1, &status, WNOHANG) : 0;
            if (p == 0) {
                struct timespec ts = {0, 20 * 1000 * 1000};
                nanosleep(&ts, NULL);
                continue;
            }
        } else
            p = waitpid(-1, &status, 0);
        if (p < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (long i = 0; i < nj; i++) {
            job *j = &J[i];
            if (j->state != J_RUNNING || j->pid != p)
                continue;
            running--;
            ended(j, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), pr);
        }
    }
    return 0;
}

static int grid_main(int argc, char **argv);

/* Under mpirun the ranks > 0 only run what rank 0 sends them (they parse nothing, so a bad
 * option is reported once); rank 0 tells them whether the grid goes ahead on every path. */
int cgalr_cmd_grid(int argc, char **argv)
{
    if (cli_dist_rank() > 0)
        return cli_gq_worker();
    int rc = grid_main(argc, argv);
    cli_gq_start(0, rc); /* when the grid stopped before running: the workers leave with its code */
    return rc;
}

static int grid_main(int argc, char **argv)
{
    grid_args g;
    int rc = grid_parse_args(argc, argv, &g);
    if (rc >= 0)
        return rc;
    job *J = NULL;
    long nj = grid_plan_jobs(&g, &J);
    if (nj < 0)
        return CGALR_EXIT_USAGE;
    int lock_fd = -1;
    cJSON *man = NULL;
    rc = CGALR_EXIT_USAGE;
    /* one grid per directory: taken before anything is looked at, so what we see stays true */
    if (grid_is_dir(g.out) && !g.dry && cgalr_lock_take(g.out, CGALR_GRID_LOCK, &lock_fd) != CGALR_OK) {
        fprintf(stderr, "cgalr grid: %s\n", cgalr_last_error());
        rc = CGALR_EXIT_FAIL;
        goto out;
    }
    if (grid_check_jobs(&g, J, nj) != 0)
        goto out;
    man = grid_manifest(&g);
    if (grid_manifest_differs(&g, man) && !g.force) {
        fprintf(stderr, "cgalr grid: %s was made by a different grid command (see %s/grid.json); rerun that "
                        "command, choose another --out, or pass --force (which trains again every run whose "
                        "options differ)\n",
                g.out, g.out);
        goto out;
    }
    if (grid_classify_jobs(&g, J, nj) != 0)
        goto out;
    size_t todo = 0;
    for (long i = 0; i < nj; i++) {
        todo += J[i].state == J_TODO;
        if (g.dry)
            printf("%-40s %s\n", J[i].dir,
                   J[i].state == J_SKIP ? "finished: skip"
                   : J[i].clear         ? (J[i].why[0] ? J[i].why : "start again")
                   : J[i].resumed       ? "resume"
                                        : "start");
    }
    if (g.dry) {
        rc = CGALR_EXIT_OK;
        goto out;
    }
    rc = CGALR_EXIT_FAIL;
    if (core_mkdirs(g.out) != CGALR_OK) {
        fprintf(stderr, "cgalr grid: --out %s: %s\n", g.out, cgalr_last_error());
        goto out;
    }
    if (lock_fd < 0 && cgalr_lock_take(g.out, CGALR_GRID_LOCK, &lock_fd) != CGALR_OK) {
        fprintf(stderr, "cgalr grid: %s\n", cgalr_last_error());
        goto out;
    }
    if (!grid_write_manifest(&g, man))
        goto out;
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        fprintf(stderr, "cgalr grid: cannot find my own executable: %s\n", strerror(errno));
        goto out;
    }
    self[sl] = '\0';
    if (cli_dist_size() > 1)
        printf("grid %s: %ld runs, %zu finished already, %zu to run on %d ranks x %ld job%s\n", g.out, nj,
               (size_t)nj - todo, todo, cli_dist_size(), g.jobs, g.jobs == 1 ? "" : "s");
    else
        printf("grid %s: %ld runs, %zu finished already, %zu to run with %ld job%s\n", g.out, nj, (size_t)nj - todo,
               todo, g.jobs, g.jobs == 1 ? "" : "s");
    fflush(stdout);
    progress pr = {(size_t)nj, todo, 0, 0, core_now(), 0, g.jobs * cli_dist_size()};
    cli_gq_start(g.jobs, 0);
    run_all(self, &g, J, nj, &pr);
    size_t skipped = 0, left = 0;
    for (long i = 0; i < nj; i++) {
        skipped += J[i].state == J_SKIP;
        left += J[i].state == J_TODO;
    }
    char took[32];
    cli_fmt_time(took, sizeof took, core_now() - pr.t0);
    printf("grid %s: %zu done, %zu skipped (finished before), %zu failed, %zu not finished, %s%s\n", g.out,
           pr.finished_now, skipped, pr.failed, left, took,
           grid_stop ? " (interrupted: rerun the same command to continue)" : "");
    if (!pr.failed && !left)
        printf("next: cgalr report %s\n", g.out);
    rc = (pr.failed || left || grid_stop) ? CGALR_EXIT_FAIL : CGALR_EXIT_OK;
out:
    cJSON_Delete(man);
    cgalr_lock_release(lock_fd);
    free(J);
    return rc;
}

/* `cgalr grid`: every (method, learning rate, seed) of an evaluation grid as its own `cgalr train`
 * process and run directory. A manifest (DIR/grid.json) records the command, so rerunning it skips
 * finished runs and resumes interrupted ones, and a different command is refused unless --force. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgalr/ctrl.h"
#include "cgalr/train.h"
#include "cli/cli.h"

#define MAX_ITEMS 64
#define MAX_PASS 64

static volatile sig_atomic_t grid_stop = 0;
static void on_signal(int sig)
{
    grid_stop = 1;
    (void)sig;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cgalr grid --data D --model M --methods LIST --lrs LIST --seeds LIST --epochs E --out DIR\n"
            "                  [--jobs J] [--force] [-- more cgalr train options]\n\n"
            "Runs `cgalr train` once per (method, lr, seed) into DIR/<method>_lr<lr>_s<seed> (the parameter-free\n"
            "methods, which have no learning rate, once per seed: DIR/<method>_s<seed>). Rerunning the same command skips finished runs and\n"
            "resumes interrupted ones; a DIR made by a different command is refused unless --force.\n"
            "Each run's output goes to its train.log. Then `cgalr report DIR` makes the tables and figures.\n\n"
            "  --methods LIST   comma-separated: %s\n"
            "  --lrs LIST       comma-separated learning rates (default 0.1,0.01,0.001)\n"
            "  --seeds LIST     comma-separated seeds (default 0,1,2)\n"
            "  --epochs E       epochs per run (default 10)\n"
            "  --jobs J         runs at once, as separate processes (default 1)\n"
            "  --force          accept a DIR made by a different grid command\n"
            "  --dry-run        list the runs and what would happen to each, run nothing\n"
            "  after --: options given to every cgalr train (e.g. -- --batch 64 --limit 2000 --threads 1)\n",
            cgalr_train_methods());
}

static int split_list(char *s, char **items, int max)
{
    int n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        while (*tok == ' ')
            tok++;
        if (!*tok)
            continue;
        if (n == max)
            return -1;
        items[n++] = tok;
    }
    return n;
}

typedef struct {
    char method[64];
    double lr;
    int has_lr;
    char lr_text[64];
    char seed[32];
    char dir[4096];
    pid_t pid;
    int state; /* 0 todo, 1 running, 2 done, 3 skipped (already finished), 4 failed, 5 not started */
    int rc;
    int resumed;
} job;

static int file_exists(const char *dir, const char *name)
{
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

static int run_finished(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/summary.json", dir);
    FILE *f = fopen(p, "rb");
    if (!f)
        return 0;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *o = cJSON_Parse(buf);
    int fin = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "finished"));
    cJSON_Delete(o);
    return fin;
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return 0;
        *p = '/';
    }
    return mkdir(tmp, 0777) == 0 || errno == EEXIST;
}

static pid_t launch(const char *self, job *j, char **base, int nbase)
{
    char *args[MAX_PASS + 40];
    int k = 0;
    args[k++] = (char *)self;
    args[k++] = "train";
    for (int i = 0; i < nbase; i++)
        args[k++] = base[i];
    args[k++] = "--sched";
    args[k++] = j->method;
    if (j->has_lr) {
        args[k++] = "--lr";
        args[k++] = j->lr_text;
    }
    args[k++] = "--seed";
    args[k++] = j->seed;
    args[k++] = "--out";
    args[k++] = j->dir;
    args[k++] = "--resume";
    args[k] = NULL;
    char logp[4200];
    snprintf(logp, sizeof logp, "%s/train.log", j->dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    /* the running binary itself, even if a rebuild replaced the file meanwhile: every run of
     * a grid uses the same program */
    execv("/proc/self/exe", args);
    execv(self, args);
    _exit(127);
}

/* The options after -- belong to cgalr train: it validates them (--check reads and writes
 * nothing), so a bad one stops the grid before any run directory exists. Returns train's exit
 * status; its message goes to our stderr. */
static int train_accepts(const job *j, char **base, int nbase)
{
    char *args[MAX_PASS + 40];
    int k = 0;
    args[k++] = "cgalr";
    args[k++] = "train";
    for (int i = 0; i < nbase; i++)
        args[k++] = base[i];
    args[k++] = "--sched";
    args[k++] = (char *)j->method;
    if (j->has_lr) {
        args[k++] = "--lr";
        args[k++] = (char *)j->lr_text;
    }
    args[k++] = "--seed";
    args[k++] = (char *)j->seed;
    args[k++] = "--out";
    args[k++] = (char *)j->dir;
    args[k++] = "--check";
    args[k] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return CGALR_EXIT_FAIL;
    if (pid == 0) {
        execv("/proc/self/exe", args);
        _exit(127);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR)
            return CGALR_EXIT_FAIL;
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : CGALR_EXIT_FAIL;
}

int cgalr_cmd_grid(int argc, char **argv)
{
    enum { O_DATA = 256, O_MODEL, O_METHODS, O_LRS, O_SEEDS, O_EPOCHS, O_OUT, O_JOBS, O_FORCE, O_DRY, O_HELP };
    static const struct option opts[] = {{"data", required_argument, 0, O_DATA},
                                         {"model", required_argument, 0, O_MODEL},
                                         {"methods", required_argument, 0, O_METHODS},
                                         {"lrs", required_argument, 0, O_LRS},
                                         {"seeds", required_argument, 0, O_SEEDS},
                                         {"epochs", required_argument, 0, O_EPOCHS},
                                         {"out", required_argument, 0, O_OUT},
                                         {"jobs", required_argument, 0, O_JOBS},
                                         {"force", no_argument, 0, O_FORCE},
                                         {"dry-run", no_argument, 0, O_DRY},
                                         {"help", no_argument, 0, O_HELP},
                                         {0, 0, 0, 0}};
    const char *data = NULL, *model = NULL, *out = NULL;
    char methods_s[1024] = "", lrs_s[1024] = "0.1,0.01,0.001", seeds_s[1024] = "0,1,2", epochs_s[32] = "10";
    long jobs = 1;
    int force = 0, dry = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA: data = optarg; break;
        case O_MODEL: model = optarg; break;
        case O_METHODS: snprintf(methods_s, sizeof methods_s, "%s", optarg); break;
        case O_LRS: snprintf(lrs_s, sizeof lrs_s, "%s", optarg); break;
        case O_SEEDS: snprintf(seeds_s, sizeof seeds_s, "%s", optarg); break;
        case O_EPOCHS: snprintf(epochs_s, sizeof epochs_s, "%s", optarg); break;
        case O_OUT: out = optarg; break;
        case O_JOBS: {
            char *end;
            jobs = strtol(optarg, &end, 10);
            if (*end || end == optarg || jobs < 1 || jobs > 64) {
                fprintf(stderr, "cgalr grid: --jobs '%s': expected 1 .. 64\n", optarg);
                return CGALR_EXIT_USAGE;
            }
            break;
        }
        case O_FORCE: force = 1; break;
        case O_DRY: dry = 1; break;
        case O_HELP:
        case 'h': usage(stdout); return CGALR_EXIT_OK;
        default: fprintf(stderr, "(cgalr grid --help lists the options)\n"); return CGALR_EXIT_USAGE;
        }
    }
    char **pass = argv + optind;
    int npass = argc - optind;
    if (npass > MAX_PASS) {
        fprintf(stderr, "cgalr grid: too many options after --\n");
        return CGALR_EXIT_USAGE;
    }
    for (int i = 0; i < npass; i++) {
        static const char *const owned[] = {"--sched", "--method", "--lr", "--seed", "--out", "--resume",
                                            "--data", "--model", "--epochs", "--check"};
        for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++)
            if (!strncmp(pass[i], owned[k], strlen(owned[k])) &&
                (pass[i][strlen(owned[k])] == '\0' || pass[i][strlen(owned[k])] == '=')) {
                fprintf(stderr, "cgalr grid: %s after -- is set by the grid itself; use the grid's own option\n",
                        pass[i]);
                return CGALR_EXIT_USAGE;
            }
    }
    if (!data || !model || !out || !methods_s[0]) {
        fprintf(stderr, "cgalr grid: --data, --model, --methods and --out are required\n");
        usage(stderr);
        return CGALR_EXIT_USAGE;
    }

    char *methods[MAX_ITEMS], *lrs[MAX_ITEMS], *seeds[MAX_ITEMS];
    char mbuf[1024], lbuf[1024], sbuf[1024];
    snprintf(mbuf, sizeof mbuf, "%s", methods_s);
    snprintf(lbuf, sizeof lbuf, "%s", lrs_s);
    snprintf(sbuf, sizeof sbuf, "%s", seeds_s);
    int nm = split_list(mbuf, methods, MAX_ITEMS), nl = split_list(lbuf, lrs, MAX_ITEMS),
        ns = split_list(sbuf, seeds, MAX_ITEMS);
    if (nm <= 0 || nl <= 0 || ns <= 0) {
        fprintf(stderr, "cgalr grid: --methods, --lrs and --seeds need 1 .. %d comma-separated values\n", MAX_ITEMS);
        return CGALR_EXIT_USAGE;
    }

    /* every run's configuration is checked before anything starts */
    char *endp;
    long epochs = strtol(epochs_s, &endp, 10);
    if (*endp || endp == epochs_s || epochs < 1 || epochs > 100000) {
        fprintf(stderr, "cgalr grid: --epochs '%s': expected 1 .. 100000\n", epochs_s);
        return CGALR_EXIT_USAGE;
    }
    size_t cap = (size_t)nm * (size_t)nl * (size_t)ns;
    job *J = calloc(cap, sizeof *J);
    if (!J) {
        fprintf(stderr, "cgalr grid: out of memory\n");
        return CGALR_EXIT_FAIL;
    }
    size_t nj = 0;
    int rc = CGALR_EXIT_OK;
    for (int a = 0; a < nm && rc == CGALR_EXIT_OK; a++) {
        for (int k = 0; k < a; k++)
            if (!strcmp(methods[k], methods[a])) {
                fprintf(stderr, "cgalr grid: method '%s' listed twice\n", methods[a]);
                rc = CGALR_EXIT_USAGE;
            }
        int mk = cgalr_method_parse(methods[a]); /* unknown names are refused by cgalr train itself */
        int has_lr = mk < 0 || (cgalr_method_facts((cgalr_method_t)mk) & CGALR_MF_HAS_LR);
        for (int b = 0; b < (has_lr ? nl : 1) && rc == CGALR_EXIT_OK; b++) {
            double lr = 0.01;
            if (has_lr) {
                lr = strtod(lrs[b], &endp);
                if (*endp || endp == lrs[b] || !isfinite(lr)) {
                    fprintf(stderr, "cgalr grid: --lrs value '%s' is not a number\n", lrs[b]);
                    rc = CGALR_EXIT_USAGE;
                    break;
                }
                for (int k = 0; k < b; k++)
                    if (strtod(lrs[k], NULL) == lr) {
                        fprintf(stderr, "cgalr grid: learning rate %s listed twice\n", lrs[b]);
                        rc = CGALR_EXIT_USAGE;
                    }
            }
            for (int s = 0; s < ns && rc == CGALR_EXIT_OK; s++) {
                unsigned long long sv = strtoull(seeds[s], &endp, 10);
                if (*endp || endp == seeds[s] || seeds[s][0] == '-') {
                    fprintf(stderr, "cgalr grid: --seeds value '%s' is not a non-negative integer\n", seeds[s]);
                    rc = CGALR_EXIT_USAGE;
                    break;
                }
                for (int k = 0; k < s; k++)
                    if (strtoull(seeds[k], NULL, 10) == sv) {
                        fprintf(stderr, "cgalr grid: seed %s listed twice\n", seeds[s]);
                        rc = CGALR_EXIT_USAGE;
                    }
                job *j = &J[nj++];
                snprintf(j->method, sizeof j->method, "%s", methods[a]);
                j->has_lr = has_lr;
                j->lr = lr;
                snprintf(j->lr_text, sizeof j->lr_text, "%s", has_lr ? lrs[b] : "");
                snprintf(j->seed, sizeof j->seed, "%llu", sv);
                if (has_lr)
                    snprintf(j->dir, sizeof j->dir, "%s/%s_lr%g_s%llu", out, j->method, lr, sv);
                else
                    snprintf(j->dir, sizeof j->dir, "%s/%s_s%llu", out, j->method, sv);
                cgalr_train_config_t tc;
                cgalr_train_config_default(&tc);
                tc.data = data;
                tc.model = model;
                tc.sched = j->method;
                tc.lr = lr;
                tc.epochs = epochs;
                tc.out = j->dir;
                if (cgalr_train_config_validate(&tc) != CGALR_OK) {
                    fprintf(stderr, "cgalr grid: %s\n", cgalr_last_error());
                    rc = CGALR_EXIT_USAGE;
                }
            }
        }
    }
    /* The train arguments every run shares (then each run's own method, lr, seed, out). Not
     * --quiet: train.log keeps the per-epoch lines and the summary (no progress line: not a tty). */
    char *base[MAX_PASS + 8];
    int nbase = 0;
    base[nbase++] = "--data";
    base[nbase++] = (char *)data;
    base[nbase++] = "--model";
    base[nbase++] = (char *)model;
    base[nbase++] = "--epochs";
    base[nbase++] = epochs_s;
    for (int i = 0; i < npass; i++)
        base[nbase++] = pass[i];
    if (rc == CGALR_EXIT_OK && nj > 0) {
        if (train_accepts(&J[0], base, nbase) != CGALR_EXIT_OK) {
            fprintf(stderr, "cgalr grid: the options after -- were refused by cgalr train (above)\n");
            rc = CGALR_EXIT_USAGE;
        }
    }
    if (rc != CGALR_EXIT_OK) {
        free(J);
        return rc;
    }

    /* the manifest: the canonical command */
    cJSON *man = cJSON_CreateObject();
    cJSON_AddStringToObject(man, "data", data);
    cJSON_AddStringToObject(man, "model", model);
    cJSON_AddStringToObject(man, "methods", methods_s);
    cJSON_AddStringToObject(man, "lrs", lrs_s);
    cJSON_AddStringToObject(man, "seeds", seeds_s);
    cJSON_AddNumberToObject(man, "epochs", (double)epochs);
    cJSON *pa = cJSON_AddArrayToObject(man, "train_options");
    for (int i = 0; i < npass; i++)
        cJSON_AddItemToArray(pa, cJSON_CreateString(pass[i]));
    char *man_text = cJSON_Print(man);
    char manp[4200];
    snprintf(manp, sizeof manp, "%s/grid.json", out);
    FILE *mf = fopen(manp, "rb");
    if (mf) {
        char buf[16384];
        size_t n = fread(buf, 1, sizeof buf - 1, mf);
        fclose(mf);
        buf[n] = '\0';
        cJSON *old = cJSON_Parse(buf);
        int same = old && cJSON_Compare(old, man, 1);
        cJSON_Delete(old);
        if (!same && !force) {
            fprintf(stderr, "cgalr grid: %s was made by a different grid command (see %s); rerun that command, "
                            "choose another --out, or pass --force\n",
                    out, manp);
            cJSON_Delete(man);
            free(man_text);
            free(J);
            return CGALR_EXIT_USAGE;
        }
    }
    cJSON_Delete(man);
    if (!dry) {
        if (!mkdir_p(out)) {
            fprintf(stderr, "cgalr grid: --out %s: cannot create: %s\n", out, strerror(errno));
            free(man_text);
            free(J);
            return CGALR_EXIT_FAIL;
        }
        char tmpp[4300];
        snprintf(tmpp, sizeof tmpp, "%s.tmp", manp);
        FILE *w = fopen(tmpp, "wb");
        int ok = w && fputs(man_text, w) >= 0 && fputc('\n', w) != EOF;
        ok = (w && fclose(w) == 0) && ok;
        if (!ok || rename(tmpp, manp) != 0) {
            fprintf(stderr, "cgalr grid: cannot write %s: %s\n", manp, strerror(errno));
            free(man_text);
            free(J);
            return CGALR_EXIT_FAIL;
        }
    }
    free(man_text);

    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        fprintf(stderr, "cgalr grid: cannot find my own executable: %s\n", strerror(errno));
        free(J);
        return CGALR_EXIT_FAIL;
    }
    self[sl] = '\0';

    size_t todo = 0;
    for (size_t i = 0; i < nj; i++) {
        if (run_finished(J[i].dir)) {
            J[i].state = 3;
        } else {
            J[i].resumed = file_exists(J[i].dir, "config.json");
            todo++;
        }
        if (dry)
            printf("%-40s %s\n", J[i].dir, J[i].state == 3 ? "finished: skip" : J[i].resumed ? "resume" : "start");
    }
    if (dry) {
        free(J);
        return CGALR_EXIT_OK;
    }
    printf("grid %s: %zu runs, %zu finished already, %zu to run with %ld job%s\n", out, nj, nj - todo, todo, jobs,
           jobs == 1 ? "" : "s");
    fflush(stdout);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    size_t next = 0, running = 0, done = 0, failed = 0;
    for (;;) {
        while (!grid_stop && (long)running < jobs && next < nj) {
            job *j = &J[next++];
            if (j->state == 3)
                continue;
            if (!mkdir_p(j->dir)) {
                fprintf(stderr, "cgalr grid: %s: cannot create: %s\n", j->dir, strerror(errno));
                j->state = 4;
                failed++;
                continue;
            }
            j->pid = launch(self, j, base, nbase);
            if (j->pid < 0) {
                fprintf(stderr, "cgalr grid: cannot start a process: %s\n", strerror(errno));
                j->state = 4;
                failed++;
                continue;
            }
            j->state = 1;
            running++;
            printf("start  %s%s\n", j->dir, j->resumed ? " (resume)" : "");
            fflush(stdout);
        }
        if (running == 0)
            break;
        if (grid_stop == 1) {
            /* pass the stop on (the runs may not share our terminal): each stops after a
             * consistent checkpoint, and rerunning the grid resumes them */
            for (size_t i = 0; i < nj; i++)
                if (J[i].state == 1)
                    kill(J[i].pid, SIGINT);
            grid_stop = 2;
        }
        int status;
        pid_t p = waitpid(-1, &status, 0);
        if (p < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (size_t i = 0; i < nj; i++) {
            if (J[i].state != 1 || J[i].pid != p)
                continue;
            running--;
            J[i].rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            if (J[i].rc == 0 && run_finished(J[i].dir)) {
                J[i].state = 2;
                done++;
                printf("done   %s\n", J[i].dir);
            } else if (grid_stop && J[i].rc == CGALR_EXIT_FAIL) {
                J[i].state = 0; /* stopped at a checkpoint: left for the next run of the grid */
                printf("stopped %s (resumes when the grid is rerun)\n", J[i].dir);
            } else {
                J[i].state = 4;
                failed++;
                printf("FAILED %s (exit %d; see %s/train.log)\n", J[i].dir, J[i].rc, J[i].dir);
            }
            fflush(stdout);
        }
    }
    size_t skipped = 0, left = 0;
    for (size_t i = 0; i < nj; i++) {
        skipped += J[i].state == 3;
        left += J[i].state == 0;
    }
    printf("grid %s: %zu done, %zu skipped (finished before), %zu failed, %zu not finished%s\n", out, done, skipped,
           failed, left, grid_stop ? " (interrupted: rerun the same command to continue)" : "");
    if (!failed && !left)
        printf("next: cgalr report %s\n", out);
    free(J);
    return (failed || left || grid_stop) ? CGALR_EXIT_FAIL : CGALR_EXIT_OK;
}

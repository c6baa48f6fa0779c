/* `cgalr train`: one model, one learning-rate method, one run directory. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cgalr/ctrl.h"
#include "cgalr/shellwords.h"
#include "cgalr/train.h"
#include "cli/cli.h"
#include "cli/dist.h"

static volatile sig_atomic_t stop_flag = 0;

static void on_signal(int sig)
{
    stop_flag = 1;
    signal(sig, SIG_DFL); /* a second Ctrl-C kills at once */
}

/* What a parse fills: the run's configuration and the two options that only steer this command. */
typedef struct {
    cgalr_train_config_t cfg;
    int quiet;
    int check;
} train_args;

static int set_augment(void *target, const char *arg)
{
    train_args *a = target;
    (void)arg;
    a->cfg.augment_crop = a->cfg.augment_flip = 1;
    return 0;
}

static int set_restart(void *target, const char *arg)
{
    train_args *a = target;
    (void)arg;
    a->cfg.restart = a->cfg.resume = 1; /* a restart is a resume that discards the logged epochs */
    return 0;
}

#define TA train_args
/* Integer ranges are cgalr_train_config_validate's (src/train/config.c); where it refuses values
 * inside the hull (a probe of 1 sample, 1 fold) the hull is parsed and the library says why. The
 * rate's range depends on the method, so only the library checks it. */
static const cli_opt_t train_opts[] = {
    CLI_STR(TA, cfg.data, "data", "NAME", "mnist, fashion-mnist, cifar10, cifar100, mini-imagenet, mutag, enzymes,\n"
                                          "proteins, tu:NAME, folder:PATH"),
    CLI_STR(TA, cfg.data_dir, "data-dir", "DIR", "where datasets are looked for (default $CGALR_DATA, else ./data)"),
    CLI_STR_LIST(TA, cfg.model, "model", "M", "", cgalr_train_models),
    CLI_STR_LIST(TA, cfg.sched, "sched", "S", "", cgalr_train_methods),
    CLI_STR(TA, cfg.sched, "method", "S", "the same as --sched"),
    CLI_DBL(TA, cfg.lr, "lr", "X", "initial / base learning rate, in (0, " CLI_XSTR(CGALR_TRAIN_LR_MAX) "] (default 0.01; the parameter-free\n"
                                   "methods dog, prodigy, dadapt-* use their own)"),
    CLI_UINT(TA, cfg.epochs, "epochs", "E", 1, CGALR_TRAIN_EPOCHS_MAX, "epochs to train (default 10)"),
    CLI_UINT(TA, cfg.batch, "batch", "B", 1, CGALR_TRAIN_BATCH_MAX, "samples per batch (default 32)"),
    CLI_UINT(TA, cfg.seed, "seed", "S", 0, ~0ULL, "seed of the initialisation, batch order and probe set (default 0)"),
    CLI_UINT(TA, cfg.threads, "threads", "T", 1, CGALR_TRAIN_THREADS_MAX, "engine and BLAS threads (default 1)"),
    CLI_STR(TA, cfg.out, "out", "DIR", "run directory (created)"),
    CLI_SET1(TA, cfg.resume, "resume", "continue the run in DIR from its last checkpoint (bit-identical); the\n"
                                       "run's options are read from DIR/config.json (options given must agree)"),
    CLI_CALL(set_restart, "restart", NULL, "with a run in DIR whose checkpoint is missing or that is damaged: discard\n"
                                           "its logged epochs and train again from epoch 1 (same options)"),
    CLI_UINT_R(TA, cfg.probe_n, "probe", "N", 0, CGALR_TRAIN_PROBE_MAX, "0 or 2 .. " CLI_XSTR(CGALR_TRAIN_PROBE_MAX),
               "probe samples of the connectome (default 0: min(1024, training size))"),
    CLI_STR(TA, cfg.probe_layer, "probe-layer", "NAMES", "probe layer(s), comma-separated (default: the penultimate layer)"),
    CLI_UINT(TA, cfg.ctrl_every, "ctrl-every", "K", 0, CGALR_TRAIN_CTRL_EVERY_MAX,
             "controller step every K iterations (default 0: after every epoch)"),
    CLI_STR(TA, cfg.probe_mode, "probe-mode", "M", "CG-ALR connectome rows: inline (default: the probe set's rows as they\n"
                                                   "pass through the training forward, no extra forward), pass (a\n"
                                                   "separate inference forward over the probe set, the reference) or\n"
                                                   "stream (every training row of the controller period)"),
    CLI_STR(TA, cfg.sched_opts, "sched-opt", "LIST", "scheduler options name=value,... (see below)"),
    CLI_DBL_R(TA, cfg.weight_decay, "wd", "X", 0, 1, CLI_HI_OPEN, "[0, 1)", "weight decay (default 0)"),
    CLI_DBL_R(TA, cfg.val_fraction, "val-fraction", "F", 0, CGALR_TRAIN_VAL_FRACTION_MAX, 0,
              "[0, " CLI_XSTR(CGALR_TRAIN_VAL_FRACTION_MAX) "]",
              "validation carved from training (default 0.1)"),
    CLI_UINT(TA, cfg.split_seed, "split-seed", "S", 0, ~0ULL, "seed of the splits (default 0, shared by every run seed)"),
    CLI_UINT_R(TA, cfg.limit, "limit", "N", 0, CGALR_TRAIN_SUBSET_MAX, "0 .. 2^40", "at most N samples per split (quick runs; default 0: all)"),
    CLI_UINT_R(TA, cfg.train_subset, "train-subset", "N", 0, CGALR_TRAIN_SUBSET_MAX, "0 or 2 .. 2^40",
               "images: a fixed class-balanced training subset of N samples (default 0:\n"
               "all), drawn by --split-seed; validation carved from it, the test split whole"),
    CLI_SET1(TA, cfg.node_attr, "node-attr", "graphs: use node attributes as features too"),
    CLI_UINT_R(TA, cfg.folds, "folds", "K", 0, CGALR_TRAIN_FOLDS_MAX, "0 or 2 .. " CLI_XSTR(CGALR_TRAIN_FOLDS_MAX),
               "graphs: stratified K-fold, fold --fold I is the test set, validation carved\n"
               "from the rest (default 0: stratified 80/10/10)"),
    CLI_UINT_R(TA, cfg.fold, "fold", "I", 0, CGALR_TRAIN_FOLDS_MAX - 1, "0 .. K-1", "graphs: the test fold of --folds K"),
    CLI_SET1(TA, cfg.degree_features, "degree-features", "graphs without node labels: one-hot degree instead of a constant"),
    CLI_SET1(TA, cfg.sync_bn, "sync-bn", "under mpirun: batch-norm statistics over the whole batch of all ranks\n"
                                         "(each batch must give every rank at least one sample)"),
    CLI_CALL(set_augment, "augment", NULL, "images: --crop and --flip (the CIFAR protocol); training batches only,\n"
                                           "never the probe set, validation or test; drawn from seed and epoch"),
    CLI_SET1(TA, cfg.augment_crop, "crop", "images: random crop with 4-pixel zero padding"),
    CLI_SET1(TA, cfg.augment_flip, "flip", "images: horizontal flip with probability 1/2"),
    CLI_SET0(TA, cfg.normalize, "no-normalize", "images: pixel/255 instead of per-channel standardisation"),
    CLI_SET1(TA, cfg.cifar100_coarse, "coarse", "cifar100: the 20 coarse labels instead of the 100 fine ones"),
    CLI_UINT(TA, cfg.resize, "resize", "N", 0, CGALR_TRAIN_RESIZE_MAX, "image folders (folder:PATH, mini-imagenet): resize to N x N\n"
                                                     "(default 0: keep; mini-imagenet 84)"),
    CLI_STR(TA, cfg.cache_dir, "cache-dir", "DIR", "images: where decoded JPEG/PNG images are cached (\"\" disables; default\n"
                                                   "$CGALR_CACHE_DIR, else $XDG_CACHE_HOME/cgalr, else ~/.cache/cgalr)"),
    CLI_SET1(TA, quiet, "quiet", "no progress or per-epoch lines"),
    CLI_SET1(TA, check, "check", "run every check the training would (options, run directory, dataset,\n"
                                 "model, probe layer) and exit (0 valid, 2 not); writes nothing"),
    CLI_HELP_ROW,
    CLI_END,
};
#undef TA

const cli_opt_t *cli_train_optable(void) { return train_opts; }

static void usage(FILE *f)
{
    fprintf(f, "usage: cgalr train --data D --model M --sched S --out DIR [options]\n\n"
               "Trains one model with one learning-rate method and writes DIR/config.json,\n"
               "DIR/metrics.jsonl (one line per epoch), DIR/checkpoint.bin (every epoch) and DIR/summary.json.\n\n");
    cli_opt_help(f, train_opts);
    fprintf(f, "\nExit status: 0 finished (also when the run diverged: see the summary), 1 runtime failure or\n"
               "interrupted (resume with --resume), 2 bad usage or input.\n\n"
               "Data parallel: `mpirun -np R cgalr train ...` splits every batch of --batch samples over the R\n"
               "ranks and sums their gradients; rank 0 writes the run directory, which every rank must see\n"
               "(docs/CLUSTER.md). Batch-norm statistics are each rank's part's unless --sync-bn.\n");
    fprintf(f, "\nScheduler options for --sched-opt:\n%s", cgalr_sched_options_help());
}

typedef struct {
    int tty;
    int quiet;
    int line_open;
} ui;


static void on_progress(void *user, const cgalr_train_progress_t *p)
{
    ui *u = user;
    if (!u->tty || u->quiet)
        return;
    char eta[32];
    cli_fmt_time(eta, sizeof eta, p->eta_s);
    fprintf(stderr, "\repoch %ld/%ld batch %zu/%zu loss %.4f lr %.3g %.0f samples/s ETA %s   ", p->epoch + 1,
            p->epochs, p->batch, p->batches, p->loss, p->lr, p->samples_per_s, eta);
    fflush(stderr);
    u->line_open = 1;
}

static void on_epoch(void *user, const cgalr_epoch_record_t *r)
{
    ui *u = user;
    if (u->quiet)
        return;
    if (u->line_open)
        fprintf(stderr, "\r\033[K");
    u->line_open = 0;
    fprintf(stderr, "epoch %d: train loss %.4f acc %.4f | val loss %.4f acc %.4f | test acc %.4f | lr %.4g | %.2fs",
            r->epoch, r->train_loss, r->train_acc, r->val_loss, r->val_acc, r->test_acc, r->lr, r->seconds);
    if (r->has_ctrl) {
        char z[32] = "-"; /* no score during the controller's warm-up */
        if (!isnan(r->z))
            snprintf(z, sizeof z, "%.3g", r->z);
        fprintf(stderr, " | d %.4g z %s %s rho %.3g", r->d, z, r->state, r->rho);
    }
    if (r->guard_retries)
        fprintf(stderr, " | guard retries %d", r->guard_retries);
    fprintf(stderr, "\n");
}

/* Parses train options from argv[1..] onto a (which holds defaults, or a resumed run's options).
 * Returns 0 when parsed (optind: the first operand), CLI_HELP after --help (its usage printed),
 * else the exit code of a bad option (its message printed unless silent). */
static int parse_options(int argc, char **argv, train_args *a, int silent)
{
    const cli_cmd_t cmd = {.prog = "cgalr train", .opts = train_opts, .silent = silent, .usage = usage};
    return cli_opt_parse(&cmd, argc, argv, a, NULL);
}

int cli_train_parse(int argc, char **argv, cgalr_train_config_t *cfg)
{
    train_args a = {.quiet = 1};
    cgalr_train_config_default(&a.cfg);
    int r = parse_options(argc, argv, &a, 0);
    if (r == 0 && optind < argc) {
        fprintf(stderr, "cgalr train: unexpected argument '%s'\n", argv[optind]);
        r = CGALR_EXIT_USAGE;
    }
    *cfg = a.cfg;
    return r == CLI_HELP ? CGALR_EXIT_USAGE : r;
}

/* The command that made the run in out/config.json, split into words: the options a resume
 * does not need to be given again. NULL when there is none (free the array: it owns the words). */
static char **saved_command(const char *out, int *argc_out)
{
    char p[4200];
    if ((size_t)snprintf(p, sizeof p, "%s/config.json", out) >= sizeof p)
        return NULL;
    char *text = cli_read_text(p);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(o, "command");
    char **words = NULL;
    /* from "train": argv[0] of the option parser */
    if (cJSON_IsString(cmd) && !strncmp(cmd->valuestring, "cgalr train ", 12))
        words = cgalr_shell_split(cmd->valuestring + 6, argc_out);
    cJSON_Delete(o);
    return words;
}

/* Data parallel: every rank parses the same arguments, so a usage message or --help would come
 * once per rank; ranks > 0 keep quiet until the run starts, where what they say is their own. */
static int peer_out = -1, peer_err = -1;

static void peer_silence(void)
{
    if (cli_dist_size() < 2 || cli_dist_rank() == 0)
        return;
    int null = open("/dev/null", O_WRONLY);
    if (null < 0)
        return;
    fflush(stdout);
    fflush(stderr);
    peer_out = dup(1);
    peer_err = dup(2);
    dup2(null, 1);
    dup2(null, 2);
    close(null);
}

static void peer_restore(void)
{
    if (peer_out < 0)
        return;
    fflush(stdout);
    fflush(stderr);
    dup2(peer_out, 1);
    dup2(peer_err, 2);
    close(peer_out);
    close(peer_err);
    peer_out = peer_err = -1;
}

int cgalr_cmd_train(int argc, char **argv)
{
    train_args a = {0};
    cgalr_train_config_default(&a.cfg);
    peer_silence();
    int r = parse_options(argc, argv, &a, 0);
    if (r)
        return cli_opt_exit(r);
    /* --resume --out DIR: the run's own options first, then what was given here on top (what
     * differs from the run is refused by the library, naming the option) */
    char **saved = NULL;
    int nsaved = 0;
    if (a.cfg.resume && a.cfg.out && (saved = saved_command(a.cfg.out, &nsaved))) {
        train_args from = {0};
        cgalr_train_config_default(&from.cfg);
        if (parse_options(nsaved, saved, &from, 1) == 0 && optind == nsaved) {
            /* this command's words again, on top; they parsed once, so they parse again */
            from.quiet = from.check = 0;
            r = parse_options(argc, argv, &from, 0);
            if (r) {
                free(saved);
                return cli_opt_exit(r);
            }
            a = from;
        }
    }
    cgalr_train_config_t cfg = a.cfg;
    ui u = {isatty(2), a.quiet, 0};
    int check_only = a.check;
    if (optind < argc) {
        fprintf(stderr, "cgalr train: unexpected argument '%s'\n", argv[optind]);
        free(saved);
        return CGALR_EXIT_USAGE;
    }
    if (cgalr_train_config_validate(&cfg) != CGALR_OK) {
        fprintf(stderr, "cgalr train: %s\n", cgalr_last_error());
        free(saved);
        return CGALR_EXIT_USAGE;
    }
    if (check_only) {
        /* everything the run would check before training, with nothing written */
        cgalr_status_t cst = cgalr_train_check(&cfg);
        if (cst != CGALR_OK)
            fprintf(stderr, "cgalr train: %s\n", cgalr_last_error());
        free(saved);
        return cst == CGALR_OK ? CGALR_EXIT_OK : cli_exit_code(cst);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* file writes in flight finish; the loop checks the flag between batches */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* data parallel (mpirun -np R): rank 0 speaks for the run */
    peer_restore();
    const cgalr_train_comm_t *comm = cli_dist_comm();
    int rank = comm ? comm->rank : 0;
    cgalr_train_hooks_t hooks = {rank == 0 ? on_progress : NULL, rank == 0 ? on_epoch : NULL, &stop_flag, &u, comm};
    if (rank != 0)
        u.quiet = 1;
    cgalr_train_summary_t s;
    cgalr_status_t st = cgalr_train_run(&cfg, &hooks, &s);
    free(saved); /* cfg's strings may point into the saved words until here */
    saved = NULL;
    if (u.line_open)
        fprintf(stderr, "\n");
    if (st != CGALR_OK) {
        if (!comm)
            fprintf(stderr, "cgalr train: %s\n", cgalr_last_error());
        else if (rank == 0 || !s.error_shared)
            fprintf(stderr, "cgalr train: rank %d (%s): %s\n", rank, cli_dist_host(), cgalr_last_error());
        if (comm && !s.error_shared)
            cli_dist_abort(cli_exit_code(st)); /* the other ranks may be waiting for this one */
        return cli_exit_code(st);
    }
    if (rank != 0)
        return s.interrupted ? CGALR_EXIT_FAIL : CGALR_EXIT_OK;
    if (s.interrupted) {
        fprintf(stderr, "cgalr train: interrupted after %ld complete epochs; continue with: cgalr train --out %s "
                        "--resume\n",
                s.epochs_done, cfg.out);
        return CGALR_EXIT_FAIL;
    }
    if (s.already_finished && !u.quiet)
        printf("%s: already finished (nothing to do)\n", cfg.out);
    if (s.diverged)
        printf("run diverged after %ld epochs: %s\n", s.epochs_done, s.message);
    if (!u.quiet || s.diverged) {
        printf("summary: %s best val acc %.4f, final test acc %.4f, %ld epochs, time %.2fs (%.3fs/epoch), "
               "controller %.3fs = %.2f%% of run time\n",
               cfg.out, s.best_val_acc, s.final_test_acc, s.epochs_done, s.seconds,
               isfinite(s.epoch_seconds) ? s.epoch_seconds : 0.0, s.ctrl_seconds, 100.0 * s.ctrl_share);
    }
    return CGALR_EXIT_OK;
}

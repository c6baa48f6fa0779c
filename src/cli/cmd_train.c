/* `cgalr train`: one model, one learning-rate method, one run directory. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cgalr train --data D --model M --sched S --out DIR [options]\n\n"
            "Trains one model with one learning-rate method and writes DIR/config.json,\n"
            "DIR/metrics.jsonl (one line per epoch), DIR/checkpoint.bin (every epoch) and DIR/summary.json.\n\n"
            "  --data NAME          mnist, fashion-mnist, cifar10, cifar100, mini-imagenet, mutag, enzymes,\n"
            "                       proteins, tu:NAME, folder:PATH\n"
            "  --data-dir DIR       where datasets are looked for (default $CGALR_DATA, else ./data)\n"
            "  --model M            %s\n"
            "  --sched S            %s\n"
            "  --lr X               initial / base learning rate (default 0.01; the parameter-free methods\n"
            "                       dog, prodigy, dadapt-* use their own)\n"
            "  --epochs E           (default 10)      --batch B   (default 32)\n"
            "  --seed S             (default 0)       --threads T (default 1)\n"
            "  --out DIR            run directory (created)\n"
            "  --resume             continue the run in DIR from its last checkpoint (bit-identical); the\n"
            "                       run's options are read from DIR/config.json (options given must agree)\n"
            "  --restart            with a run in DIR whose checkpoint is missing or that is damaged: discard\n"
            "                       its logged epochs and train again from epoch 1 (same options)\n"
            "  --probe N            probe samples of the connectome (default min(1024, training size))\n"
            "  --probe-layer NAMES  probe layer(s), comma-separated (default: the penultimate layer)\n"
            "  --ctrl-every K       controller step every K iterations (default 0: after every epoch)\n"
            "  --probe-mode M       CG-ALR connectome rows: inline (default: the probe set's rows as they\n"
            "                       pass through the training forward, no extra forward), pass (a\n"
            "                       separate inference forward over the probe set, the reference) or\n"
            "                       stream (every training row of the controller period)\n"
            "  --sched-opt LIST     scheduler options name=value,... (see below)\n"
            "  --wd X               weight decay (default 0)\n"
            "  --val-fraction F     validation carved from training (default 0.1)\n"
            "  --split-seed S       seed of the splits (default 0, shared by every run seed)\n"
            "  --limit N            at most N samples per split (quick runs)\n"
            "  --train-subset N     images: a fixed class-balanced training subset of N samples (drawn by\n"
            "                       --split-seed), validation carved from it, the test split whole\n"
            "  --node-attr          graphs: use node attributes as features too\n"
            "  --folds K --fold I   graphs: stratified K-fold (K = 2 .. 100), fold I (0 .. K-1) is the test\n"
            "                       set, validation carved from the rest (default: stratified 80/10/10)\n"
            "  --degree-features    graphs without node labels: one-hot degree instead of a constant\n"
            "  --sync-bn            under mpirun: batch-norm statistics over the whole batch of all ranks\n"
            "                       (each batch must give every rank at least one sample)\n"
            "  --augment            images: --crop and --flip (the CIFAR protocol); training batches only,\n"
            "                       never the probe set, validation or test; drawn from seed and epoch\n"
            "  --crop               images: random crop with 4-pixel zero padding\n"
            "  --flip               images: horizontal flip with probability 1/2\n"
            "  --no-normalize       images: pixel/255 instead of per-channel standardisation\n"
            "  --coarse             cifar100: the 20 coarse labels instead of the 100 fine ones\n"
            "  --resize N           image folders (folder:PATH, mini-imagenet): resize to N x N\n"
            "                       (default: keep; mini-imagenet 84)\n"
            "  --cache-dir DIR      images: where decoded JPEG/PNG images are cached (\"\" disables; default\n"
            "                       $CGALR_CACHE_DIR, else $XDG_CACHE_HOME/cgalr, else ~/.cache/cgalr)\n"
            "  --quiet              no progress or per-epoch lines\n"
            "  --check              run every check the training would (options, run directory, dataset,\n"
            "                       model, probe layer) and exit (0 valid, 2 not); writes nothing\n\n"
            "Exit status: 0 finished (also when the run diverged: see the summary), 1 runtime failure or\n"
            "interrupted (resume with --resume), 2 bad usage or input.\n\n"
            "Data parallel: `mpirun -np R cgalr train ...` splits every batch of --batch samples over the R\n"
            "ranks and sums their gradients; rank 0 writes the run directory, which every rank must see\n"
            "(docs/CLUSTER.md). Batch-norm statistics are each rank's part's unless --sync-bn.\n",
            cgalr_train_models(), cgalr_train_methods());
    fprintf(f, "\nScheduler options for --sched-opt:\n%s", cgalr_sched_options_help());
}

/* Strict numbers: the whole argument must parse. */
static int parse_double(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        fprintf(stderr, "cgalr train: %s '%s': not a number\n", opt, s);
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_u64(const char *opt, const char *s, unsigned long long max, unsigned long long *out)
{
    if (!cli_parse_uint(s, 0, max, out)) {
        fprintf(stderr, "cgalr train: %s '%s': expected a decimal integer in 0 .. %llu\n", opt, s, max);
        return 0;
    }
    return 1;
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

enum { O_DATA = 256, O_DATADIR, O_MODEL, O_SCHED, O_LR, O_EPOCHS, O_BATCH, O_SEED, O_THREADS, O_OUT, O_RESUME,
       O_PROBE, O_PROBELAYER, O_CTRLEVERY, O_SCHEDOPT, O_WD, O_VALFRAC, O_SPLITSEED, O_LIMIT, O_NODEATTR,
       O_FOLDS, O_FOLD, O_DEGREE, O_AUGMENT, O_CROP, O_FLIP, O_NONORM, O_COARSE, O_RESIZE, O_CACHEDIR,
       O_CHECK, O_QUIET, O_RESTART, O_SUBSET, O_PROBEMODE, O_SYNCBN, O_HELP };
static const struct option opts[] = {
    {"data", required_argument, 0, O_DATA},         {"data-dir", required_argument, 0, O_DATADIR},
    {"model", required_argument, 0, O_MODEL},       {"sched", required_argument, 0, O_SCHED},
    {"method", required_argument, 0, O_SCHED},      {"lr", required_argument, 0, O_LR},
    {"epochs", required_argument, 0, O_EPOCHS},     {"batch", required_argument, 0, O_BATCH},
    {"seed", required_argument, 0, O_SEED},         {"threads", required_argument, 0, O_THREADS},
    {"out", required_argument, 0, O_OUT},           {"resume", no_argument, 0, O_RESUME},
    {"probe", required_argument, 0, O_PROBE},       {"probe-layer", required_argument, 0, O_PROBELAYER},
    {"ctrl-every", required_argument, 0, O_CTRLEVERY}, {"sched-opt", required_argument, 0, O_SCHEDOPT},
    {"wd", required_argument, 0, O_WD},             {"val-fraction", required_argument, 0, O_VALFRAC},
    {"split-seed", required_argument, 0, O_SPLITSEED}, {"limit", required_argument, 0, O_LIMIT},
    {"node-attr", no_argument, 0, O_NODEATTR},      {"folds", required_argument, 0, O_FOLDS},
    {"fold", required_argument, 0, O_FOLD},         {"degree-features", no_argument, 0, O_DEGREE},
    {"augment", no_argument, 0, O_AUGMENT},         {"crop", no_argument, 0, O_CROP},
    {"flip", no_argument, 0, O_FLIP},               {"no-normalize", no_argument, 0, O_NONORM},
    {"coarse", no_argument, 0, O_COARSE},           {"resize", required_argument, 0, O_RESIZE},
    {"cache-dir", required_argument, 0, O_CACHEDIR}, {"check", no_argument, 0, O_CHECK},
    {"quiet", no_argument, 0, O_QUIET},           {"restart", no_argument, 0, O_RESTART},
    {"train-subset", required_argument, 0, O_SUBSET}, {"probe-mode", required_argument, 0, O_PROBEMODE},
    {"sync-bn", no_argument, 0, O_SYNCBN},          {"help", no_argument, 0, O_HELP},
    {0, 0, 0, 0}};

const struct option *cli_train_options(void) { return opts; }

/* Parses train options from argv[optind..] onto cfg (which holds defaults, or a resumed run's
 * options). Returns 0 when parsed, -1 after --help, else the exit code of a bad option (its
 * message printed). Stops at the first non-option argument. */
static int parse_options(int argc, char **argv, cgalr_train_config_t *cfg, ui *u, int *check_only)
{
    unsigned long long v;
    int c;
    optind = 0; /* 0, not 1: glibc starts a fresh scan (parsing runs twice on --resume) */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        const char *name = c >= 256 && c <= O_HELP ? opts[0].name : "";
        for (const struct option *o = opts; o->name; o++)
            if (o->val == c) {
                name = o->name;
                break;
            }
        char optname[64];
        snprintf(optname, sizeof optname, "--%s", name);
        switch (c) {
        case O_DATA: cfg->data = optarg; break;
        case O_DATADIR: cfg->data_dir = optarg; break;
        case O_MODEL: cfg->model = optarg; break;
        case O_SCHED: cfg->sched = optarg; break;
        case O_LR:
            if (!parse_double(optname, optarg, &cfg->lr))
                return CGALR_EXIT_USAGE;
            break;
        case O_EPOCHS:
            if (!parse_u64(optname, optarg, 100000, &v))
                return CGALR_EXIT_USAGE;
            cfg->epochs = (long)v;
            break;
        case O_BATCH:
            if (!parse_u64(optname, optarg, 65536, &v))
                return CGALR_EXIT_USAGE;
            cfg->batch = (size_t)v;
            break;
        case O_SEED:
            if (!parse_u64(optname, optarg, ~0ULL, &v))
                return CGALR_EXIT_USAGE;
            cfg->seed = v;
            break;
        case O_THREADS:
            if (!parse_u64(optname, optarg, 256, &v))
                return CGALR_EXIT_USAGE;
            cfg->threads = (int)v;
            break;
        case O_OUT: cfg->out = optarg; break;
        case O_RESUME: cfg->resume = 1; break;
        case O_PROBE:
            if (!parse_u64(optname, optarg, 100000, &v))
                return CGALR_EXIT_USAGE;
            cfg->probe_n = (size_t)v;
            break;
        case O_PROBELAYER: cfg->probe_layer = optarg; break;
        case O_PROBEMODE: cfg->probe_mode = optarg; break;
        case O_CTRLEVERY:
            if (!parse_u64(optname, optarg, 100000000, &v))
                return CGALR_EXIT_USAGE;
            cfg->ctrl_every = (long)v;
            break;
        case O_SCHEDOPT: cfg->sched_opts = optarg; break;
        case O_WD:
            if (!parse_double(optname, optarg, &cfg->weight_decay))
                return CGALR_EXIT_USAGE;
            break;
        case O_VALFRAC:
            if (!parse_double(optname, optarg, &cfg->val_fraction))
                return CGALR_EXIT_USAGE;
            break;
        case O_SPLITSEED:
            if (!parse_u64(optname, optarg, ~0ULL, &v))
                return CGALR_EXIT_USAGE;
            cfg->split_seed = v;
            break;
        case O_LIMIT:
            if (!parse_u64(optname, optarg, 1ULL << 40, &v))
                return CGALR_EXIT_USAGE;
            cfg->limit = (size_t)v;
            break;
        case O_SUBSET:
            if (!parse_u64(optname, optarg, 1ULL << 40, &v))
                return CGALR_EXIT_USAGE;
            cfg->train_subset = (size_t)v;
            break;
        case O_NODEATTR: cfg->node_attr = 1; break;
        case O_FOLDS:
            if (!parse_u64(optname, optarg, 100, &v))
                return CGALR_EXIT_USAGE;
            cfg->folds = (int)v;
            break;
        case O_FOLD:
            if (!parse_u64(optname, optarg, 99, &v))
                return CGALR_EXIT_USAGE;
            cfg->fold = (int)v;
            break;
        case O_DEGREE: cfg->degree_features = 1; break;
        case O_SYNCBN: cfg->sync_bn = 1; break;
        case O_AUGMENT: cfg->augment_crop = cfg->augment_flip = 1; break;
        case O_CROP: cfg->augment_crop = 1; break;
        case O_FLIP: cfg->augment_flip = 1; break;
        case O_NONORM: cfg->normalize = 0; break;
        case O_COARSE: cfg->cifar100_coarse = 1; break;
        case O_RESIZE:
            if (!parse_u64(optname, optarg, 4096, &v))
                return CGALR_EXIT_USAGE;
            cfg->resize = (int)v;
            break;
        case O_CACHEDIR: cfg->cache_dir = optarg; break;
        case O_CHECK: *check_only = 1; break;
        case O_QUIET: u->quiet = 1; break;
        case O_RESTART: cfg->restart = cfg->resume = 1; break;
        case O_HELP:
        case 'h': usage(stdout); return -1;
        default: fprintf(stderr, "(cgalr train --help lists the options)\n"); return CGALR_EXIT_USAGE;
        }
    }
    return 0;
}

int cli_train_parse(int argc, char **argv, cgalr_train_config_t *cfg)
{
    ui u = {0, 1, 0};
    int chk = 0;
    cgalr_train_config_default(cfg);
    opterr = 1;
    int r = parse_options(argc, argv, cfg, &u, &chk);
    if (r == 0 && optind < argc) {
        fprintf(stderr, "cgalr train: unexpected argument '%s'\n", argv[optind]);
        r = CGALR_EXIT_USAGE;
    }
    return r < 0 ? CGALR_EXIT_USAGE : r;
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
    cgalr_train_config_t cfg;
    cgalr_train_config_default(&cfg);
    peer_silence();
    ui u = {isatty(2), 0, 0};
    int check_only = 0;
    opterr = 1;
    int r = parse_options(argc, argv, &cfg, &u, &check_only);
    if (r)
        return r < 0 ? CGALR_EXIT_OK : r;
    /* --resume --out DIR: the run's own options first, then what was given here on top (what
     * differs from the run is refused by the library, naming the option) */
    char **saved = NULL;
    int nsaved = 0;
    if (cfg.resume && cfg.out && (saved = saved_command(cfg.out, &nsaved))) {
        cgalr_train_config_t from;
        cgalr_train_config_default(&from);
        int chk = 0;
        ui dummy = {0, 0, 0};
        opterr = 0;
        int ok = parse_options(nsaved, saved, &from, &dummy, &chk) == 0 && optind == nsaved;
        opterr = 1;
        if (ok) {
            r = parse_options(argc, argv, &from, &u, &check_only);
            if (r) {
                free(saved);
                        return r < 0 ? CGALR_EXIT_OK : r;
            }
            cfg = from;
        }
    }
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

/* `cgalr bench`: times cgalr's own kernels on this machine (the cost of a controller step, of a
 * training step per model), so a user can size a run before starting it. Comparisons against
 * NumPy/SciPy, ripser, GUDHI and PyTorch in the same run are bench/ and `make bench`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgalr.h"
#include "cli/cli.h"
#include "core/sort.h"
#include "core/clock.h"

typedef struct bench_opts {
    double budget_s; /* time spent per measurement (at least 3 repetitions) */
    int threads;
    int quick;
    int json;
    int first_json;
} bench_opts_t;

typedef cgalr_status_t (*bench_fn)(void *arg);

/* Median seconds of one call, over as many calls as fit in the budget (3 to 200). A failing call
 * stops the measurement and returns -1 with the library's message left in place. */
static double measure(const bench_opts_t *o, bench_fn fn, void *arg)
{
    enum { MAXREP = 200 };
    double t[MAXREP];
    int n = 0;
    if (fn(arg) != CGALR_OK) /* warm caches, allocators and BLAS buffers: not timed */
        return -1;
    double start = core_now();
    while (n < MAXREP && (n < 3 || core_now() - start < o->budget_s)) {
        double t0 = core_now();
        if (fn(arg) != CGALR_OK)
            return -1;
        t[n++] = core_now() - t0;
    }
    qsort(t, (size_t)n, sizeof *t, core_cmp_f64);
    return (n % 2) ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static void report(bench_opts_t *o, const char *section, const char *what, double sec, double rate,
                   const char *unit)
{
    if (o->json) {
        printf("%s{\"section\":\"%s\",\"what\":\"%s\",\"ms\":%.6g", o->first_json ? "" : ",\n", section,
               what, 1e3 * sec);
        if (unit)
            printf(",\"rate\":%.6g,\"unit\":\"%s\"", rate, unit);
        printf("}");
        o->first_json = 0;
        return;
    }
    if (unit)
        printf("  %-5s %-52s %10.4f ms  %10.4g %s\n", section, what, 1e3 * sec, rate, unit);
    else
        printf("  %-5s %-52s %10.4f ms\n", section, what, 1e3 * sec);
}

/* Activations with block structure (a few latent factors shared by groups of signals), so the
 * connectome and its topology are not those of pure noise. */
static void activations(double *act, size_t n, size_t p, uint64_t seed)
{
    cgalr_rng_t r = cgalr_rng_init(seed, CGALR_STREAM_TEST);
    enum { FACTORS = 8 };
    double f[FACTORS];
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < FACTORS; k++)
            f[k] = cgalr_rng_normal(&r);
        for (size_t j = 0; j < p; j++)
            act[i * p + j] = f[j % FACTORS] * (0.3 + 0.1 * (double)(j % 5)) + cgalr_rng_normal(&r);
    }
}

/* ---- topology ------------------------------------------------------------------------------- */

typedef struct topo_arg {
    const double *act;
    size_t n, p;
    double *m;
    cgalr_barcode_t prev;
    double out;
    const cgalr_topo_summary_t *sa, *sb;
    const cgalr_diagram_t *da, *db;
    cgalr_topo_config_t cfg;
    double *dist;
    cgalr_connectome_acc_t *acc; /* the accumulator the training pass feeds */
    const float *rows;           /* one training batch of pooled signals */
    size_t nrows;
} topo_arg_t;

static cgalr_status_t f_connectome(void *a)
{
    topo_arg_t *t = a;
    return cgalr_topo_connectome_d(t->act, t->n, t->p, t->m);
}

/* The rest of a TOP controller step once t->m holds the connectome (st: how getting it went). */
static cgalr_status_t top_of_m(topo_arg_t *t, cgalr_status_t st)
{
    cgalr_barcode_t b = {0};
    if (st == CGALR_OK)
        st = cgalr_topo_barcode(t->m, t->p, &b);
    if (st == CGALR_OK)
        st = cgalr_topo_top(&t->prev, &b, &t->out);
    cgalr_barcode_free(&b);
    return st;
}

static cgalr_status_t f_top_step(void *a)
{
    topo_arg_t *t = a;
    return top_of_m(t, cgalr_topo_connectome_d(t->act, t->n, t->p, t->m));
}

/* What capture adds per training batch in --probe-mode stream: one batch into the accumulator. */
static cgalr_status_t f_acc_add(void *a)
{
    topo_arg_t *t = a;
    return cgalr_topo_acc_add_f(t->acc, t->rows, t->nrows);
}

/* A controller step from the accumulator (--ctrl-every K with inline/stream): the connectome of
 * the rows so far, its barcode and TOP against the previous one. */
static cgalr_status_t f_acc_step(void *a)
{
    topo_arg_t *t = a;
    return top_of_m(t, cgalr_topo_acc_finish(t->acc, t->m));
}

static cgalr_status_t f_barcode(void *a)
{
    topo_arg_t *t = a;
    cgalr_barcode_t b = {0};
    cgalr_status_t st = cgalr_topo_barcode(t->m, t->p, &b);
    cgalr_barcode_free(&b);
    return st;
}

static cgalr_status_t f_rips(void *a)
{
    topo_arg_t *t = a;
    cgalr_diagram_t d0 = {0}, d1 = {0};
    cgalr_status_t st = cgalr_topo_rips(t->dist, t->p, 1, INFINITY, &d0, &d1);
    t->out = (double)d1.n;
    cgalr_diagram_free(&d0);
    cgalr_diagram_free(&d1);
    return st;
}

static cgalr_status_t f_w1(void *a)
{
    topo_arg_t *t = a;
    return cgalr_topo_wasserstein1(t->da, t->db, &t->out);
}

static cgalr_status_t f_sw(void *a)
{
    topo_arg_t *t = a;
    return cgalr_topo_sliced_wasserstein(t->da, t->db, 50, &t->out);
}

static int bench_topo(bench_opts_t *o)
{
    const size_t n = 1024;
    const size_t ps[] = {128, 512};
    int rc = CGALR_EXIT_OK;
    for (size_t k = 0; k < (o->quick ? 1u : 2u); k++) {
        size_t p = ps[k];
        double *act = malloc(n * p * sizeof *act), *act0 = malloc(n * p * sizeof *act);
        double *m = malloc(p * p * sizeof *m);
        topo_arg_t t = {.act = act, .n = n, .p = p, .m = m};
        if (!act || !act0 || !m) {
            fprintf(stderr, "cgalr bench: out of memory (P = %zu)\n", p);
            rc = CGALR_EXIT_FAIL;
        } else {
            activations(act0, n, p, 1);
            activations(act, n, p, 2);
            if (cgalr_topo_connectome_d(act0, n, p, m) != CGALR_OK || cgalr_topo_barcode(m, p, &t.prev) != CGALR_OK) {
                fprintf(stderr, "cgalr bench: %s\n", cgalr_last_error());
                rc = CGALR_EXIT_FAIL;
            } else {
                char what[96];
                double s = measure(o, f_connectome, &t);
                /* dsyrk on the centred N x P matrix: N P (P + 1) flops */
                snprintf(what, sizeof what, "connectome N=%zu P=%zu", n, p);
                report(o, "topo", what, s, 1e-9 * (double)n * (double)p * (double)(p + 1) / s, "GFLOP/s");
                snprintf(what, sizeof what, "barcode (maximum spanning tree) P=%zu", p);
                report(o, "topo", what, measure(o, f_barcode, &t), 0, NULL);
                snprintf(what, sizeof what, "TOP step (connectome+barcode+TOP) P=%zu", p);
                report(o, "topo", what, measure(o, f_top_step, &t), 0, NULL);
                float *rows = malloc(32 * p * sizeof *rows);
                if (!rows || cgalr_topo_acc_create(p, &t.acc) != CGALR_OK) {
                    fprintf(stderr, "cgalr bench: out of memory (accumulator, P = %zu)\n", p);
                    rc = CGALR_EXIT_FAIL;
                } else {
                    for (size_t i = 0; i < 32 * p; i++)
                        rows[i] = (float)act[i];
                    t.rows = rows;
                    t.nrows = 32;
                    if (cgalr_topo_acc_add_d(t.acc, act, n) != CGALR_OK) {
                        fprintf(stderr, "cgalr bench: %s\n", cgalr_last_error());
                        rc = CGALR_EXIT_FAIL;
                    } else {
                        snprintf(what, sizeof what, "accumulator: add a batch of 32 rows P=%zu", p);
                        report(o, "topo", what, measure(o, f_acc_add, &t), 0, NULL);
                        snprintf(what, sizeof what, "TOP step from the accumulator (finish+barcode+TOP) P=%zu", p);
                        report(o, "topo", what, measure(o, f_acc_step, &t), 0, NULL);
                    }
                }
                cgalr_topo_acc_free(t.acc);
                free(rows);
            }
        }
        cgalr_barcode_free(&t.prev);
        free(act);
        free(act0);
        free(m);
        if (rc != CGALR_EXIT_OK)
            return rc;
    }
    return rc;
}

/* Two H1 diagrams of sqrt(1 - M) for consecutive-looking connectomes of p signals. */
static int two_diagrams(size_t p, cgalr_diagram_t *da, cgalr_diagram_t *db, double *dist_out)
{
    const size_t n = 512;
    double *act = malloc(n * p * sizeof *act), *m = malloc(p * p * sizeof *m), *dist = malloc(p * p * sizeof *dist);
    int ok = act && m && dist;
    for (int k = 0; ok && k < 2; k++) {
        cgalr_diagram_t d0 = {0};
        activations(act, n, p, 10 + (uint64_t)k);
        ok = cgalr_topo_connectome_d(act, n, p, m) == CGALR_OK &&
             cgalr_topo_correlation_distance(m, p, NULL, p, dist) == CGALR_OK &&
             cgalr_topo_rips(dist, p, 1, INFINITY, &d0, k ? db : da) == CGALR_OK;
        cgalr_diagram_free(&d0);
    }
    if (ok && dist_out)
        memcpy(dist_out, dist, p * p * sizeof *dist);
    free(act);
    free(m);
    free(dist);
    return ok;
}

static int bench_rips(bench_opts_t *o)
{
    size_t p = o->quick ? 64 : 128;
    double *dist = malloc(p * p * sizeof *dist);
    cgalr_diagram_t da = {0}, db = {0};
    int rc = CGALR_EXIT_OK;
    if (!dist || !two_diagrams(p, &da, &db, dist)) {
        fprintf(stderr, "cgalr bench: %s\n", dist ? cgalr_last_error() : "out of memory");
        rc = CGALR_EXIT_FAIL;
    } else {
        topo_arg_t t = {.p = p, .dist = dist, .da = &da, .db = &db};
        char what[96];
        snprintf(what, sizeof what, "Rips H0+H1 of sqrt(1-M), P=%zu (%zu H1 pairs)", p, db.n);
        report(o, "rips", what, measure(o, f_rips, &t), 0, NULL);
        snprintf(what, sizeof what, "exact W1 between H1 diagrams (%zu, %zu points)", da.n, db.n);
        report(o, "dgm", what, measure(o, f_w1, &t), 0, NULL);
        snprintf(what, sizeof what, "sliced Wasserstein, 50 directions");
        report(o, "dgm", what, measure(o, f_sw, &t), 0, NULL);
    }
    cgalr_diagram_free(&da);
    cgalr_diagram_free(&db);
    free(dist);
    return rc;
}

/* ---- controller ---------------------------------------------------------------------------- */

typedef struct ctrl_arg {
    cgalr_sched_t *s;
    const double *m[2];
    size_t p;
    long step;
} ctrl_arg_t;

static cgalr_status_t f_ctrl(void *a)
{
    ctrl_arg_t *c = a;
    c->step++;
    return cgalr_sched_observe_connectome(c->s, c->m[c->step & 1], c->p, (double)c->step, NULL);
}

static cgalr_status_t f_gate(void *a)
{
    ctrl_arg_t *c = a;
    cgalr_status_t st = CGALR_OK;
    for (int i = 0; i < 1000 && st == CGALR_OK; i++) {
        c->step++;
        st = cgalr_sched_observe_distance(c->s, 1.0 + 0.5 * sin(0.7 * (double)c->step), (double)c->step, NULL);
    }
    return st;
}

static int bench_ctrl(bench_opts_t *o)
{
    const size_t n = 1024, p = o->quick ? 128 : 512;
    double *act = malloc(n * p * sizeof *act), *m0 = malloc(p * p * sizeof *m0), *m1 = malloc(p * p * sizeof *m1);
    int rc = CGALR_EXIT_OK;
    if (!act || !m0 || !m1) {
        fprintf(stderr, "cgalr bench: out of memory\n");
        rc = CGALR_EXIT_FAIL;
    }
    for (int k = 0; rc == CGALR_EXIT_OK && k < 2; k++) {
        activations(act, n, p, 20 + (uint64_t)k);
        if (cgalr_topo_connectome_d(act, n, p, k ? m1 : m0) != CGALR_OK) {
            fprintf(stderr, "cgalr bench: %s\n", cgalr_last_error());
            rc = CGALR_EXIT_FAIL;
        }
    }
    const cgalr_method_t methods[] = {CGALR_METHOD_CGALR_TOP, CGALR_METHOD_CGALR_WD, CGALR_METHOD_CGALR_SWK};
    for (int k = 0; rc == CGALR_EXIT_OK && k < 4; k++) {
        cgalr_sched_config_t cfg;
        cgalr_sched_config_default(&cfg, methods[k < 3 ? k : 0]);
        cfg.epochs = 100;
        ctrl_arg_t c = {.m = {m0, m1}, .p = p};
        if (cgalr_sched_create(&cfg, &c.s) != CGALR_OK) {
            fprintf(stderr, "cgalr bench: %s\n", cgalr_last_error());
            rc = CGALR_EXIT_FAIL;
            break;
        }
        char what[96];
        double s;
        if (k < 3) {
            snprintf(what, sizeof what, "%s step from a connectome, P=%zu%s", cgalr_method_name(methods[k]), p,
                     k ? " (P_ph=128)" : "");
            s = measure(o, f_ctrl, &c);
        } else {
            snprintf(what, sizeof what, "score + gate + multiplier, per step (K=8)");
            s = measure(o, f_gate, &c);
            if (s >= 0)
                s /= 1000;
        }
        cgalr_sched_free(c.s);
        if (s < 0) {
            fprintf(stderr, "cgalr bench: %s\n", cgalr_last_error());
            rc = CGALR_EXIT_FAIL;
            break;
        }
        report(o, "ctrl", what, s, 0, NULL);
    }
    free(act);
    free(m0);
    free(m1);
    return rc;
}

/* ---- training steps ------------------------------------------------------------------------ */

typedef struct nn_arg {
    cgalr_model_t *model;
    cgalr_optim_t *opt;
    const cgalr_image_batch_t *ib;
    const cgalr_graph_batch_t *gb;
} nn_arg_t;

static cgalr_status_t f_train(void *a)
{
    nn_arg_t *t = a;
    cgalr_step_result_t res;
    cgalr_status_t st = t->ib ? cgalr_model_train_images(t->model, t->ib, &res)
                              : cgalr_model_train_graphs(t->model, t->gb, &res);
    return st == CGALR_OK ? cgalr_optim_step(t->opt, 1e-3) : st;
}

/* 32 graphs of 40 nodes each: a ring plus chords (PROTEINS-like size), 3 one-hot features. */
typedef struct gin_data {
    float x[32 * 40 * 3];
    int32_t row_ptr[32 * 40 + 1], col[32 * 40 * 4], node_ptr[33], graph_of[32 * 40], labels[32];
} gin_data_t;

static void gin_batch(gin_data_t *d, cgalr_graph_batch_t *b)
{
    const int G = 32, V = 40, F = 3;
    int e = 0;
    for (int g = 0; g < G; g++) {
        d->node_ptr[g] = g * V;
        d->labels[g] = g % 2;
        for (int v = 0; v < V; v++) {
            int id = g * V + v;
            d->graph_of[id] = g;
            d->row_ptr[id] = e;
            int nb[4] = {(v + 1) % V, (v + V - 1) % V, (v + 7) % V, (v + V - 7) % V};
            for (int k = 0; k < 4; k++)
                d->col[e++] = g * V + nb[k];
            for (int f = 0; f < F; f++)
                d->x[id * F + f] = (float)((v + g) % F == f);
        }
    }
    d->node_ptr[G] = G * V;
    d->row_ptr[G * V] = e;
    *b = (cgalr_graph_batch_t){.n_graphs = (size_t)G, .n_nodes = (size_t)(G * V), .feat_dim = (size_t)F,
                               .x = d->x, .row_ptr = d->row_ptr, .col = d->col, .node_ptr = d->node_ptr,
                               .graph_of_node = d->graph_of, .labels = d->labels};
}

static int bench_nn(bench_opts_t *o)
{
    static const struct {
        cgalr_model_kind_t kind;
        size_t c, h, w, batch;
        const char *shape;
    } models[] = {
        {CGALR_MODEL_MLP, 1, 28, 28, 128, "1x28x28"},
        {CGALR_MODEL_GIN, 0, 0, 0, 32, "40-node graphs"},
        {CGALR_MODEL_CNN, 3, 32, 32, 128, "3x32x32"},
        {CGALR_MODEL_RESNET20, 3, 32, 32, 128, "3x32x32"},
    };
    int rc = CGALR_EXIT_OK;
    size_t count = o->quick ? 2 : sizeof models / sizeof models[0];
    gin_data_t *gd = malloc(sizeof *gd);
    float *x = malloc(128 * 3 * 32 * 32 * sizeof *x);
    int32_t labels[128];
    if (!gd || !x) {
        fprintf(stderr, "cgalr bench: out of memory\n");
        free(gd);
        free(x);
        return CGALR_EXIT_FAIL;
    }
    cgalr_rng_t r = cgalr_rng_init(3, CGALR_STREAM_TEST);
    for (size_t i = 0; i < 128 * 3 * 32 * 32; i++)
        x[i] = (float)cgalr_rng_normal(&r);
    for (int i = 0; i < 128; i++)
        labels[i] = i % 10;
    cgalr_graph_batch_t gb;
    gin_batch(gd, &gb);
    for (size_t k = 0; k < count && rc == CGALR_EXIT_OK; k++) {
        cgalr_model_config_t mc;
        cgalr_model_config_default(&mc, models[k].kind);
        mc.threads = o->threads;
        mc.seed = 1;
        if (models[k].kind == CGALR_MODEL_GIN) {
            mc.node_features = 3;
            mc.n_classes = 2;
        } else {
            mc.in_c = models[k].c;
            mc.in_h = models[k].h;
            mc.in_w = models[k].w;
            mc.n_classes = 10;
        }
        cgalr_image_batch_t ib = {.n = models[k].batch, .c = models[k].c, .h = models[k].h, .w = models[k].w,
                                  .x = x, .labels = labels};
        nn_arg_t t = {0};
        cgalr_optim_config_t oc;
        cgalr_optim_config_default(&oc, CGALR_OPTIM_SGD);
        if (cgalr_model_create(&mc, &t.model) != CGALR_OK || cgalr_optim_create(&oc, t.model, &t.opt) != CGALR_OK) {
            fprintf(stderr, "cgalr bench: %s\n", cgalr_last_error());
            rc = CGALR_EXIT_FAIL;
        } else {
            if (models[k].kind == CGALR_MODEL_GIN)
                t.gb = &gb;
            else
                t.ib = &ib;
            double s = measure(o, f_train, &t);
            char what[96];
            snprintf(what, sizeof what, "%s train step, batch of %zu x %s", cgalr_model_kind_name(models[k].kind),
                     models[k].batch, models[k].shape);
            if (s < 0) {
                fprintf(stderr, "cgalr bench: %s\n", cgalr_last_error());
                rc = CGALR_EXIT_FAIL;
            } else {
                report(o, "nn", what, s, (double)models[k].batch / s,
                       models[k].kind == CGALR_MODEL_GIN ? "graphs/s" : "images/s");
            }
        }
        cgalr_optim_free(t.opt);
        cgalr_model_free(t.model);
    }
    free(gd);
    free(x);
    return rc;
}

/* ---- command ------------------------------------------------------------------------------- */

typedef struct {
    bench_opts_t o;
    const char *only;
} bench_args;

/* --threads: the engine's range (cgalr_train_config_validate's 1 .. 256) */
#define BA bench_args
static const cli_opt_t bench_opts[] = {
    CLI_STR(BA, only, "only", "LIST", "comma-separated sections (default: topo,rips,ctrl,nn)"),
    CLI_SET1(BA, o.quick, "quick", "smaller sizes and a shorter time per measurement (0.1 s unless --seconds)"),
    CLI_UINT(BA, o.threads, "threads", "T", 1, 256, "engine and BLAS threads for the nn section (default 1); the other\n"
                                                   "sections use OpenBLAS's setting (OPENBLAS_NUM_THREADS)"),
    CLI_DBL_R(BA, o.budget_s, "seconds", "S", 0, 3600, CLI_LO_OPEN, "(0, 3600]",
              "time spent per measurement (default 0.5, at least 3 calls)"),
    CLI_SET1(BA, o.json, "json", "a JSON array of {section, what, ms[, rate, unit]}"),
    CLI_HELP_ROW,
    CLI_END,
};
#undef BA
enum { B_ONLY, B_QUICK, B_THREADS, B_SECONDS };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cgalr bench [--only LIST] [--quick] [--threads T] [--seconds S] [--json]\n"
            "\n"
            "Times cgalr's own kernels on this machine (median over repeated calls, wall time),\n"
            "so the cost of a run can be judged before it starts. Sections:\n"
            "  topo   connectome of N = 1024 samples (double, BLAS) at P = 128 and 512, its\n"
            "         barcode, and the whole TOP step\n"
            "  rips   Vietoris-Rips H0+H1 of sqrt(1 - M) at P = 128 (the WD/SWK summary), exact W1\n"
            "         and sliced Wasserstein between two such diagrams\n"
            "  ctrl   one cgalr-top, cgalr-wd and cgalr-swk controller step from a connectome at\n"
            "         P = 512, and the score + gate + multiplier update alone\n"
            "  nn     one training step (forward, backward, SGD) of mlp, gin, cnn and resnet20 on\n"
            "         random inputs of the evaluation's shapes\n"
            "\n");
    cli_opt_help(f, bench_opts);
    fprintf(f, "\n"
               "Comparisons with NumPy/SciPy, ripser, GUDHI/POT and PyTorch in the same run: make bench\n"
               "(scripts/bench.sh).\n");
}

int cgalr_cmd_bench(int argc, char **argv)
{
    bench_args a = {{.budget_s = 0.5, .threads = 1, .first_json = 1}, "topo,rips,ctrl,nn"};
    unsigned char given[sizeof bench_opts / sizeof bench_opts[0]];
    const cli_cmd_t cmd = {.prog = "cgalr bench", .opts = bench_opts, .usage = usage};
    int rc = cli_opt_parse(&cmd, argc, argv, &a, given);
    if (rc)
        return cli_opt_exit(rc);
    if (optind < argc) {
        fprintf(stderr, "cgalr bench: unexpected argument '%s' (see cgalr bench --help)\n", argv[optind]);
        return CGALR_EXIT_USAGE;
    }
    bench_opts_t o = a.o;
    const char *only = a.only;
    if (o.quick && !given[B_SECONDS])
        o.budget_s = 0.1;
    /* Parse the whole list before any work, so a typo costs nothing. */
    static const char *names[] = {"topo", "rips", "ctrl", "nn"};
    int want[4] = {0};
    const char *s = only;
    while (*s) {
        size_t len = strcspn(s, ",");
        int found = 0;
        for (int k = 0; k < 4; k++)
            if (len == strlen(names[k]) && strncmp(s, names[k], len) == 0)
                want[k] = found = 1;
        if (!found) {
            fprintf(stderr, "cgalr bench: --only: unknown section '%.*s' (valid: topo, rips, ctrl, nn)\n", (int)len, s);
            return CGALR_EXIT_USAGE;
        }
        s += len + (s[len] == ',');
    }
    if (!(want[0] || want[1] || want[2] || want[3])) {
        fprintf(stderr, "cgalr bench: --only: no section given (valid: topo, rips, ctrl, nn)\n");
        return CGALR_EXIT_USAGE;
    }
    int (*const run[4])(bench_opts_t *) = {bench_topo, bench_rips, bench_ctrl, bench_nn};
    if (o.json)
        printf("[\n");
    else
        printf("cgalr bench: median wall time per call%s\n", o.quick ? " (quick sizes)" : "");
    rc = CGALR_EXIT_OK;
    for (int k = 0; k < 4 && rc == CGALR_EXIT_OK; k++) {
        if (!want[k])
            continue;
        rc = run[k](&o);
        fflush(stdout);
    }
    if (o.json)
        printf("\n]\n");
    return rc;
}

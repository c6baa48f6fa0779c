/* `cgalr topo`: connectomes, graph-filtration barcodes, Rips diagrams and TOP/WD/SWK distances of
 * text matrices, thin over the topology layer (issue 2). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/topo.h"
#include "cli/cli.h"
#include "cli/matrix_io.h"

/* Text written by other tools (numpy's %.18e, R, spreadsheets) may be asymmetric in the last digit. */
#define SYM_TOL 1e-9

typedef struct {
    const char *files[4];     /* --connectome, --barcode, --diagram; [3]: --distance's KIND */
    unsigned dim;
    double threshold;
    int from_connectome, activations;
    size_t p_ph;
    uint64_t seed;
    int directions;
} topo_args;

/* The modes are the first four rows, in the order of topo_args.files. p_ph's floor is the topology
 * layer's (cgalr_topo_summarize: at least 2); --directions keeps an int's room. */
#define TA topo_args
static const cli_opt_t topo_opts[] = {
    CLI_STR(TA, files[0], "connectome", "ACT", "N x P activations (rows = samples): prints the P x P connectome\n"
                                               "|Pearson| with zero diagonal, as CSV"),
    CLI_STR(TA, files[1], "barcode", "M", "P x P connectome (symmetric, in [0, 1]): prints the line\n"
                                          "\"births P-1\", the maximum-spanning-tree weights ascending, then\n"
                                          "\"deaths (P-1)(P-2)/2\" and the other weights ascending"),
    CLI_STR(TA, files[2], "diagram", "D", "Vietoris-Rips diagram of a symmetric distance matrix: one\n"
                                          "\"birth death\" pair per line, sorted (death 'inf' if essential)"),
    CLI_STR(TA, files[3], "distance", "KIND", "distance between connectomes A B ... (files after the options): top\n"
                                              "(squared L2 between sorted barcodes), wd (exact 1-Wasserstein between\n"
                                              "H1 diagrams of sqrt(1 - M)), swk (sliced Wasserstein between the same\n"
                                              "diagrams); with more than two files, the matrix of all pairwise distances"),
    CLI_UINT(TA, dim, "dim", "0|1", 0, 1, "--diagram: homology dimension (default 1)"),
    CLI_DBL_R(TA, threshold, "threshold", "T", 0, INFINITY, CLI_INF_OK, "[0, inf]",
              "--diagram: leave out edges longer than T (default: inf, exact)"),
    CLI_SET1(TA, from_connectome, "from-connectome", "--diagram: the file is a connectome M; use D = sqrt(1 - M)"),
    CLI_SET1(TA, activations, "activations", "--distance: the files are activation matrices (same P); their\n"
                                             "connectomes are compared"),
    CLI_UINT(TA, p_ph, "p-ph", "K", 2, SIZE_MAX, "--distance wd/swk: signals used, a subset drawn by the seed (default 128)"),
    CLI_UINT(TA, seed, "seed", "S", 0, UINT64_MAX, "--distance wd/swk: seed of that subset (default 0)"),
    CLI_UINT(TA, directions, "directions", "M", 1, 1000000, "--distance swk: number of directions (default 50)"),
    CLI_HELP_ROW,
    CLI_END,
};
#undef TA
enum { T_CONNECTOME, T_BARCODE, T_DIAGRAM, T_DISTANCE, T_DIM, T_THRESHOLD, T_FROM_CONN, T_ACT, T_PPH, T_SEED, T_DIRS };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cgalr topo --connectome ACT.csv\n"
            "       cgalr topo --barcode M.csv\n"
            "       cgalr topo --diagram D.csv [--dim 0|1] [--threshold T] [--from-connectome]\n"
            "       cgalr topo --distance top|wd|swk A.csv B.csv [C.csv ...] [--activations]\n"
            "                  [--p-ph K] [--seed S] [--directions M]\n\n"
            "Topology of functional connectomes (METHOD.md sections 2-3). Input files hold CSV or\n"
            "whitespace-separated numbers, one matrix row per line; '#' lines are skipped; '-' reads\n"
            "standard input. Numbers are printed with 17 significant digits.\n\n");
    cli_opt_help(f, topo_opts);
    fprintf(f, "\nExit status: 0 ok, 1 runtime failure, 2 bad usage or bad input.\n");
}

static int fail(cgalr_status_t st)
{
    fprintf(stderr, "cgalr topo: %s\n", cgalr_last_error());
    return cli_exit_code(st);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "cgalr topo: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(cgalr topo --help for usage)\n");
    return CGALR_EXIT_USAGE;
}

/* Reads a connectome file: square, symmetric within SYM_TOL, off-diagonal in [0, 1]. */
static cgalr_status_t read_connectome(const char *path, cli_matrix_t *m)
{
    cgalr_status_t st = cli_matrix_read(path, m);
    if (st == CGALR_OK)
        st = cli_matrix_require_square(m);
    if (st == CGALR_OK)
        st = cli_matrix_require_range(m, 0.0, 1.0, 1);
    if (st == CGALR_OK)
        st = cli_matrix_require_symmetric(m, SYM_TOL);
    if (st == CGALR_OK && m->rows < 2)
        st = cgalr_fail(CGALR_EFORMAT, "%s: a %zu x %zu connectome; expected at least 2 signals", path,
                        m->rows, m->cols);
    return st;
}

/* Reads an activation matrix and writes its connectome into a fresh p x p buffer. */
static cgalr_status_t read_activations(const char *path, double **out, size_t *p)
{
    cli_matrix_t a;
    *out = NULL;
    cgalr_status_t st = cli_matrix_read(path, &a);
    if (st == CGALR_OK && a.rows < 2)
        st = cgalr_fail(CGALR_EFORMAT, "%s: %zu sample row; expected at least 2 rows (samples)", path,
                        a.rows);
    if (st == CGALR_OK) {
        *out = malloc(a.cols * a.cols * sizeof **out);
        if (!*out)
            st = cgalr_fail(CGALR_ENOMEM, "%s: out of memory for a %zu x %zu connectome", path, a.cols,
                            a.cols);
    }
    if (st == CGALR_OK)
        st = cgalr_topo_connectome_d(a.data, a.rows, a.cols, *out);
    if (st == CGALR_OK)
        *p = a.cols;
    else {
        free(*out);
        *out = NULL;
    }
    cli_matrix_free(&a);
    return st;
}

static int do_connectome(const char *path)
{
    double *m;
    size_t p;
    cgalr_status_t st = read_activations(path, &m, &p);
    if (st != CGALR_OK)
        return fail(st);
    int rc = cli_matrix_write_csv(stdout, m, p, p) ? CGALR_EXIT_FAIL : CGALR_EXIT_OK;
    free(m);
    return rc;
}

static int do_barcode(const char *path)
{
    cli_matrix_t m;
    cgalr_barcode_t b = {0};
    cgalr_status_t st = read_connectome(path, &m);
    if (st == CGALR_OK)
        st = cgalr_topo_barcode(m.data, m.rows, &b);
    cli_matrix_free(&m);
    if (st != CGALR_OK)
        return fail(st);
    printf("births %zu\n", b.n_births);
    for (size_t k = 0; k < b.n_births; k++)
        printf("%.17g\n", b.births[k]);
    printf("deaths %zu\n", b.n_deaths);
    for (size_t k = 0; k < b.n_deaths; k++)
        printf("%.17g\n", b.deaths[k]);
    cgalr_barcode_free(&b);
    return CGALR_EXIT_OK;
}

static int do_diagram(const char *path, int dim, double threshold, int from_connectome)
{
    cli_matrix_t m;
    double *d = NULL;
    cgalr_diagram_t d0 = {0, NULL}, d1 = {0, NULL};
    cgalr_status_t st;
    if (from_connectome) {
        st = read_connectome(path, &m);
        if (st == CGALR_OK) {
            d = malloc(m.rows * m.rows * sizeof *d);
            st = d ? cgalr_topo_correlation_distance(m.data, m.rows, NULL, m.rows, d)
                   : cgalr_fail(CGALR_ENOMEM, "%s: out of memory", path);
        }
    } else {
        st = cli_matrix_read(path, &m);
        if (st == CGALR_OK)
            st = cli_matrix_require_square(&m);
        if (st == CGALR_OK)
            st = cli_matrix_require_range(&m, 0.0, INFINITY, 1);
        if (st == CGALR_OK)
            st = cli_matrix_require_symmetric(&m, SYM_TOL);
    }
    size_t p = m.rows;
    if (st == CGALR_OK)
        st = cgalr_topo_rips(d ? d : m.data, p, dim, threshold, &d0, dim == 1 ? &d1 : NULL);
    free(d);
    cli_matrix_free(&m);
    if (st != CGALR_OK) {
        cgalr_diagram_free(&d0);
        cgalr_diagram_free(&d1);
        return fail(st);
    }
    const cgalr_diagram_t *out = dim == 1 ? &d1 : &d0;
    for (size_t k = 0; k < out->n; k++) {
        if (isinf(out->pairs[k].death))
            printf("%.17g inf\n", out->pairs[k].birth);
        else
            printf("%.17g %.17g\n", out->pairs[k].birth, out->pairs[k].death);
    }
    cgalr_diagram_free(&d0);
    cgalr_diagram_free(&d1);
    return CGALR_EXIT_OK;
}

/* Reads file `path` as a connectome (or activations) and summarises it; *p receives its size. */
static cgalr_status_t summarize_file(const cgalr_topo_config_t *cfg, const char *path, int activations,
                                     cgalr_topo_summary_t *s, size_t *p)
{
    cgalr_status_t st;
    memset(s, 0, sizeof *s);
    if (activations) {
        double *m = NULL;
        st = read_activations(path, &m, p);
        if (st == CGALR_OK)
            st = cgalr_topo_summarize(cfg, m, *p, s);
        free(m);
    } else {
        cli_matrix_t m;
        st = read_connectome(path, &m);
        *p = m.rows;
        if (st == CGALR_OK)
            st = cgalr_topo_summarize(cfg, m.data, m.rows, s);
        cli_matrix_free(&m);
    }
    return st;
}

/* Two files: one number. More: the k x k matrix of distances as CSV, each file summarised once. */
static int do_distance(const cgalr_topo_config_t *cfg, char **files, size_t k, int activations)
{
    cgalr_topo_summary_t *s = calloc(k, sizeof *s);
    size_t *p = calloc(k, sizeof *p);
    double *d = calloc(k * k, sizeof *d);
    cgalr_status_t st = (s && p && d) ? CGALR_OK : cgalr_fail(CGALR_ENOMEM, "out of memory for %zu files", k);
    for (size_t i = 0; i < k && st == CGALR_OK; i++) {
        st = summarize_file(cfg, files[i], activations, &s[i], &p[i]);
        if (st == CGALR_OK && p[i] != p[0])
            st = cgalr_fail(CGALR_EFORMAT, "%s has %zu signals but %s has %zu; expected the same number",
                            files[0], p[0], files[i], p[i]);
    }
    for (size_t i = 0; i < k && st == CGALR_OK; i++)
        for (size_t j = i + 1; j < k && st == CGALR_OK; j++) {
            st = cgalr_topo_summary_distance(cfg, &s[i], &s[j], &d[i * k + j]);
            d[j * k + i] = d[i * k + j];
        }
    for (size_t i = 0; s && i < k; i++)
        cgalr_topo_summary_free(&s[i]);
    free(s);
    free(p);
    int rc;
    if (st != CGALR_OK)
        rc = fail(st);
    else if (k == 2)
        rc = printf("%.17g\n", d[1]) < 0 ? CGALR_EXIT_FAIL : CGALR_EXIT_OK;
    else
        rc = cli_matrix_write_csv(stdout, d, k, k) ? CGALR_EXIT_FAIL : CGALR_EXIT_OK;
    free(d);
    return rc;
}

int cgalr_cmd_topo(int argc, char **argv)
{
    topo_args t = {.dim = 1, .threshold = INFINITY};
    unsigned char given[sizeof topo_opts / sizeof topo_opts[0]];
    const cli_cmd_t cmd = {.prog = "cgalr topo", .opts = topo_opts, .usage = usage};
    int rc = cli_opt_parse(&cmd, argc, argv, &t, given);
    if (rc)
        return cli_opt_exit(rc);
    int mode = -1;
    for (int m = T_CONNECTOME; m <= T_DISTANCE; m++) {
        if (given[m] && mode >= 0)
            return usage_error("%s", "give only one of --connectome, --barcode, --diagram, --distance");
        if (given[m])
            mode = m;
    }
    if (mode < 0)
        return usage_error("%s", "nothing to do: give --connectome, --barcode, --diagram or --distance");
    if ((given[T_DIM] || given[T_THRESHOLD] || given[T_FROM_CONN]) && mode != T_DIAGRAM)
        return usage_error("%s", "--dim, --threshold and --from-connectome go with --diagram");
    if ((given[T_ACT] || given[T_PPH] || given[T_SEED] || given[T_DIRS]) && mode != T_DISTANCE)
        return usage_error("%s", "--activations, --p-ph, --seed and --directions go with --distance");
    int npos = argc - optind;
    if (mode == T_DISTANCE) {
        const char *kind_name = t.files[T_DISTANCE];
        if (npos < 2)
            return usage_error("%s", "--distance needs at least two files: KIND A.csv B.csv [C.csv ...]");
        int kind = cgalr_topo_distance_parse(kind_name);
        if (kind < 0)
            return usage_error("--distance '%s': expected top, wd or swk", kind_name);
        cgalr_topo_config_t cfg;
        cgalr_topo_config_default(&cfg, (cgalr_distance_kind_t)kind);
        if (given[T_PPH])
            cfg.p_ph = t.p_ph;
        if (given[T_SEED])
            cfg.seed = t.seed;
        if (given[T_DIRS])
            cfg.sw_directions = t.directions;
        return do_distance(&cfg, argv + optind, (size_t)npos, t.activations);
    }
    if (npos != 0)
        return usage_error("unexpected argument '%s'", argv[optind]);
    const char *file = t.files[mode];
    switch (mode) {
    case T_CONNECTOME: return do_connectome(file);
    case T_BARCODE: return do_barcode(file);
    default: return do_diagram(file, (int)t.dim, t.threshold, t.from_connectome);
    }
}

/* Test helper: streams an N x P activation matrix through the connectome accumulator in batches
 * of the given sizes and writes the P x P connectome, for the NumPy oracle (test_topo_acc.py).
 * Usage: tool_topo_acc IN.f64 N P SIZES OUT.f64 [--float] [--save-at K] [--dense]
 *   IN.f64   N x P native doubles, row-major; SIZES: batch sizes, comma separated, used in turn
 *            and repeated until every row is in; --float: the rows go in as floats (add_f);
 *   --save-at K: after K batches the state is saved, the accumulator freed, a new one loaded from
 *            the bytes, and the stream continues in it (the checkpoint path);
 *   --dense: cgalr_topo_connectome_d / _f on the whole matrix instead;
 *   --replace R.f64 K: then K replacements, each 1 + P doubles (the row index, the new row), go in
 *            as floats through cgalr_topo_acc_replace_f; whenever cgalr_topo_acc_stale says so the
 *            accumulator is rebuilt from the current rows (the count is printed: "rebuilds N");
 *            with --save-at, the save/load happens before replacement K instead of batch K.
 * Exit 0 on success, 1 with the library's message on a library error, 2 on bad usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/topo.h"

static int usage(const char *why)
{
    fprintf(stderr, "tool_topo_acc: %s\nusage: tool_topo_acc IN.f64 N P SIZES OUT.f64 [--float] [--save-at K] "
                    "[--dense]\n", why);
    return 2;
}

/* Everything the tool owns, freed by an atexit handler so that the early error returns (the
 * tests drive them on purpose) do not read as leaks under LeakSanitizer, whose check runs after
 * handlers registered later than its own. */
static struct {
    double *a, *m, *rec;
    float *af, *nf;
    void *buf;
    FILE *in, *rf;
    cgalr_connectome_acc_t *acc;
} own;

static void release(void)
{
    free(own.a);
    free(own.m);
    free(own.rec);
    free(own.af);
    free(own.nf);
    free(own.buf);
    if (own.in)
        fclose(own.in);
    if (own.rf)
        fclose(own.rf);
    cgalr_topo_acc_free(own.acc);
}

static int lib_error(const char *what)
{
    fprintf(stderr, "tool_topo_acc: %s: %s\n", what, cgalr_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    atexit(release);
    if (argc < 6)
        return usage("missing arguments");
    size_t n = strtoull(argv[2], NULL, 10), p = strtoull(argv[3], NULL, 10);
    int use_float = 0, dense = 0;
    long save_at = -1, nrep = 0;
    const char *rep_path = NULL;
    for (int i = 6; i < argc; i++) {
        if (!strcmp(argv[i], "--float"))
            use_float = 1;
        else if (!strcmp(argv[i], "--dense"))
            dense = 1;
        else if (!strcmp(argv[i], "--save-at") && i + 1 < argc)
            save_at = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--replace") && i + 2 < argc) {
            rep_path = argv[++i];
            nrep = strtol(argv[++i], NULL, 10);
            use_float = 1;
        }
        else
            return usage("unknown option");
    }
    size_t sizes[256], ns = 0;
    for (char *s = argv[4]; *s && ns < 256;) {
        char *e;
        unsigned long long v = strtoull(s, &e, 10);
        if (e == s || v == 0)
            return usage("SIZES: expected positive integers separated by commas");
        sizes[ns++] = (size_t)v;
        s = *e == ',' ? e + 1 : e;
    }
    if (n < 1 || p < 1 || ns == 0)
        return usage("N, P and SIZES must be positive");
    double *a = own.a = malloc(n * p * sizeof *a), *m = own.m = malloc(p * p * sizeof *m);
    float *af = own.af = use_float ? malloc(n * p * sizeof *af) : NULL;
    if (!a || !m || (use_float && !af))
        return lib_error("out of memory");
    FILE *f = own.in = fopen(argv[1], "rb");
    if (!f || fread(a, sizeof *a, n * p, f) != n * p) {
        fprintf(stderr, "tool_topo_acc: %s: cannot read %zu x %zu doubles: %s\n", argv[1], n, p, strerror(errno));
        return 2;
    }
    fclose(f);
    own.in = NULL;
    if (use_float)
        for (size_t i = 0; i < n * p; i++)
            af[i] = (float)a[i];
    cgalr_status_t st;
    if (dense) {
        st = use_float ? cgalr_topo_connectome_f(af, n, p, m) : cgalr_topo_connectome_d(a, n, p, m);
        if (st != CGALR_OK)
            return lib_error("connectome");
    } else {
        cgalr_connectome_acc_t *acc;
        if (cgalr_topo_acc_create(p, &own.acc) != CGALR_OK)
            return lib_error("create");
        acc = own.acc;
        size_t r = 0;
        for (long b = 0; r < n; b++) {
            if (b == save_at && !rep_path) {
                size_t sz = 0;
                if (cgalr_topo_acc_save(acc, NULL, &sz) != CGALR_OK)
                    return lib_error("save size");
                void *buf = own.buf = malloc(sz);
                if (!buf || cgalr_topo_acc_save(acc, buf, &sz) != CGALR_OK)
                    return lib_error("save");
                cgalr_topo_acc_free(acc);
                own.acc = NULL;
                if (cgalr_topo_acc_create(p, &own.acc) != CGALR_OK || cgalr_topo_acc_load(own.acc, buf, sz) != CGALR_OK)
                    return lib_error("load");
                acc = own.acc;
                free(buf);
                own.buf = NULL;
            }
            size_t k = sizes[(size_t)b % ns];
            if (k > n - r)
                k = n - r;
            st = use_float ? cgalr_topo_acc_add_f(acc, af + r * p, k) : cgalr_topo_acc_add_d(acc, a + r * p, k);
            if (st != CGALR_OK)
                return lib_error("add");
            r += k;
        }
        if (cgalr_topo_acc_rows(acc) != n) {
            fprintf(stderr, "tool_topo_acc: accumulator holds %zu rows, %zu were added\n", cgalr_topo_acc_rows(acc), n);
            return 1;
        }
        if (rep_path) {
            double *rec = own.rec = malloc((1 + p) * sizeof *rec);
            float *nf = own.nf = malloc(p * sizeof *nf);
            FILE *rf = own.rf = fopen(rep_path, "rb");
            if (!rec || !nf || !rf)
                return lib_error("replacements: out of memory or unreadable");
            long rebuilds = 0;
            for (long k = 0; k < nrep; k++) {
                if (k == save_at) {
                    size_t sz = 0;
                    void *buf = NULL;
                    if (cgalr_topo_acc_save(acc, NULL, &sz) != CGALR_OK || !(buf = own.buf = malloc(sz)) ||
                        cgalr_topo_acc_save(acc, buf, &sz) != CGALR_OK)
                        return lib_error("save");
                    cgalr_topo_acc_free(acc);
                    own.acc = NULL;
                    if (cgalr_topo_acc_create(p, &own.acc) != CGALR_OK ||
                        cgalr_topo_acc_load(own.acc, buf, sz) != CGALR_OK)
                        return lib_error("load");
                    acc = own.acc;
                    free(buf);
                    own.buf = NULL;
                }
                if (fread(rec, sizeof *rec, 1 + p, rf) != 1 + p)
                    return usage("replacements: file shorter than K records");
                size_t i = (size_t)rec[0];
                if (i >= n)
                    return usage("replacements: row index out of range");
                for (size_t j = 0; j < p; j++)
                    nf[j] = (float)rec[1 + j];
                if (cgalr_topo_acc_replace_f(acc, af + i * p, nf) != CGALR_OK)
                    return lib_error("replace");
                memcpy(af + i * p, nf, p * sizeof *nf);
                if (cgalr_topo_acc_stale(acc)) {
                    cgalr_topo_acc_reset(acc);
                    if (cgalr_topo_acc_add_f(acc, af, n) != CGALR_OK)
                        return lib_error("rebuild");
                    rebuilds++;
                }
            }
            fclose(rf);
            own.rf = NULL;
            printf("rebuilds %ld\n", rebuilds);
        }
        if (cgalr_topo_acc_finish(acc, m) != CGALR_OK)
            return lib_error("finish");
    }
    f = own.in = fopen(argv[5], "wb");
    int wrote = f && fwrite(m, sizeof *m, p * p, f) == p * p;
    own.in = NULL;
    int closed = f && fclose(f) == 0;
    if (!wrote || !closed) {
        fprintf(stderr, "tool_topo_acc: %s: cannot write\n", argv[5]);
        return 1;
    }
    return 0;
}

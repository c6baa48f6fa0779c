/* One epoch of the default mlp on a real Fashion-MNIST subset must lower the held-out loss: the
 * paired per-sample loss drop must exceed 3 standard errors, and accuracy must rise by more than
 * 3 binomial standard deviations. The gzip IDX files are read here (gzip -dc), independent of the
 * data layer. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cgalr/nn.h"
#include "cgalr/rng.h"

static const char *DIR_ = "/usr/share/datasets/fashion-mnist";

/* Reads the first `n` records of a gzip IDX file (images: 784 bytes each, labels: 1 byte). */
static int read_idx(const char *name, size_t header, size_t rec, size_t n, unsigned char *out)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s/%s'", DIR_, name);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    unsigned char hdr[16];
    size_t ok = fread(hdr, 1, header, p) == header && fread(out, rec, n, p) == n;
    /* drain so gzip does not die of SIGPIPE noise */
    char sink[65536];
    while (fread(sink, 1, sizeof sink, p) > 0) {
    }
    pclose(p);
    return ok ? 0 : -1;
}

static void per_sample_loss(cgalr_model_t *m, const float *x, const int32_t *y, size_t n, double *loss,
                            size_t *correct)
{
    *correct = 0;
    for (size_t s = 0; s < n; s += 250) {
        size_t k = n - s < 250 ? n - s : 250;
        cgalr_image_batch_t b = {k, 1, 28, 28, x + s * 784, y + s};
        cgalr_step_result_t r;
        assert_int_equal(cgalr_model_eval_images(m, &b, &r), CGALR_OK);
        *correct += r.correct;
        size_t nl;
        const float *lg = cgalr_model_logits(m, &nl);
        for (size_t i = 0; i < k; i++) {
            const float *z = lg + i * 10;
            double mx = z[0], sum = 0.0;
            for (int j = 1; j < 10; j++)
                mx = fmax(mx, z[j]);
            for (int j = 0; j < 10; j++)
                sum += exp(z[j] - mx);
            loss[s + i] = mx + log(sum) - z[y[s + i]];
        }
    }
}

static void test_one_epoch(void **state)
{
    (void)state;
    const char *san = getenv("CGALR_SANITIZED");
    int sanitized = san && strcmp(san, "1") == 0;
    size_t ntr = sanitized ? 1024 : 4096, nte = sanitized ? 500 : 1000;
    unsigned char *img = malloc(ntr * 784), *lab = malloc(ntr), *timg = malloc(nte * 784), *tlab = malloc(nte);
    if (read_idx("train-images-idx3-ubyte.gz", 16, 784, ntr, img) || read_idx("train-labels-idx1-ubyte.gz", 8, 1, ntr, lab) ||
        read_idx("t10k-images-idx3-ubyte.gz", 16, 784, nte, timg) || read_idx("t10k-labels-idx1-ubyte.gz", 8, 1, nte, tlab)) {
        free(img);
        free(lab);
        free(timg);
        free(tlab);
        skip(); /* Debian's dataset-fashion-mnist is not installed */
    }
    float *x = malloc(ntr * 784 * sizeof(float)), *tx = malloc(nte * 784 * sizeof(float));
    int32_t *y = malloc(ntr * sizeof(int32_t)), *ty = malloc(nte * sizeof(int32_t));
    for (size_t i = 0; i < ntr * 784; i++)
        x[i] = ((float)img[i] / 255.0f - 0.2860f) / 0.3530f;
    for (size_t i = 0; i < nte * 784; i++)
        tx[i] = ((float)timg[i] / 255.0f - 0.2860f) / 0.3530f;
    for (size_t i = 0; i < ntr; i++)
        y[i] = lab[i];
    for (size_t i = 0; i < nte; i++)
        ty[i] = tlab[i];

    cgalr_model_config_t c;
    cgalr_model_config_default(&c, CGALR_MODEL_MLP);
    c.seed = 11;
    cgalr_model_t *m = NULL;
    assert_int_equal(cgalr_model_create(&c, &m), CGALR_OK);
    cgalr_optim_config_t oc;
    cgalr_optim_config_default(&oc, CGALR_OPTIM_SGD);
    cgalr_optim_t *o = NULL;
    assert_int_equal(cgalr_optim_create(&oc, m, &o), CGALR_OK);

    double *l0 = malloc(nte * sizeof(double)), *l1 = malloc(nte * sizeof(double));
    size_t c0, c1;
    per_sample_loss(m, tx, ty, nte, l0, &c0);
    /* one epoch in shuffled mini-batches of 64 */
    size_t *idx = malloc(ntr * sizeof(size_t));
    for (size_t i = 0; i < ntr; i++)
        idx[i] = i;
    cgalr_rng_t r = cgalr_rng_init(11, CGALR_STREAM_SHUFFLE);
    cgalr_rng_shuffle(&r, idx, ntr);
    float *bx = malloc(64 * 784 * sizeof(float));
    int32_t by[64];
    double first = 0.0, last = 0.0;
    for (size_t s = 0; s + 64 <= ntr; s += 64) {
        for (size_t i = 0; i < 64; i++) {
            memcpy(bx + i * 784, x + idx[s + i] * 784, 784 * sizeof(float));
            by[i] = y[idx[s + i]];
        }
        cgalr_image_batch_t b = {64, 1, 28, 28, bx, by};
        cgalr_step_result_t res;
        assert_int_equal(cgalr_model_train_images(m, &b, &res), CGALR_OK);
        assert_true(isfinite(res.loss));
        assert_int_equal(cgalr_optim_step(o, 0.05), CGALR_OK);
        if (s == 0)
            first = res.loss;
        last = res.loss;
    }
    per_sample_loss(m, tx, ty, nte, l1, &c1);
    double mean = 0.0, var = 0.0, L0 = 0.0, L1 = 0.0;
    for (size_t i = 0; i < nte; i++) {
        mean += l0[i] - l1[i];
        L0 += l0[i];
        L1 += l1[i];
    }
    mean /= (double)nte;
    for (size_t i = 0; i < nte; i++)
        var += (l0[i] - l1[i] - mean) * (l0[i] - l1[i] - mean);
    double se = sqrt(var / (double)(nte - 1) / (double)nte);
    print_message("  held-out loss %.4f -> %.4f (drop %.4f, 3 SE = %.4f); accuracy %zu -> %zu of %zu; "
                  "first/last batch loss %.3f / %.3f\n",
                  L0 / (double)nte, L1 / (double)nte, mean, 3 * se, c0, c1, nte, first, last);
    assert_true(mean > 3.0 * se);
    assert_true((double)c1 > (double)c0 + 3.0 * sqrt((double)nte * 0.25));
    assert_int_equal(cgalr_model_check_finite(m), CGALR_OK);
    free(idx);
    free(bx);
    free(l0);
    free(l1);
    free(x);
    free(tx);
    free(y);
    free(ty);
    free(img);
    free(lab);
    free(timg);
    free(tlab);
    cgalr_optim_free(o);
    cgalr_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_one_epoch)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

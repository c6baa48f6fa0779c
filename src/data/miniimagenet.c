/* Mini-ImageNet in its CSV layout (images/ and train.csv, val.csv, test.csv). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/files.h"
#include "core/hash.h"
#include "data/imgsrc.h"

/* ---- Mini-ImageNet ------------------------------------------------------------------------ */

typedef struct mini_ctx {
    const char *root;
    size_t resize;
    data_strlist_t classes;
    data_strlist_t files[CGALR_N_SPLITS], labs[CGALR_N_SPLITS];
} mini_ctx_t;

/* filename,label rows; a first row "filename,label" is a header. */
static cgalr_status_t read_csv(const char *path, data_strlist_t *files, data_strlist_t *labs)
{
    uint8_t *b;
    size_t len;
    cgalr_status_t st = data_read_file(path, (size_t)1 << 28, &b, &len);
    if (st)
        return st;
    size_t i = 0, line = 0;
    while (i < len && !st) {
        size_t j = i;
        while (j < len && b[j] != '\n')
            j++;
        size_t e = j;
        if (e > i && b[e - 1] == '\r')
            e--;
        line++;
        const char *s = (const char *)b + i;
        size_t n = e - i;
        i = j + 1;
        if (n == 0)
            continue;
        const char *comma = memchr(s, ',', n);
        if (!comma || comma == s || comma == s + n - 1 || memchr(comma + 1, ',', (size_t)(s + n - comma - 1)) ||
            memchr(s, '/', (size_t)(comma - s)) || memchr(s, 0, n)) {
            st = cgalr_fail(CGALR_EFORMAT, "csv '%s' line %zu: '%.*s', expected filename,label", path, line,
                            (int)(n > 60 ? 60 : n), s);
            break;
        }
        if (line == 1 && !strncmp(s, "filename,label", n))
            continue;
        st = data_sl_push(files, s, (size_t)(comma - s));
        if (!st)
            st = data_sl_push(labs, comma + 1, (size_t)(s + n - comma - 1));
    }
    free(b);
    return st;
}

static cgalr_status_t mini_decode(void *vctx, size_t i, int32_t label, uint8_t origin, img_set_t *s)
{
    mini_ctx_t *ctx = vctx;
    int sp = data_split_pos(ctx->files, &i);
    return data_add_image_file(s, label, origin, ctx->resize, "%s/images/%s", ctx->root, ctx->files[sp].s[i]);
}

static cgalr_status_t mini_build(void *vctx, folder_result_t *out)
{
    data_build_ctx_t *bc = vctx;
    mini_ctx_t *ctx = bc->src;
    int32_t *labels[CGALR_N_SPLITS] = {0};
    cgalr_status_t st = CGALR_OK;
    for (int s = 0; s < CGALR_N_SPLITS && !st; s++) {
        labels[s] = malloc((ctx->labs[s].n + 1) * sizeof *labels[s]);
        if (!labels[s])
            st = cgalr_fail(CGALR_ENOMEM, "out of memory");
        for (size_t i = 0; i < ctx->labs[s].n && !st; i++)
            labels[s][i] = (int32_t)data_sl_find(&ctx->classes, ctx->labs[s].s[i]);
    }
    size_t n;
    int32_t *lab = NULL;
    uint8_t *origin = NULL;
    if (!st)
        st = data_flat_labels(ctx->files, labels, &n, &lab, &origin);
    if (!st)
        st = data_decode_samples(bc->sel, n, lab, origin, ctx->classes.n, mini_decode, ctx, out);
    for (int s = 0; s < CGALR_N_SPLITS; s++)
        free(labels[s]);
    free(lab);
    free(origin);
    return st ? st : data_copy_classes(&ctx->classes, out);
}

cgalr_status_t data_miniimagenet_load(const char *root, size_t resize, const char *cache_dir,
                                 const cgalr_data_config_t *sel, folder_result_t *out)
{
    static const char *const csv[CGALR_N_SPLITS] = {"train.csv", "val.csv", "test.csv"};
    mini_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    memset(out, 0, sizeof *out);
    ctx.root = root;
    ctx.resize = resize;
    cgalr_status_t st = CGALR_OK;
    uint64_t key = core_fnv1a(CORE_FNV_BASIS, &resize, sizeof resize);
    for (int s = 0; s < CGALR_N_SPLITS && !st; s++) {
        char *p = data_str_printf("%s/%s", root, csv[s]);
        if (!p)
            return cgalr_fail(CGALR_ENOMEM, "out of memory");
        if (s > 0 && !data_path_is_file(p)) {
            free(p);
            continue;
        }
        st = read_csv(p, &ctx.files[s], &ctx.labs[s]);
        key = data_fnv_stat(key, p);
        free(p);
    }
    if (!st && ctx.files[0].n == 0)
        st = cgalr_fail(CGALR_EFORMAT, "mini-imagenet '%s/train.csv': no rows", root);
    for (int s = 0; s < CGALR_N_SPLITS && !st; s++)
        for (size_t i = 0; i < ctx.labs[s].n && !st; i++) {
            st = data_sl_push(&ctx.classes, ctx.labs[s].s[i], strlen(ctx.labs[s].s[i]));
            char *img = data_str_printf("%s/images/%s", root, ctx.files[s].s[i]);
            if (!img)
                st = cgalr_fail(CGALR_ENOMEM, "out of memory");
            else if (!data_path_is_file(img))
                st = cgalr_fail(CGALR_EIO, "mini-imagenet '%s' row %zu: image '%s' not found", csv[s], i + 1, img);
            else
                key = data_fnv_stat(key, img);
            free(img);
        }
    if (!st) {
        data_sl_sort_unique(&ctx.classes);
        data_build_ctx_t bc = {&ctx, sel};
        st = data_cached(cache_dir, root, key, mini_build, &bc, out);
    }
    data_sl_free(&ctx.classes);
    for (int s = 0; s < CGALR_N_SPLITS; s++) {
        data_sl_free(&ctx.files[s]);
        data_sl_free(&ctx.labs[s]);
    }
    return st;
}

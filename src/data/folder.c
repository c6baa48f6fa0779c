/* Image folders: root/{train,val,test}/<class>/ images in torchvision ImageFolder order. */
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

typedef struct folder_ctx {
    const char *root;
    size_t resize;
    data_strlist_t classes;
    data_strlist_t files[CGALR_N_SPLITS]; /* "class/file" per split */
    int32_t *labels[CGALR_N_SPLITS];
} folder_ctx_t;

static cgalr_status_t folder_decode(void *vctx, size_t i, int32_t label, uint8_t origin, img_set_t *s)
{
    static const char *const split_dir[CGALR_N_SPLITS] = {"train", "val", "test"};
    folder_ctx_t *ctx = vctx;
    int sp = data_split_pos(ctx->files, &i);
    return data_add_image_file(s, label, origin, ctx->resize, "%s/%s/%s", ctx->root, split_dir[sp],
                               ctx->files[sp].s[i]);
}

static cgalr_status_t folder_build(void *vctx, folder_result_t *out)
{
    data_build_ctx_t *bc = vctx;
    folder_ctx_t *ctx = bc->src;
    size_t n;
    int32_t *lab;
    uint8_t *origin;
    cgalr_status_t st = data_flat_labels(ctx->files, ctx->labels, &n, &lab, &origin);
    if (st)
        return st;
    st = data_decode_samples(bc->sel, n, lab, origin, ctx->classes.n, folder_decode, ctx, out);
    free(lab);
    free(origin);
    return st ? st : data_copy_classes(&ctx->classes, out);
}

cgalr_status_t data_folder_load(const char *root, size_t resize, const char *cache_dir, const cgalr_data_config_t *sel,
                           folder_result_t *out)
{
    static const char *const split_dir[CGALR_N_SPLITS] = {"train", "val", "test"};
    folder_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    memset(out, 0, sizeof *out);
    ctx.root = root;
    ctx.resize = resize;
    cgalr_status_t st = CGALR_OK;
    char *train = data_str_printf("%s/train", root);
    if (!train)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    if (!data_path_is_dir(train))
        st = cgalr_fail(CGALR_EIO, "image folder '%s': no train/ directory (expected ROOT/train/<class>/*.jpg)", root);
    else
        st = data_list_dir(train, 1, &ctx.classes);
    if (!st && ctx.classes.n == 0)
        st = cgalr_fail(CGALR_EFORMAT, "image folder '%s': train/ has no class directories", train);
    free(train);
    uint64_t key = core_fnv1a(CORE_FNV_BASIS, &resize, sizeof resize);
    for (int s = 0; s < CGALR_N_SPLITS && !st; s++) {
        char *sd = data_str_printf("%s/%s", root, split_dir[s]);
        if (!sd) {
            st = cgalr_fail(CGALR_ENOMEM, "out of memory");
            break;
        }
        if (!data_path_is_dir(sd)) {
            free(sd);
            continue;
        }
        data_strlist_t cls = {0, 0, NULL};
        st = data_list_dir(sd, 1, &cls);
        for (size_t k = 0; k < cls.n && !st; k++) {
            long lab = data_sl_find(&ctx.classes, cls.s[k]);
            if (lab < 0) {
                st = cgalr_fail(CGALR_EFORMAT, "image folder '%s': class '%s' is not among train/'s classes", sd,
                                cls.s[k]);
                break;
            }
            char *cd = data_str_printf("%s/%s", sd, cls.s[k]);
            data_strlist_t files = {0, 0, NULL};
            st = cd ? data_list_dir(cd, 0, &files) : cgalr_fail(CGALR_ENOMEM, "out of memory");
            size_t base = ctx.files[s].n;
            for (size_t i = 0; i < files.n && !st; i++) {
                char *rel = data_str_printf("%s/%s", cls.s[k], files.s[i]);
                char *full = data_str_printf("%s/%s", cd, files.s[i]);
                if (!rel || !full)
                    st = cgalr_fail(CGALR_ENOMEM, "out of memory");
                else {
                    st = data_sl_push(&ctx.files[s], rel, strlen(rel));
                    key = data_fnv_stat(key, full);
                }
                free(rel);
                free(full);
            }
            if (!st) {
                int32_t *l = realloc(ctx.labels[s], (ctx.files[s].n + 1) * sizeof *l);
                if (!l)
                    st = cgalr_fail(CGALR_ENOMEM, "out of memory");
                else {
                    ctx.labels[s] = l;
                    for (size_t i = base; i < ctx.files[s].n; i++)
                        l[i] = (int32_t)lab;
                }
            }
            data_sl_free(&files);
            free(cd);
        }
        data_sl_free(&cls);
        free(sd);
    }
    if (!st && ctx.files[0].n == 0)
        st = cgalr_fail(CGALR_EFORMAT, "image folder '%s': no .jpg/.jpeg/.png files under train/", root);
    if (!st) {
        data_build_ctx_t bc = {&ctx, sel};
        st = data_cached(cache_dir, root, key, folder_build, &bc, out);
    }
    data_sl_free(&ctx.classes);
    for (int s = 0; s < CGALR_N_SPLITS; s++) {
        data_sl_free(&ctx.files[s]);
        free(ctx.labels[s]);
    }
    return st;
}

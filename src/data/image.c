/* JPEG (libjpeg) and PNG (libpng) decoding from memory to 8-bit RGB in CHW order, and a bilinear
 * resize with antialiasing. libjpeg warnings (premature end, corrupt data) count as errors: a damaged file must not
 * silently become a grey training image. */
#include <math.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h> /* needs stdio.h and stddef.h first */
#include <jerror.h>
#include <png.h>

#include "data/data_internal.h"

#define MAX_PIXELS ((size_t)1 << 24) /* 16 M pixels: larger headers are rejected before allocating */

typedef struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr_t;

static void jerr_exit(j_common_ptr cinfo)
{
    jerr_t *e = (jerr_t *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings that mean the pixels are partly invented (truncated file, broken entropy data) are
 * errors; cosmetic ones (extraneous bytes between markers, odd metadata) are ignored, as libjpeg
 * itself and PIL do, so real photo collections with such files still load. */
static void jerr_emit(j_common_ptr cinfo, int level)
{
    int code = cinfo->err->msg_code;
    if (level < 0 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE))
        jerr_exit(cinfo);
}

static void to_chw(const uint8_t *hwc, size_t h, size_t w, uint8_t *chw)
{
    size_t plane = h * w;
    for (size_t i = 0; i < plane; i++) {
        chw[i] = hwc[3 * i];
        chw[plane + i] = hwc[3 * i + 1];
        chw[2 * plane + i] = hwc[3 * i + 2];
    }
}

static cgalr_status_t decode_jpeg(const char *name, const uint8_t *buf, size_t len, uint8_t **pix, size_t *h, size_t *w)
{
    struct jpeg_decompress_struct cinfo;
    jerr_t err;
    /* volatile: read after longjmp */
    uint8_t *volatile hwc = NULL;
    uint8_t *volatile out = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jerr_exit;
    err.mgr.emit_message = jerr_emit;
    if (setjmp(err.jb)) {
        jpeg_destroy_decompress(&cinfo);
        free(hwc);
        free(out);
        return cgalr_fail(CGALR_EFORMAT, "image '%s': unreadable JPEG: %s", name, err.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    /* libjpeg cannot convert CMYK to RGB (some photo collections hold CMYK files): take CMYK and
     * convert below, with Adobe's inverted storage when its marker says so. */
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    size_t W = cinfo.image_width, H = cinfo.image_height;
    if (W == 0 || H == 0 || W * H > MAX_PIXELS) {
        jpeg_destroy_decompress(&cinfo);
        return cgalr_fail(CGALR_EFORMAT, "image '%s': JPEG of %zu x %zu pixels, expected 1..%zu pixels", name, W, H,
                          MAX_PIXELS);
    }
    jpeg_start_decompress(&cinfo);
    int comps = cmyk ? 4 : 3;
    if (cinfo.output_components != comps || cinfo.output_width != W || cinfo.output_height != H) {
        jpeg_destroy_decompress(&cinfo);
        return cgalr_fail(CGALR_EFORMAT, "image '%s': JPEG decodes to %d components, expected RGB", name,
                          cinfo.output_components);
    }
    hwc = malloc(W * H * (size_t)comps);
    out = malloc(W * H * 3);
    if (!hwc || !out) {
        jpeg_destroy_decompress(&cinfo);
        free(hwc);
        free(out);
        return cgalr_fail(CGALR_ENOMEM, "image '%s': out of memory", name);
    }
    while (cinfo.output_scanline < H) {
        JSAMPROW row = hwc + (size_t)cinfo.output_scanline * W * (size_t)comps;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    int adobe = cinfo.saw_Adobe_marker;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    if (cmyk)
        for (size_t i = 0; i < W * H; i++) {
            unsigned k = hwc[4 * i + 3];
            for (int c = 0; c < 3; c++) {
                unsigned v = hwc[4 * i + (size_t)c];
                hwc[3 * i + (size_t)c] = (uint8_t)(adobe ? (v * k + 127) / 255 : ((255 - v) * (255 - k) + 127) / 255);
            }
        }
    to_chw(hwc, H, W, out);
    free(hwc);
    *pix = out;
    *h = H;
    *w = W;
    return CGALR_OK;
}

static cgalr_status_t decode_png(const char *name, const uint8_t *buf, size_t len, uint8_t **pix, size_t *h, size_t *w)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, buf, len))
        return cgalr_fail(CGALR_EFORMAT, "image '%s': unreadable PNG: %s", name, img.message);
    size_t W = img.width, H = img.height;
    if (W == 0 || H == 0 || W * H > MAX_PIXELS) {
        png_image_free(&img);
        return cgalr_fail(CGALR_EFORMAT, "image '%s': PNG of %zu x %zu pixels, expected 1..%zu pixels", name, W, H,
                          MAX_PIXELS);
    }
    img.format = PNG_FORMAT_RGB;
    uint8_t *hwc = malloc(W * H * 3), *out = malloc(W * H * 3);
    if (!hwc || !out) {
        png_image_free(&img);
        free(hwc);
        free(out);
        return cgalr_fail(CGALR_ENOMEM, "image '%s': out of memory", name);
    }
    if (!png_image_finish_read(&img, NULL, hwc, 0, NULL)) {
        cgalr_status_t st = cgalr_fail(CGALR_EFORMAT, "image '%s': unreadable PNG: %s", name, img.message);
        png_image_free(&img);
        free(hwc);
        free(out);
        return st;
    }
    png_image_free(&img);
    to_chw(hwc, H, W, out);
    free(hwc);
    *pix = out;
    *h = H;
    *w = W;
    return CGALR_OK;
}

cgalr_status_t data_image_decode(const char *name, const uint8_t *buf, size_t len, uint8_t **pix, size_t *h, size_t *w)
{
    *pix = NULL;
    *h = *w = 0;
    if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
        return decode_jpeg(name, buf, len, pix, h, w);
    if (len >= 8 && !memcmp(buf, "\x89PNG\r\n\x1a\n", 8))
        return decode_png(name, buf, len, pix, h, w);
    return cgalr_fail(CGALR_EFORMAT, "image '%s': %zu bytes with neither the JPEG nor the PNG signature", name, len);
}

/* Weights of the triangle (bilinear) filter for one output coordinate, widened by the scale
 * when shrinking so every input pixel contributes (antialiasing, as PIL and torch's
 * interpolate(antialias=True) do); when enlarging this is plain bilinear with half-pixel centres. */
typedef struct taps {
    size_t first, n;
    double w[1]; /* n entries (allocated with the struct) */
} taps_t;

static taps_t **make_taps(size_t in, size_t out)
{
    double scale = (double)in / (double)out;
    double support = scale >= 1 ? scale : 1, inv = scale >= 1 ? 1 / scale : 1;
    taps_t **t = calloc(out, sizeof *t);
    if (!t)
        return NULL;
    for (size_t i = 0; i < out; i++) {
        double center = scale * ((double)i + 0.5);
        long lo = (long)(center - support + 0.5), hi = (long)(center + support + 0.5);
        if (lo < 0)
            lo = 0;
        if (hi > (long)in)
            hi = (long)in;
        /* center lies in [0, in] and support >= 1, so lo < hi here */
        size_t n = (size_t)(hi - lo);
        t[i] = malloc(sizeof(taps_t) + n * sizeof(double));
        if (!t[i]) {
            for (size_t k = 0; k < i; k++)
                free(t[k]);
            free(t);
            return NULL;
        }
        t[i]->first = (size_t)lo;
        t[i]->n = n;
        double total = 0;
        for (size_t j = 0; j < n; j++) {
            double x = fabs(((double)((size_t)lo + j) - center + 0.5) * inv);
            t[i]->w[j] = x < 1 ? 1 - x : 0;
            total += t[i]->w[j];
        }
        for (size_t j = 0; j < n; j++)
            t[i]->w[j] = total > 0 ? t[i]->w[j] / total : 1.0 / (double)n;
    }
    return t;
}

static void free_taps(taps_t **t, size_t n)
{
    if (!t)
        return;
    for (size_t i = 0; i < n; i++)
        free(t[i]);
    free(t);
}

cgalr_status_t data_image_resize(const uint8_t *src, size_t h, size_t w, uint8_t *dst, size_t oh, size_t ow)
{
    taps_t **tx = make_taps(w, ow), **ty = make_taps(h, oh);
    double *tmp = malloc(h * ow * sizeof *tmp);
    if (!tx || !ty || !tmp) {
        free_taps(tx, ow);
        free_taps(ty, oh);
        free(tmp);
        return cgalr_fail(CGALR_ENOMEM, "resize %zu x %zu -> %zu x %zu: out of memory", h, w, oh, ow);
    }
    for (size_t c = 0; c < 3; c++) {
        const uint8_t *s = src + c * h * w;
        uint8_t *d = dst + c * oh * ow;
        for (size_t y = 0; y < h; y++)
            for (size_t x = 0; x < ow; x++) {
                double v = 0;
                for (size_t j = 0; j < tx[x]->n; j++)
                    v += tx[x]->w[j] * s[y * w + tx[x]->first + j];
                tmp[y * ow + x] = v;
            }
        for (size_t y = 0; y < oh; y++)
            for (size_t x = 0; x < ow; x++) {
                double v = 0;
                for (size_t j = 0; j < ty[y]->n; j++)
                    v += ty[y]->w[j] * tmp[(ty[y]->first + j) * ow + x];
                v = floor(v + 0.5);
                d[y * ow + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    }
    free_taps(tx, ow);
    free_taps(ty, oh);
    free(tmp);
    return CGALR_OK;
}

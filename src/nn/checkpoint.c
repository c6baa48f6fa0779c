/* Checkpoints (versioned binary file with an FNV-1a checksum, written to a temp file then renamed)
 * and in-memory snapshots of the complete model + optimiser state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/files.h"
#include "core/hash.h"
#include "nn/nn_internal.h"

#define MAGIC "CGALRNN\0"
#define VERSION 1u

/* Fixed-size header, little-endian host layout (the file is for the machine that wrote it, but
 * the checksum catches a foreign one). */
typedef struct file_header {
    char magic[8];
    uint32_t version;
    uint32_t model_kind;
    uint64_t arch_hash;
    uint64_t n_params;
    uint64_t n_buffers;
    uint64_t drop_key;
    uint64_t drop_counter;
    uint32_t has_optim;
    uint32_t optim_kind;
    uint64_t optim_steps;
    uint64_t optim_state;
    uint64_t extra_size;
} file_header_t;

cgalr_status_t cgalr_nn_save(const char *path, const cgalr_model_t *m, const cgalr_optim_t *o, const void *extra,
                             size_t extra_size)
{
    if (!path || !m)
        return cgalr_fail(CGALR_EINVAL, "cgalr_nn_save: path or model is NULL");
    if (extra_size && !extra)
        return cgalr_fail(CGALR_EINVAL, "cgalr_nn_save: extra is NULL with %zu bytes", extra_size);
    if (o && o->model != m)
        return cgalr_fail(CGALR_EINVAL, "cgalr_nn_save: the optimiser belongs to another model");
    file_header_t h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MAGIC, 8);
    h.version = VERSION;
    h.model_kind = (uint32_t)m->cfg.kind;
    h.arch_hash = m->arch_hash;
    h.n_params = m->n_params;
    h.n_buffers = m->n_buffers;
    h.drop_key = m->drop_rng.key;
    h.drop_counter = m->drop_rng.counter;
    h.has_optim = o != NULL;
    h.optim_kind = o ? (uint32_t)o->cfg.kind : 0;
    h.optim_steps = o ? o->steps : 0;
    h.optim_state = o ? o->n_state : 0;
    h.extra_size = extra_size;
    core_atomic_t a;
    cgalr_status_t st = core_atomic_open(&a, path, 0);
    if (st != CGALR_OK)
        return st;
    uint64_t sum = core_fnv1a(CORE_FNV_BASIS, &h, sizeof h);
    int ok = fwrite(&h, sizeof h, 1, a.f) == 1;
    struct {
        const void *p;
        size_t n;
    } parts[4] = {{m->params, m->n_params * sizeof(float)},
                  {m->buffers, m->n_buffers * sizeof(float)},
                  {o ? o->state : NULL, o ? o->n_state * sizeof(float) : 0},
                  {extra, extra_size}};
    for (int i = 0; i < 4 && ok; i++) {
        if (parts[i].n == 0)
            continue;
        sum = core_fnv1a(sum, parts[i].p, parts[i].n);
        ok = fwrite(parts[i].p, 1, parts[i].n, a.f) == parts[i].n;
    }
    ok = ok && fwrite(&sum, sizeof sum, 1, a.f) == 1;
    if ((st = core_atomic_commit(&a, ok)) != CGALR_OK) {
        char why[4400];
        snprintf(why, sizeof why, "%s", cgalr_last_error());
        return cgalr_fail(CGALR_EIO, "checkpoint: %s", why);
    }
    return CGALR_OK;
}

cgalr_status_t cgalr_nn_load(const char *path, cgalr_model_t *m, cgalr_optim_t *o, void **extra, size_t *extra_size)
{
    if (extra)
        *extra = NULL;
    if (extra_size)
        *extra_size = 0;
    if (!path || !m)
        return cgalr_fail(CGALR_EINVAL, "cgalr_nn_load: path or model is NULL");
    if (o && o->model != m)
        return cgalr_fail(CGALR_EINVAL, "cgalr_nn_load: the optimiser belongs to another model");
    FILE *f = fopen(path, "rb");
    if (!f)
        return cgalr_fail(CGALR_EIO, "checkpoint '%s': cannot open it", path);
    cgalr_status_t st = CGALR_OK;
    unsigned char *data = NULL;
    long flen = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        flen = ftell(f);
    if (flen < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return cgalr_fail(CGALR_EIO, "checkpoint '%s': cannot determine its size", path);
    }
    file_header_t h;
    if ((size_t)flen < sizeof h + 8 || fread(&h, sizeof h, 1, f) != 1) {
        fclose(f);
        return cgalr_fail(CGALR_EFORMAT, "checkpoint '%s': %ld bytes, too short for a header (%zu bytes)", path, flen,
                          sizeof h + 8);
    }
    if (memcmp(h.magic, MAGIC, 8) != 0) {
        fclose(f);
        return cgalr_fail(CGALR_EFORMAT, "checkpoint '%s': not a cgalr model checkpoint (bad magic)", path);
    }
    if (h.version != VERSION) {
        fclose(f);
        return cgalr_fail(CGALR_EFORMAT, "checkpoint '%s': format version %u, this build reads version %u", path,
                          h.version, VERSION);
    }
    /* every size is checked against the file's length before anything is allocated */
    uint64_t body = (uint64_t)flen - sizeof h - 8;
    const uint64_t lim = (uint64_t)1 << 40;
    if (h.n_params > lim || h.n_buffers > lim || h.optim_state > lim || h.extra_size > lim ||
        (h.n_params + h.n_buffers + h.optim_state) * 4 + h.extra_size != body) {
        fclose(f);
        return cgalr_fail(CGALR_EFORMAT,
                          "checkpoint '%s': %ld bytes, the header declares %llu parameters, %llu buffers, %llu "
                          "optimiser values and %llu extra bytes (truncated or corrupted)",
                          path, flen, (unsigned long long)h.n_params, (unsigned long long)h.n_buffers,
                          (unsigned long long)h.optim_state, (unsigned long long)h.extra_size);
    }
    data = malloc(body + 8);
    if (!data) {
        fclose(f);
        return cgalr_fail(CGALR_ENOMEM, "checkpoint '%s': out of memory for %llu bytes", path,
                          (unsigned long long)body);
    }
    if (fread(data, 1, body + 8, f) != body + 8) {
        fclose(f);
        free(data);
        return cgalr_fail(CGALR_EIO, "checkpoint '%s': read failed", path);
    }
    fclose(f);
    uint64_t sum = core_fnv1a(core_fnv1a(CORE_FNV_BASIS, &h, sizeof h), data, body), stored;
    memcpy(&stored, data + body, 8);
    if (sum != stored) {
        st = cgalr_fail(CGALR_EFORMAT, "checkpoint '%s': checksum mismatch (corrupted file)", path);
        goto done;
    }
    if (h.model_kind != (uint32_t)m->cfg.kind || h.arch_hash != m->arch_hash || h.n_params != m->n_params ||
        h.n_buffers != m->n_buffers) {
        st = cgalr_fail(CGALR_ESTATE,
                        "checkpoint '%s': model %s with %llu parameters of another layout, this model is %s with %zu",
                        path, cgalr_model_kind_name((cgalr_model_kind_t)h.model_kind),
                        (unsigned long long)h.n_params, cgalr_model_kind_name(m->cfg.kind), m->n_params);
        goto done;
    }
    if (o) {
        if (!h.has_optim) {
            st = cgalr_fail(CGALR_ESTATE, "checkpoint '%s': holds no optimiser state", path);
            goto done;
        }
        if (h.optim_kind != (uint32_t)o->cfg.kind || h.optim_state != o->n_state) {
            st = cgalr_fail(CGALR_ESTATE, "checkpoint '%s': optimiser %s with %llu state values, expected %s with %zu",
                            path, cgalr_optim_kind_name((cgalr_optim_kind_t)h.optim_kind),
                            (unsigned long long)h.optim_state, cgalr_optim_kind_name(o->cfg.kind), o->n_state);
            goto done;
        }
    }
    void *blob = NULL;
    if (extra && h.extra_size) {
        blob = malloc(h.extra_size);
        if (!blob) {
            st = cgalr_fail(CGALR_ENOMEM, "checkpoint '%s': out of memory for the extra blob", path);
            goto done;
        }
    }
    const unsigned char *p = data;
    memcpy(m->params, p, m->n_params * 4);
    p += m->n_params * 4;
    memcpy(m->buffers, p, m->n_buffers * 4);
    p += m->n_buffers * 4;
    m->drop_rng.key = h.drop_key;
    m->drop_rng.counter = h.drop_counter;
    memset(m->grads, 0, m->n_params * 4);
    if (o) {
        memcpy(o->state, p, o->n_state * 4);
        o->steps = h.optim_steps;
    }
    p += h.optim_state * 4;
    if (blob) {
        memcpy(blob, p, h.extra_size);
        *extra = blob;
    }
    if (extra_size)
        *extra_size = h.extra_size;
done:
    free(data);
    return st;
}

struct cgalr_nn_snapshot {
    cgalr_model_kind_t kind;
    uint64_t arch_hash;
    float *params, *buffers, *ostate;
    size_t n_params, n_buffers, n_ostate;
    cgalr_rng_t drop_rng;
    int has_optim;
    cgalr_optim_kind_t okind;
    uint64_t steps;
};

void cgalr_nn_snapshot_free(cgalr_nn_snapshot_t *s)
{
    if (!s)
        return;
    free(s->params);
    free(s->buffers);
    free(s->ostate);
    free(s);
}

cgalr_status_t cgalr_nn_snapshot_update(cgalr_nn_snapshot_t *s, const cgalr_model_t *m, const cgalr_optim_t *o)
{
    if (!s || !m)
        return cgalr_fail(CGALR_EINVAL, "cgalr_nn_snapshot_update: snapshot or model is NULL");
    size_t no = o ? o->n_state : 0;
    if (s->n_params != m->n_params || !s->params) {
        free(s->params);
        s->params = malloc((m->n_params ? m->n_params : 1) * 4);
        s->n_params = s->params ? m->n_params : 0;
    }
    if (s->n_buffers != m->n_buffers || !s->buffers) {
        free(s->buffers);
        s->buffers = malloc((m->n_buffers ? m->n_buffers : 1) * 4);
        s->n_buffers = s->buffers ? m->n_buffers : 0;
    }
    if (s->n_ostate != no || !s->ostate) {
        free(s->ostate);
        s->ostate = malloc((no ? no : 1) * 4);
        s->n_ostate = s->ostate ? no : 0;
    }
    if (!s->params || !s->buffers || !s->ostate)
        return cgalr_fail(CGALR_ENOMEM, "snapshot: out of memory for %zu parameters", m->n_params);
    memcpy(s->params, m->params, m->n_params * 4);
    memcpy(s->buffers, m->buffers, m->n_buffers * 4);
    if (o)
        memcpy(s->ostate, o->state, no * 4);
    s->kind = m->cfg.kind;
    s->arch_hash = m->arch_hash;
    s->drop_rng = m->drop_rng;
    s->has_optim = o != NULL;
    s->okind = o ? o->cfg.kind : CGALR_OPTIM_SGD;
    s->steps = o ? o->steps : 0;
    return CGALR_OK;
}

cgalr_status_t cgalr_nn_snapshot_take(const cgalr_model_t *m, const cgalr_optim_t *o, cgalr_nn_snapshot_t **out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "cgalr_nn_snapshot_take: out is NULL");
    *out = NULL;
    cgalr_nn_snapshot_t *s = calloc(1, sizeof *s);
    if (!s)
        return cgalr_fail(CGALR_ENOMEM, "snapshot: out of memory");
    cgalr_status_t st = cgalr_nn_snapshot_update(s, m, o);
    if (st) {
        cgalr_nn_snapshot_free(s);
        return st;
    }
    *out = s;
    return CGALR_OK;
}

cgalr_status_t cgalr_nn_snapshot_restore(const cgalr_nn_snapshot_t *s, cgalr_model_t *m, cgalr_optim_t *o)
{
    if (!s || !m)
        return cgalr_fail(CGALR_EINVAL, "cgalr_nn_snapshot_restore: snapshot or model is NULL");
    if (s->kind != m->cfg.kind || s->arch_hash != m->arch_hash || s->n_params != m->n_params ||
        s->n_buffers != m->n_buffers)
        return cgalr_fail(CGALR_ESTATE, "snapshot of a %s with %zu parameters cannot restore a %s with %zu",
                          cgalr_model_kind_name(s->kind), s->n_params, cgalr_model_kind_name(m->cfg.kind), m->n_params);
    if (o && (!s->has_optim || s->okind != o->cfg.kind || s->n_ostate != o->n_state))
        return cgalr_fail(CGALR_ESTATE, "snapshot holds %s optimiser state, cannot restore a %s optimiser",
                          s->has_optim ? cgalr_optim_kind_name(s->okind) : "no", cgalr_optim_kind_name(o->cfg.kind));
    memcpy(m->params, s->params, m->n_params * 4);
    memcpy(m->buffers, s->buffers, m->n_buffers * 4);
    memset(m->grads, 0, m->n_params * 4);
    m->drop_rng = s->drop_rng;
    if (o) {
        memcpy(o->state, s->ostate, o->n_state * 4);
        o->steps = s->steps;
    }
    return CGALR_OK;
}

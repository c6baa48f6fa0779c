/* Neural-network layer of cgalr: models built by name (mlp, cnn, resnet20, resnet18, gin), one
 * training step (forward + loss + backward), evaluation, flat parameter/gradient views, PyTorch-
 * semantics optimisers, activation capture for the connectome, checkpoints and in-memory
 * snapshots. Depends on core and BLAS only; inputs are the batch structs of cgalr/graph.h.
 * Every function that can fail returns CGALR_OK or a negative status with cgalr_last_error() set. */
#ifndef CGALR_NN_H
#define CGALR_NN_H

#include <stddef.h>
#include <stdint.h>

#include "cgalr/graph.h"
#include "cgalr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Models -------------------------------------------------------------------------------- */

typedef enum cgalr_model_kind {
    CGALR_MODEL_MLP = 0,      /* flatten, Linear-ReLU per hidden size, Linear to classes */
    CGALR_MODEL_CNN = 1,      /* VGG-style: 2x conv3-32, pool, 2x conv3-64, pool, 2x conv3-128,
                                 pool (conv-BN-ReLU, no conv bias), FC 256-128-C */
    CGALR_MODEL_RESNET20 = 2, /* He et al. 2016 CIFAR ResNet, 16/32/64, option A shortcuts
                                 (stride-2 subsample + zero channel padding) */
    CGALR_MODEL_RESNET18 = 3, /* CIFAR ResNet-18 (3x3 stem, no max-pool), 1x1 conv+BN shortcuts */
    CGALR_MODEL_GIN = 4       /* Xu et al. 2019 GIN, sum readout of every layer */
} cgalr_model_kind_t;

/* "mlp", "cnn", "resnet20", "resnet18", "gin" -> kind; -1 if unknown. */
CGALR_API int cgalr_model_kind_parse(const char *name);
CGALR_API const char *cgalr_model_kind_name(cgalr_model_kind_t kind);

#define CGALR_MLP_MAX_HIDDEN 8

typedef struct cgalr_model_config {
    cgalr_model_kind_t kind;
    /* Image models: input shape per sample (mlp flattens it: in_c*in_h*in_w features; a flat
     * vector is c = features, h = w = 1). */
    size_t in_c, in_h, in_w;
    /* gin: node feature width. */
    size_t node_features;
    size_t n_classes;      /* >= 2 */
    uint64_t seed;         /* initialisation (stream CGALR_STREAM_INIT) and dropout masks
                              (stream CGALR_STREAM_DROPOUT) */
    /* mlp: hidden sizes (default 2 layers: 256, 128). */
    size_t mlp_hidden[CGALR_MLP_MAX_HIDDEN];
    size_t mlp_n_hidden;
    /* gin (defaults: hidden 64, 5 GIN layers, dropout 0.5 on each readout score, eps fixed 0). */
    size_t gin_hidden;
    size_t gin_layers;
    float dropout;         /* gin readout dropout probability in [0, 1) */
    int gin_learn_eps;     /* 1: eps is a learnable parameter per layer (initial gin_eps) */
    float gin_eps;         /* initial or fixed eps */
    int threads;           /* >= 1 (default 1): BLAS threads and engine threads */
} cgalr_model_config_t;

/* Fills the documented defaults for `kind`; the caller then sets the input shape (in_c/in_h/in_w
 * or node_features), n_classes and seed. Defaults: in 1x28x28, 10 classes, seed 0. */
CGALR_API void cgalr_model_config_default(cgalr_model_config_t *cfg, cgalr_model_kind_t kind);

typedef struct cgalr_model cgalr_model_t;

/* Builds the model and initialises its parameters like PyTorch's defaults per layer type
 * (Linear/Conv: kaiming_uniform(a = sqrt(5)) weights, bias U(+-1/sqrt(fan_in)); BatchNorm: weight
 * 1, bias 0, running mean 0, running var 1) from cfg->seed. */
CGALR_API cgalr_status_t cgalr_model_create(const cgalr_model_config_t *cfg, cgalr_model_t **out);
CGALR_API void cgalr_model_free(cgalr_model_t *m);
/* The configuration the model was built from (defaults filled in). */
CGALR_API const cgalr_model_config_t *cgalr_model_get_config(const cgalr_model_t *m);
/* Sets BLAS/engine threads (>= 1). OpenBLAS's thread count is process-wide. */
CGALR_API cgalr_status_t cgalr_model_set_threads(cgalr_model_t *m, int threads);
/* The kernels this process computes with, which decide the last bits of every result (the same
 * command under other kernels gives other bits from the first epoch on): the engine's instruction
 * set ("generic", "avx2" or "avx512"; CGALR_ISA forces it) and OpenBLAS's core ("Haswell", "Zen",
 * "Cooperlake", ...; OPENBLAS_CORETYPE forces it). Static strings; a run records both in its
 * summary.json so that it can be remade bit for bit. */
CGALR_API const char *cgalr_nn_isa_name(void);
CGALR_API const char *cgalr_nn_blas_core(void);

/* ---- Training step and evaluation ---------------------------------------------------------- */

typedef struct cgalr_step_result {
    double loss;       /* training step: mean cross-entropy over the batch;
                          evaluation: SUM of cross-entropy over the samples with finite logits */
    size_t correct;    /* argmax == label, and every logit of the sample finite */
    size_t n;          /* samples (images or graphs) in the batch */
    size_t nonfinite;  /* samples with at least one non-finite logit (counted wrong) */
} cgalr_step_result_t;

/* Training mode (batch norm batch statistics + running update, dropout on): forward, softmax
 * cross-entropy (mean over the batch), backward. The gradient block is OVERWRITTEN (like
 * zero_grad + backward in PyTorch); parameters are not changed (call cgalr_optim_step).
 * Labels are required. A batch whose shape does not match the model is CGALR_EINVAL. A
 * non-finite loss is not an error: res->loss is NaN/Inf and res->nonfinite > 0. */
CGALR_API cgalr_status_t cgalr_model_train_images(cgalr_model_t *m, const cgalr_image_batch_t *b,
                                        cgalr_step_result_t *res);
CGALR_API cgalr_status_t cgalr_model_train_graphs(cgalr_model_t *m, const cgalr_graph_batch_t *b,
                                        cgalr_step_result_t *res);

/* Inference mode (running statistics, no dropout), no gradients. res->loss is the SUM of the
 * per-sample losses over samples whose logits are all finite; labels may be NULL (then loss and
 * correct are 0). */
CGALR_API cgalr_status_t cgalr_model_eval_images(cgalr_model_t *m, const cgalr_image_batch_t *b,
                                       cgalr_step_result_t *res);
CGALR_API cgalr_status_t cgalr_model_eval_graphs(cgalr_model_t *m, const cgalr_graph_batch_t *b,
                                       cgalr_step_result_t *res);

/* The logits (n x n_classes, row-major) of the last train/eval call; valid until the next call
 * on the model. *n receives the number of rows. NULL before any call and after a capture. */
CGALR_API const float *cgalr_model_logits(const cgalr_model_t *m, size_t *n);

/* ---- Flat views of parameters and gradients ------------------------------------------------ */

/* All trainable parameters live in one float block, their gradients in another of the same
 * layout. Batch-norm running statistics are buffers (not parameters, not in these blocks). */
CGALR_API size_t cgalr_model_num_params(const cgalr_model_t *m);
CGALR_API float *cgalr_model_params(cgalr_model_t *m);
CGALR_API float *cgalr_model_grads(cgalr_model_t *m);
/* CGALR_OK if every parameter and buffer is finite, else CGALR_ENONFINITE naming the tensor and
 * index of the first offender. */
CGALR_API cgalr_status_t cgalr_model_check_finite(const cgalr_model_t *m);

/* The named parameter tensors in block order (PyTorch state_dict-style names, e.g.
 * "fc1.weight", "layer1.0.bn1.bias"). shape has ndim entries (unused ones 1). */
typedef struct cgalr_tensor_info {
    const char *name;
    size_t offset;   /* into the parameter block */
    size_t numel;
    int ndim;
    size_t shape[4];
} cgalr_tensor_info_t;
CGALR_API size_t cgalr_model_num_tensors(const cgalr_model_t *m);
CGALR_API cgalr_status_t cgalr_model_tensor_info(const cgalr_model_t *m, size_t i, cgalr_tensor_info_t *info);

/* Buffers (batch-norm running mean/var, in layer order: mean then var per BN layer). */
CGALR_API size_t cgalr_model_num_buffers(const cgalr_model_t *m);
CGALR_API float *cgalr_model_buffers(cgalr_model_t *m);

/* ---- Optimisers (PyTorch semantics) -------------------------------------------------------- */

typedef enum cgalr_optim_kind {
    CGALR_OPTIM_SGD = 0,   /* torch.optim.SGD: momentum, dampening 0, nesterov, coupled wd */
    CGALR_OPTIM_ADAM = 1,  /* torch.optim.Adam (coupled wd, default 0) */
    CGALR_OPTIM_ADAMW = 2  /* torch.optim.AdamW (decoupled wd, default 0.01) */
} cgalr_optim_kind_t;

/* "sgd", "adam", "adamw" -> kind; -1 if unknown. */
CGALR_API int cgalr_optim_kind_parse(const char *name);
CGALR_API const char *cgalr_optim_kind_name(cgalr_optim_kind_t kind);

typedef struct cgalr_optim_config {
    cgalr_optim_kind_t kind;
    double momentum;      /* SGD (default 0.9) */
    int nesterov;         /* SGD (default 0; needs momentum > 0) */
    double weight_decay;  /* SGD/Adam default 0, AdamW default 0.01 */
    double beta1, beta2;  /* Adam(W): 0.9, 0.999 */
    double eps;           /* Adam(W): 1e-8 */
} cgalr_optim_config_t;

CGALR_API void cgalr_optim_config_default(cgalr_optim_config_t *cfg, cgalr_optim_kind_t kind);

typedef struct cgalr_optim cgalr_optim_t;

/* An optimiser over all parameters of `m` (which must outlive it). State (momentum buffers,
 * Adam moments, step count) lives in one block. */
CGALR_API cgalr_status_t cgalr_optim_create(const cgalr_optim_config_t *cfg, cgalr_model_t *m, cgalr_optim_t **out);
CGALR_API void cgalr_optim_free(cgalr_optim_t *o);
/* One update of the model's parameters from its gradient block with learning rate lr (> = 0,
 * finite), supplied by the caller at every step (schedules and the controller live elsewhere). */
CGALR_API cgalr_status_t cgalr_optim_step(cgalr_optim_t *o, double lr);
/* Number of steps taken so far. */
CGALR_API uint64_t cgalr_optim_steps(const cgalr_optim_t *o);
CGALR_API const cgalr_optim_config_t *cgalr_optim_get_config(const cgalr_optim_t *o);

/* ---- Activation capture (probe signals of the connectome) ---------------------------------- */

/* The layers that can be probes, in forward order: name and number of signals P (post-
 * activation outputs; conv maps count one signal per channel, globally average-pooled; for gin
 * "gin<k>" is the sum-pooled graph embedding of layer k, "input" of the input features). */
CGALR_API size_t cgalr_model_num_probes(const cgalr_model_t *m);
CGALR_API cgalr_status_t cgalr_model_probe_info(const cgalr_model_t *m, size_t i, const char **name, size_t *signals);
/* The default probe: the penultimate layer (mlp "fc<last>", cnn "fc2", resnets "pool", gin
 * "gin<last>"). */
CGALR_API const char *cgalr_model_default_probe(const cgalr_model_t *m);

/* Signals of a probe spec: one layer name or several separated by commas (concatenated in the
 * given order); NULL or "" means the default probe. Unknown names are CGALR_EINVAL listing the
 * valid ones. */
CGALR_API cgalr_status_t cgalr_model_probe_width(const cgalr_model_t *m, const char *spec, size_t *p);
/* Inference-mode forward of the batch; writes the n x P row-major matrix of the probe values to
 * out (caller-allocated, n = images or graphs in the batch). Parameters, buffers and the
 * dropout stream are untouched. */
CGALR_API cgalr_status_t cgalr_model_capture_images(cgalr_model_t *m, const char *spec, const cgalr_image_batch_t *b,
                                          float *out);
CGALR_API cgalr_status_t cgalr_model_capture_graphs(cgalr_model_t *m, const char *spec, const cgalr_graph_batch_t *b,
                                          float *out);

/* Training-forward capture: the probe values of the training batches themselves, with no extra
 * forward. Once set, every training-mode forward (cgalr_model_train_*) calls fn(user, m, rows) in
 * the calling thread right after the last layer of `spec` is computed, before the rest of the
 * forward and the backward; rows = samples (images or graphs) in the batch. Inside fn,
 * cgalr_model_pool_probe writes the pooled P values (the same pooling as the capture above, in
 * training mode: batch statistics, dropout on) of the chosen rows, so only P floats per wanted
 * sample are ever copied. A nonzero status from fn ends the training step with it. fn = NULL
 * removes the hook. Inference forwards never call it. */
typedef cgalr_status_t (*cgalr_train_capture_fn)(void *user, cgalr_model_t *m, size_t rows);
CGALR_API cgalr_status_t cgalr_model_set_train_capture(cgalr_model_t *m, const char *spec, cgalr_train_capture_fn fn,
                                             void *user);
/* Only inside the hook: rows[0..k) of the batch (rows = NULL: all of them, k = the batch size) as a
 * k x P row-major matrix in out. */
CGALR_API cgalr_status_t cgalr_model_pool_probe(const cgalr_model_t *m, const size_t *rows, size_t k, float *out);

/* Synchronised batch norm for data-parallel training (cgalr train --sync-bn): with a sum set,
 * every batch-norm layer of a training forward and backward takes its per-channel statistics
 * over the whole batch of all processes, summing its partial sums through sum (in place, over
 * the processes, the same bits on every one), as one process would over the whole batch. Every
 * process must then run every training forward and backward in step, with parts of at least one
 * sample. share: this process's part of the whole batch's samples (n_r / n), by which the loss
 * of its part (a mean over its own samples) is weighted; set it before each batch. sum = NULL:
 * statistics of this process's part alone (the default). */
typedef cgalr_status_t (*cgalr_batch_sum_fn)(void *user, double *buf, size_t n);
CGALR_API void cgalr_model_set_batch_sum(cgalr_model_t *m, cgalr_batch_sum_fn sum, void *user);
CGALR_API void cgalr_model_set_batch_share(cgalr_model_t *m, double share);

/* ---- Checkpoints --------------------------------------------------------------------------- */

/* Writes model (parameters, buffers, dropout stream) + optimiser state (o may be NULL) + an opaque
 * extra blob (may be NULL/0: e.g. scheduler and RNG states of the caller) to `path` in a
 * versioned binary format with a checksum. Writes `path`.tmp then renames it over `path`. */
CGALR_API cgalr_status_t cgalr_nn_save(const char *path, const cgalr_model_t *m, const cgalr_optim_t *o,
                             const void *extra, size_t extra_size);
/* Reads a file written by cgalr_nn_save into an existing model (and optimiser when o != NULL; the
 * file must then hold one of the same kind). A truncated or corrupted file is CGALR_EFORMAT; a
 * file of another architecture, parameter layout or optimiser kind is CGALR_ESTATE; in both
 * cases nothing is modified. When extra != NULL, *extra receives a malloc'd copy of the blob
 * (NULL when empty; the caller frees it) and *extra_size its size. */
CGALR_API cgalr_status_t cgalr_nn_load(const char *path, cgalr_model_t *m, cgalr_optim_t *o, void **extra,
                             size_t *extra_size);

/* ---- In-memory snapshots (the non-finite guard restores the last good state) --------------- */

typedef struct cgalr_nn_snapshot cgalr_nn_snapshot_t;
/* Takes a copy of the complete state of m (and o when not NULL): parameters, buffers, dropout
 * stream, optimiser state and step count. */
CGALR_API cgalr_status_t cgalr_nn_snapshot_take(const cgalr_model_t *m, const cgalr_optim_t *o, cgalr_nn_snapshot_t **out);
/* Overwrites an existing snapshot with the current state (no allocation when sizes match). */
CGALR_API cgalr_status_t cgalr_nn_snapshot_update(cgalr_nn_snapshot_t *s, const cgalr_model_t *m, const cgalr_optim_t *o);
/* Restores m (and o) from s; they must be the same model/optimiser (or identically built).
 * Gradients are zeroed. */
CGALR_API cgalr_status_t cgalr_nn_snapshot_restore(const cgalr_nn_snapshot_t *s, cgalr_model_t *m, cgalr_optim_t *o);
CGALR_API void cgalr_nn_snapshot_free(cgalr_nn_snapshot_t *s);

#ifdef __cplusplus
}
#endif
#endif

/* Internals of the nn layer shared by its files: the model is a list of nodes in topological
 * order (each an op with up to two inputs), parameters/gradients/buffers in flat blocks, and an
 * arena of activations carved afresh for each batch shape. */
#ifndef CGALR_NN_INTERNAL_H
#define CGALR_NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cgalr/nn.h"
#include "cgalr/rng.h"

typedef struct nn_pool nn_pool_t;

typedef enum nn_op {
    OP_INPUT = 0,
    OP_FLATTEN,    /* alias of its input with shape (c*h*w, 1, 1) */
    OP_LINEAR,     /* weight (out x in), bias (out) */
    OP_CONV,       /* weight (oc x ic x k x k), optional bias */
    OP_BN,         /* weight, bias (c); buffers running mean, running var (c each) */
    OP_RELU,
    OP_LRELU,
    OP_MAXPOOL,    /* k x k, stride, no padding */
    OP_AVGPOOL,    /* k x k, stride, no padding */
    OP_GAP,        /* global average pool: (c, h, w) -> (c, 1, 1) */
    OP_DROPOUT,
    OP_ADD,        /* in0 + in1 */
    OP_SHORTCUT_A, /* stride-2 subsample + zero channel padding (ResNet option A) */
    OP_GIN_AGG,    /* (1 + eps) x_v + sum of neighbours; optional learnable eps */
    OP_GRAPH_SUM,  /* node level -> graph level sum readout */
    OP_COUNT       /* the number of ops: the op table in ops.c has one row per op */
} nn_op_t;

enum { LEVEL_SAMPLE = 0, LEVEL_NODE = 1 };

#define NN_NAME 48
#define NN_NONE ((size_t)-1)

/* The kernels of one convolution, chosen once per batch shape by nn_conv_plan (conv.c) so that the
 * scratch sizes (arena.c), the forward and the backward follow the same choice. */
typedef enum nn_conv_fwd { CONV_FWD_GEMM = 0, CONV_FWD_WINO, CONV_FWD_S2, CONV_FWD_DIRECT } nn_conv_fwd_t;
typedef enum nn_conv_dw { CONV_DW_GEMM = 0, CONV_DW_WINO, CONV_DW_DIRECT, CONV_DW_S2 } nn_conv_dw_t;
/* input gradient: TCONV is the im2col transposed convolution, COL2IM the column scatter */
typedef enum nn_conv_dx { CONV_DX_COL2IM = 0, CONV_DX_TCONV, CONV_DX_WINO, CONV_DX_DIRECT } nn_conv_dx_t;
typedef struct nn_conv_plan {
    nn_conv_fwd_t fwd;   /* output */
    nn_conv_dw_t dw;     /* weight (and bias) gradient */
    nn_conv_dx_t dx;     /* input gradient, where the input needs one */
    size_t samples;      /* samples per chunk */
} nn_conv_plan_t;

typedef struct nn_node {
    nn_op_t op;
    char name[NN_NAME];
    int in0, in1;        /* input node indices (-1 none) */
    int level;           /* rows are samples/graphs or graph nodes */
    size_t c, h, w;      /* per-row output shape */
    size_t w_off, b_off; /* parameter offsets (NN_NONE: absent) */
    size_t buf_off;      /* BN running stats offset in the buffer block */
    int k, stride, pad;
    int pad_c;           /* shortcut A: channels padded on each side */
    float slope, p, eps;
    int probe;           /* can be a probe signal */
    int needs_grad;      /* its output depends on parameters: backward must reach it */
    int inplace;         /* ReLU sharing its input's y and dy (the input has no other reader) */
    int fuse_relu;       /* BN, ADD: index of the in-place ReLU it feeds (0: none); see nn_bn_fused in batchnorm.c */
    int dy_fresh;        /* this step's gradient not yet written: the first writer stores instead of adding
                          * (or zeroes it first); kept on the node that owns the buffer, see nn_dy_owner */
    /* per batch */
    size_t rows;
    float *y, *dy;
    float *aux;          /* BN: mean, invstd (2c); dropout: mask (rows*c*h*w) */
    double bn_M;         /* synchronised batch norm: values per channel in the whole batch */
    int32_t *idx;        /* max-pool argmax */
    nn_conv_plan_t conv; /* OP_CONV: its kernels for this batch shape */
} nn_node_t;

/* Floats of one row of a node's output. */
static inline size_t nn_rowsize(const nn_node_t *n)
{
    return n->c * n->h * n->w;
}

typedef struct nn_tensor {
    char name[NN_NAME];
    size_t offset, numel;
    int ndim;
    size_t shape[4];
    size_t fan_in;       /* for initialisation; 0 = constant init */
    float init_const;
} nn_tensor_t;

struct cgalr_model {
    cgalr_model_config_t cfg;
    nn_node_t *nodes;
    int n_nodes, cap_nodes;
    nn_tensor_t *tensors;
    size_t n_tensors, cap_tensors;
    float *params, *grads, *buffers;
    size_t n_params, n_buffers;
    cgalr_rng_t drop_rng;
    uint64_t arch_hash;
    /* arena */
    unsigned char *arena;
    size_t arena_cap;
    float *work;         /* im2col scratch: one slice of work_stride floats per thread */
    size_t work_cap, work_stride;
    float *dwork;        /* direct-convolution scratch: one slice of dwork_stride floats per thread */
    size_t dwork_cap, dwork_stride;
    float *apack;        /* weights of the direct convolution being run, in 16-row blocks */
    size_t apack_cap;
    float *wt;           /* flipped, transposed kernel of the convolution being back-propagated */
    size_t wt_cap;
    float *gscratch;     /* per-thread convolution weight gradients (threads > 1) */
    size_t gscratch_cap, gscratch_stride;
    nn_pool_t *pool;     /* NULL with one thread */
    int training;
    int ow0, ow1;        /* backward op being run: it stores (1) rather than adds into in0's / in1's dy */
    int fwd_upto;        /* last node of the forward pass being run */
    const cgalr_graph_batch_t *gb;
    int logits_valid;
    size_t logits_n;
    char default_probe[NN_NAME];
    /* training-capture hook (cgalr_model_set_train_capture) */
    cgalr_train_capture_fn cap_fn;
    void *cap_user;
    /* synchronised batch norm (cgalr_model_set_batch_sum): the sum over processes, this
     * process's share of the batch, a scratch of 2C + 1 doubles, and the first failure of a sum
     * in a backward pass (which returns nothing) */
    cgalr_batch_sum_fn bn_sum;
    void *bn_sum_user;
    double bn_share;
    double *bn_buf;
    size_t bn_buf_cap;
    cgalr_status_t bn_status;
    int cap_idx[64];     /* probe nodes of its spec, in spec order (MAX_PROBE_LAYERS in model.c) */
    size_t cap_count, cap_width;
    int cap_upto;        /* the last of them in forward order: the hook runs after it */
    int cap_live;        /* inside the hook: cgalr_model_pool_probe may read the rows */
};

/* isa.c: the instruction set of the kernels, chosen once per process from the CPU (CGALR_ISA =
 * generic|avx2|avx512 forces one). nn_isa_check fails (with the message) when CGALR_ISA is unknown
 * or names an ISA this CPU lacks; the model refuses to be created then. Internal: hidden from the
 * shared library's symbols. */
typedef enum nn_isa { NN_ISA_GENERIC = 0, NN_ISA_AVX2 = 1, NN_ISA_AVX512 = 2 } nn_isa_t;
__attribute__((visibility("hidden"))) nn_isa_t nn_isa(void);
__attribute__((visibility("hidden"))) cgalr_status_t nn_isa_check(void);

/* ops.c: one node's forward or backward, run through the op table by the kernels of its op
 * (nn_ops.h). Each forward reads its inputs' y and writes its own y; each backward adds into its
 * inputs' dy (or stores, where the table says it may) and into the gradient block. An op's name
 * for messages. */
cgalr_status_t nn_forward_node(struct cgalr_model *m, nn_node_t *n);
const char *nn_op_name(int op);
void nn_backward_node(struct cgalr_model *m, nn_node_t *n);
/* The node whose buffer holds n's gradient (aliases and in-place ReLUs share their input's). */
nn_node_t *nn_dy_owner(const struct cgalr_model *m, const nn_node_t *n);
/* Sets OpenBLAS's (process-wide) thread count, skipping the call when unchanged. */
void nn_blas_threads(int t);

/* conv.c: output size of a convolution or pooling window; nn_conv_plan fills n->conv for the
 * convolution n (its rows and its input's shape set) run over `threads` pool threads; the floats
 * of im2col scratch a convolution needs per thread. */
size_t nn_conv_out(size_t in, int k, int stride, int pad);
void nn_conv_plan(const struct cgalr_model *m, nn_node_t *n, int threads);
size_t nn_conv_work(size_t kk, int k, size_t ohw, size_t oc, size_t S, int training, int tconv);
/* conv_direct.c: whether a stride/pad/kernel convolution producing `rows` channels runs as a
 * direct convolution (see there), and the floats of scratch one needs over c planes of h x w. */
int nn_conv_direct(size_t rows, int k, int stride, int pad);
size_t nn_direct_work(size_t c, size_t h, size_t w, int k, int p);
/* Whether a convolution producing `rows` channels from ih x iw maps is a 3x3 stride-2 pad-1 one run
 * directly over the input's phase planes (see conv_direct.c), and the floats of scratch it needs
 * over c planes with an oh x ow output. */
int nn_conv_s2(size_t rows, int k, int stride, int pad, size_t ih, size_t iw);
size_t nn_s2_work(size_t c, size_t oh, size_t ow);
/* The direct convolution's AVX2 kernels (conv_direct.c), shared with the Winograd products
 * (wino.c): tile (npr x 16) = sum_q x[off[q] + P] * wb[q][16] over K taps for positions P < npr, a
 * multiple of 6; dW[o][q] += sum_P dyT[P][o] * x[off[q] + P] for P < np; and the position-major
 * tile's store into 16 NCHW planes. */
void nn_direct_tiles(const float *xpad, const int32_t *off, size_t K, const float *wb, size_t npr, float *tile);
void nn_direct_dw6(const float *dyT, size_t np, const float *xpad, const int32_t *off, size_t K, float *dW,
                   size_t ldw);
void nn_direct_store(const float *tile, size_t h, size_t w, size_t pw, float *y, const float *bias, int accum);

/* wino.c: Winograd F(2x2, 3x3) for stride-1 pad-1 3x3 convolutions producing `rows` (a multiple of
 * 16) channels from c. ksize: floats of the transformed kernel (and of a weight-gradient
 * accumulator); group: samples run together (the chunk size of such a layer); work: floats of
 * per-thread scratch for G samples of c planes of h x w. pack transforms W (M x C x 3 x 3) into
 * U; conv: y (G x M x h x w) = conv(x (G x C x h x w)) [+ bias], or += with accum; dw: the
 * transformed weight gradient of G samples added into dU; dw_finish: dW += dU brought back. */
int nn_conv_wino(size_t rows, size_t c, int k, int stride, int pad);
size_t nn_wino_ksize(size_t M, size_t C);
size_t nn_wino_group(size_t h, size_t w, size_t rows, int threads);
size_t nn_wino_work(size_t C, size_t h, size_t w, size_t G);
void nn_wino_pack(const float *W, size_t M, size_t C, float *U);
void nn_wino_conv(const float *U, size_t M, const float *x, size_t G, size_t C, size_t h, size_t w, float *y,
                  const float *bias, int accum, float *scratch);
void nn_wino_dw(const float *dy, size_t M, const float *x, size_t G, size_t C, size_t h, size_t w, float *dU,
                float *scratch);
void nn_wino_dw_finish(const float *dU, size_t M, size_t C, float *dW);

/* ops.c: runs fn(ctx, lo, hi) over [0, n) split into one contiguous range per pool thread when n * grain
 * (floats touched) is large enough, else inline. */
void nn_par_for(struct cgalr_model *m, size_t n, size_t grain, void (*fn)(void *ctx, size_t lo, size_t hi),
                void *ctx);

/* threadpool.c: condition-variable thread pool; run calls fn(ctx, tid) for tid 0..threads-1 (the
 * caller is tid 0) and returns when all are done. create(n < 2) gives NULL, which runs inline. */
nn_pool_t *nn_pool_create(int n);
void nn_pool_free(nn_pool_t *p);
int nn_pool_threads(const nn_pool_t *p);
void nn_pool_run(nn_pool_t *p, void (*fn)(void *, int), void *ctx);

/* checkpoint.c / optim.c helpers */
struct cgalr_optim {
    cgalr_optim_config_t cfg;
    cgalr_model_t *model;
    float *state;        /* SGD: momentum buffer (n); Adam: m then v (2n) */
    size_t n_state;
    uint64_t steps;
};

/* models.c: the architectures. nn_check_config checks a config against its kind; nn_build_arch
 * adds the nodes and tensors of cfg's architecture (or of the test spec, see nn_model_create_seq)
 * after the input node and returns the last node (-1: it cannot be built); nn_init_params gives the
 * parameters and buffers PyTorch's default initialisation. */
cgalr_status_t nn_check_config(const cgalr_model_config_t *c);
int nn_build_arch(struct cgalr_model *m, const char *spec);
void nn_init_params(struct cgalr_model *m);

/* arena.c: nn_mark_inplace lets ReLUs overwrite inputs nothing else reads (once, at creation);
 * nn_arena_prepare carves the y, dy and scratch buffers of nodes 0..upto for a batch of
 * rows_sample samples (rows_node graph nodes). */
void nn_mark_inplace(struct cgalr_model *m);
cgalr_status_t nn_arena_prepare(struct cgalr_model *m, size_t rows_sample, size_t rows_node, int training, int upto);

/* loss.c: cross-entropy over the logits; in training, writes dL/dlogits (mean reduction) into the
 * last node's dy. */
cgalr_status_t nn_loss_and_grad(struct cgalr_model *m, const int32_t *labels, int training,
                                cgalr_step_result_t *res);

/* Test hook: an image model whose body is a comma-separated layer list, followed by flatten and a
 * Linear "head" to cfg->n_classes. Tokens: conv:OC:K:S:P[:b] bn relu lrelu maxpool:K:S avgpool:K:S
 * gap flatten fc:N dropout:P mark add (adds the output at the last mark) shortcut_a (doubles the
 * channels). Layers are named l1, l2, ... in order. */
cgalr_status_t nn_model_create_seq(const cgalr_model_config_t *cfg, const char *spec, cgalr_model_t **out);


#endif

/* The batch formats shared by the data layer (which produces them) and the nn layer (which
 * consumes them). Plain data: neither layer owns the other's headers. */
#ifndef CGALR_GRAPH_H
#define CGALR_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A mini-batch of graphs as one block-diagonal graph. Node ids are batch-local; graph g owns
 * nodes node_ptr[g] .. node_ptr[g+1]-1 (contiguous). The adjacency is CSR over all nodes, each
 * undirected edge stored in both directions, no self loops, no duplicates; neighbours of node v
 * are col[row_ptr[v] .. row_ptr[v+1]-1], all in the same graph as v. Isolated nodes and one-node
 * graphs are valid. The memory belongs to whoever filled the struct. */
typedef struct cgalr_graph_batch {
    size_t n_graphs;
    size_t n_nodes;
    size_t feat_dim;
    const float *x;              /* n_nodes x feat_dim, row-major node features */
    const int32_t *row_ptr;      /* n_nodes + 1 */
    const int32_t *col;          /* row_ptr[n_nodes] entries */
    const int32_t *node_ptr;     /* n_graphs + 1 */
    const int32_t *graph_of_node;/* n_nodes: the graph of each node */
    const int32_t *labels;       /* n_graphs class labels in 0..C-1 (may be NULL at inference) */
} cgalr_graph_batch_t;

/* A mini-batch of images (or flat vectors: h = w = 1). */
typedef struct cgalr_image_batch {
    size_t n, c, h, w;
    const float *x;        /* n x c x h x w, NCHW contiguous, already normalised */
    const int32_t *labels; /* n class labels in 0..C-1 */
} cgalr_image_batch_t;

#ifdef __cplusplus
}
#endif
#endif

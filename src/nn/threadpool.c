/* A small thread pool for the engine's coarse parallel work (chunks of a batch). Workers sleep on
 * a condition variable between jobs: DESIGN.md measured spinning pools (OpenMP's default) making
 * small parallel regions far slower on this 2-core machine. */
#include <pthread.h>
#include <stdlib.h>

#include "nn/nn_internal.h"

struct nn_pool {
    int n;                 /* threads including the caller */
    pthread_t *tid;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    unsigned long gen;     /* incremented per job */
    int pending;           /* workers still running the current job */
    int quit;
    void (*fn)(void *, int);
    void *ctx;
};

typedef struct worker_arg {
    struct nn_pool *p;
    int id;
} worker_arg_t;

static void *worker(void *arg)
{
    worker_arg_t *w = arg;
    struct nn_pool *p = w->p;
    int id = w->id;
    free(w);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->quit)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->quit)
            break;
        seen = p->gen;
        void (*fn)(void *, int) = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, id);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void nn_pool_free(nn_pool_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n - 1; i++)
        pthread_join(p->tid[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->tid);
    free(p);
}

nn_pool_t *nn_pool_create(int n)
{
    if (n < 2)
        return NULL;
    nn_pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->tid = calloc((size_t)n, sizeof *p->tid);
    if (!p->tid) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    p->n = 1;
    for (int i = 1; i < n; i++) {
        worker_arg_t *w = malloc(sizeof *w);
        if (!w)
            break;
        w->p = p;
        w->id = i;
        if (pthread_create(&p->tid[i - 1], NULL, worker, w) != 0) {
            free(w);
            break; /* fewer threads: still correct */
        }
        p->n++;
    }
    return p;
}

int nn_pool_threads(const nn_pool_t *p)
{
    return p ? p->n : 1;
}

void nn_pool_run(nn_pool_t *p, void (*fn)(void *, int), void *ctx)
{
    if (!p || p->n < 2) {
        fn(ctx, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->pending = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

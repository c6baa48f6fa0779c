/* The one run-time choice of the instruction set the nn kernels use. The library is built for the
 * baseline x86-64 (SSE2) so it runs on any x86-64 CPU and under valgrind; the AVX2 + FMA kernels
 * (direct and Winograd convolutions, the fused BatchNorm-ReLU sums) are compiled for their ISA
 * with target attributes and run only when the CPU has it. The choice is made once per process
 * (the model's workspace layout depends on it, so it must not change between calls) and can be
 * forced with the environment variable CGALR_ISA=generic|avx2|avx512, to compare or test the
 * paths on one machine. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/status.h"
#include "nn/nn_internal.h"

static const char *const isa_names[] = {"generic", "avx2", "avx512"};

static nn_isa_t isa_cpu(void)
{
#if defined(__GNUC__) && defined(__x86_64__)
    __builtin_cpu_init();
    /* the AVX-512 level needs the AVX2 + FMA kernels too (every AVX-512 CPU has them) */
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        return NN_ISA_AVX512;
    return avx2 ? NN_ISA_AVX2 : NN_ISA_GENERIC;
#else
    return NN_ISA_GENERIC;
#endif
}

static nn_isa_t isa_now = NN_ISA_GENERIC;
static cgalr_status_t isa_status = CGALR_OK;
static char isa_error[160];
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;

static void isa_choose(void)
{
    nn_isa_t cpu = isa_cpu();
    const char *e = getenv("CGALR_ISA");
    isa_now = cpu;
    if (!e || !e[0])
        return;
    int want = -1;
    for (int i = 0; i < (int)(sizeof isa_names / sizeof isa_names[0]); i++)
        if (!strcmp(e, isa_names[i]))
            want = i;
    if (want < 0) {
        isa_status = CGALR_EINVAL;
        snprintf(isa_error, sizeof isa_error, "CGALR_ISA=%.40s: unknown instruction set (expected generic, avx2 or avx512)",
                 e);
        isa_now = NN_ISA_GENERIC; /* never reached by a model: nn_isa_check refuses first */
        return;
    }
    if ((nn_isa_t)want > cpu) {
        /* running it would die with SIGILL */
        isa_status = CGALR_EINVAL;
        snprintf(isa_error, sizeof isa_error, "CGALR_ISA=%s: this CPU does not support it (best here: %s)",
                 isa_names[want], isa_names[cpu]);
        isa_now = NN_ISA_GENERIC;
        return;
    }
    isa_now = (nn_isa_t)want;
}

nn_isa_t nn_isa(void)
{
    pthread_once(&isa_once, isa_choose);
    return isa_now;
}

cgalr_status_t nn_isa_check(void)
{
    pthread_once(&isa_once, isa_choose);
    if (isa_status)
        return cgalr_fail(isa_status, "%s", isa_error);
    return CGALR_OK;
}

const char *cgalr_nn_isa_name(void) { return isa_names[nn_isa()]; }

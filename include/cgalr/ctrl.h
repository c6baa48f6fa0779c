/* Control layer: one scheduler interface for the CG-ALR controller (METHOD.md section 4), every
 * baseline schedule and DoG (section 5). Depends on the topology layer and core only, so any
 * training code can drive it: ask the rate each iteration, report epochs, connectomes, gradients. */
#ifndef CGALR_CTRL_H
#define CGALR_CTRL_H

#include <stddef.h>
#include <stdint.h>

#include "cgalr/status.h"
#include "cgalr/topo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Methods and the optimiser each implies ---------------------------------------------- */

typedef enum cgalr_method {
    CGALR_METHOD_CONSTANT = 0,
    CGALR_METHOD_COSINE,
    CGALR_METHOD_STEP,
    CGALR_METHOD_EXP,
    CGALR_METHOD_PLATEAU,
    CGALR_METHOD_DOG,
    CGALR_METHOD_CGALR_TOP,
    CGALR_METHOD_CGALR_WD,
    CGALR_METHOD_CGALR_SWK,
    CGALR_METHOD_ADAM_COSINE,
    CGALR_METHOD_ADAMW_COSINE,
    CGALR_METHOD_PRODIGY,     /* Mishchenko and Defazio 2024, Adam form */
    CGALR_METHOD_DADAPT_SGD,  /* Defazio and Mishchenko 2023, SGD with momentum */
    CGALR_METHOD_DADAPT_ADAM, /* Defazio and Mishchenko 2023, Adam form */
    CGALR_METHOD_SF_SGD,      /* Defazio et al. 2024, Schedule-Free SGD */
    CGALR_METHOD_SF_ADAMW,    /* Defazio et al. 2024, Schedule-Free AdamW */
    CGALR_METHOD_COUNT
} cgalr_method_t;

/* "constant", "cosine", ..., "sf-adamw" (the names of the command line); -1 if unknown. */
CGALR_API int cgalr_method_parse(const char *name);
CGALR_API const char *cgalr_method_name(cgalr_method_t m);
/* The facts every layer asks about a method (the one list of methods lives in src/ctrl). */
enum {
    CGALR_MF_HAS_LR = 1u << 0,      /* takes a learning rate (the grid runs it at every grid value) */
    CGALR_MF_PARAM_FREE = 1u << 1,  /* parameter-free: run once per seed (lr fixed by the method) */
    CGALR_MF_CGALR = 1u << 2,       /* the CG-ALR controller (cgalr-top / -wd / -swk) */
    CGALR_MF_OWNS_UPDATE = 1u << 3, /* takes the parameter step itself (cgalr_sched_update; DoG: dog_step) */
    CGALR_MF_ADAM = 1u << 4,        /* keeps Adam moments */
    CGALR_MF_EVAL_X = 1u << 5,      /* evaluate at another sequence than the training iterate (Schedule-Free x) */
    CGALR_MF_D = 1u << 6            /* keeps a distance estimate d (cgalr_sched_d) */
};
CGALR_API unsigned cgalr_method_facts(cgalr_method_t m); /* 0 for an unknown method */
/* 1 for cgalr-top / cgalr-wd / cgalr-swk. */
CGALR_API int cgalr_method_is_cgalr(cgalr_method_t m);
/* "constant, cosine, ..." (static string, for --help and messages). */
CGALR_API const char *cgalr_method_list(void);

typedef enum cgalr_sched_optim {
    CGALR_SCHED_OPTIM_SGD_MOMENTUM = 0, /* SGD, momentum = cfg->momentum (0.9): every SGD schedule, CG-ALR */
    CGALR_SCHED_OPTIM_SGD = 1,          /* plain SGD (momentum 0): DoG */
    CGALR_SCHED_OPTIM_ADAM = 2,         /* PyTorch defaults: adam-cosine */
    CGALR_SCHED_OPTIM_ADAMW = 3         /* PyTorch defaults: adamw-cosine */
} cgalr_sched_optim_t;

CGALR_API cgalr_sched_optim_t cgalr_method_optimizer(cgalr_method_t m);
CGALR_API const char *cgalr_sched_optim_name(cgalr_sched_optim_t k); /* "sgd-momentum", "sgd", "adam", "adamw" */

/* ---- Configuration ----------------------------------------------------------------------- */

typedef enum cgalr_score { CGALR_SCORE_PLAIN = 0, CGALR_SCORE_LOG = 1 } cgalr_score_t;

/* Every field has a documented default filled by cgalr_sched_config_default; every SPEC
 * parameter is also settable by name through cgalr_sched_config_set ("name=value"; the option
 * name is given in brackets). Values < 0 or 0 marked "auto" are resolved at create time. */
typedef struct cgalr_sched_config {
    cgalr_method_t method;
    double eta0;             /* [lr] initial / base rate (> 0); ignored by dog. Default 0.1 */
    long epochs;             /* [epochs] run length T in epochs; 0 = unknown. Default 0 */
    long iters_per_epoch;    /* [iters_per_epoch] 0 = unknown. Informational. Default 0 */
    double momentum;         /* [momentum] SGD momentum for the SGD-momentum methods. Default 0.9 */

    /* CG-ALR controller (METHOD.md section 4) */
    int window;              /* [K] history length K (>= 3). Default 8 */
    cgalr_score_t score;     /* [score] plain | log. Default plain */
    double tau_enter;        /* [tau_enter] > 0. Default 1.0 */
    double tau_exit;         /* [tau_exit] in [0, tau_enter). Default 0.25 */
    double gamma_dec;        /* [gamma_dec] in (0, 1]. Default 0.7 */
    double gamma_inc;        /* [gamma_inc] >= 1. Default 1.1 */
    double rho_min;          /* [rho_min] > 0, <= 1 <= rho_max. Default 0.1 */
    double rho_max;          /* [rho_max] Default 2.0 */
    double alpha;            /* [alpha] in (0.5, 1]. Default 1 */
    double s0;               /* [s0] envelope scale in epochs; 0 = auto: T/10 if T known, else 10 */
    double calm_clock;       /* [calm_clock] extension (docs/ABLATION.md): the envelope's clock runs at
                              * this speed in (0, 1] while the gate is out of warm-up and not in
                              * DECEL, at 1 otherwise. Default 1: METHOD.md's envelope exactly */
    long ctrl_every;         /* [ctrl_every] controller step every this many iterations; 0 = once
                              * per epoch (the default). For the driving loop: the scheduler
                              * steps whenever it is told a connectome or distance. */
    int max_retries;         /* [max_retries] guard retries before divergence (>= 0). Default 3 */
    cgalr_topo_config_t topo;/* [p_ph] [topo_seed] [sw_directions]: kind follows the method */

    /* optional linear warm-up of the rate over the first k iterations, any method but dog:
     * iteration i (from 0) gets the rate times (i + 1) / k while i < k (for CG-ALR the rate is
     * then below rho_min a(s) during those k iterations, by design). */
    long warmup_iters;       /* [warmup] k; 0 = off (default) */

    /* cosine, adam-cosine, adamw-cosine: torch CosineAnnealingLR */
    double eta_min;          /* [eta_min] Default 0 */
    long t_max;              /* [t_max] 0 = auto: T */
    /* step: torch StepLR */
    long step_size;          /* [step_size] epochs; 0 = auto: max(1, floor(T / 3)) */
    double step_gamma;       /* [step_gamma] Default 0.1 */
    /* exp: torch ExponentialLR */
    double exp_gamma;        /* [exp_gamma] 0 = auto: 0.01^(1/T) */
    /* plateau: torch ReduceLROnPlateau(mode=min, threshold_mode=rel, cooldown=0) */
    double plateau_factor;   /* [plateau_factor] in (0, 1). Default 0.1 */
    long plateau_patience;   /* [plateau_patience] -1 = auto: min(10, max(1, floor(T/10))), 10 if T unknown */
    double plateau_threshold;/* [plateau_threshold] relative, >= 0. Default 1e-4 */
    double plateau_min_lr;   /* [plateau_min_lr] Default 0 */
    double plateau_eps;      /* [plateau_eps] reductions smaller than this are skipped. Default 1e-8 */
    /* dog (Ivgi, Hinder, Carmon 2023) */
    double dog_reps_rel;     /* [dog_reps_rel] > 0. Default 1e-6 (use 1e-4 for models with batch norm) */
    double dog_eps;          /* [dog_eps] added once to G. Default 1e-8 */
    double dog_avg_gamma;    /* [dog_avg_gamma] polynomial-decay averaging gamma (>= 0). Default 8 */
    double weight_decay;     /* [weight_decay] dog, D-Adaptation SGD, Schedule-Free SGD: added to the
                              * gradient; prodigy, dadapt-adam, sf-adamw: decoupled. Default 0 */
    /* prodigy, dadapt-sgd, dadapt-adam, sf-sgd, sf-adamw (published defaults) */
    double beta1;            /* [beta1] Adam first moment; sf-adamw: the interpolation. Default 0.9
                              * (dadapt-sgd and sf-sgd take [momentum], 0.9) */
    double beta2;            /* [beta2] Adam second moment. Default 0.999 */
    double beta3;            /* [beta3] prodigy: EMA of r and s; 0 = auto: sqrt(beta2) */
    double adam_eps;         /* [eps] Adam denominator epsilon. Default 1e-8 */
    double d0;               /* [d0] prodigy / D-Adaptation: initial d. Default 1e-6 */
    double d_coef;           /* [d_coef] prodigy: factor on the d estimate. Default 1 */
    double growth_rate;      /* [growth_rate] prodigy / D-Adaptation: d_{k+1} <= growth d_k; 0 = unbounded
                              * (the default) */
    double sf_warmup;        /* [sf_warmup] Schedule-Free: linear warm-up as a fraction of the run's
                              * iterations (epochs x iters_per_epoch). Default 0.05 */
    double sf_weight_power;  /* [sf_weight_power] Schedule-Free: the average weights lr_max^p. Default 2 */
} cgalr_sched_config_t;

/* Fills every default for `method` (topo kind from the method; TOP for non-CG-ALR methods). */
CGALR_API void cgalr_sched_config_default(cgalr_sched_config_t *cfg, cgalr_method_t method);

/* Applies one "name=value" option (names in brackets above, plus "method=NAME" and, for the
 * cgalr-* methods, "distance=top|wd|swk", which switches between them). Unknown names,
 * unparsable or out-of-range values are CGALR_EINVAL with a message naming the option, the value
 * and the valid range; cfg is unchanged on failure. Cross-option rules (rho_min <= rho_max,
 * tau_exit < tau_enter, the run length a method needs) are checked by validate / create. */
CGALR_API cgalr_status_t cgalr_sched_config_set(cgalr_sched_config_t *cfg, const char *name_eq_value);
/* Applies a comma-separated list "a=1,b=2" (empty string or NULL: nothing). */
CGALR_API cgalr_status_t cgalr_sched_config_set_list(cgalr_sched_config_t *cfg, const char *list);
/* Checks everything, including cross-option rules; CGALR_EINVAL with a message. */
CGALR_API cgalr_status_t cgalr_sched_config_validate(const cgalr_sched_config_t *cfg);
/* One line per option: "name  default  range  meaning" (static string, for --help). */
CGALR_API const char *cgalr_sched_options_help(void);

/* ---- Robust score and gate (exposed for tests and for other controllers) ------------------- */

typedef enum cgalr_gate { CGALR_GATE_HOLD = 0, CGALR_GATE_DECEL = 1, CGALR_GATE_ACCEL = 2 } cgalr_gate_t;
CGALR_API const char *cgalr_gate_name(cgalr_gate_t g); /* "HOLD", "DECEL", "ACCEL" */

/* Median of x[0..n) (mean of the two middle values for even n); n >= 1. x is not modified. */
CGALR_API double cgalr_median(const double *x, size_t n);
/* m = median(h), mad = median(|h - m|), z = (x - m) / (1.4826 mad + eps), eps = 1e-12 + 1e-9 |m|.
 * n >= 1, all finite; z is finite whenever x is (clamped to +-1e300). NAN outputs for n = 0.
 * Any output pointer may be NULL. */
CGALR_API void cgalr_robust_score(const double *h, size_t n, double x, double *median, double *mad, double *z);
/* The Schmitt trigger of METHOD.md section 4 step 3: entering DECEL (z >= tau_enter) or ACCEL
 * (z <= -tau_enter) takes precedence from any state; DECEL leaves for HOLD when z < tau_exit,
 * ACCEL when z > -tau_exit; otherwise the state is kept. */
CGALR_API cgalr_gate_t cgalr_gate_next(cgalr_gate_t state, double z, double tau_enter, double tau_exit);

/* ---- The scheduler ----------------------------------------------------------------------- */

typedef struct cgalr_sched cgalr_sched_t;

/* Validates cfg (see cgalr_sched_config_validate) and creates the scheduler; *out = NULL on
 * failure. cosine, step and exp need epochs > 0 unless t_max / step_size / exp_gamma is given. */
CGALR_API cgalr_status_t cgalr_sched_create(const cgalr_sched_config_t *cfg, cgalr_sched_t **out);
CGALR_API void cgalr_sched_free(cgalr_sched_t *s);
/* The resolved configuration (auto values filled in). */
CGALR_API const cgalr_sched_config_t *cgalr_sched_config(const cgalr_sched_t *s);
CGALR_API cgalr_sched_optim_t cgalr_sched_optimizer(const cgalr_sched_t *s);

/* The rate for iteration `iteration` (0-based, counted over the whole run) at training progress
 * `progress` in epochs (epoch e, batch i of n: e + i / n).
 * Epoch-based schedules (cosine, step, exp, adam-/adamw-cosine) change once per epoch, like
 * PyTorch's scheduler.step() after every epoch: epoch e = floor(progress) uses the rate of
 * last_epoch = e. Cosine follows PyTorch's chainable (recursive) form, so it rises again past
 * t_max exactly as CosineAnnealingLR does. plateau: the current rate (cut by epoch_end).
 * CG-ALR: a(progress) * rho with a(s) = eta0 (1 + s/s0)^(-alpha), evaluated at the fractional
 * epoch of each iteration. dog: the eta of the last cgalr_sched_dog_step (0 before the first).
 * The optional warm-up factor is applied on top (not for dog). Returns NAN for s == NULL. */
CGALR_API double cgalr_sched_lr(cgalr_sched_t *s, long iteration, double progress);
/* The Robbins-Monro envelope a(s) (CG-ALR methods; eta0 for the others). */
CGALR_API double cgalr_sched_envelope(const cgalr_sched_t *s, double progress);

/* End of epoch `epoch` (0-based) with its mean training loss and validation loss (pass the
 * training loss twice when there is no validation split). plateau steps ReduceLROnPlateau on
 * val_loss; the others only record. A non-finite loss changes nothing and returns
 * CGALR_ENONFINITE: the caller then runs the guard (see cgalr_sched_on_nonfinite). */
CGALR_API cgalr_status_t cgalr_sched_epoch_end(cgalr_sched_t *s, long epoch, double train_loss, double val_loss);

/* Trace of one controller step (METHOD.md section 4 step 6), or of a guard event. */
enum {
    CGALR_TRACE_FIRST = 1u << 0,     /* M_0 recorded: no distance yet */
    CGALR_TRACE_WARMUP = 1u << 1,    /* |H| < 3: no gating, rho unchanged */
    CGALR_TRACE_GUARD = 1u << 2,     /* guard fired: rho = rho_min, gate = DECEL */
    CGALR_TRACE_NONFINITE = 1u << 3, /* the distance was NaN/Inf: not added to the history */
    CGALR_TRACE_LR_WARMUP = 1u << 4, /* inside the linear warm-up of the rate */
    CGALR_TRACE_DIVERGED = 1u << 5   /* the guard ran out of retries */
};
typedef struct cgalr_sched_trace {
    long t;             /* controller step (1 = first distance d_1 = D(M_0, M_1)); 0 for M_0 */
    double progress;    /* training progress s in epochs given with the step */
    double d;           /* raw distance d_t (NAN when none) */
    double median;      /* m over H, in score space (log d when score = log); NAN when |H| = 0 */
    double mad;         /* MAD over H; NAN when |H| = 0 */
    double z;           /* robust score; NAN when |H| = 0 or d non-finite (computed but not used
                         * for gating while |H| < 3) */
    cgalr_gate_t state; /* gate after the step */
    double rho;         /* multiplier after the step */
    double eta;         /* a(progress) * rho: the rate from this step on (before warm-up) */
    size_t history;     /* |H| used for the score */
    unsigned flags;     /* CGALR_TRACE_* */
} cgalr_sched_trace_t;

/* CG-ALR controller step from a connectome m (p x p, METHOD.md section 2) taken at `progress`.
 * The first call keeps M_0's summary and returns a FIRST record; later calls compute
 * d_t = D(M_{t-1}, M_t) through src/topo and call cgalr_sched_observe_distance. The scheduler
 * keeps the previous summary itself. p must stay the same across calls. rec may be NULL.
 * A non-finite off-diagonal entry is CGALR_ENONFINITE (naming it) and changes nothing: run the
 * guard. CGALR_ESTATE for a method that is not CG-ALR. */
CGALR_API cgalr_status_t cgalr_sched_observe_connectome(cgalr_sched_t *s, const double *m, size_t p,
                                              double progress, cgalr_sched_trace_t *rec);
/* The controller step from a distance computed elsewhere (any distance, any source): robust
 * score over the previous K distances (log when score = log; d <= 0 is floored at 1e-300),
 * gate, multiplier. A non-finite d never enters the history; it leaves gate and rho unchanged,
 * fills rec with the NONFINITE flag and returns CGALR_ENONFINITE (then run the guard). */
CGALR_API cgalr_status_t cgalr_sched_observe_distance(cgalr_sched_t *s, double d, double progress,
                                            cgalr_sched_trace_t *rec);
/* The last trace record (zeroed with d = NAN before any step). */
CGALR_API const cgalr_sched_trace_t *cgalr_sched_last_trace(const cgalr_sched_t *s);
CGALR_API cgalr_gate_t cgalr_sched_gate(const cgalr_sched_t *s);
CGALR_API double cgalr_sched_rho(const cgalr_sched_t *s);
CGALR_API int cgalr_sched_retries(const cgalr_sched_t *s);

/* The guard (METHOD.md section 4). Order for a training loop: on a non-finite loss, parameter or
 * distance, restore parameters and optimiser state of the last good epoch, restore the
 * scheduler with cgalr_sched_load from the state saved then, then call this. It counts the retry
 * (cgalr_sched_load keeps the larger of the current and the saved count, so a rollback never
 * forgets retries), and for CG-ALR sets rho = rho_min and the gate to DECEL and records a GUARD
 * trace event (progress: where the epoch restarts). Other methods only count. Returns CGALR_OK
 * while the count is <= max_retries (redo the epoch); past that, CGALR_ENONFINITE with the
 * message that the run diverged at the smallest rate the envelope allows (stop the run). */
CGALR_API cgalr_status_t cgalr_sched_on_nonfinite(cgalr_sched_t *s, double progress, cgalr_sched_trace_t *rec);

/* ---- DoG --------------------------------------------------------------------------------- */

/* Called after the backward pass and before the optimiser step of every iteration, with flat
 * views of all n parameters x_t and gradients g_t (n fixed for the run). First call: x_0 = x_t,
 * r = dog_reps_rel (1 + ||x_0||), G = ||g'||^2 + dog_eps; later r = max(r, ||x_t - x_0||),
 * G += ||g'||^2, with g' = g + weight_decay * x. eta_t = r / sqrt(G) goes to *eta (may be NULL)
 * and is what cgalr_sched_lr returns until the next call. The caller then takes the plain SGD
 * step x <- x - eta (g + weight_decay x). Norms in double. Non-finite input: CGALR_ENONFINITE,
 * state unchanged. */
CGALR_API cgalr_status_t cgalr_sched_dog_step(cgalr_sched_t *s, const float *params, const float *grads, size_t n,
                                    double *eta);
/* The same as free functions over flat arrays (for engines that keep their own state): the
 * scalars, and x0 / avg arrays of n floats that the first step (st->steps == 0) fills with x. */
typedef struct cgalr_dog_state {
    double r, G, eta; /* r_t, G_t (with dog_eps), eta_t = r_t / sqrt(G_t) */
    long steps;       /* dog steps taken */
    long avg_t;       /* t of the averager's next update (starts at 1) */
} cgalr_dog_state_t;
CGALR_API void cgalr_dog_init(cgalr_dog_state_t *st);
CGALR_API cgalr_status_t cgalr_dog_step(const cgalr_sched_config_t *cfg, cgalr_dog_state_t *st, const float *x, const float *g,
                              float *x0, float *avg, size_t n, double *eta);
CGALR_API cgalr_status_t cgalr_dog_average(const cgalr_sched_config_t *cfg, cgalr_dog_state_t *st, const float *x, float *avg,
                                 size_t n);

/* Polynomial-decay iterate averaging (Shamir and Zhang 2013, as DoG's authors use it): call
 * after each optimiser step with the new parameters; avg <- (1 - w) avg + w x with
 * w = (gamma + 1) / (gamma + t), t = 1, 2, ... and avg starting at x_0. */
CGALR_API cgalr_status_t cgalr_sched_dog_average(cgalr_sched_t *s, const float *params, size_t n);
/* The averaged iterate (n floats, owned by the scheduler; NULL before the first dog_step), to
 * evaluate alongside the last iterate. */
CGALR_API const float *cgalr_sched_dog_averaged(const cgalr_sched_t *s, size_t *n);

/* ---- Methods that own the update: Prodigy, D-Adaptation, Schedule-Free ----------------------- */

/* Free functions over flat arrays, so any engine (this one, PyTorch through the binding, a
 * data-parallel driver that all-reduces the gradient first) can call them. The scalars of a run: */
typedef struct cgalr_adapt_state {
    long k;            /* steps taken */
    double d;          /* prodigy / D-Adaptation: the distance estimate d_k (d0 before the first step) */
    double r;          /* prodigy / D-Adaptation: the numerator of d-hat */
    double g0_norm;    /* dadapt-sgd: ||g_0|| */
    double lr_max;     /* Schedule-Free: the largest rate so far (-1 before the first step) */
    double weight_sum; /* Schedule-Free: sum of the average's weights */
    double last_lr;    /* the effective rate of the last step (d lr, or the warmed-up Schedule-Free rate) */
} cgalr_adapt_state_t;

/* Number of float arrays of n values each method keeps (prodigy 4: x0, s, m, v; dadapt-sgd 2: x0, s;
 * dadapt-adam 3: s, m, v; sf-sgd 2: z, x; sf-adamw 3: z, x, v); 0 for other methods. */
CGALR_API size_t cgalr_adapt_arrays(cgalr_method_t m);
/* Resets st for method m and cfg (d = d0, k = 0); the arrays are initialised by the first step. */
CGALR_API void cgalr_adapt_init(const cgalr_sched_config_t *cfg, cgalr_adapt_state_t *st);
/* One step of cfg->method on the parameters x[0..n) (the iterate the gradient g was taken at: y for
 * Schedule-Free) with base rate lr (1 for the parameter-free methods) and `warmup` iterations of
 * Schedule-Free's linear warm-up (0 = none; other methods ignore it). arr holds cgalr_adapt_arrays(m) * n
 * floats, array j at arr + j n. Accumulations in double. Non-finite input: CGALR_ENONFINITE with
 * the index, nothing changed. */
CGALR_API cgalr_status_t cgalr_adapt_step(const cgalr_sched_config_t *cfg, cgalr_adapt_state_t *st, float *x, const float *g,
                                float *arr, size_t n, double lr, long warmup);
/* Schedule-Free: the x sequence (the point to evaluate and to keep), array 1 of arr. NULL for others. */
CGALR_API const float *cgalr_adapt_eval_point(cgalr_method_t m, const float *arr, size_t n);

/* Through the scheduler (which owns the arrays and saves them with its state): after the backward
 * pass, instead of an optimiser step. *lr_used (may be NULL) gets the effective rate. */
CGALR_API cgalr_status_t cgalr_sched_update(cgalr_sched_t *s, float *params, const float *grads, size_t n, double *lr_used);
/* The point to evaluate at (Schedule-Free's x; n floats owned by the scheduler) or NULL when the
 * training iterate itself is evaluated (every other method, and before the first update). */
CGALR_API const float *cgalr_sched_eval_params(const cgalr_sched_t *s, size_t *n);
/* Schedule-Free keeps x, the point it evaluates, in checkpoints: the caller saves x in place of
 * the parameters and, after loading, rebuilds the training iterate y = beta x + (1 - beta) z
 * (bit for bit the y of the last step) with this call: params[0..n) <- y. A no-op returning
 * CGALR_OK for every other method and before the first update. */
CGALR_API cgalr_status_t cgalr_sched_train_params(const cgalr_sched_t *s, float *params, size_t n);
/* The d estimate of prodigy / D-Adaptation (NAN for other methods). */
CGALR_API double cgalr_sched_d(const cgalr_sched_t *s);

/* ---- Save / restore ---------------------------------------------------------------------- */

/* The complete state (history window, gate, rho, retries, controller step count, previous topo
 * summary, plateau counters and rate, DoG x_0, r, G, eta and averaged iterate, last trace) into a
 * caller buffer; buf = NULL puts the size needed in *size. CGALR_EINVAL if *size is too small. */
CGALR_API cgalr_status_t cgalr_sched_save(const cgalr_sched_t *s, void *buf, size_t *size);
/* Restores into a scheduler created with the same method and configuration; everything read is
 * validated (magic, version, method, sizes, finiteness, ranges): CGALR_EFORMAT or CGALR_ESTATE
 * with a message, s unchanged on failure. The retry count becomes max(current, saved). */
CGALR_API cgalr_status_t cgalr_sched_load(cgalr_sched_t *s, const void *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif

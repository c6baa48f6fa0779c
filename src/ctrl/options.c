/* Scheduler configuration: method names, documented defaults, "name=value" options with range
 * checks, and the cross-option validation that cgalr_sched_create relies on. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "cgalr/ctrl.h"

static cgalr_distance_kind_t method_distance(cgalr_method_t m)
{
    if (m == CGALR_METHOD_CGALR_WD)
        return CGALR_DIST_WD;
    if (m == CGALR_METHOD_CGALR_SWK)
        return CGALR_DIST_SWK;
    return CGALR_DIST_TOP;
}

void cgalr_sched_config_default(cgalr_sched_config_t *cfg, cgalr_method_t method)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->method = method;
    cfg->eta0 = 0.1;
    cfg->epochs = 0;
    cfg->iters_per_epoch = 0;
    cfg->momentum = 0.9;
    cfg->window = 8;
    cfg->score = CGALR_SCORE_PLAIN;
    cfg->tau_enter = 1.0;
    cfg->tau_exit = 0.25;
    cfg->gamma_dec = 0.7;
    cfg->gamma_inc = 1.1;
    cfg->rho_min = 0.1;
    cfg->rho_max = 2.0;
    cfg->alpha = 1.0;
    cfg->s0 = 1; /* METHOD.md's first SPEC had T/10 (s0=0 below); docs/ABLATION.md chose 1 */
    cfg->calm_clock = 1;
    cfg->ctrl_every = 0;
    cfg->max_retries = 3;
    cgalr_topo_config_default(&cfg->topo, method_distance(method));
    cfg->warmup_iters = 0;
    cfg->eta_min = 0;
    cfg->t_max = 0;
    cfg->step_size = 0;
    cfg->step_gamma = 0.1;
    cfg->exp_gamma = 0;
    cfg->plateau_factor = 0.1;
    cfg->plateau_patience = -1;
    cfg->plateau_threshold = 1e-4;
    cfg->plateau_min_lr = 0;
    cfg->plateau_eps = 1e-8;
    cfg->dog_reps_rel = 1e-6;
    cfg->dog_eps = 1e-8;
    cfg->dog_avg_gamma = 8;
    cfg->weight_decay = 0;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.999;
    cfg->beta3 = 0;
    cfg->adam_eps = 1e-8;
    cfg->d0 = 1e-6;
    cfg->d_coef = 1;
    cfg->growth_rate = 0;
    cfg->sf_warmup = 0.05;
    cfg->sf_weight_power = 2;
    /* the parameter-free methods' rate multiplier is 1 as published */
    if (cgalr_method_facts(method) & CGALR_MF_PARAM_FREE)
        cfg->eta0 = 1;
}

/* ---- option table ------------------------------------------------------------------------ */

typedef enum { T_DOUBLE, T_LONG, T_INT, T_SIZE, T_U64, T_SCORE, T_METHOD, T_DISTANCE } opt_type_t;

/* Range: lo/hi with open or closed ends; for integers only the closed form is used. */
typedef struct opt {
    const char *name;
    opt_type_t type;
    size_t offset;
    double lo, hi;
    int lo_open, hi_open;
    const char *range; /* as printed in messages and help */
    const char *def;
    const char *help;
} opt_t;

#define OFF(f) offsetof(cgalr_sched_config_t, f)
#define TOFF(f) (offsetof(cgalr_sched_config_t, topo) + offsetof(cgalr_topo_config_t, f))

static const opt_t options[] = {
    {"method", T_METHOD, OFF(method), 0, 0, 0, 0, "constant|cosine|step|exp|plateau|dog|cgalr-top|cgalr-wd|cgalr-swk|adam-cosine|adamw-cosine|prodigy|dadapt-sgd|dadapt-adam|sf-sgd|sf-adamw", "-", "schedule / controller"},
    {"distance", T_DISTANCE, TOFF(kind), 0, 0, 0, 0, "top|wd|swk", "from the method", "CG-ALR: the distance (switches cgalr-top/wd/swk)"},
    {"lr", T_DOUBLE, OFF(eta0), 0, 1e6, 1, 0, "(0, 1e6]", "0.1", "initial rate eta_0 (ignored by dog)"},
    {"epochs", T_LONG, OFF(epochs), 0, 1e9, 0, 0, "[0, 1e9]", "0", "run length T in epochs (0 = unknown)"},
    {"iters_per_epoch", T_LONG, OFF(iters_per_epoch), 0, 1e12, 0, 0, "[0, 1e12]", "0", "iterations per epoch (0 = unknown)"},
    {"momentum", T_DOUBLE, OFF(momentum), 0, 1, 0, 1, "[0, 1)", "0.9", "SGD momentum of the SGD-momentum methods, dadapt-sgd, sf-sgd (interpolation)"},
    {"K", T_INT, OFF(window), 3, 4096, 0, 0, "[3, 4096]", "8", "CG-ALR history window"},
    {"score", T_SCORE, OFF(score), 0, 0, 0, 0, "plain|log", "plain", "CG-ALR: score distances or their logs"},
    {"tau_enter", T_DOUBLE, OFF(tau_enter), 0, 1e6, 1, 0, "(0, 1e6]", "1.0", "CG-ALR: |z| to enter DECEL/ACCEL"},
    {"tau_exit", T_DOUBLE, OFF(tau_exit), 0, 1e6, 0, 0, "[0, tau_enter)", "0.25", "CG-ALR: |z| below which DECEL/ACCEL returns to HOLD"},
    {"gamma_dec", T_DOUBLE, OFF(gamma_dec), 0, 1, 1, 0, "(0, 1]", "0.7", "CG-ALR: rho factor per DECEL step"},
    {"gamma_inc", T_DOUBLE, OFF(gamma_inc), 1, 100, 0, 0, "[1, 100]", "1.1", "CG-ALR: rho factor per ACCEL step"},
    {"rho_min", T_DOUBLE, OFF(rho_min), 0, 1, 1, 0, "(0, 1]", "0.1", "CG-ALR: smallest multiplier"},
    {"rho_max", T_DOUBLE, OFF(rho_max), 1, 1e6, 0, 0, "[1, 1e6]", "2.0", "CG-ALR: largest multiplier"},
    {"alpha", T_DOUBLE, OFF(alpha), 0.5, 1, 1, 0, "(0.5, 1]", "1", "CG-ALR: envelope exponent"},
    {"s0", T_DOUBLE, OFF(s0), 0, 1e9, 0, 0, "[0, 1e9] (0 = T/10, or 10)", "1", "CG-ALR: envelope scale in epochs (0: METHOD.md's first SPEC)"},
    {"calm_clock", T_DOUBLE, OFF(calm_clock), 0, 1, 1, 0, "(0, 1]", "1", "CG-ALR extension: envelope clock speed outside DECEL and warm-up (1: METHOD.md)"},
    {"ctrl_every", T_LONG, OFF(ctrl_every), 0, 1e12, 0, 0, "[0, 1e12]", "0 (per epoch)", "CG-ALR: controller step every k iterations"},
    {"max_retries", T_INT, OFF(max_retries), 0, 1000, 0, 0, "[0, 1000]", "3", "guard retries before a run is declared diverged"},
    {"p_ph", T_SIZE, TOFF(p_ph), 2, 1e6, 0, 0, "[2, 1e6]", "128", "cgalr-wd/swk: signals in the persistence subset"},
    {"topo_seed", T_U64, TOFF(seed), 0, 1.8e19, 0, 0, "[0, 2^64)", "0", "cgalr-wd/swk: seed of the subset"},
    {"sw_directions", T_INT, TOFF(sw_directions), 1, 100000, 0, 0, "[1, 100000]", "50", "cgalr-swk: slicing directions"},
    {"warmup", T_LONG, OFF(warmup_iters), 0, 1e12, 0, 0, "[0, 1e12]", "0", "linear warm-up of the rate over k iterations (not dog, prodigy, dadapt-*, sf-*: see sf_warmup)"},
    {"eta_min", T_DOUBLE, OFF(eta_min), 0, 1e6, 0, 0, "[0, lr]", "0", "cosine: floor rate"},
    {"t_max", T_LONG, OFF(t_max), 0, 1e9, 0, 0, "[0, 1e9]", "0 (auto: T)", "cosine: half period in epochs"},
    {"step_size", T_LONG, OFF(step_size), 0, 1e9, 0, 0, "[0, 1e9]", "0 (auto: max(1, T/3))", "step: epochs between cuts"},
    {"step_gamma", T_DOUBLE, OFF(step_gamma), 0, 1, 1, 0, "(0, 1]", "0.1", "step: factor per cut"},
    {"exp_gamma", T_DOUBLE, OFF(exp_gamma), 0, 1, 0, 0, "[0, 1] (0 = auto)", "0 (auto: 0.01^(1/T))", "exp: factor per epoch"},
    {"plateau_factor", T_DOUBLE, OFF(plateau_factor), 0, 1, 1, 1, "(0, 1)", "0.1", "plateau: factor per cut"},
    {"plateau_patience", T_LONG, OFF(plateau_patience), -1, 1e9, 0, 0, "[-1, 1e9]", "-1 (auto: min(10, max(1, T/10)))", "plateau: bad epochs tolerated"},
    {"plateau_threshold", T_DOUBLE, OFF(plateau_threshold), 0, 1, 0, 1, "[0, 1)", "1e-4", "plateau: relative improvement that counts"},
    {"plateau_min_lr", T_DOUBLE, OFF(plateau_min_lr), 0, 1e6, 0, 0, "[0, 1e6]", "0", "plateau: floor rate"},
    {"plateau_eps", T_DOUBLE, OFF(plateau_eps), 0, 1, 0, 0, "[0, 1]", "1e-8", "plateau: smaller cuts are skipped"},
    {"dog_reps_rel", T_DOUBLE, OFF(dog_reps_rel), 0, 1, 1, 0, "(0, 1]", "1e-6", "dog: r_eps relative to 1 + ||x_0|| (1e-4 with batch norm)"},
    {"dog_eps", T_DOUBLE, OFF(dog_eps), 0, 1, 1, 0, "(0, 1]", "1e-8", "dog: added once to the gradient sum"},
    {"dog_avg_gamma", T_DOUBLE, OFF(dog_avg_gamma), 0, 1e6, 0, 0, "[0, 1e6]", "8", "dog: polynomial-decay averaging gamma"},
    {"weight_decay", T_DOUBLE, OFF(weight_decay), 0, 1, 0, 0, "[0, 1]", "0", "dog, dadapt-sgd, sf-sgd: added to the gradient; prodigy, dadapt-adam, sf-adamw: decoupled"},
    {"beta1", T_DOUBLE, OFF(beta1), 0, 1, 0, 1, "[0, 1)", "0.9", "prodigy, dadapt-adam, sf-adamw: first moment (sf-adamw: interpolation)"},
    {"beta2", T_DOUBLE, OFF(beta2), 0, 1, 0, 1, "[0, 1)", "0.999", "prodigy, dadapt-adam, sf-adamw: second moment"},
    {"beta3", T_DOUBLE, OFF(beta3), 0, 1, 0, 1, "[0, 1) (0 = auto)", "0 (auto: sqrt(beta2))", "prodigy: EMA of the d-hat numerator and s"},
    {"eps", T_DOUBLE, OFF(adam_eps), 0, 1, 1, 0, "(0, 1]", "1e-8", "prodigy, dadapt-adam, sf-adamw: denominator epsilon"},
    {"d0", T_DOUBLE, OFF(d0), 0, 1e6, 1, 0, "(0, 1e6]", "1e-6", "prodigy, dadapt-*: initial d"},
    {"d_coef", T_DOUBLE, OFF(d_coef), 0, 1e6, 1, 0, "(0, 1e6]", "1", "prodigy: factor on the d estimate"},
    {"growth_rate", T_DOUBLE, OFF(growth_rate), 0, 1e300, 0, 0, "0 or [1, 1e300]", "0 (unbounded)", "prodigy, dadapt-*: d may grow at most this factor per step"},
    {"sf_warmup", T_DOUBLE, OFF(sf_warmup), 0, 1, 0, 0, "[0, 1]", "0.05", "sf-*: linear warm-up, fraction of the run's iterations"},
    {"sf_weight_power", T_DOUBLE, OFF(sf_weight_power), 0, 100, 0, 0, "[0, 100]", "2", "sf-*: average weights lr_max^p"},
};
#define N_OPTIONS (sizeof options / sizeof options[0])

static char help_text[16384]; /* about 7.6 KB with the options of today */

static void build_help(void)
{
    size_t used = 0;
    for (size_t i = 0; i < N_OPTIONS && used < sizeof help_text; i++) {
        int w = snprintf(help_text + used, sizeof help_text - used, "  %-18s default %-28s range %s\n  %-18s %s\n",
                         options[i].name, options[i].def, options[i].range, "", options[i].help);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

const char *cgalr_sched_options_help(void)
{
    /* Built once from the option table; call_once keeps concurrent callers race-free. */
    static once_flag once = ONCE_FLAG_INIT;
    call_once(&once, build_help);
    return help_text;
}

static int in_range(const opt_t *o, double v)
{
    if (o->lo_open ? !(v > o->lo) : !(v >= o->lo))
        return 0;
    if (o->hi_open ? !(v < o->hi) : !(v <= o->hi))
        return 0;
    return 1;
}

cgalr_status_t cgalr_sched_config_set(cgalr_sched_config_t *cfg, const char *name_eq_value)
{
    if (!cfg || !name_eq_value)
        return cgalr_fail(CGALR_EINVAL, "scheduler option: NULL argument");
    const char *eq = strchr(name_eq_value, '=');
    if (!eq)
        return cgalr_fail(CGALR_EINVAL, "scheduler option '%s': expected name=value", name_eq_value);
    size_t nlen = (size_t)(eq - name_eq_value);
    const char *val = eq + 1;
    const opt_t *o = NULL;
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strlen(options[i].name) == nlen && strncmp(options[i].name, name_eq_value, nlen) == 0)
            o = &options[i];
    if (!o) {
        char known[1024];
        size_t used = 0;
        for (size_t i = 0; i < N_OPTIONS && used < sizeof known; i++) {
            int w = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", options[i].name);
            if (w < 0)
                break;
            used += (size_t)w;
        }
        return cgalr_fail(CGALR_EINVAL, "scheduler option '%.*s' is unknown; known options: %s", (int)nlen,
                          name_eq_value, known);
    }
    if (*val == '\0')
        return cgalr_fail(CGALR_EINVAL, "scheduler option %s: empty value; valid range %s", o->name, o->range);
    char *base = (char *)cfg;
    if (o->type == T_SCORE) {
        if (strcmp(val, "plain") == 0)
            cfg->score = CGALR_SCORE_PLAIN;
        else if (strcmp(val, "log") == 0)
            cfg->score = CGALR_SCORE_LOG;
        else
            return cgalr_fail(CGALR_EINVAL, "scheduler option score='%s': expected plain or log", val);
        return CGALR_OK;
    }
    if (o->type == T_METHOD) {
        int m = cgalr_method_parse(val);
        if (m < 0)
            return cgalr_fail(CGALR_EINVAL, "scheduler option method='%s' is unknown; expected one of %s", val,
                              o->range);
        cfg->method = (cgalr_method_t)m;
        cfg->topo.kind = method_distance(cfg->method);
        return CGALR_OK;
    }
    if (o->type == T_DISTANCE) {
        int k = cgalr_topo_distance_parse(val);
        if (k < 0)
            return cgalr_fail(CGALR_EINVAL, "scheduler option distance='%s' is unknown; expected one of %s", val,
                              o->range);
        if (!cgalr_method_is_cgalr(cfg->method))
            return cgalr_fail(CGALR_EINVAL, "scheduler option distance=%s: only the cgalr-* methods use a distance "
                              "(method is %s)", val, cgalr_method_name(cfg->method));
        cfg->method = k == CGALR_DIST_WD ? CGALR_METHOD_CGALR_WD
                      : k == CGALR_DIST_SWK ? CGALR_METHOD_CGALR_SWK
                                            : CGALR_METHOD_CGALR_TOP;
        cfg->topo.kind = (cgalr_distance_kind_t)k;
        return CGALR_OK;
    }
    char *end = NULL;
    errno = 0;
    if (o->type == T_DOUBLE) {
        double v = strtod(val, &end);
        if (end == val || *end != '\0' || errno == ERANGE)
            return cgalr_fail(CGALR_EINVAL, "scheduler option %s='%s': not a number; valid range %s", o->name, val,
                              o->range);
        if (!isfinite(v) || !in_range(o, v))
            return cgalr_fail(CGALR_EINVAL, "scheduler option %s=%s: out of range; valid range %s", o->name, val,
                              o->range);
        memcpy(base + o->offset, &v, sizeof v);
        return CGALR_OK;
    }
    if (o->type == T_U64) {
        if (*val == '-')
            return cgalr_fail(CGALR_EINVAL, "scheduler option %s='%s': expected an integer in %s", o->name, val,
                              o->range);
        unsigned long long v = strtoull(val, &end, 10);
        if (end == val || *end != '\0' || errno == ERANGE)
            return cgalr_fail(CGALR_EINVAL, "scheduler option %s='%s': expected an integer in %s", o->name, val,
                              o->range);
        uint64_t u = (uint64_t)v;
        memcpy(base + o->offset, &u, sizeof u);
        return CGALR_OK;
    }
    long long v = strtoll(val, &end, 10);
    if (end == val || *end != '\0' || errno == ERANGE)
        return cgalr_fail(CGALR_EINVAL, "scheduler option %s='%s': expected an integer in %s", o->name, val,
                          o->range);
    if (!in_range(o, (double)v))
        return cgalr_fail(CGALR_EINVAL, "scheduler option %s=%s: out of range; valid range %s", o->name, val,
                          o->range);
    if (o->type == T_LONG) {
        long x = (long)v;
        memcpy(base + o->offset, &x, sizeof x);
    } else if (o->type == T_INT) {
        int x = (int)v;
        memcpy(base + o->offset, &x, sizeof x);
    } else {
        size_t x = (size_t)v;
        memcpy(base + o->offset, &x, sizeof x);
    }
    return CGALR_OK;
}

cgalr_status_t cgalr_sched_config_set_list(cgalr_sched_config_t *cfg, const char *list)
{
    if (!cfg)
        return cgalr_fail(CGALR_EINVAL, "scheduler options: NULL config");
    if (!list || !*list)
        return CGALR_OK;
    size_t len = strlen(list);
    char *copy = malloc(len + 1);
    if (!copy)
        return cgalr_fail(CGALR_ENOMEM, "scheduler options: out of memory");
    memcpy(copy, list, len + 1);
    /* All-or-nothing: apply to a scratch copy so a bad item leaves cfg unchanged. */
    cgalr_sched_config_t tmp = *cfg;
    cgalr_status_t st = CGALR_OK;
    char *p = copy;
    while (p && st == CGALR_OK) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p)
            st = cgalr_sched_config_set(&tmp, p);
        p = comma ? comma + 1 : NULL;
    }
    free(copy);
    if (st == CGALR_OK)
        *cfg = tmp;
    return st;
}

/* Re-checks one field against its table range (a config filled by hand bypasses _set). */
static cgalr_status_t check_field(const cgalr_sched_config_t *cfg, const char *name)
{
    const opt_t *o = NULL;
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strcmp(options[i].name, name) == 0)
            o = &options[i];
    if (!o)
        return cgalr_fail(CGALR_EINTERNAL, "scheduler option table lacks '%s'", name);
    const char *base = (const char *)cfg;
    double v;
    if (o->type == T_DOUBLE) {
        memcpy(&v, base + o->offset, sizeof v);
        if (!isfinite(v) || !in_range(o, v))
            return cgalr_fail(CGALR_EINVAL, "scheduler option %s=%g: out of range; valid range %s", o->name, v,
                              o->range);
    } else if (o->type == T_LONG) {
        long x;
        memcpy(&x, base + o->offset, sizeof x);
        if (!in_range(o, (double)x))
            return cgalr_fail(CGALR_EINVAL, "scheduler option %s=%ld: out of range; valid range %s", o->name, x,
                              o->range);
    } else if (o->type == T_INT) {
        int x;
        memcpy(&x, base + o->offset, sizeof x);
        if (!in_range(o, (double)x))
            return cgalr_fail(CGALR_EINVAL, "scheduler option %s=%d: out of range; valid range %s", o->name, x,
                              o->range);
    } else if (o->type == T_SIZE) {
        size_t x;
        memcpy(&x, base + o->offset, sizeof x);
        if (!in_range(o, (double)x))
            return cgalr_fail(CGALR_EINVAL, "scheduler option %s=%zu: out of range; valid range %s", o->name, x,
                              o->range);
    }
    return CGALR_OK;
}

cgalr_status_t cgalr_sched_config_validate(const cgalr_sched_config_t *cfg)
{
    if (!cfg)
        return cgalr_fail(CGALR_EINVAL, "scheduler config: NULL");
    if ((int)cfg->method < 0 || cfg->method >= CGALR_METHOD_COUNT)
        return cgalr_fail(CGALR_EINVAL, "scheduler method %d is unknown; expected one of %s", (int)cfg->method,
                          options[0].range);
    if (cfg->score != CGALR_SCORE_PLAIN && cfg->score != CGALR_SCORE_LOG)
        return cgalr_fail(CGALR_EINVAL, "scheduler option score=%d: expected plain (0) or log (1)", (int)cfg->score);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (options[i].type == T_METHOD || options[i].type == T_SCORE || options[i].type == T_U64 ||
            options[i].type == T_DISTANCE)
            continue;
        cgalr_status_t st = check_field(cfg, options[i].name);
        if (st != CGALR_OK)
            return st;
    }
    if (cfg->rho_min > cfg->rho_max)
        return cgalr_fail(CGALR_EINVAL, "scheduler options rho_min=%g > rho_max=%g: need rho_min <= 1 <= rho_max",
                          cfg->rho_min, cfg->rho_max);
    if (!(cfg->tau_exit < cfg->tau_enter))
        return cgalr_fail(CGALR_EINVAL, "scheduler option tau_exit=%g: valid range [0, tau_enter) with tau_enter=%g",
                          cfg->tau_exit, cfg->tau_enter);
    if (cfg->warmup_iters > 0 && (cgalr_method_facts(cfg->method) & CGALR_MF_OWNS_UPDATE))
        return cgalr_fail(CGALR_EINVAL, "scheduler option warmup=%ld: %s takes its own steps and has no rate warm-up "
                          "of this kind%s", cfg->warmup_iters, cgalr_method_name(cfg->method),
                          (cgalr_method_facts(cfg->method) & CGALR_MF_EVAL_X) ? " (use sf_warmup)" : "");
    if (cfg->growth_rate != 0 && cfg->growth_rate < 1)
        return cgalr_fail(CGALR_EINVAL, "scheduler option growth_rate=%g: valid range 0 (unbounded) or [1, 1e300]",
                          cfg->growth_rate);
    if (cfg->method == CGALR_METHOD_SF_SGD && !(cfg->momentum > 0))
        return cgalr_fail(CGALR_EINVAL, "scheduler option momentum=%g: sf-sgd needs its momentum in (0, 1)",
                          cfg->momentum);
    if (cfg->eta_min > cfg->eta0)
        return cgalr_fail(CGALR_EINVAL, "scheduler option eta_min=%g: valid range [0, lr] with lr=%g", cfg->eta_min,
                          cfg->eta0);
    if (cgalr_method_is_cgalr(cfg->method)) {
        if (cfg->topo.kind != method_distance(cfg->method))
            return cgalr_fail(CGALR_EINVAL, "scheduler: method %s needs distance %s, config has %s",
                              cgalr_method_name(cfg->method), cgalr_topo_distance_name(method_distance(cfg->method)),
                              cgalr_topo_distance_name(cfg->topo.kind));
        if (cfg->topo.p_ph < 2)
            return cgalr_fail(CGALR_EINVAL, "scheduler option p_ph=%zu: valid range [2, 1e6]", cfg->topo.p_ph);
        if (cfg->topo.sw_directions < 1)
            return cgalr_fail(CGALR_EINVAL, "scheduler option sw_directions=%d: valid range [1, 100000]",
                              cfg->topo.sw_directions);
    }
    switch (cfg->method) {
    case CGALR_METHOD_COSINE:
    case CGALR_METHOD_ADAM_COSINE:
    case CGALR_METHOD_ADAMW_COSINE:
        if (cfg->epochs <= 0 && cfg->t_max <= 0)
            return cgalr_fail(CGALR_EINVAL, "scheduler %s needs the run length: set epochs > 0 or t_max > 0",
                              cgalr_method_name(cfg->method));
        break;
    case CGALR_METHOD_STEP:
        if (cfg->epochs <= 0 && cfg->step_size <= 0)
            return cgalr_fail(CGALR_EINVAL, "scheduler step needs the run length: set epochs > 0 or step_size > 0");
        break;
    case CGALR_METHOD_EXP:
        if (cfg->epochs <= 0 && cfg->exp_gamma <= 0)
            return cgalr_fail(CGALR_EINVAL, "scheduler exp needs the run length: set epochs > 0 or exp_gamma in (0, 1]");
        break;
    default:
        break;
    }
    return CGALR_OK;
}

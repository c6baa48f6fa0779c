/* The one list of methods: names as the command line spells them and the facts every layer asks
 * about them (learning rate or not, parameter-free, CG-ALR, who takes the step, Adam moments). */
#include <string.h>
#include <threads.h>

#include "cgalr/ctrl.h"

typedef struct method_row {
    const char *name;
    unsigned facts;
    cgalr_sched_optim_t optim; /* the engine's optimiser (unused when the method owns the update) */
} method_row_t;

#define LR CGALR_MF_HAS_LR
#define PF CGALR_MF_PARAM_FREE
#define OWN CGALR_MF_OWNS_UPDATE
#define ADAM CGALR_MF_ADAM
static const method_row_t rows[CGALR_METHOD_COUNT] = {
    [CGALR_METHOD_CONSTANT] = {"constant", LR, CGALR_SCHED_OPTIM_SGD_MOMENTUM},
    [CGALR_METHOD_COSINE] = {"cosine", LR, CGALR_SCHED_OPTIM_SGD_MOMENTUM},
    [CGALR_METHOD_STEP] = {"step", LR, CGALR_SCHED_OPTIM_SGD_MOMENTUM},
    [CGALR_METHOD_EXP] = {"exp", LR, CGALR_SCHED_OPTIM_SGD_MOMENTUM},
    [CGALR_METHOD_PLATEAU] = {"plateau", LR, CGALR_SCHED_OPTIM_SGD_MOMENTUM},
    [CGALR_METHOD_DOG] = {"dog", PF | OWN, CGALR_SCHED_OPTIM_SGD},
    [CGALR_METHOD_CGALR_TOP] = {"cgalr-top", LR | CGALR_MF_CGALR, CGALR_SCHED_OPTIM_SGD_MOMENTUM},
    [CGALR_METHOD_CGALR_WD] = {"cgalr-wd", LR | CGALR_MF_CGALR, CGALR_SCHED_OPTIM_SGD_MOMENTUM},
    [CGALR_METHOD_CGALR_SWK] = {"cgalr-swk", LR | CGALR_MF_CGALR, CGALR_SCHED_OPTIM_SGD_MOMENTUM},
    [CGALR_METHOD_ADAM_COSINE] = {"adam-cosine", LR | ADAM, CGALR_SCHED_OPTIM_ADAM},
    [CGALR_METHOD_ADAMW_COSINE] = {"adamw-cosine", LR | ADAM, CGALR_SCHED_OPTIM_ADAMW},
    [CGALR_METHOD_PRODIGY] = {"prodigy", PF | OWN | ADAM | CGALR_MF_D, CGALR_SCHED_OPTIM_SGD},
    [CGALR_METHOD_DADAPT_SGD] = {"dadapt-sgd", PF | OWN | CGALR_MF_D, CGALR_SCHED_OPTIM_SGD},
    [CGALR_METHOD_DADAPT_ADAM] = {"dadapt-adam", PF | OWN | ADAM | CGALR_MF_D, CGALR_SCHED_OPTIM_SGD},
    [CGALR_METHOD_SF_SGD] = {"sf-sgd", LR | OWN | CGALR_MF_EVAL_X, CGALR_SCHED_OPTIM_SGD},
    [CGALR_METHOD_SF_ADAMW] = {"sf-adamw", LR | OWN | ADAM | CGALR_MF_EVAL_X, CGALR_SCHED_OPTIM_SGD},
};

int cgalr_method_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < CGALR_METHOD_COUNT; i++)
        if (strcmp(name, rows[i].name) == 0)
            return i;
    return -1;
}

const char *cgalr_method_name(cgalr_method_t m)
{
    return (m >= 0 && m < CGALR_METHOD_COUNT) ? rows[m].name : "unknown";
}

unsigned cgalr_method_facts(cgalr_method_t m)
{
    return (m >= 0 && m < CGALR_METHOD_COUNT) ? rows[m].facts : 0u;
}

int cgalr_method_is_cgalr(cgalr_method_t m)
{
    return (cgalr_method_facts(m) & CGALR_MF_CGALR) != 0;
}

cgalr_sched_optim_t cgalr_method_optimizer(cgalr_method_t m)
{
    return (m >= 0 && m < CGALR_METHOD_COUNT) ? rows[m].optim : CGALR_SCHED_OPTIM_SGD_MOMENTUM;
}

static char list_text[512];

static void build_list(void)
{
    size_t k = 0;
    for (int m = 0; m < CGALR_METHOD_COUNT; m++) {
        size_t l = strlen(rows[m].name);
        if (k + l + 3 >= sizeof list_text)
            break;
        if (k) {
            memcpy(list_text + k, ", ", 2);
            k += 2;
        }
        memcpy(list_text + k, rows[m].name, l);
        k += l;
    }
    list_text[k] = '\0';
}

const char *cgalr_method_list(void)
{
    /* built once from the table; call_once keeps concurrent callers race-free */
    static once_flag once = ONCE_FLAG_INIT;
    call_once(&once, build_list);
    return list_text;
}

const char *cgalr_sched_optim_name(cgalr_sched_optim_t k)
{
    switch (k) {
    case CGALR_SCHED_OPTIM_SGD_MOMENTUM: return "sgd-momentum";
    case CGALR_SCHED_OPTIM_SGD: return "sgd";
    case CGALR_SCHED_OPTIM_ADAM: return "adam";
    case CGALR_SCHED_OPTIM_ADAMW: return "adamw";
    }
    return "unknown";
}

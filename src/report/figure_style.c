/* Figure styles per method (see figure_style.h). With 16 methods a cycle of gnuplot's 8 default
 * colours repeats, so two methods looked alike (cgalr-top and constant shared purple): here every
 * listed method has its own colour, and its own (colour, dash) pair by construction. */
#include "report/figure_style.h"

#include <stdint.h>
#include <string.h>

#include "cgalr/ctrl.h"

typedef struct {
    const char *name;
    const char *colour;
    int dash;
} style_row;

/* CG-ALR: saturated red, orange and magenta, drawn thicker. Baselines: blues, greens, greys,
 * browns and violets, none of them in the CG-ALR family's hues. */
static const style_row cgalr_rows[] = {
    {"cgalr-top", "#d7191c", 1},
    {"cgalr-wd", "#ff7f00", 1},
    {"cgalr-swk", "#e7298a", 1},
};
static const style_row base_rows[] = {
    {"constant", "#1f77b4", 1},     {"cosine", "#17becf", 2},     {"step", "#2ca02c", 3},
    {"exp", "#8c564b", 4},          {"plateau", "#7f7f7f", 5},    {"adam-cosine", "#9467bd", 1},
    {"adamw-cosine", "#393b79", 2}, {"dog", "#637939", 3},        {"prodigy", "#bcbd22", 4},
    {"dadapt-sgd", "#6baed6", 5},   {"dadapt-adam", "#74c476", 2}, {"sf-sgd", "#5254a3", 4},
    {"sf-adamw", "#008080", 3},
};
/* Spare colours for names not in the tables; none appears above. */
static const char *const cgalr_spare[] = {"#a50f15", "#fd8d3c", "#ce1256", "#f03b20"};
static const char *const base_spare[] = {"#000000", "#8ca252", "#9c9ede", "#6b6ecf",
                                         "#bdbdbd", "#3182bd", "#31a354", "#756bb1"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
enum { DASHES = 5 };
static const double LW_CGALR = 3.0, LW_BASE = 2.0;

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

fig_style_t fig_style_for(const char *method)
{
    const char *name = method ? method : "";
    for (size_t i = 0; i < N_OF(cgalr_rows); i++)
        if (!strcmp(name, cgalr_rows[i].name))
            return (fig_style_t){cgalr_rows[i].colour, cgalr_rows[i].dash, LW_CGALR};
    for (size_t i = 0; i < N_OF(base_rows); i++)
        if (!strcmp(name, base_rows[i].name))
            return (fig_style_t){base_rows[i].colour, base_rows[i].dash, LW_BASE};
    int m = cgalr_method_parse(name);
    int cg = m >= 0 && cgalr_method_is_cgalr((cgalr_method_t)m);
    uint32_t h = fnv1a(name);
    const char *colour = cg ? cgalr_spare[h % N_OF(cgalr_spare)] : base_spare[h % N_OF(base_spare)];
    return (fig_style_t){colour, (int)((h / 8u) % DASHES) + 1, cg ? LW_CGALR : LW_BASE};
}

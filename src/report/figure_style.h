/* The report's one table of figure styles: a colour and dash per method, keyed by name so a
 * method looks the same in every report whatever else the grid holds. */
#ifndef CGALR_REPORT_FIGURE_STYLE_H
#define CGALR_REPORT_FIGURE_STYLE_H

typedef struct fig_style {
    const char *colour; /* "#rrggbb" */
    int dash;           /* gnuplot dash type 1..5 */
    double lw;          /* line width of the method's main curve */
} fig_style_t;

/* The style of `method`. CG-ALR variants (cgalr_method_facts) draw from a family of strong
 * colours no baseline uses; a name missing from the table (a method added later, or one the
 * control layer does not know) gets a colour outside the table picked by a hash of its name, so
 * it never takes a listed method's style and keeps its own across reports. */
__attribute__((visibility("hidden"))) fig_style_t fig_style_for(const char *method);

#endif

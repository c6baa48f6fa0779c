/* The inverse of the quoting train/runfiles.c writes into config.json's "command". */
#include "cgalr/shellwords.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char **cgalr_shell_split(const char *cmd, int *n)
{
    size_t len = strlen(cmd);
    size_t max_words = len / 2 + 2;
    /* one block: the pointer array, then the characters */
    char **words = malloc(max_words * sizeof *words + len + 1);
    if (!words)
        return NULL;
    char *w = (char *)(words + max_words);
    int k = 0;
    const char *q = cmd;
    for (;;) {
        while (*q == ' ' || *q == '\t')
            q++;
        if (!*q)
            break;
        words[k++] = w;
        while (*q && *q != ' ' && *q != '\t') {
            if (*q == '\'') {
                for (q++; *q && *q != '\''; q++)
                    *w++ = *q;
                if (!*q) {
                    free(words);
                    return NULL;
                }
                q++;
            } else if (*q == '\\' && q[1]) {
                *w++ = q[1];
                q += 2;
            } else {
                *w++ = *q++;
            }
        }
        *w++ = '\0';
    }
    words[k] = NULL;
    *n = k;
    return words;
}

void cgalr_shell_number(char *out, size_t cap, double v)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

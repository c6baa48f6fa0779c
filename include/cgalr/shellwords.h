/* A command line kept as one string (config.json's "command") split back into words the way a
 * POSIX shell splits what cgalr writes: words separated by spaces, '...' quoted literally,
 * backslash escaping one character outside quotes. */
#ifndef CGALR_SHELLWORDS_H
#define CGALR_SHELLWORDS_H

#include "cgalr/api.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Splits cmd into a NULL-terminated malloc'd array of words (*n of them); the words live in one
 * block owned by the array: free(words) releases everything. NULL when out of memory or on an
 * unterminated quote. */
CGALR_API char **cgalr_shell_split(const char *cmd, int *n);

/* v as the shortest decimal that reads back as v exactly (for command lines that must rerun the
 * same numbers): 0.1, not 0.10000000000000001. */
CGALR_API void cgalr_shell_number(char *out, size_t cap, double v);

#ifdef __cplusplus
}
#endif
#endif

/* The file helpers every layer shares (private to the library): a whole text file into memory,
 * and a file replaced atomically (written beside it, then renamed over it, so a reader or a
 * kill at any moment sees the old file or the new one, never half of one). */
#ifndef CGALR_CORE_FILES_H
#define CGALR_CORE_FILES_H

#include <stddef.h>
#include <stdio.h>

#include "cgalr/status.h"

/* The whole of path ("-": standard input), NUL-terminated, in *out (malloc'd) with its length
 * in *len. The buffer grows with what is read, never with a size the file claims; more than cap
 * bytes is CGALR_EFORMAT naming the limit. Messages name the path. */
cgalr_status_t core_read_text(const char *path, size_t cap, char **out, size_t *len);

/* Writes data (len bytes, then a newline when newline is set) to path.tmp and renames it over
 * path; on any failure path is untouched, path.tmp removed, and the message names what failed. */
cgalr_status_t core_write_atomic(const char *path, const void *data, size_t len, int newline);

/* The same for a writer that streams: core_atomic_open gives a FILE on the temporary file
 * (path.tmp; with unique, path.tmp-XXXXXX made by mkstemp and readable by all, for a directory
 * several processes may write the same file into), core_atomic_commit closes it and renames it
 * over path when ok (the caller's writes succeeded) and closing did, else removes it. */
typedef struct core_atomic {
    FILE *f;
    char tmp[4200];
    const char *path;
} core_atomic_t;
cgalr_status_t core_atomic_open(core_atomic_t *a, const char *path, int unique);
cgalr_status_t core_atomic_commit(core_atomic_t *a, int ok);

/* mkdir -p path; an existing directory (another process may have won the race) is success, an
 * existing non-directory is not. The message names the component that could not be made. */
cgalr_status_t core_mkdirs(const char *path);

#endif

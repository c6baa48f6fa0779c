/* The file helpers every layer shares (private to the library): a whole text file into memory,
 * and a file replaced atomically (written beside it, then renamed over it, so a reader or a
 * kill at any moment sees the old file or the new one, never half of one). */
#ifndef CGALR_CORE_FILES_H
#define CGALR_CORE_FILES_H

#include <stddef.h>

#include "cgalr/status.h"

/* The whole of path ("-": standard input), NUL-terminated, in *out (malloc'd) with its length
 * in *len. The buffer grows with what is read, never with a size the file claims; more than cap
 * bytes is CGALR_EFORMAT naming the limit. Messages name the path. */
cgalr_status_t core_read_text(const char *path, size_t cap, char **out, size_t *len);

/* Writes data (len bytes, then a newline when newline is set) to path.tmp and renames it over
 * path; on any failure path is untouched, path.tmp removed, and the message names what failed. */
cgalr_status_t core_write_atomic(const char *path, const void *data, size_t len, int newline);

/* mkdir -p path; an existing directory (another process may have won the race) is success, an
 * existing non-directory is not. The message names the component that could not be made. */
cgalr_status_t core_mkdirs(const char *path);

#endif

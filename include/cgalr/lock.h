/* One writer per directory: an advisory lock (flock) on a lock file inside it, held for the life
 * of the writer and released by the kernel when the process dies, however it dies. The file holds
 * the holder's pid so a refused process can name it. Used by `cgalr train` (DIR/.lock of a run)
 * and `cgalr grid` (DIR/.grid.lock of a grid). */
#ifndef CGALR_LOCK_H
#define CGALR_LOCK_H

#include "cgalr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CGALR_RUN_LOCK ".lock"
#define CGALR_GRID_LOCK ".grid.lock"

/* Takes the lock dir/name without waiting (dir must exist); *fd receives the descriptor (close
 * it, or exit, to release; it is not inherited across exec). CGALR_ESTATE naming the holder's pid
 * when another process holds it; CGALR_EIO when the file cannot be created. */
CGALR_API cgalr_status_t cgalr_lock_take(const char *dir, const char *name, int *fd);
/* Releases a lock taken with cgalr_lock_take (fd < 0 is a no-op). The file stays. */
CGALR_API void cgalr_lock_release(int fd);
/* The pid of the live process holding dir/name; -1 when it is held but the pid is not recorded
 * yet; 0 when nobody holds it (or it is absent). */
CGALR_API long cgalr_lock_holder(const char *dir, const char *name);

#ifdef __cplusplus
}
#endif
#endif

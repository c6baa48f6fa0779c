/* Directory locks with flock(2): the kernel drops them when the holder dies (kill -9 included),
 * so a stale lock file never blocks anyone, and there is nothing to clean up. */
#include "cgalr/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int lock_path(char *out, size_t cap, const char *dir, const char *name)
{
    return (size_t)snprintf(out, cap, "%s/%s", dir, name) < cap;
}

static long read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

cgalr_status_t cgalr_lock_take(const char *dir, const char *name, int *fd)
{
    char p[4200];
    *fd = -1;
    if (!lock_path(p, sizeof p, dir, name))
        return cgalr_fail(CGALR_EINVAL, "%s: path too long", dir);
    int f = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0)
        return cgalr_fail(CGALR_EIO, "%s: cannot create the lock file: %s", p, strerror(errno));
    for (int tries = 0; flock(f, LOCK_EX | LOCK_NB) != 0; tries++) {
        if (errno == EINTR)
            continue;
        int e = errno;
        long pid = e == EWOULDBLOCK ? read_pid(f) : 0;
        if (e == EWOULDBLOCK && pid <= 0 && tries < 20) {
            /* held without a pid: a holder that has just taken it, or a reader's momentary
             * shared probe (cgalr_lock_holder); look again shortly */
            usleep(5000);
            continue;
        }
        close(f);
        if (e != EWOULDBLOCK)
            return cgalr_fail(CGALR_EIO, "%s: cannot lock: %s", p, strerror(e));
        if (pid > 0)
            return cgalr_fail(CGALR_ESTATE, "%s is in use by another process (pid %ld holds %s); wait for it to "
                                            "finish or stop it",
                              dir, pid, p);
        return cgalr_fail(CGALR_ESTATE, "%s is in use by another process (it holds %s)", dir, p);
    }
    /* ours now: record who holds it, for the message another process will print */
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(f, 0) != 0 || pwrite(f, buf, (size_t)n, 0) != n) {
        /* the lock holds without the pid; only the message of a refused process loses it */
    }
    *fd = f;
    return CGALR_OK;
}

void cgalr_lock_release(int fd)
{
    if (fd >= 0)
        close(fd); /* closing the only descriptor of the open file releases the flock */
}

long cgalr_lock_holder(const char *dir, const char *name)
{
    char p[4200];
    if (!lock_path(p, sizeof p, dir, name))
        return 0;
    int f = open(p, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return 0;
    long pid = 0;
    if (flock(f, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK)
        pid = read_pid(f) > 0 ? read_pid(f) : -1;
    else
        flock(f, LOCK_UN);
    close(f);
    return pid;
}

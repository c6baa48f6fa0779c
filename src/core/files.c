/* See files.h. */
#include "core/files.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

cgalr_status_t core_read_text(const char *path, size_t cap, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        return cgalr_fail(CGALR_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t alloc = 1 << 16, n = 0;
    char *buf = malloc(alloc);
    cgalr_status_t st = CGALR_OK;
    while (buf) {
        if (n + 1 >= alloc) {
            if (alloc > cap) {
                st = cgalr_fail(CGALR_EFORMAT, "%s: larger than %zu bytes", path, cap);
                break;
            }
            char *nb = alloc > SIZE_MAX / 2 ? NULL : realloc(buf, alloc * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            alloc *= 2;
        }
        size_t got = fread(buf + n, 1, alloc - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (st == CGALR_OK && !buf)
        st = cgalr_fail(CGALR_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
    else if (st == CGALR_OK && ferror(f))
        st = cgalr_fail(CGALR_EIO, "%s: read error after %zu bytes", path, n);
    else if (st == CGALR_OK && n > cap)
        st = cgalr_fail(CGALR_EFORMAT, "%s: larger than %zu bytes", path, cap);
    if (f != stdin)
        fclose(f);
    if (st != CGALR_OK) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return CGALR_OK;
}

cgalr_status_t core_atomic_open(core_atomic_t *a, const char *path, int unique)
{
    a->f = NULL;
    a->path = path;
    if ((size_t)snprintf(a->tmp, sizeof a->tmp, unique ? "%s.tmp-XXXXXX" : "%s.tmp", path) >= sizeof a->tmp)
        return cgalr_fail(CGALR_EINVAL, "%s: path too long", path);
    if (!unique) {
        a->f = fopen(a->tmp, "wb");
    } else {
        int fd = mkstemp(a->tmp);
        if (fd >= 0) {
            fchmod(fd, 0644); /* mkstemp's 0600 would hide a shared directory's file from the group */
            if (!(a->f = fdopen(fd, "wb"))) {
                close(fd);
                remove(a->tmp);
            }
        }
    }
    if (!a->f)
        return cgalr_fail(CGALR_EIO, "%s: cannot write: %s", a->tmp, strerror(errno));
    return CGALR_OK;
}

cgalr_status_t core_atomic_commit(core_atomic_t *a, int ok)
{
    int e = errno; /* the failing write's, when the caller says it failed */
    if (ferror(a->f))
        ok = 0;
    if (fclose(a->f) != 0) {
        if (ok)
            e = errno;
        ok = 0;
    }
    a->f = NULL;
    if (!ok) {
        remove(a->tmp);
        return cgalr_fail(CGALR_EIO, "%s: write failed: %s", a->tmp, strerror(e ? e : EIO));
    }
    if (rename(a->tmp, a->path) != 0) {
        e = errno;
        remove(a->tmp);
        return cgalr_fail(CGALR_EIO, "%s: cannot rename into place: %s", a->path, strerror(e));
    }
    return CGALR_OK;
}

cgalr_status_t core_write_atomic(const char *path, const void *data, size_t len, int newline)
{
    core_atomic_t a;
    cgalr_status_t st = core_atomic_open(&a, path, 0);
    if (st != CGALR_OK)
        return st;
    int ok = (len == 0 || fwrite(data, 1, len, a.f) == len) && (!newline || fputc('\n', a.f) != EOF);
    return core_atomic_commit(&a, ok);
}

cgalr_status_t core_mkdirs(const char *path)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s", path) >= sizeof tmp)
        return cgalr_fail(CGALR_EINVAL, "%s: path too long", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return cgalr_fail(CGALR_EIO, "cannot create %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return cgalr_fail(CGALR_EIO, "cannot create %s: %s", tmp, strerror(errno));
    struct stat st;
    if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
        return cgalr_fail(CGALR_EIO, "%s: not a directory", tmp);
    return CGALR_OK;
}

/* Status codes and the thread-local error message shared by every layer of cgalr. */
#ifndef CGALR_STATUS_H
#define CGALR_STATUS_H

#include "cgalr/api.h"

#include "cgalr/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 0 is success; every error is negative. The message of the last failure on this thread is
 * readable with cgalr_last_error() until the next failure overwrites it. */
typedef enum cgalr_status {
    CGALR_OK = 0,
    CGALR_EINVAL = -1,     /* bad argument: NULL, size 0, mismatched sizes, option out of range */
    CGALR_ENOMEM = -2,     /* allocation failed */
    CGALR_EIO = -3,        /* a file could not be opened, read or written */
    CGALR_EFORMAT = -4,    /* malformed input: truncated, wrong magic, non-numeric, ragged */
    CGALR_ENONFINITE = -5, /* NaN or Inf where finite numbers are required */
    CGALR_ESTATE = -6,     /* call out of order, or a saved state that does not match */
    CGALR_EINTERNAL = -7   /* an invariant of cgalr itself failed: a bug */
} cgalr_status_t;

/* The message of the last failure on the calling thread ("" if none). Never NULL. */
CGALR_API const char *cgalr_last_error(void);

/* A short name for a status ("invalid argument", ...). */
CGALR_API const char *cgalr_status_name(cgalr_status_t status);

/* Sets the calling thread's message (printf format) and returns `status`, so a failure is
 * `return cgalr_fail(CGALR_EINVAL, "p = %zu: need at least 2 signals", p);` */
CGALR_API cgalr_status_t cgalr_fail(cgalr_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clears the calling thread's message. */
CGALR_API void cgalr_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif

/* Thread-local error messages: the library never prints, it returns a status and leaves the
 * message here for the caller (the cli layer prints it). */
#include "cgalr/status.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char message[1024];

const char *cgalr_last_error(void) { return message; }

void cgalr_clear_error(void) { message[0] = '\0'; }

cgalr_status_t cgalr_fail(cgalr_status_t status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return status;
}

const char *cgalr_status_name(cgalr_status_t status)
{
    switch (status) {
    case CGALR_OK: return "ok";
    case CGALR_EINVAL: return "invalid argument";
    case CGALR_ENOMEM: return "out of memory";
    case CGALR_EIO: return "input/output error";
    case CGALR_EFORMAT: return "malformed input";
    case CGALR_ENONFINITE: return "non-finite value";
    case CGALR_ESTATE: return "invalid state";
    case CGALR_EINTERNAL: return "internal error";
    }
    return "unknown status";
}

/* What the shared library exports: the declarations marked CGALR_API, and nothing else. The
 * library is compiled with -fvisibility=hidden, so every other function (each layer's internals)
 * stays private to it and cannot clash with a program that embeds libcgalr. */
#ifndef CGALR_API_H
#define CGALR_API_H

#if defined(__GNUC__) || defined(__clang__)
#define CGALR_API __attribute__((visibility("default")))
#else
#define CGALR_API
#endif

#endif

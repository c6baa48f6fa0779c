/* FNV-1a, 64-bit: the checksum of checkpoints and the key of the decoded-image cache (private to
 * the library). Chain calls from CORE_FNV_BASIS. */
#ifndef CGALR_CORE_HASH_H
#define CGALR_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define CORE_FNV_BASIS 0xcbf29ce484222325ULL

uint64_t core_fnv1a(uint64_t h, const void *data, size_t len);

#endif

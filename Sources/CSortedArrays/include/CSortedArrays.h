#ifndef TAGFLOW_CSORTEDARRAYS_H
#define TAGFLOW_CSORTEDARRAYS_H

#include <stddef.h>
#include <stdint.h>

/// How many values two sorted, duplicate-free arrays of 16-bit values share. For arrays of comparable
/// length (the caller looks values of a much shorter one up by binary search instead). On x86-64 it
/// compares eight values against eight with SSE4.2's string instructions, which Swift cannot name; elsewhere
/// it merges one value at a time.
size_t tagflow_shared_count_u16(const uint16_t *a, size_t n, const uint16_t *b, size_t m);

#endif

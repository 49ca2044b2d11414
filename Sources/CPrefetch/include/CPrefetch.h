#ifndef TAGFLOW_CPREFETCH_H
#define TAGFLOW_CPREFETCH_H

/// Asks the CPU to start loading the cache line at `address`, without waiting for it (Swift has no way to
/// say this itself). The tag engine visits profiles at random across gigabytes: it names the memory of the
/// next profile it will visit while it still works on the current one.
static inline void tagflow_prefetch(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif

#ifndef TAGFLOW_CTHREADLOCAL_H
#define TAGFLOW_CTHREADLOCAL_H

/// The calling thread's block pool (see BlockPool.swift), in a C thread-local variable: one load from the
/// thread's own memory, where `pthread_getspecific` was a call into the C library at every block the engine
/// takes or gives back. (Swift has no thread-local variables of its own.) The pthread key stays, for what
/// happens to a pool when its thread ends.
extern __thread void *tagflow_thread_pool_slot;

static inline void *tagflow_thread_pool(void) { return tagflow_thread_pool_slot; }

static inline void tagflow_set_thread_pool(void *pool) { tagflow_thread_pool_slot = pool; }

#endif

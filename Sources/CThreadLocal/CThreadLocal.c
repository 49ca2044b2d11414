#include "CThreadLocal.h"

__thread void *tagflow_thread_pool_slot = 0;

#include "CCPUFeatures.h"

int tagflow_cpu_runs_icelake_server_code(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    // Every AVX-512 subset and vector extension the compiler may use for -target-cpu icelake-server.
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512ifma")
        && __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512vbmi2")
        && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bitalg")
        && __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("gfni")
        && __builtin_cpu_supports("vaes") && __builtin_cpu_supports("vpclmulqdq")
        && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
#else
    return 0;
#endif
}

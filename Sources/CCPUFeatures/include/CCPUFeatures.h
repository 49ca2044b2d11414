#ifndef TAGFLOW_CCPUFEATURES_H
#define TAGFLOW_CCPUFEATURES_H

/// Whether this CPU (and the operating system, which must save the wide registers) runs the AVX-512 code of
/// an Ice Lake server: the instruction sets module `RoaringAVX512` is compiled for. Swift has no way to ask
/// the CPU itself. 1 when it does, 0 when not (or when the CPU is not x86-64).
int tagflow_cpu_runs_icelake_server_code(void);

#endif

// Thread control. LibTorch's OpenMP pool and OpenBLAS's pthread pool are separate; left
// alone, both spin on the same two cores (DESIGN §9). set_compute_threads sets both.
#pragma once

namespace nosharing {

// Sets LibTorch's intra-op threads and OpenBLAS's threads to `threads` (0: all cores).
// Returns the number used.
int set_compute_threads(int threads);

// How the two thread pools wait between parallel regions, set before either library loads.
//
// OpenMP: libgomp's default is to spin ~300,000 iterations (about a millisecond) after every
// parallel region, and on a machine with as many cores as compute threads two spinning
// threads fight OpenBLAS's threads and the data loader: the Mapformer trained at 316 images/s
// against 735 with OMP_WAIT_POLICY=PASSIVE (docs/RESULTS.md, "Threads"). But passive waiting
// puts every worker to sleep after every region, and waking it costs tens of microseconds on
// this VM: the topographic losses and small layers run dozens of short regions a step, and
// measured alone the local InfoNCE took 4.3–5.6 ms per step passive against 1.7–2.2 ms with
// GOMP_SPINCOUNT=1000 (alltnn-small). So the default is GOMP_SPINCOUNT=1000 (a thousand
// polls, then sleep): the Mapformer at 805–850 images/s (passive 679–787), the topographic
// steps 10–20 % faster, the ott-cifar rows within their noise. A value the user set for OMP_WAIT_POLICY or GOMP_SPINCOUNT is kept
// (OMP_WAIT_POLICY=PASSIVE gives the previous behaviour; an empty one libgomp's default).
// OpenBLAS's own threads, after each multi-threaded BLAS call (a head's addmm, a loss's mm),
// spin on sched_yield for 2^28 cycles (~0.1 s, its THREAD_TIMEOUT) before they sleep: every
// training step. Measured on alltnn-small (docs/RESULTS.md, "Threads"): 8–9 s of system time
// in a 13–17 s benchmark run, step times 25–36 ms, against 1.8 s and 25 ms with the shortest
// timeout, OPENBLAS_THREAD_TIMEOUT=4 (2^4 cycles), which is set the same way when unset.
// A process that finds a variable unset sets it and re-executes itself (/proc/self/exe with
// `argv`). Call first thing in main(): the CLI and the benchmarks.
//
// The same re-execution names OpenBLAS's kernel when its detection failed (below).
void ensure_short_waiting(char** argv);

// OpenBLAS up to 0.3.24 (Debian 12 ships 0.3.21) falls back to its generic Prescott (SSE3)
// kernels at run time on Intel CPUs its tables do not know (OpenBLAS issue #4267, fixed in
// 0.3.25) — Sapphire and Emerald Rapids among them (family 6, models 143 and 207): every plain
// LibTorch matmul (the losses, the heads, the analysis) then runs without AVX. When
// OPENBLAS_CORETYPE is unset and OpenBLAS chose "Prescott", this returns the kernel the CPU's
// instructions allow — "SkylakeX" with AVX-512 F, CD, BW, DQ and VL, "Haswell" with AVX2 and
// FMA — and nullptr otherwise (a correct choice, or a CPU Prescott fits). A value the user set
// is never overridden.
const char* better_blas_core(const char* chosen, bool avx512, bool avx2_fma);

// Name of the BLAS core kernel OpenBLAS chose ("Haswell", "Cooperlake" …), or "unknown".
const char* blas_core_name();

}  // namespace nosharing

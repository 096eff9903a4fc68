// Thread control. LibTorch's OpenMP pool and OpenBLAS's pthread pool are separate; left
// alone, both spin on the same two cores (DESIGN §9). set_compute_threads sets both.
#pragma once

namespace nosharing {

// Sets LibTorch's intra-op threads and OpenBLAS's threads to `threads` (0: all cores).
// Returns the number used.
int set_compute_threads(int threads);

// LibTorch's OpenMP threads spin after every parallel region (libgomp's default wait policy),
// and on a machine with as many cores as compute threads they spin against OpenBLAS's own
// threads and the data loader's: measured on 2 cores (docs/RESULTS.md, "Threads"), the
// Mapformer trains at 316 images/s with 2 threads against 734 with passive waiting, the
// ott-cifar twin at ≈ 500 against ≈ 600. libgomp reads OMP_WAIT_POLICY once, when it is
// loaded, so a process that finds it unset sets it to PASSIVE and re-executes itself
// (/proc/self/exe with `argv`); a value the user set is kept (an empty one gives libgomp's
// default spinning, for comparison).
// OpenBLAS's own threads, after each multi-threaded BLAS call (a head's addmm, a loss's mm),
// spin on sched_yield for 2^28 cycles (~0.1 s, its THREAD_TIMEOUT) before they sleep: every
// training step. Measured on alltnn-small (docs/RESULTS.md, "Threads"): 8–9 s of system time
// in a 13–17 s benchmark run, step times 25–36 ms, against 1.8 s and 25 ms with the shortest
// timeout, OPENBLAS_THREAD_TIMEOUT=4 (2^4 cycles), which is set the same way when unset.
// Call first thing in main(): the CLI and the benchmarks.
void ensure_passive_waiting(char** argv);

// Name of the BLAS core kernel OpenBLAS chose ("Haswell", "Cooperlake" …), or "unknown".
const char* blas_core_name();

}  // namespace nosharing

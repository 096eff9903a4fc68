// Thread control. LibTorch's OpenMP pool and OpenBLAS's pthread pool are separate; left
// alone, both spin on the same two cores (DESIGN §9). set_compute_threads sets both.
#pragma once

namespace nosharing {

// Sets LibTorch's intra-op threads and OpenBLAS's threads to `threads` (0: all cores).
// Returns the number used.
int set_compute_threads(int threads);

// Name of the BLAS core kernel OpenBLAS chose ("Haswell", "Cooperlake" …), or "unknown".
const char* blas_core_name();

}  // namespace nosharing

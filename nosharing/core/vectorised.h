// NOSHARING_VECTORISED: compile a hot loop twice, for x86-64-v3 (AVX2 + FMA: 8 floats per
// instruction, fused multiply-adds) and for the baseline x86-64 that Debian's toolchain
// targets (SSE2: 4 floats, separate multiplies and adds), and let the dynamic loader pick one
// by the CPU at start-up (GCC function multi-versioning: an ifunc per marked function). The
// binary still runs on any x86-64; on this project's machines the fused topographic losses'
// row loops run on the wide clone.
//
// Put it where the work is: on a function, or after the parameter list of the lambda that an
// at::parallel_for runs (a lambda does not inherit its enclosing function's target), e.g.
//   at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {…});
// Helpers called from it are compiled into each clone only when inlined: mark them
// NOSHARING_INLINE (row_math::dot, …).
//
// The clones round differently (FMA contracts a·b + c into one rounding), so float results
// may differ in the last bits between machines of different CPU generations; on one machine
// every run picks the same clone.
#pragma once

// Build with -DNOSHARING_NO_CLONES (CMAKE_CXX_FLAGS) to compare against the baseline only.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && \
    !defined(NOSHARING_NO_CLONES)
#define NOSHARING_VECTORISED __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define NOSHARING_VECTORISED
#endif

// NOSHARING_INLINE: a small row helper that must be compiled into each clone of its caller.
// GCC otherwise may keep it out of line, where it runs the baseline code from every clone.
#if defined(__GNUC__)
#define NOSHARING_INLINE inline __attribute__((always_inline))
#else
#define NOSHARING_INLINE inline
#endif

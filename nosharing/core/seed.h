// Deterministic seeding: every random stream of a run derives from train.seed and a
// purpose, so data order, split and augmentation do not depend on thread scheduling.
#pragma once

#include <cstdint>

namespace nosharing {

// A well-mixed 64-bit value from a seed and up to three stream identifiers (SplitMix64).
uint64_t derive_seed(uint64_t seed, uint64_t stream_a, uint64_t stream_b = 0,
                     uint64_t stream_c = 0);

// Seeds LibTorch's global CPU generator (initialisation, dropout).
void seed_torch(uint64_t seed);

}  // namespace nosharing

#include "nosharing/core/seed.h"

#include <torch/utils.h>

namespace nosharing {
namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t derive_seed(uint64_t seed, uint64_t stream_a, uint64_t stream_b, uint64_t stream_c) {
  uint64_t h = splitmix64(seed);
  h = splitmix64(h ^ stream_a);
  h = splitmix64(h ^ stream_b);
  return splitmix64(h ^ stream_c);
}

void seed_torch(uint64_t seed) { torch::manual_seed(seed); }

}  // namespace nosharing

#include "nosharing/core/threads.h"

#include <gtest/gtest.h>

namespace nosharing {
namespace threads_test {  // named, not anonymous: the tests compile in unity batches

// Only OpenBLAS's failed detection (its Prescott fallback) is corrected, and only towards a
// kernel the CPU can run.
TEST(BetterBlasCoreTest, ReplacesOnlyThePrescottFallback) {
  EXPECT_STREQ(better_blas_core("Prescott", /*avx512=*/true, /*avx2_fma=*/true), "SkylakeX");
  EXPECT_STREQ(better_blas_core("Prescott", false, true), "Haswell");
  EXPECT_EQ(better_blas_core("Prescott", false, false), nullptr);
  for (const char* chosen : {"Haswell", "SkylakeX", "Cooperlake", "Zen", "unknown"}) {
    EXPECT_EQ(better_blas_core(chosen, true, true), nullptr) << chosen;
  }
  EXPECT_EQ(better_blas_core(nullptr, true, true), nullptr);
}

}  // namespace threads_test
}  // namespace nosharing

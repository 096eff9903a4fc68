#include "nosharing/core/process_usage.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>

namespace nosharing {
namespace process_usage_test {  // named, not anonymous: the tests compile in unity batches

// Touching 32 MB of freshly mapped memory faults in its 8,192 pages and grows the resident
// set by about 32 MB; unmapping gives the resident set back.
TEST(ProcessUsageTest, FreshPagesAreCountedAndResident) {
  constexpr size_t kBytes = size_t{32} << 20;
  const int64_t faults_before = minor_page_faults();
  const double resident_before = resident_megabytes();
  ASSERT_GT(resident_before, 0.0);
  void* memory = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(memory, MAP_FAILED);
  madvise(memory, kBytes, MADV_NOHUGEPAGE);  // one fault a 4 kB page, not one a 2 MB page
  std::memset(memory, 1, kBytes);
  const int64_t faults = minor_page_faults() - faults_before;
  const double grown = resident_megabytes() - resident_before;
  munmap(memory, kBytes);
  EXPECT_GE(faults, 8192 * 9 / 10);
  EXPECT_NEAR(grown, 33.5, 4.0);  // 32 MiB = 33.55 MB
  EXPECT_LT(resident_megabytes() - resident_before, 4.0);
}

}  // namespace process_usage_test
}  // namespace nosharing

#include "nosharing/core/large_buffer_pool.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nosharing/core/process_usage.h"

namespace nosharing {
namespace large_buffer_pool_test {  // named, not anonymous: the tests compile in unity batches

// With the pooling allocator installed, LibTorch's own large tensors (at::empty, op outputs)
// are recycled: the same block again, and no fresh pages for a recurring size, while small
// tensors and values are as before.
TEST(PoolingCpuAllocatorTest, LibTorchTensorsAreRecycledWithoutFreshPages) {
  install_pooling_cpu_allocator();
  install_pooling_cpu_allocator();  // idempotent
  EXPECT_TRUE(pooling_cpu_allocator_installed());
  constexpr int64_t kElements = int64_t{16} << 20;  // 64 MB of float
  void* first = nullptr;
  {
    const torch::Tensor t = torch::empty({kElements});
    first = t.data_ptr();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 4096, 0u);
  }
  EXPECT_GE(pooled_free_bytes(), size_t{64} << 20);
  int64_t faults = 0;
  for (int i = 0; i < 4; ++i) {
    const int64_t before = minor_page_faults();
    torch::Tensor t = torch::full({kElements}, 2.0f);  // an op's output, written everywhere
    faults += minor_page_faults() - before;
    EXPECT_EQ(t.data_ptr(), first);
    EXPECT_EQ(t.sum().item<double>(), 2.0 * static_cast<double>(kElements));
  }
  // 64 MB of fresh 4 kB pages would be 16,384 faults each time.
  EXPECT_LT(faults, 400);
  const torch::Tensor small = torch::arange(10, torch::kFloat);  // LibTorch's own allocator
  EXPECT_EQ(small.sum().item<double>(), 45.0);
}

}  // namespace large_buffer_pool_test
}  // namespace nosharing

#include "nosharing/core/large_buffer_pool.h"

#include <gtest/gtest.h>
#include <c10/core/CPUAllocator.h>
#include <torch/torch.h>

#include <cstring>

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
  // The raw interface (oneDNN's convolutions use it) for large and small blocks.
  c10::Allocator* allocator = c10::GetCPUAllocator();
  for (size_t bytes : {size_t{1} << 20, size_t{100}}) {
    void* raw = allocator->raw_allocate(bytes);
    std::memset(raw, 0, bytes);
    allocator->raw_deallocate(raw);
  }
  // A convolution through oneDNN (the twin's path) with large buffers.
  const torch::Tensor x = torch::randn({64, 32, 32, 32});
  const torch::Tensor w = torch::randn({64, 32, 3, 3});
  const torch::Tensor y = torch::conv2d(x, w, {}, 1, 1);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{64, 64, 32, 32}));
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
}

}  // namespace large_buffer_pool_test
}  // namespace nosharing

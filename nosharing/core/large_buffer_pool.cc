#include "nosharing/core/large_buffer_pool.h"

#include <ATen/Functions.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/strides.h>
#include <sys/mman.h>

#include <cstdlib>
#include <string>
#include <unordered_map>
#include <map>
#include <mutex>
#include <new>

namespace nosharing {
namespace {

// From 128 kB (glibc's first mmap threshold) up. Medium buffers (a layer's batch of inputs,
// 1–4 MB) churn too: glibc serves them from the heap between LibTorch's small allocations,
// and a training-like step of ott-cifar's first layer grew its RSS by 1.5 MB a step for ten
// steps (bench --one lc1). Below 1 MB, TopoLoss's scratch (the down-sampled grids, 0.1–0.6 MB
// per layer) page-faulted ~300 times a step on alltnn-small (page_faults_per_step of
// TopographicTrainStep) until it came from here.
constexpr size_t kMinPooledBytes = size_t{128} << 10;
constexpr size_t kHugePageBytes = size_t{2} << 20;
constexpr size_t kPageBytes = size_t{4} << 10;

// Buffers from 4 MB up in whole huge pages (advised: fewer TLB misses on strided access);
// smaller ones in whole pages, where a huge page's rounding would cost up to twice the size.
size_t granule(size_t bytes) { return bytes >= (size_t{4} << 20) ? kHugePageBytes : kPageBytes; }
// Free buffers kept at most; beyond this a released buffer is freed. Enough for the
// largest layer's outputs and gradients of a few steps.
constexpr size_t kMaxFreeBytes = size_t{2} << 30;

class LargeBufferPool {
 public:
  // A buffer of at least `bytes`; `capacity` receives its real size.
  void* acquire(size_t bytes, size_t* capacity) {
    const size_t page = granule(bytes);
    const size_t rounded = (bytes + page - 1) / page * page;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // Sizes recur exactly from step to step; accept up to 25 % slack.
      auto it = free_.lower_bound(rounded);
      if (it != free_.end() && it->first <= rounded + rounded / 4) {
        void* data = it->second;
        *capacity = it->first;
        free_bytes_ -= it->first;
        free_.erase(it);
        return data;
      }
    }
    *capacity = rounded;
    void* data = std::aligned_alloc(page, *capacity);
    if (data == nullptr) throw std::bad_alloc();
    if (page == kHugePageBytes) madvise(data, *capacity, MADV_HUGEPAGE);  // advisory
    return data;
  }

  void release(void* data, size_t capacity) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (free_bytes_ + capacity <= kMaxFreeBytes) {
        free_.emplace(capacity, data);
        free_bytes_ += capacity;
        return;
      }
    }
    std::free(data);
  }

  size_t free_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return free_bytes_;
  }

 private:
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;
  size_t free_bytes_ = 0;
};

// Never destroyed: tensors may die during static destruction.
LargeBufferPool& pool() {
  static LargeBufferPool* instance = new LargeBufferPool();
  return *instance;
}

}  // namespace

at::Tensor pooled_empty_strided(at::IntArrayRef sizes, at::IntArrayRef strides,
                                const at::TensorOptions& options) {
  size_t count = 1;
  for (int64_t size : sizes) count *= static_cast<size_t>(size);
  const size_t bytes = count * options.dtype().itemsize();
  if (bytes < kMinPooledBytes) return at::empty_strided(sizes, strides, options);
  size_t capacity = 0;
  void* data = pool().acquire(bytes, &capacity);
  return at::from_blob(
      data, sizes, strides, [capacity](void* p) { pool().release(p, capacity); }, options);
}

at::Tensor pooled_empty(at::IntArrayRef sizes, const at::TensorOptions& options) {
  return pooled_empty_strided(sizes, c10::contiguous_strides(sizes), options);
}

size_t pooled_free_bytes() { return pool().free_bytes(); }

namespace {

// LibTorch's CPU allocator with large blocks from the pool. It has a raw deleter (context ==
// data), as oneDNN's convolutions need (raw_allocate/raw_deallocate): the capacity of each
// live pooled block is kept by address, and a pointer not found there is the fallback's.
class PoolingCpuAllocator final : public c10::Allocator {
 public:
  explicit PoolingCpuAllocator(c10::Allocator* fallback) : fallback_(fallback) {}

  c10::DataPtr allocate(size_t bytes) const override {
    if (bytes < kMinPooledBytes) return fallback_->allocate(bytes);
    size_t capacity = 0;
    void* data = pool().acquire(bytes, &capacity);
    {
      std::lock_guard<std::mutex> lock(live_mutex());
      live()[data] = capacity;
    }
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  static void release(void* data) {
    size_t capacity = 0;
    {
      std::lock_guard<std::mutex> lock(live_mutex());
      const auto it = live().find(data);
      if (it != live().end()) {
        capacity = it->second;
        live().erase(it);
      }
    }
    if (capacity > 0) {
      pool().release(data, capacity);
    } else {
      fallback_deleter()(data);
    }
  }

  static c10::DeleterFnPtr& fallback_deleter() {
    static c10::DeleterFnPtr deleter = nullptr;
    return deleter;
  }

 private:
  // Never destroyed: tensors may die during static destruction.
  static std::mutex& live_mutex() {
    static auto* mutex = new std::mutex();
    return *mutex;
  }
  static std::unordered_map<void*, size_t>& live() {
    static auto* blocks = new std::unordered_map<void*, size_t>();
    return *blocks;
  }
  c10::Allocator* fallback_;
};

std::once_flag g_install_once;
bool g_installed = false;

}  // namespace

void install_pooling_cpu_allocator() {
  std::call_once(g_install_once, [] {
    // Never destroyed, like the pool: tensors may die during static destruction.
    c10::Allocator* fallback = c10::GetDefaultCPUAllocator();
    PoolingCpuAllocator::fallback_deleter() = fallback->raw_deleter();
    TORCH_CHECK(PoolingCpuAllocator::fallback_deleter() != nullptr,
                "install_pooling_cpu_allocator: LibTorch's CPU allocator has no raw deleter");
    static auto* allocator = new PoolingCpuAllocator(fallback);
    // Priority 1: above the default's 0 (c10/core/Allocator.h).
    c10::SetCPUAllocator(allocator, /*priority=*/1);
    g_installed = true;
  });
}

bool pooling_cpu_allocator_installed() { return g_installed; }

void install_cpu_allocator_from_environment() {
  const char* choice = std::getenv("NOSHARING_CPU_ALLOCATOR");
  if (choice != nullptr && std::string(choice) == "libtorch") return;
  install_pooling_cpu_allocator();
}

}  // namespace nosharing

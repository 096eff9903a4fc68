#include "nosharing/analysis/connected_components.h"

#include <ATen/ATen.h>

#include "nosharing/core/error.h"

namespace nosharing {

Components connected_components(const torch::Tensor& mask, bool eight_connected) {
  if (mask.dim() != 2)
    throw_runtime("connected_components: expected [H, W], got {}", c10::str(mask.sizes()));
  const int64_t h = mask.size(0), w = mask.size(1);
  const at::Tensor in = mask.to(at::kBool).contiguous();
  const bool* m = in.data_ptr<bool>();
  Components out;
  out.labels = at::zeros({h, w}, at::TensorOptions().dtype(at::kLong));
  int64_t* label = out.labels.data_ptr<int64_t>();
  std::vector<int64_t> stack;
  for (int64_t start = 0; start < h * w; ++start) {
    if (!m[start] || label[start] != 0) continue;
    const int64_t id = static_cast<int64_t>(out.components.size()) + 1;
    Component component;
    double sum_y = 0, sum_x = 0;
    label[start] = id;
    stack.push_back(start);
    while (!stack.empty()) {
      const int64_t cell = stack.back();
      stack.pop_back();
      const int64_t y = cell / w, x = cell % w;
      ++component.area;
      sum_y += static_cast<double>(y);
      sum_x += static_cast<double>(x);
      for (int64_t dy = -1; dy <= 1; ++dy) {
        for (int64_t dx = -1; dx <= 1; ++dx) {
          if ((dy == 0 && dx == 0) || (!eight_connected && dy != 0 && dx != 0)) continue;
          const int64_t ny = y + dy, nx = x + dx;
          if (ny < 0 || ny >= h || nx < 0 || nx >= w) continue;
          const int64_t next = ny * w + nx;
          if (m[next] && label[next] == 0) {
            label[next] = id;
            stack.push_back(next);
          }
        }
      }
    }
    component.centroid_y = sum_y / static_cast<double>(component.area);
    component.centroid_x = sum_x / static_cast<double>(component.area);
    out.components.push_back(component);
  }
  return out;
}

}  // namespace nosharing

// Precompiled header for every nosharing target: LibTorch's headers dominate compile time
// (DESIGN §9: ~12 s and 1 GB per translation unit that includes <torch/torch.h>).
// Files still include what they use; this only makes it cheap.
#pragma once
#include <torch/torch.h>
#include <fmt/format.h>
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

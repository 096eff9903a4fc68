#include "nosharing/train/model_sync.h"

#include <torch/torch.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "nosharing/core/error.h"

namespace nosharing {
namespace {

// The keys whose values may differ between hosts of one run.
bool per_host_key(const std::string& key) {
  return key == "train.threads" || key == "data.threads" || key == "data.path";
}

}  // namespace

void broadcast_module(Communicator& comm, torch::nn::Module& module, const std::string& what) {
  std::vector<torch::Tensor> tensors = module.parameters();
  for (const auto& b : module.buffers()) tensors.push_back(b);
  comm.broadcast(tensors, 0, what);
}

void broadcast_parameters(Communicator& comm, torch::nn::Module& module, const std::string& what) {
  comm.broadcast(module.parameters(), 0, what);
}

void average_buffers(Communicator& comm, torch::nn::Module& module, const std::string& what) {
  std::map<c10::ScalarType, std::vector<torch::Tensor>> by_type;
  for (const auto& b : module.buffers()) {
    if (b.is_floating_point()) by_type[b.scalar_type()].push_back(b);
  }
  torch::NoGradGuard no_grad;
  for (auto& [type, buffers] : by_type) {
    std::vector<torch::Tensor> parts;
    for (const auto& b : buffers) parts.push_back(b.reshape(-1));
    torch::Tensor flat = torch::cat(parts);
    comm.allreduce_sum(flat, what);
    flat.div_(comm.world_size());
    int64_t offset = 0;
    for (auto& b : buffers) {
      b.copy_(flat.narrow(0, offset, b.numel()).view(b.sizes()));
      offset += b.numel();
    }
  }
}

torch::Tensor gather_rows(Communicator& comm, const torch::Tensor& mine, const std::string& what) {
  TORCH_CHECK(mine.scalar_type() == torch::kUInt8, "gather_rows takes uint8");
  // Each rank fills its own row of zeros; the sum (no carries: one non-zero term per byte)
  // is every row.
  torch::Tensor all = torch::zeros({comm.world_size(), mine.numel()}, torch::kUInt8);
  all[comm.rank()].copy_(mine.reshape(-1));
  comm.allreduce_sum(all, what);
  return all;
}

torch::Tensor gather_generator_states(Communicator& comm, const std::string& what) {
  torch::Tensor mine;
  {
    torch::Generator generator = torch::globalContext().defaultGenerator(torch::kCPU);
    std::lock_guard<std::mutex> lock(generator.mutex());
    mine = generator.get_state();
  }
  return gather_rows(comm, mine, what);
}

void set_generator_state(const torch::Tensor& state) {
  torch::Generator generator = torch::globalContext().defaultGenerator(torch::kCPU);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state.contiguous().clone());
}

void check_same_config(Communicator& comm, const Config& config) {
  std::string mine;
  for (const ConfigKeySpec& spec : config_schema()) {
    if (per_host_key(spec.key)) continue;
    mine += spec.key + " = " + config_value_to_toml(config.get(spec.key)) + "\n";
  }
  const std::string theirs =
      comm.broadcast_text(mine, 0, "comparing the configuration with rank 0's");
  if (theirs == mine) return;
  std::istringstream a(mine), b(theirs);
  std::string line_a, line_b;
  while (std::getline(a, line_a)) {
    if (!std::getline(b, line_b)) line_b = "(nothing)";
    if (line_a != line_b) {
      throw_usage(
          "rank {} of {}: the resolved configuration differs from rank 0's: `{}` here, "
          "`{}` on rank 0; start every rank with the same arguments",
          comm.rank(), comm.world_size(), line_a, line_b);
    }
  }
  throw_usage(
      "rank {} of {}: the resolved configuration differs from rank 0's (rank 0 has "
      "more keys: a different nosharing version?)",
      comm.rank(), comm.world_size());
}

// ---------------------------------------------------------------------------------------
// GradientAllreduce

}  // namespace nosharing

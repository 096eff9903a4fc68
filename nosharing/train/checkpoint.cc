#include "nosharing/train/checkpoint.h"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/utils.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "nosharing/core/error.h"
#include "nosharing/core/files.h"

namespace nosharing {
namespace {

torch::Tensor int_tensor(int64_t value) { return torch::tensor({value}, torch::kInt64); }
torch::Tensor double_tensor(double value) { return torch::tensor({value}, torch::kFloat64); }

}  // namespace

std::string checkpoint_path(const std::string& run_dir) {
  return run_dir + "/checkpoint/state.pt";
}

void save_checkpoint(const std::string& run_dir, torch::nn::Module& model,
                     torch::optim::Optimizer* optimizer, const TrainerState& state) {
  const std::string path = checkpoint_path(run_dir);
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive model_archive;
  model.save(model_archive);
  archive.write("model", model_archive);
  if (optimizer != nullptr) {
    torch::serialize::OutputArchive optimizer_archive;
    optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
  }
  archive.write("trainer.step", int_tensor(state.step));
  archive.write("trainer.epoch", int_tensor(state.epoch));
  archive.write("trainer.batch_in_epoch", int_tensor(state.batch_in_epoch));
  archive.write("trainer.seconds", double_tensor(state.seconds));
  archive.write("trainer.best_accuracy", double_tensor(state.best_accuracy));
  {
    torch::Generator generator = torch::globalContext().defaultGenerator(torch::kCPU);
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("trainer.rng_state", generator.get_state());
  }
  if (state.rank_rng_states.defined()) {
    archive.write("trainer.rank_rng_states", state.rank_rng_states);
  }
  const std::string temporary = path + ".tmp";
  // Through our own writer: LibTorch's file writer checks its position in its destructor, so a
  // failed write (a full disk, a file-size limit) makes it throw from a destructor and abort
  // the process, leaving half a file. Here every byte is reported written and the first
  // error is raised after the archive is complete.
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) {
    throw_runtime("cannot write checkpoint {}: {}", path, std::strerror(errno));
  }
  int write_error = 0;
  try {
    archive.save_to([&](const void* data, size_t size) -> size_t {
      if (write_error == 0 && size > 0 && std::fwrite(data, 1, size, file) != size) {
        write_error = errno != 0 ? errno : EIO;
      }
      return size;
    });
  } catch (const c10::Error& error) {
    std::fclose(file);
    std::remove(temporary.c_str());
    throw_runtime("cannot write checkpoint {}: {}", path, error.what_without_backtrace());
  }
  if (std::fflush(file) != 0 && write_error == 0) write_error = errno;
  if (std::fclose(file) != 0 && write_error == 0) write_error = errno;
  if (write_error != 0) {
    std::remove(temporary.c_str());
    throw_runtime("cannot write checkpoint {}: {}", path, std::strerror(write_error));
  }
  // Durable before it replaces the previous one: a crash leaves the old checkpoint or the
  // new one, whole.
  try {
    sync_file(temporary);
  } catch (const RuntimeError&) {
    std::remove(temporary.c_str());
    throw;
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw_runtime("cannot write checkpoint {}: rename failed", path);
  }
  sync_directory(std::filesystem::path(path).parent_path().string());
}

TrainerState load_checkpoint(const std::string& run_dir, torch::nn::Module& model,
                             torch::optim::Optimizer* optimizer) {
  const std::string path = checkpoint_path(run_dir);
  if (!std::filesystem::is_regular_file(path)) {
    throw_runtime("{}: no checkpoint (was the run started with this directory?)", path);
  }
  TrainerState state;
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    model.load(model_archive);
    if (optimizer != nullptr) {
      torch::serialize::InputArchive optimizer_archive;
      archive.read("optimizer", optimizer_archive);
      optimizer->load(optimizer_archive);
    }
    // InputArchive::read resizes its target in place: read each entry into a fresh tensor.
    auto read_tensor = [&archive](const char* key) {
      torch::Tensor value;
      archive.read(key, value);
      return value;
    };
    state.step = read_tensor("trainer.step").item<int64_t>();
    state.epoch = read_tensor("trainer.epoch").item<int64_t>();
    state.batch_in_epoch = read_tensor("trainer.batch_in_epoch").item<int64_t>();
    state.seconds = read_tensor("trainer.seconds").item<double>();
    state.best_accuracy = read_tensor("trainer.best_accuracy").item<double>();
    torch::Tensor rank_rng_states;
    if (archive.try_read("trainer.rank_rng_states", rank_rng_states)) {
      state.rank_rng_states = rank_rng_states;
    }
    if (optimizer != nullptr) {
      const torch::Tensor rng_state = read_tensor("trainer.rng_state");
      torch::Generator generator = torch::globalContext().defaultGenerator(torch::kCPU);
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_state(rng_state);
    }
  } catch (const c10::Error& error) {
    std::string reason = error.what_without_backtrace();
    reason = reason.substr(0, reason.find('\n'));
    throw_runtime("{}: corrupt or incompatible checkpoint: {}", path, reason);
  }
  return state;
}

}  // namespace nosharing

#include "nosharing/train/checkpoint.h"

#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <filesystem>

#include "nosharing/core/error.h"
#include "nosharing/core/files.h"
#include "tests/test_util.h"

namespace nosharing {
namespace checkpoint_test {  // named, not anonymous: the tests compile in unity batches

TEST(CheckpointTest, ReplacesAtomicallyAndRestoresEverything) {
  const std::string run = testing::make_temp_dir("checkpoint");
  torch::nn::Linear model(3, 2);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  model(torch::ones({4, 3})).sum().backward();
  optimizer.step();

  TrainerState first;
  first.step = 5;
  save_checkpoint(run, *model, &optimizer, first);
  TrainerState second;
  second.step = 9;
  second.epoch = 2;
  second.batch_in_epoch = 3;
  second.seconds = 12.5;
  second.best_accuracy = 0.75;
  torch::manual_seed(123);
  save_checkpoint(run, *model, &optimizer, second);
  const torch::Tensor expected_draw = torch::rand({3});

  // Only the final file remains: the temporary was renamed over the old checkpoint.
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(run + "/checkpoint")) {
    files.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(files, std::vector<std::string>{"state.pt"});

  torch::nn::Linear restored(3, 2);
  torch::optim::SGD restored_optimizer(restored->parameters(),
                                       torch::optim::SGDOptions(0.1).momentum(0.9));
  torch::manual_seed(999);
  const TrainerState loaded = load_checkpoint(run, *restored, &restored_optimizer);
  EXPECT_EQ(loaded.step, 9);
  EXPECT_EQ(loaded.epoch, 2);
  EXPECT_EQ(loaded.batch_in_epoch, 3);
  EXPECT_DOUBLE_EQ(loaded.seconds, 12.5);
  EXPECT_DOUBLE_EQ(loaded.best_accuracy, 0.75);
  EXPECT_TRUE(torch::equal(restored->weight, model->weight));
  EXPECT_TRUE(torch::equal(torch::rand({3}), expected_draw)) << "RNG state restored";
  // Momentum buffers came back too: one more identical step keeps the weights identical.
  optimizer.zero_grad();
  restored_optimizer.zero_grad();
  for (auto* m : {&model, &restored}) (*m)(torch::ones({4, 3})).sum().backward();
  optimizer.step();
  restored_optimizer.step();
  EXPECT_TRUE(torch::equal(restored->weight, model->weight));
}

TEST(CheckpointTest, MissingOrCorruptIsARuntimeErrorNamingTheFile) {
  const std::string run = testing::make_temp_dir("checkpoint-bad");
  torch::nn::Linear model(3, 2);
  EXPECT_THROW(load_checkpoint(run, *model, nullptr), RuntimeError);
  std::filesystem::create_directories(run + "/checkpoint");
  testing::write_file(run + "/checkpoint/state.pt", "garbage");
  try {
    load_checkpoint(run, *model, nullptr);
    FAIL() << "expected RuntimeError";
  } catch (const RuntimeError& error) {
    EXPECT_NE(std::string(error.what()).find("state.pt"), std::string::npos);
  }
}

TEST(FilesTest, AtomicWriteLeavesNoTemporaryOnFailure) {
  const std::string dir = testing::make_temp_dir("atomic");
  write_file_atomic(dir + "/a.txt", "one");
  write_file_atomic(dir + "/a.txt", "two");
  EXPECT_EQ(read_text_file(dir + "/a.txt"), "two");
  EXPECT_THROW(write_file_atomic(dir + "/missing/b.txt", "x"), RuntimeError);
  size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    (void)entry;
    ++count;
  }
  EXPECT_EQ(count, 1u);
}

}  // namespace checkpoint_test
}  // namespace nosharing

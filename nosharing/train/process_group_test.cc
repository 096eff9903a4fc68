#include "nosharing/train/process_group.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "nosharing/core/error.h"
#include "nosharing/train/communicator_test_util.h"

namespace nosharing {
namespace process_group_test {  // named, not anonymous: the tests compile in unity batches

using testing::make_temp_dir;
using testing::run_ranks;

// One process: every question is answered by this process alone, nothing is changed.
TEST(ProcessGroupTest, OneProcessDoesNothing) {
  const std::unique_ptr<ProcessGroup> group = make_process_group(nullptr, Config());
  EXPECT_EQ(group->rank(), 0);
  EXPECT_EQ(group->world_size(), 1);
  EXPECT_TRUE(group->writer());
  const torch::Tensor indices = torch::arange(10);
  EXPECT_TRUE(torch::equal(group->validation_shard(indices), indices));
  EXPECT_EQ(group->sum({1.5, 2.0}, "sum"), (std::vector<double>{1.5, 2.0}));
  const ProcessGroup::Agreement agreed = group->agree(true, 12.5, 3);
  EXPECT_TRUE(agreed.interrupted);
  EXPECT_EQ(agreed.clock, 12.5);
  EXPECT_EQ(group->budget_clock(7.0), 7.0);
  EXPECT_EQ(group->finish_backward(), 0.0);
  EvalResult eval{0.5, 0.25, true, 8};
  group->combine_evaluation(eval, 1);
  EXPECT_EQ(eval.loss, 0.5);
  EXPECT_EQ(eval.accuracy, 0.25);
  EXPECT_EQ(eval.n, 8);
  EXPECT_TRUE(group->provenance(Config()).is_null());
}

TEST(ProcessGroupTest, OneProcessCreatesTheRunDirectory) {
  const std::unique_ptr<ProcessGroup> group = make_process_group(nullptr, Config());
  const std::string run = make_temp_dir("group-run") + "/run";
  const ProcessGroup::RunDirectory made = group->create_run_directory(run, false);
  EXPECT_EQ(made.path, run);
  EXPECT_TRUE(made.created);
  EXPECT_TRUE(std::filesystem::is_directory(run));
  std::ofstream(run + "/config.toml") << "x";
  EXPECT_THROW(group->create_run_directory(run, false), UsageError);  // not empty
  const ProcessGroup::RunDirectory again = group->create_run_directory(run, true);
  EXPECT_FALSE(again.created);
  EXPECT_TRUE(std::filesystem::is_empty(run));
}

// Several ranks: rank 0 creates the directory and every rank takes its path; rank 0's
// error is every rank's, the others' saying that rank 0 stopped.
TEST(ProcessGroupTest, RankZeroCreatesTheRunDirectoryForEveryRank) {
  const std::string root = make_temp_dir("group-ranks");
  run_ranks(3, [&](Communicator& comm) {
    const std::unique_ptr<ProcessGroup> group = make_process_group(&comm, Config());
    EXPECT_EQ(group->world_size(), 3);
    const std::string mine = root + "/run-of-rank-" + std::to_string(comm.rank());
    const ProcessGroup::RunDirectory made = group->create_run_directory(mine, false);
    EXPECT_EQ(made.path, root + "/run-of-rank-0");
    EXPECT_EQ(made.created, comm.rank() == 0);
  });
  EXPECT_FALSE(std::filesystem::exists(root + "/run-of-rank-1"));
  std::ofstream(root + "/run-of-rank-0/config.toml") << "x";
  std::mutex mutex;
  std::vector<std::string> errors(2);
  run_ranks(2, [&](Communicator& comm) {
    const std::unique_ptr<ProcessGroup> group = make_process_group(&comm, Config());
    try {
      group->create_run_directory(root + "/run-of-rank-" + std::to_string(comm.rank()), false);
      ADD_FAILURE() << "rank " << comm.rank() << " went on";
    } catch (const UsageError& error) {
      const std::lock_guard<std::mutex> lock(mutex);
      errors[static_cast<size_t>(comm.rank())] = error.what();
    }
  });
  EXPECT_NE(errors[0].find("run-of-rank-0"), std::string::npos) << errors[0];
  EXPECT_EQ(errors[1].rfind("rank 0 stopped: ", 0), 0u) << errors[1];
  EXPECT_NE(errors[1].find("run-of-rank-0"), std::string::npos) << errors[1];
}

// Several ranks: the shards cover the validation split once, evaluations and clocks agree.
TEST(ProcessGroupTest, RanksAgreeOnShardsEvaluationsAndClocks) {
  run_ranks(2, [](Communicator& comm) {
    const std::unique_ptr<ProcessGroup> group = make_process_group(&comm, Config());
    const int r = comm.rank();
    const torch::Tensor shard = group->validation_shard(torch::arange(5));
    EXPECT_TRUE(torch::equal(shard, r == 0 ? torch::arange(0, 3) : torch::arange(3, 5)));
    // Rank 0: 3 images, loss 1, 2 right; rank 1: 2 images, loss 0.5, 1 right.
    EvalResult eval = r == 0 ? EvalResult{1.0, 2.0 / 3.0, true, 3} : EvalResult{0.5, 0.5, true, 2};
    group->combine_evaluation(eval, 1);
    EXPECT_EQ(eval.n, 5);
    EXPECT_DOUBLE_EQ(eval.loss, (3 * 1.0 + 2 * 0.5) / 5);
    EXPECT_DOUBLE_EQ(eval.accuracy, 3.0 / 5);
    // Rank 1 interrupted; rank 0's clock is everyone's.
    const ProcessGroup::Agreement agreed = group->agree(r == 1, r == 0 ? 10.0 : 99.0, 1);
    EXPECT_TRUE(agreed.interrupted);
    EXPECT_EQ(agreed.clock, 10.0);
    EXPECT_EQ(group->budget_clock(123.0), 10.0);
    EXPECT_EQ(group->provenance(Config())["world_size"], 2);
  });
}

}  // namespace process_group_test
}  // namespace nosharing

#include "nosharing/train/communicator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nosharing/core/error.h"
#include "nosharing/train/communicator_test_util.h"

namespace nosharing {
namespace communicator_test {  // named, not anonymous: the tests compile in unity batches

using Clock = std::chrono::steady_clock;
using testing::make_temp_dir;
using testing::quick;
using testing::run_ranks;
using testing::seconds_since;

// ---------------------------------------------------------------------------------------
// Environment variables

EnvLookup env_of(std::map<std::string, std::string> values) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(values));
  return [shared](const char* name) -> const char* {
    const auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

TEST(DistributedEnvTest, NoVariablesOrAWorldOfOneIsOneProcess) {
  EXPECT_FALSE(read_distributed_env(env_of({})).distributed());
  // MASTER_* are not needed (nor read) for a single process.
  const DistributedEnv one =
      read_distributed_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"MASTER_PORT", "junk"}}));
  EXPECT_FALSE(one.distributed());
  EXPECT_EQ(one.rank, 0);
}

TEST(DistributedEnvTest, ReadsTorchrunsVariables) {
  const DistributedEnv env = read_distributed_env(env_of({{"RANK", "2"},
                                                          {"WORLD_SIZE", "4"},
                                                          {"LOCAL_RANK", "0"},
                                                          {"MASTER_ADDR", "node17"},
                                                          {"MASTER_PORT", "29500"}}));
  EXPECT_TRUE(env.distributed());
  EXPECT_EQ(env.rank, 2);
  EXPECT_EQ(env.world_size, 4);
  EXPECT_EQ(env.local_rank, 0);
  EXPECT_EQ(env.master_addr, "node17");
  EXPECT_EQ(env.master_port, 29500);
}

// Every malformed setting is a UsageError naming the variable and its value.
TEST(DistributedEnvTest, RefusesBadValuesNamingTheVariable) {
  const std::map<std::string, std::string> good = {
      {"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}};
  struct Case {
    std::string variable;
    std::string value;  // "" removes the variable
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"RANK", "abc", "RANK = \"abc\""},
      {"RANK", "2", "RANK = \"2\": expected an integer in [0, WORLD_SIZE = 2)"},
      {"RANK", "-1", "RANK = \"-1\""},
      {"RANK", "1 ", "RANK = \"1 \""},
      {"RANK", "", "WORLD_SIZE = \"2\" is set but RANK is not"},
      {"WORLD_SIZE", "", "RANK = \"1\" is set but WORLD_SIZE is not"},
      {"WORLD_SIZE", "0", "WORLD_SIZE = \"0\""},
      {"WORLD_SIZE", "two", "WORLD_SIZE = \"two\""},
      {"MASTER_ADDR", "", "MASTER_ADDR is not set"},
      {"MASTER_PORT", "", "MASTER_PORT is not set"},
      {"MASTER_PORT", "70000", "MASTER_PORT = \"70000\": expected an integer in [1, 65535]"},
      {"MASTER_PORT", "0", "MASTER_PORT = \"0\""},
      {"MASTER_PORT", "http", "MASTER_PORT = \"http\""},
      {"LOCAL_RANK", "x", "LOCAL_RANK = \"x\""},
  };
  for (const Case& c : cases) {
    std::map<std::string, std::string> values = good;
    if (c.value.empty()) {
      values.erase(c.variable);
    } else {
      values[c.variable] = c.value;
    }
    try {
      read_distributed_env(env_of(values));
      ADD_FAILURE() << c.variable << " = " << c.value << " was accepted";
    } catch (const UsageError& error) {
      EXPECT_NE(std::string(error.what()).find(c.expected), std::string::npos)
          << error.what() << " lacks " << c.expected;
    }
  }
}

TEST(DistributedTest, ShardRangesCoverEverythingOnce) {
  for (const int64_t n : {0, 1, 5, 10, 11}) {
    for (const int world : {1, 2, 3, 4}) {
      int64_t next = 0;
      for (int r = 0; r < world; ++r) {
        const auto [begin, end] = shard_range(n, r, world);
        EXPECT_EQ(begin, next);
        EXPECT_LE(end - begin, n / world + 1);
        EXPECT_GE(end - begin, n / world);
        next = end;
      }
      EXPECT_EQ(next, n);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Ranks as threads of this process, over a c10d FileStore

TEST(CommunicatorTest, SumsAndBroadcasts) {
  run_ranks(3, [](Communicator& comm) {
    const int r = comm.rank();
    EXPECT_EQ(comm.world_size(), 3);
    EXPECT_EQ(comm.sum({static_cast<double>(r), 1.5}, "sum"), (std::vector<double>{3.0, 4.5}));

    // Tensors of two dtypes, root 1.
    torch::Tensor floats = torch::full({2, 3}, static_cast<float>(r));
    torch::Tensor ints = torch::full({4}, static_cast<int64_t>(10 + r));
    comm.broadcast({floats, ints}, 1, "broadcast");
    EXPECT_TRUE(torch::equal(floats, torch::full({2, 3}, 1.0f)));
    EXPECT_TRUE(torch::equal(ints, torch::full({4}, static_cast<int64_t>(11))));

    EXPECT_EQ(comm.broadcast_text(r == 2 ? "from two" : "", 2, "text"), "from two");
  });
}

TEST(CommunicatorTest, AMissingRankIsNamedWithinTheTimeout) {
  const std::string store = make_temp_dir("alone") + "/store";
  const auto start = Clock::now();
  try {
    Communicator::connect_file(store, 0, 2, quick(0.5));
    ADD_FAILURE() << "joined without rank 1";
  } catch (const RuntimeError& error) {
    EXPECT_NE(std::string(error.what()).find("rank 1 never joined"), std::string::npos)
        << error.what();
  }
  EXPECT_LT(seconds_since(start), 3.0);
}

// A rank that stalls (alive, but never reaches the collective) makes the other fail after
// distributed.timeout_seconds, one that leaves makes it fail at once: never a hang. (Tested
// with threads: a SIGSTOPped process is no stall here, the sandbox resumes stopped
// processes within ~2 s.)
TEST(CommunicatorTest, AStalledOrDepartedRankFailsTheCollective) {
  for (const bool stall : {true, false}) {
    run_ranks(
        2,
        [stall](Communicator& comm) {
          if (comm.rank() == 1) {
            if (stall) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
            return;  // leaving destroys this rank's process group
          }
          if (!stall) std::this_thread::sleep_for(std::chrono::milliseconds(300));
          const auto start = Clock::now();
          try {
            comm.allreduce_sum(torch::ones({1000}), "the test allreduce");
            ADD_FAILURE() << "allreduce succeeded without rank 1";
          } catch (const RuntimeError& error) {
            EXPECT_NE(std::string(error.what()).find("rank 0 of 2: the test allreduce failed"),
                      std::string::npos)
                << error.what();
          }
          // Stalled: the 0.5 s timeout, well before rank 1 wakes up and leaves.
          EXPECT_LT(seconds_since(start), 1.4) << (stall ? "stall" : "leave");
        },
        quick(0.5));
  }
}

}  // namespace communicator_test
}  // namespace nosharing

#include "nosharing/train/model_sync.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nosharing/core/error.h"
#include "nosharing/train/communicator_test_util.h"

namespace nosharing {
namespace model_sync_test {  // named, not anonymous: the tests compile in unity batches

using testing::run_ranks;

TEST(ModelSyncTest, GathersRowsAndAveragesBuffers) {
  run_ranks(3, [](Communicator& comm) {
    const int r = comm.rank();
    // uint8 rows, with values that would overflow if rows were mixed.
    torch::Tensor mine = torch::full({5}, static_cast<uint8_t>(250 + r), torch::kUInt8);
    torch::Tensor all = gather_rows(comm, mine, "gather");
    ASSERT_EQ(all.sizes(), (std::vector<int64_t>{3, 5}));
    for (int64_t k = 0; k < 3; ++k) {
      EXPECT_TRUE(
          torch::equal(all[k], torch::full({5}, static_cast<uint8_t>(250 + k), torch::kUInt8)));
    }

    torch::nn::BatchNorm1d norm(2);
    norm->running_mean.fill_(static_cast<float>(r));  // mean over ranks: 1
    norm->running_var.fill_(static_cast<float>(2 * r));
    norm->num_batches_tracked.fill_(7);
    average_buffers(comm, *norm, "buffers");
    EXPECT_TRUE(torch::allclose(norm->running_mean, torch::full({2}, 1.0f)));
    EXPECT_TRUE(torch::allclose(norm->running_var, torch::full({2}, 2.0f)));
    EXPECT_EQ(norm->num_batches_tracked.item<int64_t>(), 7);
  });
}

TEST(ModelSyncTest, RefusesARankWithAnotherConfig) {
  run_ranks(2, [](Communicator& comm) {
    Config config;
    config.apply_set("data.path=/rank/" + std::to_string(comm.rank()));  // per host: allowed
    if (comm.rank() == 0) {  // one call per call of rank 1
      check_same_config(comm, config);
      check_same_config(comm, config);
      return;
    }
    check_same_config(comm, config);  // equal but for data.path
    config.apply_set("train.lr=0.5");
    try {
      check_same_config(comm, config);
      ADD_FAILURE() << "a different train.lr was accepted";
    } catch (const UsageError& error) {
      EXPECT_NE(std::string(error.what()).find("`train.lr = 0.5` here"), std::string::npos)
          << error.what();
    }
  });
}

}  // namespace model_sync_test
}  // namespace nosharing

#include "nosharing/analysis/layer_activations.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace nosharing {
namespace layer_activations_test {  // named, not anonymous: the tests compile in unity batches

// The last layer's post-activation, run through the model's fully connected head, must give
// forward()'s logits: the replay follows the real layer sequence.
void expect_replay_matches(LcNetSharing sharing, LcNetNorm norm) {
  torch::manual_seed(0);
  LcNet net(LcNetOptions({2, 12, 12}, 5, {4, 6})
                .kernels({3})
                .strides({2, 1})
                .sharing(sharing)
                .norm(norm));
  net->eval();
  const torch::Tensor images = torch::randn({3, 2, 12, 12});
  const auto acts = lcnet_activations(*net, images);
  ASSERT_EQ(acts.size(), 2u);
  EXPECT_EQ(acts[0].name, "lc1");
  EXPECT_EQ(acts[1].post.sizes(), (std::vector<int64_t>{3, 6, 6, 6}));
  torch::Tensor x = acts[1].post.flatten(1);
  for (const auto& item : net->named_children()) {
    if (item.key() == "classifier") {
      x = std::dynamic_pointer_cast<torch::nn::LinearImpl>(item.value())->forward(x);
    }
  }
  EXPECT_TRUE(torch::allclose(x, net->forward(images), 1e-5, 1e-5));
  EXPECT_EQ(lcnet_activations(*net, images, 1).size(), 1u);
}

TEST(LayerActivationsTest, ReplayMatchesForward) {
  expect_replay_matches(LcNetSharing::kNone, LcNetNorm::kBatch);
  expect_replay_matches(LcNetSharing::kConv, LcNetNorm::kBatch);
  expect_replay_matches(LcNetSharing::kNone, LcNetNorm::kBatchPosition);
  expect_replay_matches(LcNetSharing::kNone, LcNetNorm::kNone);
}

}  // namespace layer_activations_test
}  // namespace nosharing

#include "nosharing/train/interval_metrics.h"

#include <gtest/gtest.h>

#include "nosharing/train/process_group.h"
#include "nosharing/train/topographic_objective.h"

namespace nosharing {
namespace interval_metrics_test {  // named, not anonymous: the tests compile in unity batches

TopographicTermValue term(const std::string& layer, double value) {
  return {layer, torch::tensor(value, torch::kFloat64), 1.0};
}

// Losses and the model's own terms are means over the interval's steps; a topographic term
// is the mean over the steps that computed it (topography.every = 2 here).
TEST(IntervalMetricsTest, TermsAreMeansOverTheStepsThatComputedThem) {
  IntervalMetrics interval;
  const std::vector<std::pair<std::string, torch::Tensor>> aux = {
      {"aux/wiring", torch::tensor(1.0)}};
  interval.add_step(3.0, 2.0, aux, {term("lc1", 0.5)}, 32);
  interval.add_step(5.0, 4.0, aux, {}, 32);
  interval.add_step(7.0, 6.0, aux, {term("lc1", 1.5)}, 16);
  EXPECT_EQ(interval.steps(), 3);
  const std::unique_ptr<ProcessGroup> one = make_process_group(nullptr, Config());
  interval.combine(*one, 3);
  const nlohmann::json line = interval.line(3, 1, 0.1, 42.0, 2.0);
  EXPECT_EQ(line["kind"], "train");
  EXPECT_EQ(line["step"], 3);
  EXPECT_EQ(line["epoch"], 1);
  EXPECT_DOUBLE_EQ(line["loss"].get<double>(), 5.0);
  EXPECT_DOUBLE_EQ(line["task_loss"].get<double>(), 4.0);
  EXPECT_DOUBLE_EQ(line["aux/wiring"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(line["topo/lc1"].get<double>(), 1.0);  // (0.5 + 1.5) / 2 steps
  EXPECT_DOUBLE_EQ(line["images_per_second"].get<double>(), 80.0 / 2.0);
  EXPECT_DOUBLE_EQ(line["seconds"].get<double>(), 42.0);
  EXPECT_TRUE(line.contains("page_faults_per_step"));
  EXPECT_TRUE(line.contains("rss_mb"));
  EXPECT_FALSE(line.contains("allreduce_seconds"));  // one process

  interval.restart();
  EXPECT_EQ(interval.steps(), 0);
  interval.add_step(1.0, 1.0, {}, {}, 8);
  const nlohmann::json next = interval.line(4, 1, 0.1, 43.0, 1.0);
  EXPECT_DOUBLE_EQ(next["loss"].get<double>(), 1.0);
  EXPECT_FALSE(next.contains("topo/lc1"));
  EXPECT_FALSE(next.contains("aux/wiring"));
}

}  // namespace interval_metrics_test
}  // namespace nosharing

#include "nosharing/run_analysis/analyze_run.h"

#include <gtest/gtest.h>

#include <string>

#include "nosharing/core/config.h"
#include "nosharing/run_analysis/run_analysis.h"

namespace nosharing {
namespace analyze_run_test {  // named, not anonymous: the tests compile in unity batches

// One entry per analysed model type; the rest (resnet) has none, and says so.
TEST(AnalyzeRunTest, EveryAnalysedModelTypeHasOneEntry) {
  for (const char* type : {"lcnet", "mapformer", "wlsc"}) {
    const RunAnalysisEntry* entry = run_analysis_entry(type);
    ASSERT_NE(entry, nullptr) << type;
    EXPECT_EQ(std::string(entry->model_type), type);
    EXPECT_EQ(entry->uses_validation, std::string(type) != "wlsc") << type;
    Config config;
    config.apply_set(std::string("model.type=") + type);
    EXPECT_TRUE(has_map_analysis(config)) << type;
  }
  EXPECT_EQ(run_analysis_entry("resnet"), nullptr);
  Config resnet;
  resnet.apply_set("model.type=resnet");
  EXPECT_FALSE(has_map_analysis(resnet));
}

}  // namespace analyze_run_test
}  // namespace nosharing

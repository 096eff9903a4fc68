#include "nosharing/train/step_profile.h"

#include <gtest/gtest.h>

#include <thread>

namespace nosharing {
namespace step_profile_test {  // named, not anonymous: the tests compile in unity batches

TEST(StepProfileTest, PhasesArePerStepAndTheRestIsOther) {
  StepProfile profile;
  auto t = StepProfile::Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  t = profile.add("forward", t);
  profile.add_seconds("backward", 0.5);
  profile.add_seconds("sleep", 0.0);  // no time: left out
  EXPECT_GE(profile.seconds().at("forward"), 0.019);
  const nlohmann::json line = profile.line(/*step=*/40, /*steps=*/2, /*interval_seconds=*/2.0);
  EXPECT_EQ(line["kind"], "profile");
  EXPECT_EQ(line["step"], 40);
  EXPECT_EQ(line["steps"], 2);
  const nlohmann::json& per_step = line["seconds_per_step"];
  EXPECT_DOUBLE_EQ(per_step["backward"].get<double>(), 0.25);
  EXPECT_NEAR(per_step["forward"].get<double>(), profile.seconds().at("forward") / 2, 1e-12);
  EXPECT_FALSE(per_step.contains("sleep"));
  EXPECT_NEAR(per_step["other"].get<double>(),
              (2.0 - 0.5 - profile.seconds().at("forward")) / 2, 1e-12);
  EXPECT_DOUBLE_EQ(line["total_seconds_per_step"].get<double>(), 1.0);
  profile.clear();
  EXPECT_TRUE(profile.seconds().empty());
}

}  // namespace step_profile_test
}  // namespace nosharing

#include "nosharing/core/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "nosharing/core/error.h"

namespace nosharing {
namespace config_test {  // named, not anonymous: the tests compile in unity batches

std::optional<std::string> test_presets(const std::string& name) {
  if (name == "fmnist-lc-topo") return std::string("[model]\nchannels = [8]\n");
  if (name == "big") return std::string("[model]\nchannels = [64, 128]\n[train]\nlr = 0.1\n");
  return std::nullopt;
}

TEST(ConfigTest, DefaultsHaveEveryKey) {
  Config config;
  for (const auto& spec : config_schema()) EXPECT_NO_THROW(config.get(spec.key)) << spec.key;
  EXPECT_EQ(config.get_string("model.sharing"), "none");
}

TEST(ConfigTest, SetParsesTomlAndBareWords) {
  Config config;
  config.apply_set("model.sharing=conv");
  EXPECT_EQ(config.get_string("model.sharing"), "conv");
  config.apply_set("train.lr=3");
  EXPECT_DOUBLE_EQ(config.get_double("train.lr"), 3.0);
  config.apply_set("model.channels=[1, 2, 3]");
  EXPECT_EQ(config.get_int_list("model.channels"), (std::vector<int64_t>{1, 2, 3}));
  config.apply_set("augment.flip=true");
  EXPECT_TRUE(config.get_auto_bool("augment.flip", false));
  config.apply_set("model.sharing=\"none\"");
  EXPECT_EQ(config.get_string("model.sharing"), "none");
}

TEST(ConfigTest, BadKeysAndValuesAreUsageErrors) {
  Config config;
  EXPECT_THROW(config.apply_set("train.nope=1"), UsageError);
  EXPECT_THROW(config.apply_set("train.epochs=abc"), UsageError);
  EXPECT_THROW(config.apply_set("train.epochs=1.5"), UsageError);
  EXPECT_THROW(config.apply_set("model.sharing=half"), UsageError);
  EXPECT_THROW(config.apply_set("noequals"), UsageError);
  EXPECT_THROW(config.merge_toml("[train]\nepochs = \"x\"\n", "f.toml"), UsageError);
  EXPECT_THROW(config.merge_toml("[train\n", "f.toml"), UsageError);
  EXPECT_THROW(config.merge_toml("epochs = 3\n", "f.toml"), UsageError);
  try {
    config.apply_set("train.epochs=abc");
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("train.epochs"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("abc"), std::string::npos);
  }
}

// Counts, durations and thread numbers have a floor (issue 24: a negative thread count or
// warm-up was accepted and ran): below it, one line naming the key, the value and the bound.
TEST(ConfigTest, NumbersBelowTheirMinimumAreUsageErrors) {
  Config config;
  const auto message = [&](const std::string& assignment) {
    try {
      config.apply_set(assignment);
    } catch (const UsageError& error) {
      return std::string(error.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("train.threads=-3").find("train.threads = -3: expected an integer ≥ 0"),
            std::string::npos) << message("train.threads=-3");
  EXPECT_NE(message("train.warmup_steps=-1").find("expected an integer ≥ 0"), std::string::npos);
  EXPECT_EQ(message("train.threads=-3").find("≥ 0.0"), std::string::npos);  // an integer bound
  EXPECT_NE(message("train.max_minutes=-0.5").find("train.max_minutes = -0.5: expected a number ≥ 0.0"),
            std::string::npos) << message("train.max_minutes=-0.5");
  EXPECT_THROW(config.merge_toml("[data]\nthreads = -1\n", "f.toml"), UsageError);
  EXPECT_THROW(config.set("train.threads", int64_t{-1}, "preset"), UsageError);
  config.apply_set("train.threads=0");  // the bound itself is allowed
  EXPECT_EQ(config.get_int("train.threads"), 0);
  config.apply_set("topography.weight=-1");  // a sentinel below 0 where the key has no floor
}

TEST(ConfigTest, ResolutionOrderIsDefaultsPresetFileSets) {
  const std::string path = ::testing::TempDir() + "/config_order.toml";
  {
    std::ofstream out(path);
    out << "[model]\npreset = \"big\"\n[train]\nepochs = 7\nlr = 0.2\n";
  }
  Config config = Config::resolve(path, {"train.epochs=9"}, test_presets);
  EXPECT_EQ(config.get_string("model.preset"), "big");
  EXPECT_EQ(config.get_int_list("model.channels"), (std::vector<int64_t>{64, 128}));  // preset
  EXPECT_DOUBLE_EQ(config.get_double("train.lr"), 0.2);                              // file
  EXPECT_EQ(config.get_int("train.epochs"), 9);                                      // --set
  EXPECT_THROW(Config::resolve(std::nullopt, {"model.preset=nope"}, test_presets), UsageError);
}

TEST(ConfigTest, TomlRoundTrip) {
  Config config;
  config.apply_set("model.channels=[3, 4]");
  config.apply_set("train.lr=1");
  config.apply_set("data.path=/tmp/a \"quoted\" path");
  Config again;
  again.merge_toml(config.to_toml(), "round trip");
  EXPECT_EQ(again.to_toml(), config.to_toml());
  EXPECT_EQ(again.get_string("data.path"), "/tmp/a \"quoted\" path");
  EXPECT_THROW(again.merge_toml("schema_version = 999\n", "old.toml"), UsageError);
}

}  // namespace config_test
}  // namespace nosharing

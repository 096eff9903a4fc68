#include "nosharing/core/enum_names.h"

#include <gtest/gtest.h>

namespace nosharing {
namespace enum_names_test {  // named, not anonymous: the tests compile in unity batches

enum class Colour { kRed, kGreen, kBlue };
constexpr EnumName<Colour> kColours[] = {
    {"red", Colour::kRed}, {"green", Colour::kGreen}, {"blue", Colour::kBlue}};
constexpr EnumName<Colour> kTwo[] = {{"red", Colour::kRed}, {"green", Colour::kGreen}};

TEST(EnumNamesTest, ParsesNamesAndRefusesOthersNamingTheKey) {
  EXPECT_EQ(enum_from_name(kColours, "paint.colour", "green"), Colour::kGreen);
  EXPECT_EQ(enum_name(kColours, Colour::kBlue), "blue");
  EXPECT_EQ(enum_name(kTwo, Colour::kBlue), "?");
  EXPECT_EQ(enum_names_text(kColours), "red, green or blue");
  EXPECT_EQ(enum_names_text(kTwo), "red or green");
  try {
    enum_from_name(kColours, "paint.colour", "mauve");
    FAIL() << "no exception";
  } catch (const UsageError& error) {
    EXPECT_STREQ(error.what(), "paint.colour = \"mauve\": expected red, green or blue");
  }
  // A config key read as the enum (model.sharing: none by default).
  constexpr EnumName<Colour> kSharing[] = {{"none", Colour::kRed}, {"conv", Colour::kGreen}};
  Config config;
  EXPECT_EQ(get_enum(config, "model.sharing", kSharing), Colour::kRed);
  config.apply_set("model.sharing=conv");
  EXPECT_EQ(get_enum(config, "model.sharing", kSharing), Colour::kGreen);
}

}  // namespace enum_names_test
}  // namespace nosharing

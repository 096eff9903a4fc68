// The presets in experiments/ are part of the project's results: each must resolve, and the
// rows of the sharing table (issue 4) must all run one recipe.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <utility>

#include "nosharing/core/config.h"
#include "nosharing/models/model.h"
#include "nosharing/sharing/dynamic_sharing.h"

namespace nosharing {
namespace experiments_test {  // named, not anonymous: the tests compile in unity batches

namespace fs = std::filesystem;

// The keys a row of the sharing table may change; everything else is the recipe.
bool is_row_key(const std::string& key) {
  static const std::set<std::string> row_keys = {"model.sharing", "model.lc_init",
                                                 "augment.max_shift", "augment.repetitions"};
  return row_keys.count(key) > 0 || key.rfind("sharing.", 0) == 0;
}

// Rows named <recipe>-*.toml in experiments/ against experiments/<recipe>.toml: each changes
// a row key and nothing else; returns how many rows there are.
int check_sharing_rows(const std::string& recipe_name) {
  const fs::path dir = fs::path(NOSHARING_SOURCE_DIR) / "experiments";
  const Config recipe =
      Config::resolve((dir / (recipe_name + ".toml")).string(), {}, preset_toml);
  int rows = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(recipe_name + "-", 0) != 0 || entry.path().extension() != ".toml") continue;
    ++rows;
    const Config row = Config::resolve(entry.path().string(), {}, preset_toml);
    EXPECT_NO_THROW(SharingOptions::from_config(row)) << name;
    int changed = 0;
    for (const ConfigKeySpec& spec : config_schema()) {
      const std::string a = config_value_to_toml(row.get(spec.key));
      const std::string b = config_value_to_toml(recipe.get(spec.key));
      if (is_row_key(spec.key)) {
        changed += a != b;
      } else {
        EXPECT_EQ(a, b) << name << ": " << spec.key << " differs from experiments/"
                        << recipe_name << ".toml";
      }
    }
    EXPECT_GT(changed, 0) << name << " is the unshared row itself";
  }
  return rows;
}

TEST(ExperimentsTest, SharingTableRowsRunTheOttCifarRecipe) {
  // twin, 2 shift rows, 5 instant (one from a shared initialisation, one every step with the
  // class-size gradient scale), 1 hebbian, and the shared initialisation without sleep phases
  EXPECT_EQ(check_sharing_rows("ott-cifar"), 10);
}

// The recipe keys (budget, optimiser, augmentation, seed) of the two sharing tables agree:
// only the model differs.
TEST(ExperimentsTest, PogodinResNetRowsRunTheSameRecipe) {
  EXPECT_EQ(check_sharing_rows("pogodin-resnet20"), 2);  // twin, instant all every 10
  const fs::path dir = fs::path(NOSHARING_SOURCE_DIR) / "experiments";
  const Config ott = Config::resolve((dir / "ott-cifar.toml").string(), {}, preset_toml);
  const Config resnet =
      Config::resolve((dir / "pogodin-resnet20.toml").string(), {}, preset_toml);
  for (const ConfigKeySpec& spec : config_schema()) {
    if (spec.key.rfind("model.", 0) == 0) continue;
    EXPECT_EQ(config_value_to_toml(ott.get(spec.key)), config_value_to_toml(resnet.get(spec.key)))
        << spec.key;
  }
}

// Pogodin's recipe (issue 23): per network, the unshared preset and five rows (twin, instant
// every 10 and 100 steps, hebbian every 10, translation) that change only row keys; the two
// networks run one recipe (every key outside model.* agrees).
TEST(ExperimentsTest, PogodinRecipeRowsDifferOnlyInSharing) {
  EXPECT_EQ(check_sharing_rows("pogodin-recipe-resnet20"), 5);
  EXPECT_EQ(check_sharing_rows("pogodin-recipe-ott"), 5);
  const fs::path dir = fs::path(NOSHARING_SOURCE_DIR) / "experiments";
  const Config ott = Config::resolve((dir / "pogodin-recipe-ott.toml").string(), {}, preset_toml);
  const Config resnet =
      Config::resolve((dir / "pogodin-recipe-resnet20.toml").string(), {}, preset_toml);
  EXPECT_EQ(resnet.get_string("train.optimizer"), "adamw");
  EXPECT_EQ(resnet.get_int("train.batch_size"), 512);
  for (const ConfigKeySpec& spec : config_schema()) {
    if (spec.key.rfind("model.", 0) == 0) continue;
    EXPECT_EQ(config_value_to_toml(ott.get(spec.key)), config_value_to_toml(resnet.get(spec.key)))
        << spec.key;
  }
}

// The topography table (issue 5): every experiments/alltnn-small-*.toml is the recipe of
// experiments/alltnn-small.toml plus a topographic loss, and nothing else.
TEST(ExperimentsTest, TopographyTableRowsRunTheAllTnnSmallRecipe) {
  const fs::path dir = fs::path(NOSHARING_SOURCE_DIR) / "experiments";
  const Config recipe = Config::resolve((dir / "alltnn-small.toml").string(), {}, preset_toml);
  EXPECT_EQ(recipe.get_string("topography.loss"), "none");
  std::set<std::string> losses;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("alltnn-small-", 0) != 0 || entry.path().extension() != ".toml") continue;
    const Config row = Config::resolve(entry.path().string(), {}, preset_toml);
    losses.insert(row.get_string("topography.loss"));
    EXPECT_EQ(name, "alltnn-small-" + row.get_string("topography.loss") + ".toml");
    for (const ConfigKeySpec& spec : config_schema()) {
      if (spec.key.rfind("topography.", 0) == 0) continue;
      EXPECT_EQ(config_value_to_toml(row.get(spec.key)), config_value_to_toml(recipe.get(spec.key)))
          << name << ": " << spec.key << " differs from experiments/alltnn-small.toml";
    }
  }
  EXPECT_EQ(losses, (std::set<std::string>{"infonce", "kernel_smoothness", "spatial_correlation",
                                           "topoloss", "wiring"}));
}

// The WLSC measurement (issue 9) compares β = 0 with β > 0: the two presets must differ in
// the topographic keys only.
TEST(ExperimentsTest, WlscTopoDiffersFromTheBaselineOnlyInBetaAndForms) {
  const fs::path dir = fs::path(NOSHARING_SOURCE_DIR) / "experiments";
  const std::pair<const char*, const char*> pairs[] = {
      {"wlsc-kodak", "wlsc-kodak-topo"},
      {"wlsc-kodak-sheet32-beta0", "wlsc-kodak-sheet32"},
      {"wlsc-kodak-sheet32-window-beta0", "wlsc-kodak-sheet32-window"}};
  for (const auto& [base_name, topo_name] : pairs) {
    const Config base =
        Config::resolve((dir / (std::string(base_name) + ".toml")).string(), {}, preset_toml);
    const Config topo =
        Config::resolve((dir / (std::string(topo_name) + ".toml")).string(), {}, preset_toml);
    EXPECT_EQ(base.get_string("model.type"), "wlsc") << base_name;
    EXPECT_EQ(base.get_double("wlsc.beta"), 0.0) << base_name;
    EXPECT_GT(topo.get_double("wlsc.beta"), 0.0) << topo_name;
    for (const ConfigKeySpec& spec : config_schema()) {
      if (spec.key == "wlsc.beta" || spec.key == "wlsc.laplacian") continue;
      EXPECT_EQ(config_value_to_toml(base.get(spec.key)), config_value_to_toml(topo.get(spec.key)))
          << topo_name << ": " << spec.key;
    }
  }
}

// Maps that emerge, item 2: each CIFAR network with its losses against the same network
// without them: only topography.* keys differ, and the topographic one has a loss per layer.
TEST(ExperimentsTest, CifarHypercolumnTopoDiffersFromItsBaselineOnlyInTopography) {
  const fs::path dir = fs::path(NOSHARING_SOURCE_DIR) / "experiments";
  for (const std::string name : {"cifar-hypercolumn", "cifar-hypercolumn4"}) {
    SCOPED_TRACE(name);
    const Config base = Config::resolve((dir / (name + ".toml")).string(), {}, preset_toml);
    const Config topo = Config::resolve((dir / (name + "-topo.toml")).string(), {}, preset_toml);
    EXPECT_EQ(topo.get_string_list("topography.layer_losses").size(),
              topo.get_int_list("model.channels").size());
    for (const ConfigKeySpec& spec : config_schema()) {
      if (spec.key.rfind("topography.", 0) == 0) continue;
      EXPECT_EQ(config_value_to_toml(base.get(spec.key)),
                config_value_to_toml(topo.get(spec.key)))
          << spec.key;
    }
  }
}

// The Mapformer presets (issue 7): CIFAR on an 8×8 grid with a 28-minute time-annealed
// AdamW budget; both resolve to buildable models.
TEST(ExperimentsTest, MapformerPresetsResolveToTheirModels) {
  const fs::path dir = fs::path(NOSHARING_SOURCE_DIR) / "experiments";
  const Config cifar = Config::resolve((dir / "mapformer-cifar.toml").string(), {}, preset_toml);
  EXPECT_EQ(cifar.get_string("model.type"), "mapformer");
  EXPECT_EQ(cifar.get_int("model.patch"), 4);
  EXPECT_EQ(cifar.get_int("model.dim"), 128);
  EXPECT_EQ(cifar.get_int("model.depth"), 6);
  EXPECT_EQ(cifar.get_double("train.max_minutes"), 28.0);
  EXPECT_EQ(cifar.get_string("train.schedule_clock"), "time");
  EXPECT_EQ(cifar.get_string("train.optimizer"), "adamw");
  EXPECT_GT(cifar.get_double("model.aux_wiring"), 0.0);
  EXPECT_GT(cifar.get_double("model.aux_infonce"), 0.0);
  EXPECT_NO_THROW(build_model(cifar, InputShape{3, 32, 32}, 10));
  const Config fmnist =
      Config::resolve((dir / "mapformer-fmnist.toml").string(), {}, preset_toml);
  EXPECT_EQ(fmnist.get_string("model.type"), "mapformer");
  EXPECT_NO_THROW(build_model(fmnist, InputShape{1, 28, 28}, 10));
  // Item 5 of Maps that emerge: the regions run and its baseline are mapformer-cifar with
  // other auxiliary weights only.
  const Config regions =
      Config::resolve((dir / "mapformer-cifar-regions.toml").string(), {}, preset_toml);
  const Config noaux =
      Config::resolve((dir / "mapformer-cifar-noaux.toml").string(), {}, preset_toml);
  EXPECT_GT(regions.get_double("model.aux_smoothness"), 0.0);
  EXPECT_EQ(cifar.get_double("model.aux_smoothness"), 0.0);
  for (const char* key : {"model.aux_wiring", "model.aux_infonce", "model.aux_smoothness"}) {
    EXPECT_EQ(noaux.get_double(key), 0.0) << key;
  }
  for (const ConfigKeySpec& spec : config_schema()) {
    if (spec.key.rfind("model.aux_", 0) == 0) continue;
    EXPECT_EQ(config_value_to_toml(cifar.get(spec.key)), config_value_to_toml(regions.get(spec.key)))
        << spec.key;
    EXPECT_EQ(config_value_to_toml(cifar.get(spec.key)), config_value_to_toml(noaux.get(spec.key)))
        << spec.key;
  }
}

}  // namespace experiments_test
}  // namespace nosharing

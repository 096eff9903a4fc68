// The run configuration: a flat set of "section.key" values, each declared once in the
// schema (config_schema.cc) with its default, type, allowed values and a one-line doc.
//
// Resolution order (DESIGN §8): built-in defaults → model.preset → --config file → --set,
// later wins. A --set value is parsed as a TOML value; a bare word that is not valid TOML
// is taken as a string (`--set model.sharing=conv`). Unknown keys and wrongly typed values
// are UsageErrors naming the key, the value and what was expected.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace nosharing {

// Bumped whenever a key changes meaning; written to every run's config.toml.
inline constexpr int64_t kConfigSchemaVersion = 1;

using ConfigValue = std::variant<bool, int64_t, double, std::string, std::vector<int64_t>,
                                 std::vector<double>, std::vector<std::string>>;

struct ConfigKeySpec {
  std::string key;            // "section.name"
  ConfigValue default_value;  // also fixes the type
  std::string doc;            // one line
  std::vector<std::string> choices;  // allowed values of a string key (empty: any)
  // The smallest value a number key takes (counts, durations, thread numbers); none: any.
  std::optional<double> minimum = std::nullopt;
};

// Every key nosharing knows, in the order `nosharing config` prints them.
const std::vector<ConfigKeySpec>& config_schema();
const ConfigKeySpec* find_config_key(const std::string& key);

// Renders a value as TOML ("conv", 0.1, [5, 3], true).
std::string config_value_to_toml(const ConfigValue& value);

class Config {
 public:
  // All keys at their defaults.
  Config();

  // Returns the TOML text of a named preset, or nullopt if there is no such preset.
  using PresetLookup = std::function<std::optional<std::string>(const std::string& name)>;

  // Defaults → preset (named by the file or the --set values) → file → sets.
  static Config resolve(const std::optional<std::string>& file,
                        const std::vector<std::string>& sets, const PresetLookup& presets);

  // Reads a run's config.toml (must carry a known schema_version).
  static Config load_run_config(const std::string& path);

  // Applies a TOML document; `origin` names it in error messages.
  void merge_toml(const std::string& toml_text, const std::string& origin);
  void merge_file(const std::string& path);
  // "key=value" with TOML typing, bare words as strings.
  void apply_set(const std::string& assignment);
  void set(const std::string& key, ConfigValue value, const std::string& origin);

  bool get_bool(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  std::vector<int64_t> get_int_list(const std::string& key) const;
  std::vector<double> get_double_list(const std::string& key) const;
  std::vector<std::string> get_string_list(const std::string& key) const;
  // A key whose choices are "auto", "true", "false": `auto_value` decides "auto".
  bool get_auto_bool(const std::string& key, bool auto_value) const;
  const ConfigValue& get(const std::string& key) const;

  // The fully resolved config as TOML, with schema_version, grouped by section.
  std::string to_toml() const;
  // Every key with its value, default and doc, for `nosharing config`.
  std::string describe() const;

 private:
  std::map<std::string, ConfigValue> values_;
};

}  // namespace nosharing

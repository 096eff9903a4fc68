#include "nosharing/core/config.h"

#include <toml++/toml.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "nosharing/core/error.h"
#include "nosharing/core/files.h"

namespace nosharing {
namespace {

std::string escape_toml_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string double_to_toml(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

template <typename T, typename F>
std::string list_to_toml(const std::vector<T>& values, F&& render) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += render(values[i]);
  }
  return out + "]";
}

std::string type_name(const ConfigValue& value) {
  switch (value.index()) {
    case 0: return "a boolean (true or false)";
    case 1: return "an integer";
    case 2: return "a number";
    case 3: return "a string";
    case 4: return "a list of integers such as [5, 3]";
    case 5: return "a list of numbers such as [0.5, 1.0]";
    default: return "a list of strings";
  }
}

std::string node_to_text(const toml::node& node) {
  std::ostringstream out;
  if (node.is_string()) {
    out << escape_toml_string(std::string(*node.as_string()));
  } else {
    node.visit([&out](const auto& n) { out << n; });
  }
  std::string text = out.str();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

// A key's minimum as its own type writes it: "0" for an integer key, "0.0" for a number.
std::string minimum_text(const ConfigKeySpec& spec) {
  return spec.default_value.index() == 1 ? std::to_string(static_cast<int64_t>(*spec.minimum))
                                         : double_to_toml(*spec.minimum);
}

// Converts a parsed TOML node to the type the schema declares for `spec`.
ConfigValue convert_node(const toml::node& node, const ConfigKeySpec& spec,
                         const std::string& origin) {
  auto fail = [&]() -> ConfigValue {
    std::string expected = type_name(spec.default_value);
    if (!spec.choices.empty()) expected = "one of " + join(spec.choices, ", ");
    throw_usage("{}: {} = {}: expected {}", origin, spec.key, node_to_text(node), expected);
  };
  // A number below the key's minimum: the same one line, saying the bound.
  auto at_least = [&](double value) {
    if (spec.minimum && value < *spec.minimum) {
      throw_usage("{}: {} = {}: expected {} ≥ {}", origin, spec.key, node_to_text(node),
                  spec.default_value.index() == 1 ? "an integer" : "a number",
                  minimum_text(spec));
    }
  };
  switch (spec.default_value.index()) {
    case 0:
      if (auto v = node.as_boolean()) return v->get();
      return fail();
    case 1:
      if (auto v = node.as_integer()) {
        at_least(static_cast<double>(v->get()));
        return v->get();
      }
      return fail();
    case 2:
      if (auto v = node.as_floating_point()) {
        at_least(v->get());
        return v->get();
      }
      if (auto v = node.as_integer()) {
        at_least(static_cast<double>(v->get()));
        return static_cast<double>(v->get());
      }
      return fail();
    case 3: {
      std::string text;
      if (auto v = node.as_string()) {
        text = v->get();
      } else if (auto b = node.as_boolean(); b && !spec.choices.empty()) {
        text = b->get() ? "true" : "false";  // "auto | true | false" keys take booleans too
      } else {
        return fail();
      }
      if (!spec.choices.empty() &&
          std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
        return fail();
      }
      return text;
    }
    case 4: {
      std::vector<int64_t> out;
      if (auto v = node.as_integer()) return std::vector<int64_t>{v->get()};
      auto array = node.as_array();
      if (!array) return fail();
      for (const auto& item : *array) {
        auto v = item.as_integer();
        if (!v) return fail();
        out.push_back(v->get());
      }
      return out;
    }
    case 5: {
      std::vector<double> out;
      auto array = node.as_array();
      if (!array) return fail();
      for (const auto& item : *array) {
        if (auto f = item.as_floating_point()) {
          out.push_back(f->get());
        } else if (auto i = item.as_integer()) {
          out.push_back(static_cast<double>(i->get()));
        } else {
          return fail();
        }
      }
      return out;
    }
    default: {
      std::vector<std::string> out;
      if (auto s = node.as_string()) return std::vector<std::string>{s->get()};
      auto array = node.as_array();
      if (!array) return fail();
      for (const auto& item : *array) {
        auto v = item.as_string();
        if (!v) return fail();
        out.push_back(v->get());
      }
      return out;
    }
  }
}

const ConfigKeySpec& spec_or_throw(const std::string& key, const std::string& origin) {
  const ConfigKeySpec* spec = find_config_key(key);
  if (spec == nullptr) {
    throw_usage("{}: unknown key '{}' (`nosharing config` lists every key)", origin, key);
  }
  return *spec;
}

toml::table parse_toml(const std::string& text, const std::string& origin) {
  try {
    return toml::parse(text, origin);
  } catch (const toml::parse_error& error) {
    const auto& where = error.source().begin;
    throw_usage("{}:{}:{}: invalid TOML: {}", origin, where.line, where.column,
                std::string(error.description()));
  }
}

}  // namespace

std::string config_value_to_toml(const ConfigValue& value) {
  switch (value.index()) {
    case 0: return std::get<bool>(value) ? "true" : "false";
    case 1: return std::to_string(std::get<int64_t>(value));
    case 2: return double_to_toml(std::get<double>(value));
    case 3: return escape_toml_string(std::get<std::string>(value));
    case 4:
      return list_to_toml(std::get<std::vector<int64_t>>(value),
                          [](int64_t v) { return std::to_string(v); });
    case 5: return list_to_toml(std::get<std::vector<double>>(value), double_to_toml);
    default: return list_to_toml(std::get<std::vector<std::string>>(value), escape_toml_string);
  }
}

Config::Config() {
  for (const auto& spec : config_schema()) values_[spec.key] = spec.default_value;
}

void Config::set(const std::string& key, ConfigValue value, const std::string& origin) {
  const ConfigKeySpec& spec = spec_or_throw(key, origin);
  if (value.index() != spec.default_value.index()) {
    throw_usage("{}: {} = {}: expected {}", origin, key, config_value_to_toml(value),
                type_name(spec.default_value));
  }
  if (spec.minimum) {
    const double number = value.index() == 1   ? static_cast<double>(std::get<int64_t>(value))
                          : value.index() == 2 ? std::get<double>(value)
                                               : *spec.minimum;
    if (number < *spec.minimum) {
      throw_usage("{}: {} = {}: expected {} ≥ {}", origin, key, config_value_to_toml(value),
                  value.index() == 1 ? "an integer" : "a number", minimum_text(spec));
    }
  }
  values_[key] = std::move(value);
}

void Config::merge_toml(const std::string& toml_text, const std::string& origin) {
  const toml::table document = parse_toml(toml_text, origin);
  for (const auto& [section_key, section_node] : document) {
    const std::string section(section_key.str());
    if (section == "schema_version") {
      const auto version = section_node.as_integer();
      if (!version || version->get() != kConfigSchemaVersion) {
        throw_usage("{}: schema_version = {}: expected {} (a config written by another "
                    "version of nosharing)",
                    origin, node_to_text(section_node), kConfigSchemaVersion);
      }
      continue;
    }
    const toml::table* table = section_node.as_table();
    if (table == nullptr) spec_or_throw(section, origin);  // throws: keys live in sections
    for (const auto& [name, node] : *table) {
      const std::string key = section + "." + std::string(name.str());
      values_[key] = convert_node(node, spec_or_throw(key, origin), origin);
    }
  }
}

void Config::merge_file(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw_usage("--config {}: no such file", path);
  }
  merge_toml(read_text_file(path), path);
}

void Config::apply_set(const std::string& assignment) {
  const auto equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw_usage("--set {}: expected key=value", assignment);
  }
  const std::string key = assignment.substr(0, equals);
  const std::string text = assignment.substr(equals + 1);
  const std::string origin = "--set";
  const ConfigKeySpec& spec = spec_or_throw(key, origin);
  toml::table parsed;
  bool valid_toml = true;
  try {
    parsed = toml::parse("value = " + text);
  } catch (const toml::parse_error&) {
    valid_toml = false;
  }
  if (valid_toml && parsed.contains("value")) {
    values_[key] = convert_node(*parsed.get("value"), spec, origin);
  } else {
    // A bare word that is not valid TOML is a string.
    values_[key] = convert_node(toml::value<std::string>(text), spec, origin);
  }
}

Config Config::resolve(const std::optional<std::string>& file,
                       const std::vector<std::string>& sets, const PresetLookup& presets) {
  // The preset is named by the last --set, else the file, else the default.
  Config named;
  if (file) named.merge_file(*file);
  for (const auto& assignment : sets) {
    if (assignment.rfind("model.preset=", 0) == 0) named.apply_set(assignment);
  }
  const std::string preset = named.get_string("model.preset");

  Config config;
  const std::optional<std::string> preset_text = presets(preset);
  if (!preset_text) {
    throw_usage("model.preset = \"{}\": no such preset", preset);
  }
  config.merge_toml(*preset_text, "preset " + preset);
  if (file) config.merge_file(*file);
  for (const auto& assignment : sets) config.apply_set(assignment);
  config.values_["model.preset"] = preset;
  return config;
}

Config Config::load_run_config(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw_runtime("{}: no such file (is this a run directory?)", path);
  }
  const std::string text = read_text_file(path);
  if (!parse_toml(text, path).contains("schema_version")) {
    throw_runtime("{}: no schema_version: not a config written by nosharing", path);
  }
  Config config;
  config.merge_toml(text, path);
  return config;
}

const ConfigValue& Config::get(const std::string& key) const {
  const auto it = values_.find(key);
  if (it == values_.end()) {
    throw std::logic_error("nosharing: internal error: undeclared config key " + key);
  }
  return it->second;
}

namespace {
template <typename T>
const T& get_as(const ConfigValue& value, const std::string& key) {
  if (const T* typed = std::get_if<T>(&value)) return *typed;
  throw std::logic_error("nosharing: internal error: config key " + key +
                         " read with the wrong type");
}
}  // namespace

bool Config::get_bool(const std::string& key) const { return get_as<bool>(get(key), key); }
int64_t Config::get_int(const std::string& key) const { return get_as<int64_t>(get(key), key); }
double Config::get_double(const std::string& key) const { return get_as<double>(get(key), key); }
const std::string& Config::get_string(const std::string& key) const {
  return get_as<std::string>(get(key), key);
}
std::vector<int64_t> Config::get_int_list(const std::string& key) const {
  return get_as<std::vector<int64_t>>(get(key), key);
}
std::vector<double> Config::get_double_list(const std::string& key) const {
  return get_as<std::vector<double>>(get(key), key);
}
std::vector<std::string> Config::get_string_list(const std::string& key) const {
  return get_as<std::vector<std::string>>(get(key), key);
}
bool Config::get_auto_bool(const std::string& key, bool auto_value) const {
  const std::string& value = get_string(key);
  return value == "auto" ? auto_value : value == "true";
}

namespace {
// Renders every key in schema order under "[section]" headers, after schema_version;
// `render_key(spec, name)` gives the line for one key (name without its section).
template <typename RenderKey>
std::string render_sections(RenderKey&& render_key) {
  std::string out = fmt::format("schema_version = {}\n", kConfigSchemaVersion);
  std::string section;
  for (const auto& spec : config_schema()) {
    const auto dot = spec.key.find('.');
    const std::string this_section = spec.key.substr(0, dot);
    if (this_section != section) {
      section = this_section;
      out += fmt::format("\n[{}]\n", section);
    }
    out += render_key(spec, spec.key.substr(dot + 1));
  }
  return out;
}
}  // namespace

std::string Config::to_toml() const {
  return render_sections([this](const ConfigKeySpec& spec, const std::string& name) {
    return fmt::format("{} = {}\n", name, config_value_to_toml(get(spec.key)));
  });
}

std::string Config::describe() const {
  return render_sections([this](const ConfigKeySpec& spec, const std::string& name) {
    std::string note = "default " + config_value_to_toml(spec.default_value);
    if (!spec.choices.empty()) note += "; one of " + join(spec.choices, ", ");
    if (spec.minimum) note += "; ≥ " + minimum_text(spec);
    return fmt::format("{} = {}  # {}. {}\n", name, config_value_to_toml(get(spec.key)), note,
                       spec.doc);
  });
}

}  // namespace nosharing

// An enum's names as one table beside the enum: what a config value parses to and what a
// value is written as, so that no if-chain re-parses a string the schema has already checked
// (core/config_schema.cc lists the same names as the key's allowed values).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "nosharing/core/config.h"
#include "nosharing/core/error.h"

namespace nosharing {

// One value of an enum and its name in configs and files.
template <typename E>
struct EnumName {
  std::string_view name;
  E value;
};

// The names as a reader lists them: "a", "a or b", "a, b or c".
template <typename E, size_t N>
std::string enum_names_text(const EnumName<E> (&names)[N]) {
  std::string text;
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) text += i + 1 == N ? " or " : ", ";
    text += names[i].name;
  }
  return text;
}

// The value called `text`; otherwise a UsageError: `key = "text": expected a, b or c`.
template <typename E, size_t N>
E enum_from_name(const EnumName<E> (&names)[N], const std::string& key, const std::string& text) {
  for (const EnumName<E>& entry : names) {
    if (entry.name == text) return entry.value;
  }
  throw_usage("{} = \"{}\": expected {}", key, text, enum_names_text(names));
}

// config's string `key` as the enum.
template <typename E, size_t N>
E get_enum(const Config& config, const std::string& key, const EnumName<E> (&names)[N]) {
  return enum_from_name(names, key, config.get_string(key));
}

// The name of `value`; "?" for a value the table does not hold.
template <typename E, size_t N>
std::string_view enum_name(const EnumName<E> (&names)[N], E value) {
  for (const EnumName<E>& entry : names) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

}  // namespace nosharing

// JSON files of a run (config-independent): written atomically, read with one clear error.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace nosharing {

// `value` as indented JSON with a final newline, written with write_file_atomic (core/files.h).
void write_json_atomic(const std::string& path, const nlohmann::json& value);

// The JSON document in `path`; RuntimeError naming the path when it cannot be read or is not
// valid JSON.
nlohmann::json read_json_file(const std::string& path);

}  // namespace nosharing

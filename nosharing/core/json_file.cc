#include "nosharing/core/json_file.h"

#include "nosharing/core/error.h"
#include "nosharing/core/files.h"

namespace nosharing {

void write_json_atomic(const std::string& path, const nlohmann::json& value) {
  write_file_atomic(path, value.dump(2) + "\n");
}

nlohmann::json read_json_file(const std::string& path) {
  auto parsed = nlohmann::json::parse(read_text_file(path), nullptr, false);
  if (parsed.is_discarded()) throw_runtime("{}: not valid JSON", path);
  return parsed;
}

}  // namespace nosharing

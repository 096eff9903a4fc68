#include "nosharing/train/metrics_log.h"

#include <fstream>

#include "nosharing/core/files.h"

namespace nosharing {

void MetricsLog::write(const nlohmann::json& line) const { append_line(path_, line.dump()); }

std::vector<nlohmann::json> read_metrics(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  std::string text;
  while (std::getline(in, text)) {
    auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object()) lines.push_back(std::move(parsed));
  }
  return lines;
}

void truncate_metrics_after(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, text;
  bool dropped = false;
  while (std::getline(in, text)) {
    const auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    const bool later = parsed.is_object() && parsed.contains("step") &&
                       parsed["step"].is_number_integer() && parsed["step"].get<int64_t>() > step;
    if (!parsed.is_object() || later) {
      dropped = true;
      continue;
    }
    kept += text + '\n';
  }
  if (dropped) write_file_atomic(path, kept);
}

}  // namespace nosharing

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

}  // namespace nosharing

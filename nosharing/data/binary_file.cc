#include "nosharing/data/binary_file.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "nosharing/core/error.h"

namespace nosharing {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_plain(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) throw_runtime("cannot open {}: {}", path, std::strerror(errno));
  std::string bytes;
  // Sizing the buffer once keeps the 30-150 MB dataset files to a single allocation.
  if (std::fseek(file, 0, SEEK_END) == 0) {
    long size = std::ftell(file);
    if (size > 0) bytes.reserve(static_cast<size_t>(size));
    std::fseek(file, 0, SEEK_SET);
  }
  char chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof(chunk), file)) > 0) bytes.append(chunk, got);
  bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) throw_runtime("cannot read {}: read error", path);
  return bytes;
}

std::string read_gzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw_runtime("cannot open {}: {}", path, std::strerror(errno));
  gzbuffer(file, 1 << 17);
  std::string bytes;
  std::vector<char> chunk(1 << 20);
  for (;;) {
    int got = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (got > 0) {
      bytes.append(chunk.data(), static_cast<size_t>(got));
      continue;
    }
    if (got == 0) break;
    int errnum = 0;
    std::string reason = gzerror(file, &errnum);
    gzclose(file);
    throw_runtime("cannot read {}: corrupt or truncated gzip data ({})", path, reason);
  }
  // A gzip stream cut short reads as a clean end of file; zlib only tells via gzerror.
  int errnum = 0;
  std::string reason = gzerror(file, &errnum);
  gzclose(file);
  if (errnum != Z_OK && errnum != Z_STREAM_END) {
    throw_runtime("cannot read {}: corrupt or truncated gzip data ({})", path, reason);
  }
  return bytes;
}

}  // namespace

std::string read_binary_file(const std::string& path) {
  return ends_with(path, ".gz") ? read_gzip(path) : read_plain(path);
}

std::vector<std::string> read_nonempty_lines(const std::string& path) {
  std::istringstream in(read_plain(path));
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    size_t begin = line.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) continue;
    size_t end = line.find_last_not_of(" \t\r\n");
    lines.push_back(line.substr(begin, end - begin + 1));
  }
  return lines;
}

}  // namespace nosharing

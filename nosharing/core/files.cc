#include "nosharing/core/files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include "nosharing/core/error.h"

namespace nosharing {

void write_file_atomic(const std::string& path, const std::string& contents) {
  const std::string temporary = fmt::format("{}.tmp.{}", path, ::getpid());
  FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) {
    throw_runtime("cannot write {}: {}", path, std::strerror(errno));
  }
  const bool written = std::fwrite(contents.data(), 1, contents.size(), file) == contents.size();
  const bool flushed = std::fflush(file) == 0 && ::fsync(::fileno(file)) == 0;
  const bool closed = std::fclose(file) == 0;
  if (!written || !flushed || !closed || std::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temporary.c_str());
    throw_runtime("cannot write {}: {}", path, reason);
  }
  const std::string folder = std::filesystem::path(path).parent_path().string();
  sync_directory(folder.empty() ? "." : folder);
}

namespace {

void sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) throw_runtime("cannot sync {}: {}", path, std::strerror(errno));
  const bool synced = ::fsync(fd) == 0;
  const std::string reason = synced ? "" : std::strerror(errno);
  ::close(fd);
  if (!synced) throw_runtime("cannot sync {}: {}", path, reason);
}

}  // namespace

void sync_file(const std::string& path) { sync_path(path, O_RDONLY); }

void sync_directory(const std::string& path) { sync_path(path, O_RDONLY | O_DIRECTORY); }

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw_runtime("cannot read {}: {}", path,
                  std::filesystem::exists(path) ? std::strerror(errno) : "no such file");
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void append_line(const std::string& path, const std::string& line) {
  std::ofstream out(path, std::ios::app);
  out << line << '\n';
  out.flush();
  if (!out) {
    throw_runtime("cannot append to {}: {}", path, std::strerror(errno));
  }
}

}  // namespace nosharing

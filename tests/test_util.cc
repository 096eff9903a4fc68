#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <unistd.h>

namespace nosharing::testing {
namespace {

void put_u32(std::ofstream& out, uint32_t value) {
  const unsigned char bytes[4] = {static_cast<unsigned char>(value >> 24),
                                  static_cast<unsigned char>(value >> 16),
                                  static_cast<unsigned char>(value >> 8),
                                  static_cast<unsigned char>(value)};
  out.write(reinterpret_cast<const char*>(bytes), 4);
}

void write_idx_split(const std::string& dir, const std::string& prefix, int n, int height,
                     int width, int classes, std::mt19937_64& rng) {
  std::ofstream images(dir + "/" + prefix + "-images-idx3-ubyte", std::ios::binary);
  std::ofstream labels(dir + "/" + prefix + "-labels-idx1-ubyte", std::ios::binary);
  put_u32(images, 0x803);
  put_u32(images, n);
  put_u32(images, height);
  put_u32(images, width);
  put_u32(labels, 0x801);
  put_u32(labels, n);
  std::uniform_int_distribution<int> noise(0, 60);
  for (int i = 0; i < n; ++i) {
    const int label = i % classes;
    labels.put(static_cast<char>(label));
    // Class c lights the c-th of `classes` horizontal bands.
    const int band = std::max(1, height / classes);
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        const bool lit = y / band == label;
        images.put(static_cast<char>((lit ? 180 : 0) + noise(rng)));
      }
    }
  }
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::string make_temp_dir(const std::string& name) {
  static std::atomic<int> counter{0};
  const std::string dir = ::testing::TempDir() + "/nosharing-" + std::to_string(::getpid()) + "-" +
                          name + "-" + std::to_string(counter++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void write_idx_dataset(const std::string& dir, int n_train, int n_test, int height, int width,
                       int classes, uint64_t seed) {
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(seed);
  write_idx_split(dir, "train", n_train, height, width, classes, rng);
  write_idx_split(dir, "t10k", n_test, height, width, classes, rng);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_file(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
}

CliResult run_cli(const std::vector<std::string>& args) {
  const std::string err_path = make_temp_dir("stderr") + "/stderr.txt";
  std::string command = shell_quote(NOSHARING_CLI_PATH);
  for (const auto& arg : args) command += " " + shell_quote(arg);
  command += " 2>" + shell_quote(err_path) + " </dev/null";
  CliResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, read);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.err = read_file(err_path);
  return result;
}

}  // namespace nosharing::testing

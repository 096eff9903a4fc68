#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
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

std::vector<std::string> tiny_train(const std::string& data, const std::string& out) {
  return {"train", "--data", data, "--out", out, "--threads", "1",
          "--set", "model.preset=fmnist-lc-topo", "--set", "model.channels=[4, 4]",
          "--set", "model.kernels=3", "--set", "train.batch_size=32",
          "--set", "train.max_steps=4", "--set", "train.warmup_steps=1",
          "--set", "data.threads=1", "--set", "analysis.rf_units=16",
          "--set", "analysis.max_images=64"};
}

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

std::string find_chromium() {
  const char* path_env = std::getenv("PATH");
  const std::string paths = path_env ? path_env : "/usr/bin:/bin";
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    size_t start = 0;
    while (start <= paths.size()) {
      const size_t end = std::min(paths.find(':', start), paths.size());
      const std::filesystem::path candidate =
          std::filesystem::path(paths.substr(start, end - start)) / name;
      if (std::filesystem::is_regular_file(candidate)) return candidate.string();
      start = end + 1;
    }
  }
  return "";
}

PageLoad load_page_in_chromium(const std::string& chromium, const std::string& html_path,
                               const std::string& screenshot_name) {
  namespace fs = std::filesystem;
  PageLoad page;
  const std::string work = make_temp_dir("chromium");
  const std::string url = shell_quote("file://" + fs::absolute(html_path).string());
  const std::string common = "timeout 120 " + shell_quote(chromium) +
                             " --headless --disable-gpu --no-sandbox --no-first-run "
                             "--user-data-dir=" +
                             work +
                             "/profile --enable-logging=stderr --v=0 "
                             "--virtual-time-budget=5000 ";
  const std::string dom_file = work + "/dom.html", log_file = work + "/stderr.txt";
  const std::string dump = common + "--dump-dom " + url + " >" + dom_file + " 2>" + log_file;
  page.ran = std::system(dump.c_str()) == 0;
  page.dom = read_file(dom_file);
  page.log = read_file(log_file);
  std::smatch m;
  if (std::regex_search(page.dom, m,
                        std::regex("data-loaded=\"(\\d+)\" data-total=\"(\\d+)\" "
                                   "data-errors=\"(\\d+)\""))) {
    page.loaded = std::stoi(m[1]), page.total = std::stoi(m[2]), page.errors = std::stoi(m[3]);
  }
  if (!page.ran) return page;
  const std::string artifacts =
      fs::path(NOSHARING_CLI_PATH).parent_path().string() + "/test_artifacts";
  fs::create_directories(artifacts);
  const std::string shot = artifacts + "/" + screenshot_name;
  fs::remove(shot);
  const std::string screenshot = common + "--window-size=1200,1600 --screenshot=" + shot + " " +
                                 url + " >/dev/null 2>>" + log_file;
  if (std::system(screenshot.c_str()) == 0 && fs::is_regular_file(shot)) page.screenshot = shot;
  return page;
}

std::vector<std::string> image_sources(const std::string& html) {
  std::vector<std::string> sources;
  const std::regex src("<img src=\"([^\"]+)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), src); it != std::sregex_iterator();
       ++it) {
    sources.push_back((*it)[1]);
  }
  return sources;
}

void expect_page_loaded(const PageLoad& page, int figures) {
  ASSERT_TRUE(page.ran) << page.log;
  ASSERT_GE(page.total, 0) << "the status script did not run:\n"
                           << page.dom.substr(page.dom.size() > 2000 ? page.dom.size() - 2000 : 0);
  if (figures >= 0) EXPECT_EQ(page.total, figures);
  EXPECT_EQ(page.loaded, page.total) << "figures failed to load";
  EXPECT_EQ(page.errors, 0) << "error events in the page";
  // Every console message (console.log/error, uncaught exceptions) is logged as CONSOLE.
  EXPECT_EQ(page.log.find("CONSOLE"), std::string::npos) << page.log;
  ASSERT_FALSE(page.screenshot.empty()) << page.log;
  EXPECT_GT(std::filesystem::file_size(page.screenshot), 10000u);
}

namespace {

// Runs `prefix` + build/nosharing `args` through /bin/sh.
CliResult run_cli_command(const std::string& prefix, const std::vector<std::string>& args) {
  const std::string err_path = make_temp_dir("stderr") + "/stderr.txt";
  std::string command = prefix + shell_quote(NOSHARING_CLI_PATH);
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

}  // namespace

CliResult run_cli(const std::vector<std::string>& args) { return run_cli_command("", args); }

CliResult run_cli_with_file_size_limit(const std::vector<std::string>& args,
                                       int64_t max_file_bytes) {
  // dash's ulimit -f counts 512-byte blocks; an ignored signal stays ignored across exec.
  return run_cli_command(
      "trap '' XFSZ; ulimit -f " + std::to_string(max_file_bytes / 512) + "; exec ", args);
}


}  // namespace nosharing::testing

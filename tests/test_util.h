// Helpers shared by the tests: temporary folders, tiny data sets written on the fly, and
// running the nosharing binary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nosharing::testing {

// A fresh empty folder under the test temp dir, unique per call.
std::string make_temp_dir(const std::string& name);

// Writes an uncompressed IDX data set (train-* and t10k-* files) of `n_train` / `n_test`
// h×w greyscale images in `classes` classes. Each class lights a different block of the
// image (plus noise), so a small network can learn it.
void write_idx_dataset(const std::string& dir, int n_train, int n_test, int height, int width,
                       int classes, uint64_t seed);

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs build/nosharing with `args` (each shell-quoted), no stdin.
CliResult run_cli(const std::vector<std::string>& args);

std::string read_file(const std::string& path);

// The path of a Chromium on PATH (chromium, chromium-browser, google-chrome); "" if none.
std::string find_chromium();

// A report page (report_page_html's status line) opened in headless Chromium: the DOM after
// load, then a screenshot of `window` ("W,H") to `screenshot` when it is not empty.
struct HeadlessPage {
  std::string error;  // non-empty when Chromium failed (the command and its log)
  int loaded = -1, total = -1, errors = -1;  // the status line; -1 when the script did not run
  bool console_messages = false;  // any console message or uncaught exception (CONSOLE lines)
  std::string log;                // Chromium's stderr of the DOM dump
};
HeadlessPage open_headless(const std::string& chromium, const std::string& index_html,
                           const std::string& screenshot, const std::string& window);
void write_file(const std::string& path, const std::string& contents);

}  // namespace nosharing::testing

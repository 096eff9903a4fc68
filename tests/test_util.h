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

// `nosharing train` arguments for a tiny lcnet (column sheets, 4 and 4 channels, 3×3
// kernels, 4 steps of 32 images, a quick analysis) on `data` (write_idx_dataset), into `out`.
std::vector<std::string> tiny_train(const std::string& data, const std::string& out);

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs build/nosharing with `args` (each shell-quoted), no stdin.
CliResult run_cli(const std::vector<std::string>& args);
// The same with files limited to `max_file_bytes` (rounded down to 512-byte blocks;
// RLIMIT_FSIZE, SIGXFSZ ignored, so a write past it fails with EFBIG as on a full disk).
CliResult run_cli_with_file_size_limit(const std::vector<std::string>& args,
                                       int64_t max_file_bytes);

std::string read_file(const std::string& path);

// Headless Chromium for the HTML pages' tests, or "" when it is not installed.
std::string find_chromium();

// An HTML page (report_page_html: its status line counts the figures that loaded) as
// headless Chromium showed it.
struct PageLoad {
  bool ran = false;  // Chromium exited 0
  // From the status line once the page loaded; -1 when its script did not run.
  int loaded = -1, total = -1, errors = -1;
  std::string log;         // Chromium's stderr: console messages appear as CONSOLE
  std::string dom;         // the DOM after loading
  std::string screenshot;  // build/test_artifacts/<screenshot_name> ("" if none was written)
};
// Opens the page `html_path` in `chromium`, then saves a 1200×1600 screenshot under
// `screenshot_name` in the build folder's test_artifacts/ for a person to look at.
PageLoad load_page_in_chromium(const std::string& chromium, const std::string& html_path,
                               const std::string& screenshot_name);
// The checks every page test makes: the status script ran, `figures` figures (all of them,
// when negative: the page's own count) loaded without error events or console messages, and
// the screenshot is a page with figures, not a blank one (GoogleTest failures otherwise).
void expect_page_loaded(const PageLoad& page, int figures = -1);
// The src of every <img> of an HTML page, in order.
std::vector<std::string> image_sources(const std::string& html);
void write_file(const std::string& path, const std::string& contents);

}  // namespace nosharing::testing

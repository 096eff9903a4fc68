// Helpers for the data tests: fresh temporary folders and small dataset files written in
// each format. Header-only so it stays out of the library (only *_test.cc include it).
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "nosharing/core/error.h"
#include "tests/test_util.h"

namespace nosharing::testing_files {

// An empty folder unique to the running test.
inline std::string fresh_dir(const std::string& tag = "") {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return testing::make_temp_dir(std::string(info->test_suite_name()) + "_" + info->name() + tag);
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
    gzFile file = gzopen(path.c_str(), "wb");
    ASSERT_NE(file, nullptr) << path;
    ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    gzclose(file);
    return;
  }
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline std::string read_file_bytes_for_test(const std::string& path) {
  return testing::read_file(path);
}

inline void append_be32(std::string& bytes, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    bytes.push_back(static_cast<char>((v >> shift) & 0xff));
}

// IDX images [n, h, w]: pixel (i, y, x) = (i * 7 + y * w + x) mod 256.
inline std::string idx_images(uint32_t n, uint32_t h, uint32_t w, uint32_t magic = 0x803) {
  std::string bytes;
  append_be32(bytes, magic);
  append_be32(bytes, n);
  append_be32(bytes, h);
  append_be32(bytes, w);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t p = 0; p < h * w; ++p) bytes.push_back(static_cast<char>((i * 7 + p) % 256));
  return bytes;
}

inline std::string idx_labels(const std::vector<uint8_t>& labels, uint32_t magic = 0x801) {
  std::string bytes;
  append_be32(bytes, magic);
  append_be32(bytes, static_cast<uint32_t>(labels.size()));
  for (uint8_t l : labels) bytes.push_back(static_cast<char>(l));
  return bytes;
}

// CIFAR records: `label_bytes` label bytes (CIFAR-100: coarse = fine / 5, then fine) and
// 3072 image bytes, pixel k of record i = (i * 3 + k) mod 256.
inline std::string cifar_records(const std::vector<uint8_t>& labels, int label_bytes) {
  std::string bytes;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (label_bytes == 2) bytes.push_back(static_cast<char>(labels[i] / 5));
    bytes.push_back(static_cast<char>(labels[i]));
    for (int k = 0; k < 3072; ++k) bytes.push_back(static_cast<char>((i * 3 + k) % 256));
  }
  return bytes;
}

// A w × h image with `channels` channels, pixel (y, x, c) = (seed + 10 y + 3 x + 50 c) mod 256.
inline std::vector<uint8_t> test_pixels(int w, int h, int channels, int seed) {
  std::vector<uint8_t> pixels(static_cast<size_t>(w * h * channels));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        pixels[static_cast<size_t>((y * w + x) * channels + c)] =
            static_cast<uint8_t>((seed + 10 * y + 3 * x + 50 * c) % 256);
  return pixels;
}

inline void write_png(const std::string& path, int w, int h, int channels, int seed) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::vector<uint8_t> pixels = test_pixels(w, h, channels, seed);
  ASSERT_NE(stbi_write_png(path.c_str(), w, h, channels, pixels.data(), w * channels), 0) << path;
}

inline void write_jpg(const std::string& path, int w, int h, int channels, int seed) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::vector<uint8_t> pixels = test_pixels(w, h, channels, seed);
  ASSERT_NE(stbi_write_jpg(path.c_str(), w, h, channels, pixels.data(), 95), 0) << path;
}

// The message of the `Error` `f` throws; a test failure if it throws nothing or something
// else.
template <typename Error, typename F>
std::string error_of(F&& f, const char* expected) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << expected << ", got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected " << expected << ", nothing thrown";
  return "";
}

template <typename F>
std::string runtime_error_of(F&& f) {
  return error_of<RuntimeError>(std::forward<F>(f), "RuntimeError");
}

template <typename F>
std::string usage_error_of(F&& f) {
  return error_of<UsageError>(std::forward<F>(f), "UsageError");
}

}  // namespace nosharing::testing_files

// Small file helpers shared by every module that writes results.
#pragma once

#include <string>

namespace nosharing {

// Writes `contents` to `path` atomically (a temporary file in the same folder, flushed and
// fsynced, renamed over `path`, then the folder fsynced): readers see the old file or the new
// one, never half of one, even after a power cut. Throws RuntimeError naming the path on
// failure and leaves no temporary behind.
void write_file_atomic(const std::string& path, const std::string& contents);

// Makes a written file, or a rename or creation inside a folder, durable (fsync); a
// RuntimeError naming the path if it cannot be opened or synced.
void sync_file(const std::string& path);
void sync_directory(const std::string& path);

// Reads a whole file; RuntimeError naming the path if it cannot be read.
std::string read_text_file(const std::string& path);

// Appends one line (a '\n' is added) and flushes, so a crash loses at most that line.
void append_line(const std::string& path, const std::string& line);

}  // namespace nosharing

#include "nosharing/train/progress_line.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace nosharing {
namespace progress_line_test {  // named, not anonymous: the tests compile in unity batches

std::string contents(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string out;
  char buffer[256];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) out.append(buffer, n);
  return out;
}

// Not a terminal (a file): plain lines, no carriage returns, spaced by the interval.
TEST(ProgressLineTest, PlainLinesWhenNotATerminal) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  {
    ProgressLine every_time(true, file, 0.25, /*plain_interval=*/0.0);
    every_time.update("step 1");
    every_time.update("step 2");
    every_time.clear();
  }
  {
    ProgressLine rarely(true, file, 0.25, /*plain_interval=*/3600.0);
    rarely.update("step 3");  // within the first interval: not shown
  }
  {
    ProgressLine disabled(false, file, 0.0, 0.0);
    disabled.update("step 4");
  }
  EXPECT_EQ(contents(file), "step 1\nstep 2\n");
  std::fclose(file);
}

}  // namespace progress_line_test
}  // namespace nosharing

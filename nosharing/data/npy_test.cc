#include "nosharing/data/npy.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "nosharing/data/test_files.h"

namespace nosharing {
namespace npy_test {  // named, not anonymous: the tests compile in unity batches

using ::testing::HasSubstr;
using testing_files::runtime_error_of;

// An .npy file built by hand: magic, version, header length (2 bytes for 1.x, 4 otherwise),
// `dict` padded with spaces and '\n' to a multiple of 64, then `data`.
std::string npy_file(int major, const std::string& dict, const std::string& data) {
  const size_t prefix = 8 + (major == 1 ? 2 : 4);
  std::string header = dict;
  const size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header.push_back('\n');
  std::string bytes = "\x93NUMPY";
  bytes.push_back(static_cast<char>(major));
  bytes.push_back('\0');
  for (size_t b = 0; b < prefix - 8; ++b) {
    bytes.push_back(static_cast<char>((header.size() >> (8 * b)) & 0xff));
  }
  return bytes + header + data;
}

// Raw bytes of doubles or floats, little- or big-endian.
template <typename T>
std::string raw(const std::vector<T>& values, bool big_endian = false) {
  std::string bytes;
  for (T v : values) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    if (big_endian) std::reverse(b, b + sizeof(T));
    bytes.append(b, sizeof(T));
  }
  return bytes;
}

std::string dict(const std::string& descr, bool fortran, const std::string& shape) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + shape + ", }";
}

const std::vector<double> kSix = {0.5, -1.0, 2.25, NAN, 4.0, 1e-3};

void expect_2x3(const torch::Tensor& t) {
  ASSERT_EQ(t.dtype(), torch::kDouble);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{2, 3}));
  auto a = t.accessor<double, 2>();
  EXPECT_EQ(a[0][0], 0.5);
  EXPECT_EQ(a[0][1], -1.0);
  EXPECT_EQ(a[0][2], 2.25);
  EXPECT_TRUE(std::isnan(a[1][0]));
  EXPECT_EQ(a[1][1], 4.0);
  EXPECT_FLOAT_EQ(a[1][2], 1e-3);
}

TEST(NpyTest, ReadsVersions1To3) {
  for (int major : {1, 2, 3}) {
    SCOPED_TRACE(major);
    expect_2x3(parse_npy(npy_file(major, dict("<f8", false, "(2, 3)"), raw(kSix)), "m.npy"));
  }
}

TEST(NpyTest, ReadsFloat32AndBigEndian) {
  const std::vector<float> six(kSix.begin(), kSix.end());
  expect_2x3(parse_npy(npy_file(1, dict("<f4", false, "(2, 3)"), raw(six)), "m.npy"));
  expect_2x3(parse_npy(npy_file(1, dict(">f4", false, "(2, 3)"), raw(six, true)), "m.npy"));
  expect_2x3(parse_npy(npy_file(1, dict(">f8", false, "(2, 3)"), raw(kSix, true)), "m.npy"));
}

TEST(NpyTest, FortranOrderIsTransposedToCOrder) {
  // Column-major: a[0][0], a[1][0], a[0][1], a[1][1], a[0][2], a[1][2].
  const std::vector<double> columns = {kSix[0], kSix[3], kSix[1], kSix[4], kSix[2], kSix[5]};
  expect_2x3(parse_npy(npy_file(1, dict("<f8", true, "(2, 3)"), raw(columns)), "m.npy"));
  // Rank 3: element (i, j, k) at i + 2 j + 6 k.
  std::vector<double> values(2 * 3 * 4);
  for (size_t n = 0; n < values.size(); ++n) values[n] = static_cast<double>(n);
  const torch::Tensor t =
      parse_npy(npy_file(1, dict("<f8", true, "(2, 3, 4)"), raw(values)), "m.npy");
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(t[1][2][3].item<double>(), 1 + 2 * 2 + 6 * 3);
  EXPECT_EQ(t[0][1][2].item<double>(), 0 + 2 * 1 + 6 * 2);
}

TEST(NpyTest, HeaderSpellings) {
  // Double quotes, no trailing comma, keys in another order, Python 2 longs.
  const std::string d = "{\"shape\": (2L, 3L), \"fortran_order\": False, \"descr\": \"<f8\"}";
  expect_2x3(parse_npy(npy_file(1, d, raw(kSix)), "m.npy"));
  // Rank 1, rank 0 and an empty array.
  EXPECT_EQ(parse_npy(npy_file(1, dict("<f8", false, "(6,)"), raw(kSix)), "m").sizes(),
            (std::vector<int64_t>{6}));
  const torch::Tensor scalar =
      parse_npy(npy_file(1, dict("<f8", false, "()"), raw(std::vector<double>{7.5})), "m");
  EXPECT_EQ(scalar.dim(), 0);
  EXPECT_EQ(scalar.item<double>(), 7.5);
  EXPECT_EQ(parse_npy(npy_file(1, dict("<f8", false, "(0, 4)"), ""), "m").numel(), 0);
}

TEST(NpyTest, RankIsTheFiles) {
  const std::vector<double> eight(8, 1.0);
  EXPECT_EQ(parse_npy(npy_file(1, dict("<f8", false, "(2, 2, 2)"), raw(eight)), "m").dim(), 3);
}

TEST(NpyTest, BadMagicNamesTheFile) {
  const std::string message =
      runtime_error_of([] { parse_npy("PK\x03\x04 a zip file", "maps/a.npz"); });
  EXPECT_THAT(message, HasSubstr("maps/a.npz"));
  EXPECT_THAT(message, HasSubstr("not a NumPy .npy file"));
  EXPECT_THAT(runtime_error_of([] { parse_npy("", "empty.npy"); }), HasSubstr("empty.npy"));
}

TEST(NpyTest, UnknownVersionIsRefused) {
  const std::string message = runtime_error_of(
      [] { parse_npy(npy_file(4, dict("<f8", false, "(6,)"), raw(kSix)), "m.npy"); });
  EXPECT_THAT(message, HasSubstr("version 4.0; expected 1.0, 2.0 or 3.0"));
}

TEST(NpyTest, TruncatedAndOverlongDataGiveByteCounts) {
  const std::string full = npy_file(1, dict("<f8", false, "(2, 3)"), raw(kSix));
  const std::string message =
      runtime_error_of([&] { parse_npy(full.substr(0, full.size() - 8), "cut.npy"); });
  EXPECT_THAT(message, HasSubstr("cut.npy: truncated"));
  EXPECT_THAT(message, HasSubstr("(2, 3) of '<f8' needs 48 data bytes after the 128-byte header"));
  EXPECT_THAT(message, HasSubstr("the file has 40"));
  EXPECT_THAT(runtime_error_of([&] { parse_npy(full + "xx", "long.npy"); }),
              HasSubstr("long.npy: extra bytes at the end"));
  // A header cut short.
  EXPECT_THAT(runtime_error_of([&] { parse_npy(full.substr(0, 30), "head.npy"); }),
              HasSubstr("head.npy: truncated .npy header: 118 bytes announced, 20 in the file"));
}

TEST(NpyTest, OtherDtypesAreRefusedSayingWhatIsExpected) {
  for (const char* descr : {"<i8", "|u1", "<f2", "<c16", "|b1", "<U3"}) {
    SCOPED_TRACE(descr);
    const std::string message =
        runtime_error_of([&] { parse_npy(npy_file(1, dict(descr, false, "(0,)"), ""), "d.npy"); });
    EXPECT_THAT(message, HasSubstr(std::string("d.npy: dtype '") + descr + "'"));
    EXPECT_THAT(message, HasSubstr("expected float32 or float64"));
  }
  EXPECT_THAT(runtime_error_of([] {
                parse_npy(npy_file(1,
                                   "{'descr': [('a', '<f8')], 'fortran_order': False, "
                                   "'shape': (1,), }",
                                   raw(std::vector<double>{1})),
                          "s.npy");
              }),
              HasSubstr("structured arrays are not read"));
}

TEST(NpyTest, MalformedHeadersAreRefused) {
  EXPECT_THAT(runtime_error_of([] {
                parse_npy(npy_file(1, "{'descr': '<f8', 'fortran_order': False}", ""), "h.npy");
              }),
              HasSubstr("h.npy: .npy header has no 'shape'"));
  EXPECT_THAT(runtime_error_of([] {
                parse_npy(npy_file(1, "{'descr': '<f8', 'fortran_order': 0, 'shape': (1,)}",
                                   raw(std::vector<double>{1})),
                          "h.npy");
              }),
              HasSubstr("unreadable .npy header"));
  EXPECT_THAT(runtime_error_of([] {
                parse_npy(
                    npy_file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}", ""),
                    "h.npy");
              }),
              HasSubstr("non-negative integer"));
}

TEST(NpyTest, WriteThenReadRoundTrips) {
  const std::string dir = testing_files::fresh_dir();
  const std::vector<torch::Tensor> tensors = {
      torch::randn({5, 7}, torch::kDouble),
      torch::randn({3}, torch::kDouble),
      torch::randn({2, 3, 4}, torch::kDouble).transpose(0, 2),
      torch::tensor(2.5, torch::kDouble),
      torch::tensor(std::vector<double>{1.0, NAN, -INFINITY}, torch::kDouble),
      torch::randn({4, 4}, torch::kFloat)};
  for (const torch::Tensor& t : tensors) {
    const std::string bytes = npy_bytes(t);
    const size_t header_length =
        static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    EXPECT_EQ((10 + header_length) % 64, 0u);  // aligned as NumPy writes it
    EXPECT_EQ(bytes[10 + header_length - 1], '\n');
    write_npy(dir + "/t.npy", t);
    const torch::Tensor back = read_npy(dir + "/t.npy");
    ASSERT_EQ(back.sizes(), t.sizes());
    EXPECT_TRUE(
        torch::equal(torch::nan_to_num(back, 99.0), torch::nan_to_num(t.to(torch::kDouble), 99.0)));
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().filename(), "t.npy");  // no temporary left behind
  }
}

TEST(NpyTest, FileErrorsNameTheFile) {
  const std::string dir = testing_files::fresh_dir();
  EXPECT_THAT(runtime_error_of([&] { read_npy(dir + "/missing.npy"); }),
              HasSubstr(dir + "/missing.npy"));
  EXPECT_THAT(runtime_error_of([&] { read_npy(dir); }), HasSubstr("a folder; expected a .npy"));
}

bool have_numpy() { return std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0; }

// Files NumPy wrote (C and Fortran order, float32, big-endian, a large header) read back,
// and NumPy reads ours.
TEST(NpyTest, CompatibleWithNumpy) {
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not installed";
  const std::string dir = testing_files::fresh_dir();
  const std::string script =
      "import numpy as np\n"
      "a = np.arange(12, dtype=np.float64).reshape(3, 4) / 4; a[1, 2] = np.nan\n"
      "np.save('" +
      dir +
      "/c.npy', a)\n"
      "np.save('" +
      dir +
      "/f.npy', np.asfortranarray(a.astype(np.float32)))\n"
      "np.save('" +
      dir +
      "/b.npy', a.astype('>f8'))\n"
      "np.save('" +
      dir +
      "/i.npy', np.arange(3))\n"
      "np.lib.format.write_array(open('" +
      dir + "/v2.npy', 'wb'), a, version=(2, 0))\n";
  testing::write_file(dir + "/make.py", script);
  ASSERT_EQ(std::system(("/usr/bin/python3 " + dir + "/make.py").c_str()), 0);
  const torch::Tensor expected = [] {
    torch::Tensor a = torch::arange(12, torch::kDouble).reshape({3, 4}) / 4;
    a[1][2] = NAN;
    return a;
  }();
  for (const char* name : {"c", "f", "b", "v2"}) {
    SCOPED_TRACE(name);
    const torch::Tensor t = read_npy(dir + "/" + name + ".npy");
    ASSERT_EQ(t.sizes(), expected.sizes());
    EXPECT_TRUE(torch::equal(torch::nan_to_num(t, -7.0), torch::nan_to_num(expected, -7.0)));
  }
  EXPECT_THAT(runtime_error_of([&] { read_npy(dir + "/i.npy"); }), HasSubstr("'<i8' (int64"));

  write_npy(dir + "/ours.npy", expected.transpose(0, 1));
  const std::string check =
      "/usr/bin/python3 -c \"import numpy as np; a = np.load('" + dir +
      "/ours.npy'); b = (np.arange(12.0).reshape(3, 4) / 4).T; b[2, 1] = np.nan; "
      "assert a.dtype == np.float64 and a.shape == (4, 3), a.shape; "
      "assert np.array_equal(a, b, equal_nan=True)\"";
  EXPECT_EQ(std::system(check.c_str()), 0) << check;
}

}  // namespace npy_test
}  // namespace nosharing

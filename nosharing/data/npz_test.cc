#include "nosharing/data/npz.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <string>

#include "nosharing/core/error.h"
#include "nosharing/data/npy.h"

namespace nosharing {
namespace npz_test {  // named, not anonymous: the tests compile in unity batches

uint32_t u32(const std::string& bytes, size_t at) {
  uint32_t value = 0;
  for (int b = 3; b >= 0; --b) value = (value << 8) | static_cast<uint8_t>(bytes[at + b]);
  return value;
}
uint16_t u16(const std::string& bytes, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(bytes[at]) |
                               (static_cast<uint8_t>(bytes[at + 1]) << 8));
}

// One entry as a zip reader finds it through the central directory.
struct Entry {
  std::string name, data;
  uint32_t crc = 0;
};

// Reads the archive the way unzip does: end record → central directory → local headers.
std::vector<Entry> read_stored_zip(const std::string& zip) {
  const size_t end = zip.size() - 22;
  EXPECT_EQ(u32(zip, end), 0x06054b50u);
  const uint16_t count = u16(zip, end + 10);
  size_t central = u32(zip, end + 16);
  EXPECT_EQ(central + u32(zip, end + 12), end);  // the directory ends where the end record starts
  std::vector<Entry> entries;
  for (uint16_t i = 0; i < count; ++i) {
    EXPECT_EQ(u32(zip, central), 0x02014b50u);
    EXPECT_EQ(u16(zip, central + 10), 0);  // stored
    const uint32_t crc = u32(zip, central + 16);
    const uint32_t size = u32(zip, central + 20);
    EXPECT_EQ(u32(zip, central + 24), size);
    const uint16_t name_size = u16(zip, central + 28);
    const uint32_t local = u32(zip, central + 42);
    const std::string name = zip.substr(central + 46, name_size);
    EXPECT_EQ(u32(zip, local), 0x04034b50u);
    EXPECT_EQ(u32(zip, local + 14), crc);
    EXPECT_EQ(zip.substr(local + 30, name_size), name);
    const size_t data_at = local + 30 + name_size + u16(zip, local + 28);
    entries.push_back({name, zip.substr(data_at, size), crc});
    central += 46 + name_size + u16(zip, central + 30) + u16(zip, central + 32);
  }
  return entries;
}

TEST(NpzTest, EntriesAreTheNpyFilesOfTheArraysInOrderWithTheirCrc) {
  const torch::Tensor a = torch::arange(6, torch::kFloat64).reshape({2, 3});
  const torch::Tensor b = torch::tensor({0.5f, -1.0f});
  const torch::Tensor empty = torch::empty({0, 4});
  const std::vector<Entry> entries =
      read_stored_zip(npz_bytes({{"lc1.map", a}, {"b", b}, {"none", empty}}));
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].name, "lc1.map.npy");
  EXPECT_EQ(entries[1].name, "b.npy");
  EXPECT_EQ(entries[2].name, "none.npy");
  EXPECT_EQ(entries[0].data, npy_bytes(a));
  EXPECT_EQ(entries[1].data, npy_bytes(b));
  for (const Entry& entry : entries) {
    EXPECT_EQ(entry.crc, crc32(0L, reinterpret_cast<const Bytef*>(entry.data.data()),
                               static_cast<uInt>(entry.data.size())));
  }
  EXPECT_TRUE(torch::equal(parse_npy(entries[0].data, "a"), a));
  EXPECT_TRUE(torch::equal(parse_npy(entries[1].data, "b"), b.to(torch::kFloat64)));
}

TEST(NpzTest, NoArraysIsAnEmptyArchive) {
  const std::string zip = npz_bytes({});
  EXPECT_EQ(zip.size(), 22u);
  EXPECT_TRUE(read_stored_zip(zip).empty());
}

TEST(NpzTest, EmptyOrRepeatedNamesAreRefusedByName) {
  const torch::Tensor t = torch::zeros({1});
  try {
    npz_bytes({{"x", t}, {"x", t}});
    FAIL() << "a repeated name was accepted";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("'x' is repeated"), std::string::npos) << e.what();
  }
  EXPECT_THROW(npz_bytes({{"", t}}), RuntimeError);
}

TEST(NpzTest, ReadsBackWhatItWrites) {
  const torch::Tensor a = torch::randn({3, 4, 2}, torch::kFloat64);
  const torch::Tensor b = torch::tensor({1.5, -2.0}, torch::kFloat64);
  const NamedArrays arrays = parse_npz(npz_bytes({{"lc1", a}, {"lc2.x", b}}), "t.npz");
  ASSERT_EQ(arrays.size(), 2u);
  EXPECT_EQ(arrays[0].first, "lc1");
  EXPECT_EQ(arrays[1].first, "lc2.x");
  EXPECT_TRUE(torch::equal(arrays[0].second, a));
  EXPECT_TRUE(torch::equal(arrays[1].second, b));
}

// numpy.savez_compressed deflates its entries: the same archive with entry 0 deflated (raw
// deflate, zip method 8) by zlib reads back the same.
TEST(NpzTest, ReadsDeflatedEntries) {
  const torch::Tensor a = torch::arange(100, torch::kFloat64);
  const std::string npy = npy_bytes(a);
  std::string packed(compressBound(static_cast<uLong>(npy.size())) + 64, '\0');
  z_stream stream{};
  ASSERT_EQ(deflateInit2(&stream, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(npy.data()));
  stream.avail_in = static_cast<uInt>(npy.size());
  stream.next_out = reinterpret_cast<Bytef*>(packed.data());
  stream.avail_out = static_cast<uInt>(packed.size());
  ASSERT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  packed.resize(stream.total_out);
  deflateEnd(&stream);
  // Rebuild the one-entry archive around the deflated bytes: method 8, compressed size.
  const std::string stored = npz_bytes({{"a", a}});
  const std::string name = "a.npy";
  std::string zip = stored.substr(0, 30 + name.size()) + packed;
  const auto set16 = [](std::string& z, size_t at, uint16_t v) {
    z[at] = static_cast<char>(v & 0xff);
    z[at + 1] = static_cast<char>(v >> 8);
  };
  const auto set32 = [&](std::string& z, size_t at, uint32_t v) {
    set16(z, at, static_cast<uint16_t>(v & 0xffff));
    set16(z, at + 2, static_cast<uint16_t>(v >> 16));
  };
  set16(zip, 8, 8);  // local header: method
  set32(zip, 18, static_cast<uint32_t>(packed.size()));
  const size_t central = zip.size();
  zip += stored.substr(30 + name.size() + npy.size());  // central directory and end record
  set16(zip, central + 10, 8);
  set32(zip, central + 20, static_cast<uint32_t>(packed.size()));
  set32(zip, zip.size() - 6, static_cast<uint32_t>(central));  // directory offset
  ASSERT_LT(packed.size(), npy.size());
  const NamedArrays arrays = parse_npz(zip, "compressed.npz");
  ASSERT_EQ(arrays.size(), 1u);
  EXPECT_TRUE(torch::equal(arrays[0].second, a));
}

TEST(NpzTest, CorruptArchivesAreRefusedNamingFileAndEntry) {
  const std::string good = npz_bytes({{"a", torch::ones({4})}});
  std::string flipped = good;
  flipped[30 + 5 + 80] ^= 0x01;  // a byte of the array's data: the CRC no longer matches
  const auto message = [](const std::string& bytes) {
    try {
      parse_npz(bytes, "maps.npz");
    } catch (const RuntimeError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(flipped).find("maps.npz:a.npy: CRC-32 mismatch"), std::string::npos)
      << message(flipped);
  EXPECT_NE(message(good.substr(0, good.size() / 2)).find("maps.npz: not an .npz"),
            std::string::npos);
  EXPECT_NE(message("hello").find("maps.npz: not an .npz (zip) file"), std::string::npos);
}

}  // namespace npz_test
}  // namespace nosharing

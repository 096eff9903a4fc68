#include "nosharing/data/npz.h"

#include <zlib.h>

#include <cstdint>
#include <limits>
#include <set>

#include "nosharing/core/error.h"
#include "nosharing/core/files.h"
#include "nosharing/data/binary_file.h"
#include "nosharing/data/npy.h"

namespace nosharing {
namespace npz_internal {  // named, not anonymous: the library compiles in unity batches

// Zip record signatures and fields (PKWARE APPNOTE 6.3, sections 4.3.7, 4.3.12, 4.3.16).
constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndOfCentralDirectory = 0x06054b50;
constexpr uint16_t kVersion = 20;        // 2.0: what a stored entry needs
constexpr uint16_t kDosDate = 0x0021;    // 1980-01-01: no clock in the file, so runs compare equal
constexpr uint64_t kZipLimit = std::numeric_limits<uint32_t>::max();

uint16_t get16(const std::string& in, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(in[at]) |
                               (static_cast<uint8_t>(in[at + 1]) << 8));
}
uint32_t get32(const std::string& in, size_t at) {
  return static_cast<uint32_t>(get16(in, at)) | (static_cast<uint32_t>(get16(in, at + 2)) << 16);
}

// Raw deflate (zip method 8) of `size` bytes into exactly `expected` bytes.
std::string inflate_raw(const char* data, size_t size, size_t expected, const std::string& where) {
  std::string out(expected, '\0');
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) throw_runtime("{}: zlib inflateInit2 failed", where);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  stream.avail_in = static_cast<uInt>(size);
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(expected);
  const int status = inflate(&stream, Z_FINISH);
  const size_t produced = stream.total_out;
  inflateEnd(&stream);
  if (status != Z_STREAM_END || produced != expected) {
    throw_runtime("{}: corrupt deflate data ({} of {} bytes inflated)", where, produced, expected);
  }
  return out;
}

void put16(std::string& out, uint16_t value) {
  out.push_back(static_cast<char>(value & 0xff));
  out.push_back(static_cast<char>(value >> 8));
}
void put32(std::string& out, uint32_t value) {
  for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>((value >> (8 * b)) & 0xff));
}

// The fields a local and a central header share, from "version needed" to the extra length.
void put_entry_fields(std::string& out, uint32_t crc, uint32_t size, uint16_t name_size) {
  put16(out, kVersion);  // version needed to extract
  put16(out, 0);         // flags
  put16(out, 0);         // method: stored
  put16(out, 0);         // time
  put16(out, kDosDate);  // date
  put32(out, crc);
  put32(out, size);  // compressed size
  put32(out, size);  // uncompressed size
  put16(out, name_size);
  put16(out, 0);  // extra field length
}

}  // namespace npz_internal

std::string npz_bytes(const NamedArrays& arrays) {
  using namespace npz_internal;
  std::string archive;
  std::string central;
  std::set<std::string> seen;
  for (const auto& [name, tensor] : arrays) {
    if (name.empty() || !seen.insert(name).second) {
      throw_runtime("npz: array name '{}' is {}", name, name.empty() ? "empty" : "repeated");
    }
    const std::string entry = name + ".npy";
    const std::string data = npy_bytes(tensor);
    if (data.size() >= kZipLimit || archive.size() >= kZipLimit || entry.size() > 0xffff) {
      throw_runtime("npz: array '{}' ({} bytes) does not fit a zip without zip64 (4 GiB)", name,
                    data.size());
    }
    const uint32_t crc = static_cast<uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
    const uint32_t offset = static_cast<uint32_t>(archive.size());
    const auto size = static_cast<uint32_t>(data.size());
    const auto name_size = static_cast<uint16_t>(entry.size());

    put32(archive, kLocalHeader);
    put_entry_fields(archive, crc, size, name_size);
    archive += entry;
    archive += data;

    put32(central, kCentralHeader);
    put16(central, kVersion);  // version made by
    put_entry_fields(central, crc, size, name_size);
    put16(central, 0);  // comment length
    put16(central, 0);  // disk number start
    put16(central, 0);  // internal attributes
    put32(central, 0);  // external attributes
    put32(central, offset);
    central += entry;
  }
  if (archive.size() + central.size() >= kZipLimit || arrays.size() > 0xffff) {
    throw_runtime("npz: {} arrays, {} bytes do not fit a zip without zip64 (4 GiB, 65535 entries)",
                  arrays.size(), archive.size() + central.size());
  }
  const auto central_offset = static_cast<uint32_t>(archive.size());
  const auto central_size = static_cast<uint32_t>(central.size());
  archive += central;
  put32(archive, kEndOfCentralDirectory);
  put16(archive, 0);  // this disk
  put16(archive, 0);  // disk with the central directory
  put16(archive, static_cast<uint16_t>(arrays.size()));
  put16(archive, static_cast<uint16_t>(arrays.size()));
  put32(archive, central_size);
  put32(archive, central_offset);
  put16(archive, 0);  // comment length
  return archive;
}

void write_npz(const std::string& path, const NamedArrays& arrays) {
  write_file_atomic(path, npz_bytes(arrays));
}

NamedArrays parse_npz(const std::string& bytes, const std::string& name) {
  using namespace npz_internal;
  // The end record: 22 bytes plus a comment of up to 65535, found from the end.
  if (bytes.size() < 22) throw_runtime("{}: not an .npz (zip) file: {} bytes", name, bytes.size());
  size_t end = bytes.size() - 22;
  const size_t lowest = bytes.size() > 22 + 0xffff ? bytes.size() - 22 - 0xffff : 0;
  while (get32(bytes, end) != kEndOfCentralDirectory) {
    if (end == lowest) throw_runtime("{}: not an .npz (zip) file: no end of central directory", name);
    --end;
  }
  const uint16_t count = get16(bytes, end + 10);
  const uint32_t central_size = get32(bytes, end + 12);
  size_t at = get32(bytes, end + 16);
  if (count == 0xffff || at == 0xffffffffu || central_size == 0xffffffffu) {
    throw_runtime("{}: zip64 archives are not read", name);
  }
  if (static_cast<uint64_t>(at) + central_size > end) {
    throw_runtime("{}: truncated or corrupt zip: central directory at {} + {} beyond {}", name, at,
                  central_size, end);
  }
  NamedArrays arrays;
  for (uint16_t i = 0; i < count; ++i) {
    if (at + 46 > end || get32(bytes, at) != kCentralHeader) {
      throw_runtime("{}: corrupt zip: central directory entry {} not found", name, i);
    }
    const uint16_t flags = get16(bytes, at + 8);
    const uint16_t method = get16(bytes, at + 10);
    const uint32_t crc = get32(bytes, at + 16);
    const uint32_t packed = get32(bytes, at + 20);
    const uint32_t size = get32(bytes, at + 24);
    const uint16_t name_size = get16(bytes, at + 28);
    const size_t skip = 46u + name_size + get16(bytes, at + 30) + get16(bytes, at + 32);
    const uint32_t local = get32(bytes, at + 42);
    if (at + skip > end) throw_runtime("{}: corrupt zip: entry {} runs past the directory", name, i);
    const std::string entry = bytes.substr(at + 46, name_size);
    const std::string where = name + ":" + entry;
    if (flags & 1u) throw_runtime("{}: encrypted entries are not read", where);
    if (method != 0 && method != 8) {
      throw_runtime("{}: compression method {} (expected 0, stored, or 8, deflate)", where, method);
    }
    if (entry.size() < 5 || entry.compare(entry.size() - 4, 4, ".npy") != 0) {
      throw_runtime("{}: not an .npy entry", where);
    }
    if (static_cast<uint64_t>(local) + 30 > bytes.size() || get32(bytes, local) != kLocalHeader) {
      throw_runtime("{}: corrupt zip: local header not found at {}", where, local);
    }
    const size_t data_at = local + 30u + get16(bytes, local + 26) + get16(bytes, local + 28);
    if (static_cast<uint64_t>(data_at) + packed > bytes.size()) {
      throw_runtime("{}: truncated: {} bytes of data expected at {}", where, packed, data_at);
    }
    std::string data = method == 0 ? bytes.substr(data_at, packed)
                                   : inflate_raw(bytes.data() + data_at, packed, size, where);
    if (data.size() != size) throw_runtime("{}: {} bytes stored, {} declared", where, data.size(), size);
    const uint32_t actual = static_cast<uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
    if (actual != crc) throw_runtime("{}: CRC-32 mismatch (corrupt file)", where);
    arrays.emplace_back(entry.substr(0, entry.size() - 4), parse_npy(data, where));
    at += skip;
  }
  return arrays;
}

NamedArrays read_npz(const std::string& path) { return parse_npz(read_binary_file(path), path); }

}  // namespace nosharing

#include "nosharing/data/npy.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <vector>

#include "nosharing/core/error.h"
#include "nosharing/core/files.h"
#include "nosharing/data/binary_file.h"

namespace nosharing {
namespace npy_internal {  // named, not anonymous: the library compiles in unity batches

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr const char* kExpectedDtypes = "float32 or float64 ('<f4', '<f8', '>f4', '>f8')";

// A value of the header dict: a string, a bool (True/False) or a tuple of integers.
struct HeaderValue {
  enum class Kind { kString, kBool, kShape } kind = Kind::kString;
  std::string text;
  bool flag = false;
  std::vector<int64_t> shape;
};

// The Python literal NumPy writes as the header: {'key': value, ...} with string, True/False
// and tuple-of-integer values. Anything else is an error naming what was found.
class HeaderParser {
 public:
  explicit HeaderParser(const std::string& text) : text_(text) {}

  std::map<std::string, HeaderValue> parse_dict() {
    std::map<std::string, HeaderValue> dict;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string();
      expect(':');
      dict[key] = parse_value();
      skip_space();
      if (peek() == ',') {
        ++at_;
        continue;
      }
      if (peek() != '}') fail("',' or '}'");
    }
    ++at_;
    skip_space();
    if (at_ != text_.size()) fail("the end of the header after '}'");
    return dict;
  }

 private:
  char peek() const { return at_ < text_.size() ? text_[at_] : '\0'; }
  void skip_space() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }
  [[noreturn]] void fail(const std::string& expected) const {
    throw RuntimeError(fmt::format("expected {} at character {}", expected, at_));
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(fmt::format("'{}'", c));
    ++at_;
  }

  std::string parse_string() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("a quoted string");
    const size_t end = text_.find(quote, at_ + 1);
    if (end == std::string::npos) fail("a closing quote");
    std::string s = text_.substr(at_ + 1, end - at_ - 1);
    at_ = end + 1;
    return s;
  }

  int64_t parse_integer() {
    skip_space();
    const size_t start = at_;
    while (std::isdigit(static_cast<unsigned char>(peek()))) ++at_;
    if (at_ == start) fail("a non-negative integer");
    if (at_ - start > 18) fail("a dimension below 10^18");
    const int64_t value = std::stoll(text_.substr(start, at_ - start));
    if (peek() == 'L') ++at_;  // Python 2 longs in old files
    return value;
  }

  HeaderValue parse_value() {
    skip_space();
    HeaderValue v;
    const char c = peek();
    if (c == '\'' || c == '"') {
      v.kind = HeaderValue::Kind::kString;
      v.text = parse_string();
    } else if (text_.compare(at_, 4, "True") == 0 || text_.compare(at_, 5, "False") == 0) {
      v.kind = HeaderValue::Kind::kBool;
      v.flag = text_[at_] == 'T';
      at_ += v.flag ? 4 : 5;
    } else if (c == '(') {
      v.kind = HeaderValue::Kind::kShape;
      ++at_;
      while (true) {
        skip_space();
        if (peek() == ')') break;
        v.shape.push_back(parse_integer());
        skip_space();
        if (peek() == ',') {
          ++at_;
        } else if (peek() != ')') {
          fail("',' or ')' in the shape");
        }
      }
      ++at_;
    } else if (c == '[') {
      fail("a dtype string, not a list (structured arrays are not read)");
    } else {
      fail("a string, True, False or a tuple");
    }
    return v;
  }

  const std::string& text_;
  size_t at_ = 0;
};

std::string shape_text(const std::vector<int64_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

// What a refused dtype is, in words, for the message.
std::string dtype_words(const std::string& descr) {
  if (descr.size() < 2) return "unknown";
  const char kind = descr[1];
  const std::string size = descr.substr(2);
  int bits = 0;
  try {
    bits = 8 * std::stoi(size);
  } catch (const std::exception&) {
  }
  switch (kind) {
    case 'f':
      return fmt::format("float{}", bits);
    case 'i':
      return fmt::format("int{}: integers cannot hold NaN for a missing unit", bits);
    case 'u':
      return fmt::format("uint{}: integers cannot hold NaN for a missing unit", bits);
    case 'b':
      return "bool";
    case 'c':
      return fmt::format("complex{}", bits);
    case 'U':
    case 'S':
      return "strings";
    case 'O':
      return "Python objects";
    default:
      return "not a float";
  }
}

struct Dtype {
  int itemsize = 8;
  bool big_endian = false;
};

Dtype parse_dtype(const std::string& descr, const std::string& name) {
  if (descr == "<f8" || descr == ">f8" || descr == "<f4" || descr == ">f4") {
    return {descr[2] == '8' ? 8 : 4, descr[0] == '>'};
  }
  throw_runtime("{}: dtype '{}' ({}); expected {}", name, descr, dtype_words(descr),
                kExpectedDtypes);
}

double decode(const unsigned char* p, const Dtype& dtype) {
  uint64_t bits = 0;
  for (int b = 0; b < dtype.itemsize; ++b) {
    const int shift = 8 * (dtype.big_endian ? dtype.itemsize - 1 - b : b);
    bits |= static_cast<uint64_t>(p[b]) << shift;
  }
  if (dtype.itemsize == 8) {
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  const uint32_t bits32 = static_cast<uint32_t>(bits);
  float f;
  std::memcpy(&f, &bits32, 4);
  return static_cast<double>(f);
}

struct Header {
  size_t data_offset = 0;
  Dtype dtype;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  std::string descr;
};

Header parse_header(const std::string& bytes, const std::string& name) {
  if (bytes.size() < kMagicSize + 2 || bytes.compare(0, kMagicSize, kMagic, kMagicSize) != 0) {
    throw_runtime("{}: not a NumPy .npy file (it does not start with \"\\x93NUMPY\")", name);
  }
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  const int major = u[6], minor = u[7];
  if (major < 1 || major > 3 || minor != 0) {
    throw_runtime("{}: .npy format version {}.{}; expected 1.0, 2.0 or 3.0", name, major, minor);
  }
  const size_t length_bytes = major == 1 ? 2 : 4;
  const size_t prefix = kMagicSize + 2 + length_bytes;
  if (bytes.size() < prefix) {
    throw_runtime("{}: truncated .npy file: {} bytes, shorter than the {}-byte preamble", name,
                  bytes.size(), prefix);
  }
  size_t header_length = 0;
  for (size_t b = 0; b < length_bytes; ++b) header_length |= size_t{u[8 + b]} << (8 * b);
  if (bytes.size() < prefix + header_length) {
    throw_runtime("{}: truncated .npy header: {} bytes announced, {} in the file", name,
                  header_length, bytes.size() - prefix);
  }
  const std::string text = bytes.substr(prefix, header_length);
  std::map<std::string, HeaderValue> dict;
  try {
    dict = HeaderParser(text).parse_dict();
  } catch (const RuntimeError& e) {
    throw_runtime("{}: unreadable .npy header ({}): {}", name, e.what(),
                  text.substr(0, text.find_last_not_of(" \n") + 1).substr(0, 200));
  }
  auto get = [&](const char* key, HeaderValue::Kind kind, const char* what) -> const HeaderValue& {
    const auto it = dict.find(key);
    if (it == dict.end() || it->second.kind != kind) {
      throw_runtime("{}: .npy header {} '{}'; expected {} ('descr', 'fortran_order', 'shape')",
                    name, it == dict.end() ? "has no" : "has a malformed", key, what);
    }
    return it->second;
  };
  Header header;
  header.data_offset = prefix + header_length;
  header.descr = get("descr", HeaderValue::Kind::kString, "a dtype string").text;
  header.fortran_order = get("fortran_order", HeaderValue::Kind::kBool, "True or False").flag;
  header.shape = get("shape", HeaderValue::Kind::kShape, "a tuple of integers").shape;
  header.dtype = parse_dtype(header.descr, name);
  return header;
}

}  // namespace npy_internal

torch::Tensor parse_npy(const std::string& bytes, const std::string& name) {
  using namespace npy_internal;
  const Header header = parse_header(bytes, name);
  // Element count and byte count, refusing sizes that overflow.
  uint64_t count = 1;
  for (int64_t d : header.shape) {
    if (d != 0 && count > (uint64_t{1} << 60) / static_cast<uint64_t>(d)) {
      throw_runtime("{}: shape {} is too large", name, shape_text(header.shape));
    }
    count *= static_cast<uint64_t>(d);
  }
  const uint64_t needed = count * static_cast<uint64_t>(header.dtype.itemsize);
  const uint64_t present = bytes.size() - header.data_offset;
  if (present != needed) {
    throw_runtime(
        "{}: {}: shape {} of '{}' needs {} data bytes after the {}-byte header; the "
        "file has {}",
        name, present < needed ? "truncated" : "extra bytes at the end", shape_text(header.shape),
        header.descr, needed, header.data_offset, present);
  }
  std::vector<int64_t> sizes = header.shape;
  if (header.fortran_order) sizes.assign(header.shape.rbegin(), header.shape.rend());
  at::Tensor out = at::empty(sizes, at::TensorOptions().dtype(at::kDouble));
  double* dst = out.data_ptr<double>();
  const auto* src = reinterpret_cast<const unsigned char*>(bytes.data() + header.data_offset);
  for (uint64_t i = 0; i < count; ++i)
    dst[i] = decode(src + i * header.dtype.itemsize, header.dtype);
  if (header.fortran_order && out.dim() > 1) {
    std::vector<int64_t> reversed(static_cast<size_t>(out.dim()));
    for (int64_t d = 0; d < out.dim(); ++d) reversed[static_cast<size_t>(d)] = out.dim() - 1 - d;
    out = out.permute(reversed).contiguous();
  }
  return out;
}

torch::Tensor read_npy(const std::string& path) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
    throw_runtime("{}: expected a plain .npy file, not a gzip file", path);
  }
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw_runtime("{}: a folder; expected a .npy file", path);
  }
  return parse_npy(read_binary_file(path), path);
}

std::string npy_bytes(const torch::Tensor& tensor) {
  using namespace npy_internal;
  const at::Tensor t = tensor.detach().to(at::kCPU, at::kDouble).contiguous();
  const std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
  std::string dict =
      fmt::format("{{'descr': '<f8', 'fortran_order': False, 'shape': {}, }}", shape_text(shape));
  // Magic, version, length, dict, spaces and '\n' to a multiple of 64 bytes.
  const bool v2 = dict.size() + 1 + 63 + kMagicSize + 4 > 65535;  // v1's length is 16-bit
  const size_t prefix = kMagicSize + 2 + (v2 ? 4 : 2);
  const size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string bytes(kMagic, kMagicSize);
  bytes.push_back(static_cast<char>(v2 ? 2 : 1));
  bytes.push_back('\0');
  for (size_t b = 0; b < (v2 ? 4u : 2u); ++b) {
    bytes.push_back(static_cast<char>((dict.size() >> (8 * b)) & 0xff));
  }
  bytes += dict;
  const double* values = t.data_ptr<double>();
  bytes.reserve(bytes.size() + 8 * static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    uint64_t bits;
    std::memcpy(&bits, &values[i], 8);
    for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<char>((bits >> (8 * b)) & 0xff));
  }
  return bytes;
}

void write_npy(const std::string& path, const torch::Tensor& tensor) {
  write_file_atomic(path, npy_bytes(tensor));
}

}  // namespace nosharing

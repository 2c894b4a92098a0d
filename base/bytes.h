// Little-endian byte writer and bounds-checked reader for binary containers (.tpu). Every
// multi-byte value is assembled byte by byte, so the encoding never depends on the host's
// endianness or struct layout, and every read is checked against the bytes that remain.
#pragma once
#include <fmt/format.h>

#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace tpusim {

class ByteWriter {
 public:
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { put_le(v, 2); }
  void u32(uint32_t v) { put_le(v, 4); }
  void u64(uint64_t v) { put_le(v, 8); }
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  void f32(float v) { u32(std::bit_cast<uint32_t>(v)); }  // IEEE-754 binary32 bit pattern
  void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  // u32 record count.
  void count(size_t n) {
    if (n > UINT32_MAX) throw Error(fmt::format("{} records are too many to encode", n));
    u32(static_cast<uint32_t>(n));
  }
  // u32 length, then the bytes.
  void str(std::string_view s) {
    if (s.size() > UINT32_MAX) throw Error("string too long to encode");
    u32(static_cast<uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void pad_to(size_t align) {
    while (out_.size() % align) out_.push_back(0);
  }
  size_t size() const { return out_.size(); }
  std::vector<uint8_t>& buffer() { return out_; }

 private:
  void put_le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> out_;
};

// Patch or read a little-endian value at a fixed offset (header fields); the caller checks bounds.
inline void put_le_at(std::vector<uint8_t>& b, size_t at, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint64_t get_le_at(std::span<const uint8_t> b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{b[at + i]} << (8 * i);
  return v;
}

// Reads the window [begin, end) of a file. Errors are one line:
// "<where>: <item>: <what> at offset N" with N the absolute file offset.
class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> file, size_t begin, size_t end, std::string where)
      : file_(file), pos_(begin), end_(end), where_(std::move(where)) {}

  // Names the record being read ("tensor 3") in later messages; "" for none.
  void item(std::string name) { item_ = std::move(name); }

  uint8_t u8(std::string_view what) { return static_cast<uint8_t>(take(1, what)); }
  uint16_t u16(std::string_view what) { return static_cast<uint16_t>(take(2, what)); }
  uint32_t u32(std::string_view what) { return static_cast<uint32_t>(take(4, what)); }
  uint64_t u64(std::string_view what) { return take(8, what); }
  int32_t i32(std::string_view what) { return static_cast<int32_t>(u32(what)); }
  float f32(std::string_view what) { return std::bit_cast<float>(u32(what)); }

  std::span<const uint8_t> bytes(uint64_t n, std::string_view what) {
    need(n, what);
    last_ = pos_;
    auto s = file_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  std::string str(std::string_view what, size_t max_len) {
    const uint32_t len = u32(what);
    if (len > max_len) fail_last(fmt::format("{} length {} exceeds the limit of {}", what, len, max_len));
    auto b = bytes(len, what);
    return std::string(b.begin(), b.end());
  }

  // Before allocating for `count` records of at least `min_bytes` each, check they can fit: a
  // hostile count must fail here, not in the allocator.
  void expect_records(uint64_t count, size_t min_bytes, std::string_view what) {
    if (count > remaining() / min_bytes)
      fail(fmt::format("{} {} cannot fit in the {} bytes left", count, what, remaining()));
  }
  void expect_end() {
    if (pos_ != end_) fail(fmt::format("{} unexpected bytes after the last record", remaining()));
  }

  // The unread bytes, for sub-decoders that report how much they consumed (then skip()).
  std::span<const uint8_t> rest() const { return file_.subspan(pos_, remaining()); }
  void skip(size_t n, std::string_view what) {
    need(n, what);
    pos_ += n;
  }

  size_t offset() const { return pos_; }
  size_t remaining() const { return end_ - pos_; }

  [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }
  // At the start of the value just read (its content, not its presence, is wrong).
  [[noreturn]] void fail_last(const std::string& what) const { fail_at(last_, what); }
  [[noreturn]] void fail_at(size_t at, const std::string& what) const {
    throw Error(fmt::format("{}: {}{}{} at offset {}", where_, item_, item_.empty() ? "" : ": ", what, at));
  }

 private:
  void need(uint64_t n, std::string_view what) const {
    if (n > remaining()) fail(fmt::format("{}: truncated (needs {} bytes, {} left)", what, n, remaining()));
  }
  uint64_t take(int n, std::string_view what) {
    need(static_cast<uint64_t>(n), what);
    const uint64_t v = get_le_at(file_, pos_, n);
    last_ = pos_;
    pos_ += static_cast<size_t>(n);
    return v;
  }

  std::span<const uint8_t> file_;
  size_t pos_, end_, last_ = 0;
  std::string where_, item_;
};

}  // namespace tpusim

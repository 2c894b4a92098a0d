#include "base/npz.h"

#include <fmt/format.h>
#include <zlib.h>

#include <set>

#include "base/error.h"
#include "base/file_io.h"
#include "base/printable.h"

namespace tpusim {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;
constexpr uint16_t kDosDate1980 = 0x21;  // 1980-01-01: fixed, so equal inputs give equal bytes

void put16(std::vector<uint8_t>& o, uint32_t v) {
  o.push_back(static_cast<uint8_t>(v));
  o.push_back(static_cast<uint8_t>(v >> 8));
}
void put32(std::vector<uint8_t>& o, uint32_t v) {
  put16(o, v & 0xFFFF);
  put16(o, v >> 16);
}

uint32_t crc_of(std::span<const uint8_t> b) {
  uLong c = crc32(0L, Z_NULL, 0);
  size_t done = 0;
  while (done < b.size()) {  // crc32 takes a uInt length
    const size_t n = std::min<size_t>(b.size() - done, 1u << 30);
    c = crc32(c, b.data() + done, static_cast<uInt>(n));
    done += n;
  }
  return static_cast<uint32_t>(c);
}

void check_name(const std::string& n) {
  bool bad = n.empty() || n.find("..") != std::string::npos;
  for (unsigned char ch : n) bad = bad || ch < 0x20 || ch == '/' || ch == '\\';
  if (bad) throw Error(fmt::format("npz member name '{}' is empty or unsafe", printable(n)));
}

// Bounds-checked little-endian reader over the archive.
struct Reader {
  std::span<const uint8_t> b;
  const std::string& source;
  void need(uint64_t off, uint64_t n, const char* what) const {
    if (off > b.size() || n > b.size() - off)
      throw Error(fmt::format("{}: truncated .npz ({})", source, what));
  }
  uint64_t le(uint64_t off, int n, const char* what) const {
    need(off, static_cast<uint64_t>(n), what);
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t{b[off + i]} << (8 * i);
    return v;
  }
};

constexpr uint64_t kMaxInflated = (uint64_t{1} << 32) - 1;  // one deflated member, bytes

std::vector<uint8_t> inflate_raw(std::span<const uint8_t> in, uint64_t out_size, const std::string& where) {
  std::vector<uint8_t> out(out_size);
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw Error(where + ": zlib init failed");
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  const uint64_t produced = z.total_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END || produced != out_size) throw Error(where + ": corrupt deflate data");
  return out;
}

}  // namespace

std::vector<uint8_t> encode_npz(std::span<const NpzMember> members) {
  std::vector<uint8_t> out, central;
  std::set<std::string> seen;
  for (const NpzMember& m : members) {
    check_name(m.name);
    if (!seen.insert(m.name).second) throw Error(fmt::format("npz member name '{}' is duplicated", m.name));
    const std::string fname = m.name + ".npy";
    const std::vector<uint8_t> data = encode_npy(m.array);
    if (data.size() >= 0xFFFFFFFFu || out.size() >= 0xFFFFFFFFu - data.size() - 1024)
      throw Error(fmt::format("npz member '{}' does not fit a 4 GiB zip archive", m.name));
    const uint32_t crc = crc_of(data);
    const auto offset = static_cast<uint32_t>(out.size());
    auto header = [&](std::vector<uint8_t>& o, bool is_central) {
      put32(o, is_central ? kCentralSig : kLocalSig);
      if (is_central) put16(o, 20);  // version made by
      put16(o, 20);                  // version needed
      put16(o, 0);                   // flags
      put16(o, 0);                   // method: stored
      put16(o, 0);                   // time
      put16(o, kDosDate1980);
      put32(o, crc);
      put32(o, static_cast<uint32_t>(data.size()));
      put32(o, static_cast<uint32_t>(data.size()));
      put16(o, static_cast<uint32_t>(fname.size()));
      put16(o, 0);  // extra length
      if (is_central) {
        put16(o, 0);  // comment length
        put16(o, 0);  // disk
        put16(o, 0);  // internal attributes
        put32(o, 0);  // external attributes
        put32(o, offset);
      }
      o.insert(o.end(), fname.begin(), fname.end());
    };
    header(out, false);
    out.insert(out.end(), data.begin(), data.end());
    header(central, true);
  }
  if (members.size() > 0xFFFF) throw Error("npz archive has more than 65535 members");
  const auto cd_offset = static_cast<uint32_t>(out.size());
  out.insert(out.end(), central.begin(), central.end());
  put32(out, kEndSig);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<uint32_t>(members.size()));
  put16(out, static_cast<uint32_t>(members.size()));
  put32(out, static_cast<uint32_t>(central.size()));
  put32(out, cd_offset);
  put16(out, 0);  // comment length
  return out;
}

void save_npz(std::span<const NpzMember> members, const std::string& path) {
  std::vector<uint8_t> bytes;
  try {
    bytes = encode_npz(members);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", path, e.what()));
  }
  write_file_atomic(path, bytes);
}

std::vector<NpzMember> parse_npz(std::span<const uint8_t> bytes, const std::string& source) {
  const Reader r{bytes, source};
  if (bytes.size() < 22 || r.le(0, 4, "header") != kLocalSig) {
    if (bytes.size() >= 4 && r.le(0, 4, "header") == kEndSig) return {};  // an empty archive
    throw Error(fmt::format("{}: not a .npz file (no zip header)", source));
  }
  // End of central directory: the last signature within the final 64 KiB + 22 bytes.
  uint64_t eocd = bytes.size() - 22;
  const uint64_t lowest = bytes.size() > 22 + 0xFFFF ? bytes.size() - 22 - 0xFFFF : 0;
  while (r.le(eocd, 4, "end record") != kEndSig) {
    if (eocd == lowest) throw Error(fmt::format("{}: truncated .npz (no end of central directory)", source));
    --eocd;
  }
  uint64_t entries = r.le(eocd + 10, 2, "end record");
  uint64_t cd_offset = r.le(eocd + 16, 4, "end record");
  if ((entries == 0xFFFF || cd_offset == 0xFFFFFFFF) && eocd >= 20 &&
      r.le(eocd - 20, 4, "zip64") == kZip64LocatorSig) {
    const uint64_t z64 = r.le(eocd - 20 + 8, 8, "zip64 locator");
    if (r.le(z64, 4, "zip64 end record") != kZip64EndSig)
      throw Error(fmt::format("{}: bad zip64 end record", source));
    entries = r.le(z64 + 32, 8, "zip64 end record");
    cd_offset = r.le(z64 + 48, 8, "zip64 end record");
  }
  std::vector<NpzMember> out;
  std::set<std::string> seen;
  uint64_t p = cd_offset;
  for (uint64_t i = 0; i < entries; ++i) {
    if (r.le(p, 4, "central directory") != kCentralSig)
      throw Error(fmt::format("{}: corrupt .npz central directory (entry {})", source, i));
    const uint64_t method = r.le(p + 10, 2, "central directory");
    const auto crc = static_cast<uint32_t>(r.le(p + 16, 4, "central directory"));
    uint64_t csize = r.le(p + 20, 4, "central directory"), usize = r.le(p + 24, 4, "central directory");
    const uint64_t name_len = r.le(p + 28, 2, "central directory"),
                   extra_len = r.le(p + 30, 2, "central directory");
    const uint64_t comment_len = r.le(p + 32, 2, "central directory");
    uint64_t local = r.le(p + 42, 4, "central directory");
    r.need(p + 46, name_len + extra_len, "central directory");
    const std::string fname(bytes.begin() + static_cast<std::ptrdiff_t>(p + 46),
                            bytes.begin() + static_cast<std::ptrdiff_t>(p + 46 + name_len));
    for (uint64_t e = p + 46 + name_len; e + 4 <= p + 46 + name_len + extra_len;) {  // zip64 sizes/offset
      const uint64_t id = r.le(e, 2, "extra field"), len = r.le(e + 2, 2, "extra field");
      if (id == 0x0001) {
        uint64_t q = e + 4;
        if (usize == 0xFFFFFFFF) usize = r.le(q, 8, "zip64 extra"), q += 8;
        if (csize == 0xFFFFFFFF) csize = r.le(q, 8, "zip64 extra"), q += 8;
        if (local == 0xFFFFFFFF) local = r.le(q, 8, "zip64 extra");
      }
      e += 4 + len;
    }
    p += 46 + name_len + extra_len + comment_len;
    if (printable(fname, fname.size()) != fname)  // names reach one-line messages (infer's input binding)
      throw Error(fmt::format("{}: member '{}': name contains control characters", source, printable(fname)));
    const std::string where = fmt::format("{}: member '{}'", source, fname);
    if (r.le(local, 4, "local header") != kLocalSig) throw Error(where + ": bad local header");
    const uint64_t data =
        local + 30 + r.le(local + 26, 2, "local header") + r.le(local + 28, 2, "local header");
    r.need(data, csize, "member data");
    const auto raw = bytes.subspan(data, csize);
    std::vector<uint8_t> content;
    if (method == 0) {
      if (csize != usize) throw Error(where + ": stored sizes disagree");
      content.assign(raw.begin(), raw.end());
    } else if (method == 8) {
      // Checked before allocating: deflate expands at most 1032x (zlib's bound), and zlib takes
      // one buffer of under 4 GiB. A header claiming more is corrupt or a decompression bomb.
      if (usize > kMaxInflated || usize > csize * 1032 + 1024)
        throw Error(
            fmt::format("{}: claims {} bytes uncompressed from {} compressed (limit {}, at most 1032x)",
                        where, usize, csize, kMaxInflated));
      content = inflate_raw(raw, usize, where);
    } else {
      throw Error(fmt::format("{}: unsupported compression method {}", where, method));
    }
    if (crc_of(content) != crc) throw Error(where + ": crc32 mismatch");
    std::string name = fname;
    if (name.size() > 4 && name.ends_with(".npy")) name.resize(name.size() - 4);
    if (!seen.insert(name).second) throw Error(where + ": duplicated");
    out.push_back({name, parse_npy(content, fmt::format("{}[{}]", source, fname))});
  }
  return out;
}

std::vector<NpzMember> load_npz(const std::string& path) { return parse_npz(read_file_bytes(path), path); }

}  // namespace tpusim

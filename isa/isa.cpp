#include "isa/isa.h"

#include <fmt/format.h>

#include "base/error.h"
#include "isa/dtype.h"

namespace tpusim {

const char* engine_name(Engine e) {
  switch (e) {
    case Engine::Gdma: return "gdma";
    case Engine::Tiu: return "tiu";
    case Engine::Sys: return "sys";
  }
  return "?";
}

namespace {

// Opcode id -> spec, built once from kOpSpecs.
struct SpecIndex {
  std::array<const OpSpec*, 256> by_id{};
  SpecIndex() {
    for (const OpSpec& s : kOpSpecs) by_id[static_cast<uint8_t>(s.op)] = &s;
  }
};
const SpecIndex& spec_index() {
  static const SpecIndex idx;
  return idx;
}

uint64_t low_mask(int bits) { return bits >= 64 ? ~0ULL : ((1ULL << bits) - 1); }

// Little-endian bit writer/reader over an array of 64-bit words.
void put_bits(std::array<uint64_t, kMaxWords>& w, int pos, int bits, uint64_t v) {
  v &= low_mask(bits);
  int word = pos / 64, off = pos % 64;
  w[word] |= v << off;
  if (off + bits > 64) w[word + 1] |= v >> (64 - off);
}
uint64_t get_bits(const std::array<uint64_t, kMaxWords>& w, int pos, int bits) {
  int word = pos / 64, off = pos % 64;
  uint64_t v = w[word] >> off;
  if (off + bits > 64) v |= w[word + 1] << (64 - off);
  return v & low_mask(bits);
}

}  // namespace

const OpSpec* find_spec(uint8_t opcode) { return spec_index().by_id[opcode]; }
const OpSpec& spec(Opcode op) { return *find_spec(static_cast<uint8_t>(op)); }
const OpSpec* find_spec(std::string_view mnemonic) {
  for (const OpSpec& s : kOpSpecs)
    if (mnemonic == s.mnemonic) return &s;
  return nullptr;
}

bool Instr::operator==(const Instr& o) const {
  if (op != o.op) return false;
  const OpSpec& s = spec(op);
  for (int i = 0; i < s.nfields; ++i)
    if (f[i] != o.f[i]) return false;
  return true;
}

int64_t field_min(const FieldSpec& f) { return f.kind == FieldKind::S ? -(int64_t{1} << (f.bits - 1)) : 0; }
int64_t field_max(const FieldSpec& f) {
  switch (f.kind) {
    case FieldKind::S: return (int64_t{1} << (f.bits - 1)) - 1;
    case FieldKind::D: return kNumDTypes - 1;
    case FieldKind::P: return static_cast<int64_t>(PoolMode::Avg);
    case FieldKind::E: return static_cast<int64_t>(EltOp::Max);
    case FieldKind::U: break;
  }
  return static_cast<int64_t>(low_mask(f.bits));
}
bool field_value_ok(const FieldSpec& f, int64_t v) { return v >= field_min(f) && v <= field_max(f); }

void encode(const Instr& in, std::vector<uint8_t>& out) {
  const OpSpec* s = find_spec(static_cast<uint8_t>(in.op));
  if (!s) throw Error(fmt::format("encode: unknown opcode 0x{:02x}", static_cast<int>(in.op)));
  std::array<uint64_t, kMaxWords> w{};
  int pos = 0;
  put_bits(w, pos, kOpcodeBits, static_cast<uint8_t>(in.op));
  pos += kOpcodeBits;
  for (int i = 0; i < s->nfields; ++i) {
    const FieldSpec& f = s->fields[i];
    if (!field_value_ok(f, in.f[i]))
      throw Error(fmt::format("{}: field {} = {} is out of range [{}, {}]", s->mnemonic, f.name, in.f[i],
                              field_min(f), field_max(f)));
    put_bits(w, pos, f.bits, static_cast<uint64_t>(in.f[i]));
    pos += f.bits;
  }
  for (int i = 0; i < s->words(); ++i)
    for (int b = 0; b < 8; ++b) out.push_back(static_cast<uint8_t>(w[i] >> (8 * b)));
}

std::vector<uint8_t> encode(const Instr& in) {
  std::vector<uint8_t> out;
  encode(in, out);
  return out;
}

std::optional<Instr> decode(std::span<const uint8_t> bytes, size_t* consumed, std::string* err) {
  auto fail = [&](std::string m) -> std::optional<Instr> {
    if (err) *err = std::move(m);
    return std::nullopt;
  };
  if (bytes.empty()) return fail("truncated: no bytes left");
  const OpSpec* s = find_spec(bytes[0]);
  if (!s) return fail(fmt::format("unknown opcode 0x{:02x}", bytes[0]));
  const size_t need = static_cast<size_t>(s->bytes());
  if (bytes.size() < need)
    return fail(fmt::format("truncated {}: needs {} bytes, {} left", s->mnemonic, need, bytes.size()));
  std::array<uint64_t, kMaxWords> w{};
  for (size_t i = 0; i < need; ++i) w[i / 8] |= static_cast<uint64_t>(bytes[i]) << (8 * (i % 8));
  Instr in;
  in.op = s->op;
  int pos = kOpcodeBits;
  for (int i = 0; i < s->nfields; ++i) {
    const FieldSpec& f = s->fields[i];
    uint64_t raw = get_bits(w, pos, f.bits);
    pos += f.bits;
    int64_t v = static_cast<int64_t>(raw);
    if (f.kind == FieldKind::S && (raw >> (f.bits - 1)) & 1)
      v = static_cast<int64_t>(raw | ~low_mask(f.bits));
    if (!field_value_ok(f, v))
      return fail(fmt::format("{}: field {}: value {} is not valid", s->mnemonic, f.name, v));
    in.f[i] = v;
  }
  // Bits past the last field must be zero, so every instruction has exactly one encoding.
  for (int p = pos; p < s->words() * 64; p += 64 - p % 64) {
    int n = 64 - p % 64;
    if (get_bits(w, p, n) != 0) return fail(fmt::format("{}: reserved bits set", s->mnemonic));
  }
  if (consumed) *consumed = need;
  return in;
}

std::vector<Instr> decode_stream(std::span<const uint8_t> bytes, const std::string& where) {
  std::vector<Instr> code;
  size_t off = 0;
  while (off < bytes.size()) {
    size_t used = 0;
    std::string err;
    auto in = decode(bytes.subspan(off), &used, &err);
    if (!in) throw Error(fmt::format("{}: instruction {}: {}", where, code.size(), err));
    code.push_back(*in);
    off += used;
  }
  return code;
}

std::vector<uint8_t> encode_stream(const std::vector<Instr>& code) {
  std::vector<uint8_t> out;
  for (const Instr& in : code) encode(in, out);
  return out;
}

}  // namespace tpusim

// .npy and .npz: parse (the first byte picks which); an accepted array or archive encodes to
// bytes that parse back to the same contents.
#include "base/npy.h"
#include "base/npz.h"
#include "fuzz/fuzz_common.h"

using namespace tpusim;

namespace {

bool same(const NpyArray& a, const NpyArray& b) {
  return a.type == b.type && a.shape == b.shape && a.data == b.data;
}

void npy(std::span<const uint8_t> bytes) {
  NpyArray a;
  try {
    a = parse_npy(bytes, "fuzz.npy");
  } catch (const Error& e) {
    fuzz::check_error(e);
    return;
  }
  fuzz::fuzz_check(a.data.size() == a.elements() * static_cast<uint64_t>(npy_type_size(a.type)),
                   "data size does not match the shape");
  fuzz::fuzz_check(same(parse_npy(encode_npy(a), "encoded"), a), "npy round trip");
}

void npz(std::span<const uint8_t> bytes) {
  std::vector<NpzMember> m;
  try {
    m = parse_npz(bytes, "fuzz.npz");
  } catch (const Error& e) {
    fuzz::check_error(e);
    return;
  }
  std::vector<uint8_t> enc;
  try {
    enc = encode_npz(m);
  } catch (const Error& e) {  // a name parse_npz accepts but encode_npz refuses is fine only if unsafe
    fuzz::check_error(e);
    return;
  }
  const std::vector<NpzMember> back = parse_npz(enc, "encoded");
  fuzz::fuzz_check(back.size() == m.size(), "npz round trip: member count");
  for (size_t i = 0; i < m.size(); ++i)
    fuzz::fuzz_check(back[i].name == m[i].name && same(back[i].array, m[i].array),
                     "npz round trip: " + m[i].name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader r(data, size);
  if (r.byte() & 1)
    npz(r.rest());
  else
    npy(r.rest());
  return 0;
}

// NumPy .npz archives in and out: a zip of .npy members. Written stored (uncompressed) with a
// zlib crc32 per member; read stored or deflated members (np.savez and np.savez_compressed),
// including numpy's zip64 local headers. Member names carry no ".npy" suffix here: np.load(...)
// keys are exactly the names given.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/npy.h"

namespace tpusim {

struct NpzMember {
  std::string name;  // key as numpy shows it ("conv1_out"); stored as "<name>.npy"
  NpyArray array;
};

// Throws Error for an empty, duplicated or unsafe name ('/', '\\', "..", control characters)
// or a member over 4 GiB.
std::vector<uint8_t> encode_npz(std::span<const NpzMember> members);
// Atomic (write_file_atomic).
void save_npz(std::span<const NpzMember> members, const std::string& path);

// Throws Error "<source>: <problem>" (not a zip, truncated, bad crc, unsupported compression,
// a member that is not a valid .npy).
std::vector<NpzMember> parse_npz(std::span<const uint8_t> bytes, const std::string& source);
std::vector<NpzMember> load_npz(const std::string& path);

}  // namespace tpusim

// IDX files (the MNIST / Fashion-MNIST format): a big-endian header, magic 0x0000TTDD (TT = element
// type, 08 = u8; DD = number of dimensions), one u32 per dimension, then the elements. Sizes are
// checked against the bytes actually read, never used to allocate.
#include <fmt/format.h>

#include <limits>

#include "base/error.h"
#include "models/dataset.h"

namespace tpusim::models {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // u8, [N, H, W]
constexpr uint32_t kLabelsMagic = 0x00000801;  // u8, [N]
constexpr int64_t kClasses = 10;

uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

const char* kind_of(uint32_t magic) {
  switch (magic) {
    case kImagesMagic: return "an IDX u8 image file";
    case kLabelsMagic: return "an IDX u8 label file";
    default: return "not an IDX u8 image or label file";
  }
}

// a * b, saturating: a corrupt header's dimensions can overflow 64 bits.
uint64_t mul_sat(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return std::numeric_limits<uint64_t>::max();
  return a * b;
}

std::string byte_count(uint64_t n) {
  return n == std::numeric_limits<uint64_t>::max() ? std::string("more than 2^64 bytes")
                                                   : fmt::format("{} bytes", n);
}

struct Idx {
  std::vector<uint8_t> bytes;  // the whole file, header included
  std::vector<uint32_t> dims;
  size_t header = 0;  // bytes before the elements
};

// The file, its magic and header checked; element count not yet (the caller words that message).
Idx read_idx_header(const std::string& path, uint32_t magic) {
  Idx f{read_dataset_file(path), {}, 0};
  const size_t ndims = magic & 0xff;
  f.header = 4 + 4 * ndims;
  if (f.bytes.size() < 4)
    throw Error(fmt::format("{}: truncated: {} bytes, too short for an IDX header", path, f.bytes.size()));
  const uint32_t got = be32(f.bytes.data());
  if (got != magic)
    throw Error(fmt::format("{}: bad magic 0x{:08x} ({}): expected 0x{:08x} ({})", path, got, kind_of(got),
                            magic, kind_of(magic)));
  if (f.bytes.size() < f.header)
    throw Error(
        fmt::format("{}: truncated: {} bytes, the IDX header needs {}", path, f.bytes.size(), f.header));
  for (size_t d = 0; d < ndims; ++d) f.dims.push_back(be32(f.bytes.data() + 4 + 4 * d));
  return f;
}

// Truncated or trailing bytes -> error; `declared` describes the header ("60000 images of 28x28").
void check_size(const std::string& path, const Idx& f, uint64_t elements, const std::string& declared) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  const uint64_t want = elements > max - f.header ? max : f.header + elements;
  const uint64_t have = f.bytes.size();
  if (have == want) return;
  const std::string what =
      have < want ? std::string("truncated") : fmt::format("{} trailing bytes", have - want);
  throw Error(fmt::format("{}: {}: header says {} ({}), file has {} bytes", path, what, declared,
                          byte_count(want), have));
}

}  // namespace

ImageSet read_idx(const std::string& images_path, const std::string& labels_path) {
  Idx images = read_idx_header(images_path, kImagesMagic);
  const uint32_t n = images.dims[0], h = images.dims[1], w = images.dims[2];
  const std::string declared = fmt::format("{} images of {}x{}", n, h, w);
  if (n == 0) throw Error(fmt::format("{}: no images: header says {}", images_path, declared));
  if (h == 0 || w == 0) throw Error(fmt::format("{}: empty images: header says {}", images_path, declared));
  check_size(images_path, images, mul_sat(mul_sat(n, h), w), declared);

  Idx labels = read_idx_header(labels_path, kLabelsMagic);
  const uint32_t n_labels = labels.dims[0];
  check_size(labels_path, labels, n_labels, fmt::format("{} labels", n_labels));
  if (n_labels != n)
    throw Error(fmt::format("{}: {} images but {} has {} labels", images_path, n, labels_path, n_labels));

  ImageSet s;
  s.count = n;
  s.channels = 1;
  s.height = h;
  s.width = w;
  s.classes = kClasses;
  s.source = images_path;
  s.labels.assign(labels.bytes.begin() + static_cast<std::ptrdiff_t>(labels.header), labels.bytes.end());
  for (size_t i = 0; i < s.labels.size(); ++i)
    if (s.labels[i] >= kClasses)
      throw Error(fmt::format("{}: label {} of image {} is out of range: expected 0..{}", labels_path,
                              s.labels[i], i, kClasses - 1));
  // Drop the header in place: no second 47 MB buffer for the train set.
  images.bytes.erase(images.bytes.begin(), images.bytes.begin() + static_cast<std::ptrdiff_t>(images.header));
  s.pixels = std::move(images.bytes);
  return s;
}

}  // namespace tpusim::models

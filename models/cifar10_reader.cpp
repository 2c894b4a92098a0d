// CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes (R, G, B planes of 32x32,
// row-major), no header. The planes are kept as stored, which is already NCHW.
#include <fmt/format.h>

#include "base/error.h"
#include "models/dataset.h"

namespace tpusim::models {
namespace {
constexpr int64_t kSide = 32, kChannels = 3, kClasses = 10;
constexpr size_t kImageBytes = kChannels * kSide * kSide;  // 3072
constexpr size_t kRecordBytes = 1 + kImageBytes;           // 3073
}  // namespace

ImageSet read_cifar10(const std::vector<std::string>& batch_files) {
  if (batch_files.empty()) throw Error("read_cifar10: no batch files given");
  ImageSet s;
  s.channels = kChannels;
  s.height = kSide;
  s.width = kSide;
  s.classes = kClasses;
  for (const std::string& path : batch_files) {
    const std::vector<uint8_t> bytes = read_dataset_file(path);
    if (bytes.empty()) throw Error(fmt::format("{}: empty: no CIFAR-10 records", path));
    if (bytes.size() % kRecordBytes != 0)
      throw Error(fmt::format(
          "{}: {} bytes is not a whole number of {}-byte CIFAR-10 records ({} and {} bytes over)", path,
          bytes.size(), kRecordBytes, bytes.size() / kRecordBytes, bytes.size() % kRecordBytes));
    const size_t records = bytes.size() / kRecordBytes;
    for (size_t r = 0; r < records; ++r) {
      const uint8_t* rec = bytes.data() + r * kRecordBytes;
      if (rec[0] >= kClasses)
        throw Error(fmt::format("{}: record {} has label {}: CIFAR-10 labels are 0..{}", path, r, rec[0],
                                kClasses - 1));
      s.labels.push_back(rec[0]);
      s.pixels.insert(s.pixels.end(), rec + 1, rec + kRecordBytes);
    }
    s.count += static_cast<int64_t>(records);
    s.source += (s.source.empty() ? "" : ", ") + path;
  }
  return s;
}

}  // namespace tpusim::models

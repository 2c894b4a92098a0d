// Dataset readers: IDX image + label files (MNIST / Fashion-MNIST, raw or gzip) and CIFAR-10
// batches, through files as the CLI reads them. The first byte picks the reader; IDX inputs are
// split into an image file and a label file. An accepted set is consistent.
#include "fuzz/fuzz_common.h"
#include "models/dataset.h"

using namespace tpusim;
using namespace tpusim::models;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader r(data, size);
  ImageSet s;
  try {
    const uint8_t mode = r.byte();
    if (mode & 1) {
      const std::string a = fuzz::temp_file("data_batch_1.bin", r.chunk(1 << 16));
      const std::string b = fuzz::temp_file("data_batch_2.bin", r.rest());
      s = read_cifar10(mode & 2 ? std::vector<std::string>{a, b} : std::vector<std::string>{a});
    } else {
      const std::string images = fuzz::temp_file("images-idx3-ubyte", r.chunk(1 << 16));
      const std::string labels = fuzz::temp_file("labels-idx1-ubyte", r.rest());
      s = read_idx(images, labels);
    }
  } catch (const Error& e) {
    fuzz::check_error(e);
    return 0;
  }
  fuzz::fuzz_check(s.count > 0 && s.labels.size() == static_cast<size_t>(s.count), "label count");
  fuzz::fuzz_check(s.pixels.size() == static_cast<size_t>(s.count * s.image_size()), "pixel count");
  for (uint8_t l : s.labels) fuzz::fuzz_check(l < s.classes, "label out of range");
  return 0;
}

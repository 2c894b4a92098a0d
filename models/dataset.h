// Image classification datasets, read into memory as 8-bit pixels. No libtorch: `tpusim eval`
// (the simulator path) reads the same files as training does. Readers: IDX (MNIST / Fashion-MNIST
// format, gzip or raw) and CIFAR-10 binary batches. Every failure is one tpusim::Error naming the
// file and the problem (and, for the default Fashion-MNIST location, the Debian package).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tpusim::models {

// N images of C x H x W bytes, NCHW order (CIFAR-10's planes kept; IDX has C = 1), labels 0..classes-1.
struct ImageSet {
  int64_t count = 0, channels = 0, height = 0, width = 0;
  int64_t classes = 0;
  std::vector<uint8_t> pixels;  // count * channels * height * width
  std::vector<uint8_t> labels;  // count
  std::string source;           // what was read, for messages ("/usr/share/.../t10k-images-idx3-ubyte.gz")

  int64_t image_size() const { return channels * height * width; }
  // The first n images (all when n <= 0 or n >= count).
  ImageSet head(int64_t n) const;
};

enum class Split { Train, Test };

// Where Debian's dataset-fashion-mnist package puts the files.
inline constexpr std::string_view kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// An IDX image file (magic 0x00000803, u8, [N, H, W]) and its IDX label file (0x00000801, u8,
// [N]); each may be gzip-compressed (detected from the content, not the name). Checks magic,
// sizes against the header, image/label counts equal, labels < classes (10).
ImageSet read_idx(const std::string& images_path, const std::string& labels_path);

// {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] in dir (the .gz is tried first).
ImageSet read_mnist_dir(const std::string& dir, Split split);

// CIFAR-10 binary batch files (each record: 1 label byte + 3072 pixel bytes, R, G, B planes of
// 32x32), concatenated in the order given. A size that is not a whole number of records is an error.
ImageSet read_cifar10(const std::vector<std::string>& batch_files);
// data_batch_1..5.bin (train) or test_batch.bin (test) in dir.
ImageSet read_cifar10_dir(const std::string& dir, Split split);

// A dataset by name: "fashion-mnist" (kFashionMnistDir), "fashion-mnist:DIR" or "mnist:DIR" (IDX
// files in DIR), "cifar10:DIR". Unknown names list the accepted forms.
ImageSet load_dataset(std::string_view spec, Split split);

// A whole dataset file, gunzipped when it starts with the gzip magic 1f 8b (whatever its name).
// Missing file, unreadable file or corrupt gzip data -> one Error naming the path; a missing file
// under kFashionMnistDir also names the Debian package that installs it.
std::vector<uint8_t> read_dataset_file(const std::string& path);

}  // namespace tpusim::models

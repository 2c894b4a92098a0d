// Reading dataset files (gzip or raw), the directory layouts of MNIST-style and CIFAR-10 datasets,
// and the dataset names the CLI accepts. The format parsers are idx_reader.cpp and cifar10_reader.cpp.
#include "models/dataset.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "base/error.h"

namespace tpusim::models {
namespace fs = std::filesystem;

namespace {

// Above this a "dataset" is a corrupt header or a gzip bomb, not data (CIFAR-10 is 180 MB).
constexpr size_t kMaxDatasetBytes = size_t{2} << 30;

bool under_fashion_mnist_dir(const std::string& path) {
  const fs::path p = fs::path(path).lexically_normal();
  const fs::path dir = fs::path(kFashionMnistDir).lexically_normal();
  auto [dir_end, p_it] = std::mismatch(dir.begin(), dir.end(), p.begin(), p.end());
  return dir_end == dir.end();
}

// The "no such file" message, plus how to get the file when it is where Debian puts Fashion-MNIST.
[[noreturn]] void throw_missing(std::string msg, const std::string& path_for_hint) {
  if (under_fashion_mnist_dir(path_for_hint))
    msg += " (install the Debian package dataset-fashion-mnist: apt-get install dataset-fashion-mnist)";
  throw Error(msg);
}

std::vector<uint8_t> read_raw(const std::string& path) {
  // One fread of the size fstat reports: no per-byte stream iteration over a 47 MB file.
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    if (errno == ENOENT || errno == ENOTDIR) throw_missing(fmt::format("{}: no such file", path), path);
    throw Error(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) != 0)
    throw Error(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) throw Error(fmt::format("{}: cannot read: is a directory", path));
  if (static_cast<uint64_t>(st.st_size) > kMaxDatasetBytes)
    throw Error(fmt::format("{}: {} bytes is too large for a dataset file (limit {})", path,
                            static_cast<uint64_t>(st.st_size), kMaxDatasetBytes));
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  if (!bytes.empty() && std::fread(bytes.data(), 1, bytes.size(), f.get()) != bytes.size())
    throw Error(fmt::format("{}: cannot read: short read", path));
  return bytes;
}

bool is_gzip(const std::vector<uint8_t>& b, size_t at = 0) {
  return b.size() >= at + 2 && b[at] == 0x1f && b[at + 1] == 0x8b;
}

// All members of a gzip file, concatenated (as gunzip does). The output buffer starts at the size
// the trailer claims, bounded by what deflate can expand to, so a lying trailer allocates nothing absurd.
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& in, const std::string& path) {
  const size_t n = in.size();
  const size_t isize =
      n >= 4
          ? (size_t{in[n - 4]} | size_t{in[n - 3]} << 8 | size_t{in[n - 2]} << 16 | size_t{in[n - 1]} << 24)
          : 0;
  const size_t deflate_max = std::min(kMaxDatasetBytes, n * 1032 + 1024);  // deflate expands <= 1032x
  std::vector<uint8_t> out(std::min(std::max<size_t>(isize, 1 << 16), deflate_max));

  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw Error(fmt::format("{}: cannot start gunzip", path));
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, &inflateEnd);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(n);  // n <= kMaxDatasetBytes < 4 GiB
  size_t produced = 0;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() >= kMaxDatasetBytes)
        throw Error(fmt::format("{}: gzip data expands past {} bytes: corrupt, or not a dataset", path,
                                kMaxDatasetBytes));
      out.resize(std::min(out.size() * 2, kMaxDatasetBytes));
    }
    zs.next_out = out.data() + produced;
    zs.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - produced, UINT_MAX));
    const uInt room = zs.avail_out;
    const int ret = inflate(&zs, Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (ret == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      const size_t at = n - zs.avail_in;
      if (!is_gzip(in, at))
        throw Error(fmt::format("{}: {} bytes of junk after the gzip data", path, zs.avail_in));
      inflateReset(&zs);  // another gzip member follows
    } else if (ret == Z_OK || ret == Z_BUF_ERROR) {
      if (zs.avail_in == 0 && zs.avail_out > 0)
        throw Error(fmt::format("{}: corrupt gzip data: unexpected end of the stream", path));
    } else {
      throw Error(fmt::format("{}: corrupt gzip data: {}", path, zs.msg ? zs.msg : zError(ret)));
    }
  }
  out.resize(produced);
  return out;
}

}  // namespace

std::vector<uint8_t> read_dataset_file(const std::string& path) {
  std::vector<uint8_t> bytes = read_raw(path);
  return is_gzip(bytes) ? gunzip(bytes, path) : bytes;
}

ImageSet ImageSet::head(int64_t n) const {
  if (n <= 0 || n >= count) return *this;
  ImageSet s{n, channels, height, width, classes, {}, {}, source};  // copies only the first n images
  s.pixels.assign(pixels.begin(), pixels.begin() + n * image_size());
  s.labels.assign(labels.begin(), labels.begin() + n);
  return s;
}

namespace {

// dir/NAME.gz if present, else dir/NAME; neither -> one error naming both.
std::string find_gz_or_raw(const std::string& dir, const std::string& name) {
  const std::string raw = (fs::path(dir) / name).string();
  std::error_code ec;
  if (fs::exists(raw + ".gz", ec)) return raw + ".gz";
  if (fs::exists(raw, ec)) return raw;
  throw_missing(fmt::format("{}.gz: no such file (nor {})", raw, name), raw);
}

}  // namespace

ImageSet read_mnist_dir(const std::string& dir, Split split) {
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  const std::string images = find_gz_or_raw(dir, prefix + "-images-idx3-ubyte");
  const std::string labels = find_gz_or_raw(dir, prefix + "-labels-idx1-ubyte");
  return read_idx(images, labels);
}

ImageSet read_cifar10_dir(const std::string& dir, Split split) {
  std::vector<std::string> files;
  if (split == Split::Train) {
    for (int i = 1; i <= 5; ++i)
      files.push_back((fs::path(dir) / fmt::format("data_batch_{}.bin", i)).string());
  } else {
    files.push_back((fs::path(dir) / "test_batch.bin").string());
  }
  return read_cifar10(files);
}

ImageSet load_dataset(std::string_view spec, Split split) {
  if (spec == "fashion-mnist") return read_mnist_dir(std::string(kFashionMnistDir), split);
  const size_t colon = spec.find(':');
  if (colon != std::string_view::npos && colon + 1 < spec.size()) {
    const std::string_view name = spec.substr(0, colon);
    const std::string dir(spec.substr(colon + 1));
    if (name == "fashion-mnist" || name == "mnist") return read_mnist_dir(dir, split);
    if (name == "cifar10") return read_cifar10_dir(dir, split);
  }
  throw Error(fmt::format(
      "unknown dataset '{}': expected fashion-mnist ({}), fashion-mnist:DIR, mnist:DIR or cifar10:DIR", spec,
      kFashionMnistDir));
}

}  // namespace tpusim::models

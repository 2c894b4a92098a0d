// Dataset readers: the real Fashion-MNIST cross-checked with numpy's own decoding, generated IDX and
// CIFAR-10 files (raw and gzip, gzip written by Python's gzip module) read back exactly, and every
// error path with its message.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "base/file_io.h"
#include "models/dataset.h"

using namespace tpusim;
using namespace tpusim::models;
using Catch::Contains;
using Catch::Equals;
namespace fs = std::filesystem;

namespace {
using Bytes = std::vector<uint8_t>;
const std::string kHint =
    "(install the Debian package dataset-fashion-mnist: apt-get install dataset-fashion-mnist)";

// Each test case gets its own folder: ctest runs the cases of this file in parallel.
fs::path scratch(const std::string& test) {
  fs::path d = fs::path(TPUSIM_BINARY_DIR) / "tests" / "datasets_work" / test;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
int python(const fs::path& dir, const std::string& code) {
  const fs::path script = dir / "script.py";
  write_file_atomic(script.string(), code);
  return std::system((std::string(TPUSIM_PYTHON) + " " + script.string()).c_str());
}
std::string put(const fs::path& path, const Bytes& b) {
  write_file_atomic(path.string(), b);
  return path.string();
}
// Python's gzip module, not zlib through our code, writes the compressed copy.
std::string gzip(const fs::path& dir, const std::string& src, const std::string& dst) {
  REQUIRE(python(dir, "import gzip\nopen('" + dst + "','wb').write(gzip.compress(open('" + src +
                          "','rb').read()))\n") == 0);
  return dst;
}
void be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}
Bytes idx_images(uint32_t n, uint32_t h, uint32_t w, const Bytes& pixels, uint32_t magic = 0x803) {
  Bytes b;
  for (uint32_t v : {magic, n, h, w}) be32(b, v);
  b.insert(b.end(), pixels.begin(), pixels.end());
  return b;
}
Bytes idx_labels(const Bytes& labels, uint32_t n) {
  Bytes b;
  for (uint32_t v : {0x801u, n}) be32(b, v);
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}
Bytes idx_labels(const Bytes& labels) { return idx_labels(labels, static_cast<uint32_t>(labels.size())); }
// Pseudo-random bytes (a fixed LCG): content that deflate cannot shrink to nothing.
Bytes noise(size_t n, uint32_t seed) {
  Bytes b(n);
  for (auto& v : b) v = static_cast<uint8_t>((seed = seed * 1103515245u + 12345u) >> 16);
  return b;
}
}  // namespace

TEST_CASE("the real Fashion-MNIST matches numpy's decoding", "[datasets]") {
  const fs::path d = scratch("real");
  const std::string dir(kFashionMnistDir);
  // Independent decoder: gzip + numpy over the same files; it writes the header it read, the label
  // histogram and the raw pixel and label arrays, compared whole.
  REQUIRE(python(d, "import gzip, numpy as np\nd='" + dir + "'\nw='" + d.string() +
                        "'\nout=open(w+'/ref.txt','w')\n"
                        "for p in ['train','t10k']:\n"
                        "    x=gzip.open(f'{d}/{p}-images-idx3-ubyte.gz').read()\n"
                        "    y=gzip.open(f'{d}/{p}-labels-idx1-ubyte.gz').read()\n"
                        "    n,h,c=np.frombuffer(x,'>u4',3,4)\n"
                        "    labels=np.frombuffer(y,np.uint8,offset=8)\n"
                        "    np.frombuffer(x,np.uint8,offset=16).tofile(f'{w}/{p}.pixels')\n"
                        "    labels.tofile(f'{w}/{p}.labels')\n"
                        "    print(p,n,h,c,*np.bincount(labels,minlength=10),file=out)\n") == 0);
  std::ifstream ref(d / "ref.txt");
  for (Split split : {Split::Train, Split::Test}) {
    const auto start = std::chrono::steady_clock::now();
    const ImageSet s = load_dataset("fashion-mnist", split);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::string name;
    int64_t n, h, w;
    REQUIRE(ref >> name >> n >> h >> w);
    std::vector<int64_t> numpy_histogram(10);
    for (auto& c : numpy_histogram) REQUIRE(ref >> c);
    INFO(name << " read in " << seconds << " s");
    CHECK(seconds < 5);  // ~0.3 s idle; a byte-at-a-time reader would take many seconds
    const int64_t expected = split == Split::Train ? 60000 : 10000;
    REQUIRE((s.count == expected && n == expected));
    CHECK((s.channels == 1 && s.height == 28 && s.width == 28 && s.classes == 10 && h == 28 && w == 28));
    CHECK(s.source == dir + "/" + name + "-images-idx3-ubyte.gz");
    std::vector<int64_t> histogram(10);
    for (uint8_t l : s.labels) ++histogram.at(l);
    CHECK(histogram == std::vector<int64_t>(10, expected / 10));
    CHECK(histogram == numpy_histogram);
    const Bytes pixels = read_file_bytes((d / (name + ".pixels")).string());
    REQUIRE(pixels.size() == size_t(expected * 784));
    CHECK(s.pixels == pixels);
    CHECK(s.labels == read_file_bytes((d / (name + ".labels")).string()));
    CHECK(s.pixels[0] == 0);  // images are centred on a black background
  }
  const ImageSet t = read_mnist_dir(dir, Split::Test);
  CHECK(t.labels[0] == 9);  // the first test image is an ankle boot (class 9), as the dataset documents
  fs::remove_all(d);        // 55 MB of reference arrays
}

TEST_CASE("generated IDX files, raw and gzip, read back exactly", "[datasets]") {
  const fs::path d = scratch("idx");
  Bytes pixels(3 * 2 * 4);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 37 + 5);
  const Bytes labels = {3, 0, 9};
  const std::string img = put(d / "img", idx_images(3, 2, 4, pixels)),
                    lab = put(d / "lab", idx_labels(labels));
  auto check = [&](const ImageSet& s, const std::string& source) {
    CHECK((s.count == 3 && s.channels == 1 && s.height == 2 && s.width == 4 && s.classes == 10));
    CHECK(s.image_size() == 8);
    CHECK(s.pixels == pixels);
    CHECK(s.labels == labels);
    CHECK(s.source == source);
  };
  check(read_idx(img, lab), img);
  // gzip is recognised by its content: a compressed file without .gz, a raw one named .gz.
  const std::string img_gz = gzip(d, img, (d / "img_compressed").string());
  const std::string lab_gz = gzip(d, lab, (d / "lab_compressed").string());
  check(read_idx(img_gz, lab_gz), img_gz);
  const std::string raw_named_gz = put(d / "raw.gz", idx_images(3, 2, 4, pixels));
  check(read_idx(raw_named_gz, lab_gz), raw_named_gz);
  // Concatenated gzip members decompress to the concatenation, as gunzip does.
  REQUIRE(python(d, "import gzip\nb=open('" + img + "','rb').read()\nopen('" + (d / "multi").string() +
                        "','wb').write(gzip.compress(b[:10])+gzip.compress(b[10:]))\n") == 0);
  check(read_idx((d / "multi").string(), lab), (d / "multi").string());

  // A directory: NAME.gz wins over NAME (the raw copies here hold different images to tell them apart).
  const fs::path both = d / "both";
  fs::create_directories(both);
  Bytes other = pixels;
  other[0] ^= 0xff;
  put(both / "t10k-images-idx3-ubyte", idx_images(3, 2, 4, other));
  put(both / "t10k-labels-idx1-ubyte", idx_labels(labels));
  gzip(d, img, (both / "t10k-images-idx3-ubyte.gz").string());
  check(read_mnist_dir(both.string(), Split::Test), (both / "t10k-images-idx3-ubyte.gz").string());
  fs::remove(both / "t10k-images-idx3-ubyte.gz");
  CHECK(read_mnist_dir(both.string(), Split::Test).pixels == other);
  put(both / "train-images-idx3-ubyte", idx_images(3, 2, 4, pixels));
  gzip(d, lab, (both / "train-labels-idx1-ubyte.gz").string());
  check(read_mnist_dir(both.string(), Split::Train), (both / "train-images-idx3-ubyte").string());

  const ImageSet s = read_idx(img, lab);
  const ImageSet h = s.head(2);
  CHECK((h.count == 2 && h.height == 2 && h.width == 4));
  CHECK(h.pixels == Bytes(pixels.begin(), pixels.begin() + 16));
  CHECK(h.labels == Bytes{3, 0});
  for (int64_t n : {0, -1, 3, 7}) CHECK(s.head(n).pixels == pixels);
  CHECK(s.head(0).count == 3);
}

TEST_CASE("IDX errors name the file and the problem", "[datasets]") {
  const fs::path d = scratch("idx_errors");
  const Bytes pixels = noise(3 * 2 * 4, 1);
  const std::string img = put(d / "img", idx_images(3, 2, 4, pixels)),
                    lab = put(d / "lab", idx_labels({1, 2, 3}));

  const std::string bad_magic = put(d / "bad_magic", idx_images(3, 2, 4, pixels, 0x0d03));
  REQUIRE_THROWS_WITH(read_idx(bad_magic, lab),
                      Equals(bad_magic + ": bad magic 0x00000d03 (not an IDX u8 image or "
                                         "label file): expected 0x00000803 (an IDX u8 "
                                         "image file)"));
  REQUIRE_THROWS_WITH(read_idx(lab, img), Contains(lab + ": bad magic 0x00000801 (an IDX u8 label file)"));

  Bytes cut = idx_images(3, 2, 4, pixels);
  cut.resize(30);
  const std::string truncated = put(d / "truncated", cut);
  REQUIRE_THROWS_WITH(
      read_idx(truncated, lab),
      Equals(truncated + ": truncated: header says 3 images of 2x4 (40 bytes), file has 30 bytes"));
  const std::string truncated_gz = gzip(d, truncated, (d / "truncated.gz").string());
  REQUIRE_THROWS_WITH(
      read_idx(truncated_gz, lab),
      Equals(truncated_gz + ": truncated: header says 3 images of 2x4 (40 bytes), file has 30 bytes"));
  const std::string tiny = put(d / "tiny", Bytes{0, 0, 8, 3, 0, 0});
  REQUIRE_THROWS_WITH(read_idx(tiny, lab), Equals(tiny + ": truncated: 6 bytes, the IDX header needs 16"));
  const std::string three = put(d / "three", Bytes{0, 0, 8});
  REQUIRE_THROWS_WITH(read_idx(three, lab), Contains(three + ": truncated: 3 bytes"));

  Bytes extra = idx_images(3, 2, 4, pixels);
  extra.push_back(0), extra.push_back(0);
  const std::string trailing = put(d / "trailing", extra);
  REQUIRE_THROWS_WITH(read_idx(trailing, lab),
                      Equals(trailing + ": 2 trailing bytes: header says 3 images of "
                                        "2x4 (40 bytes), file has 42 bytes"));
  // Absurd headers are compared with the real size, never allocated.
  const std::string huge = put(d / "huge", idx_images(1000000000, 28, 28, pixels));
  REQUIRE_THROWS_WITH(read_idx(huge, lab),
                      Contains(huge + ": truncated: header says 1000000000 images of 28x28 "
                                      "(784000000016 bytes), file has 40 bytes"));
  const std::string overflow = put(d / "overflow", idx_images(0xffffffff, 0xffffffff, 0xffffffff, pixels));
  REQUIRE_THROWS_WITH(read_idx(overflow, lab), Contains("(more than 2^64 bytes), file has 40 bytes"));

  const std::string zero = put(d / "zero", idx_images(0, 28, 28, {}));
  REQUIRE_THROWS_WITH(read_idx(zero, put(d / "lab0", idx_labels({}))),
                      Equals(zero + ": no images: header says 0 images of 28x28"));
  const std::string flat = put(d / "flat", idx_images(3, 0, 4, {}));
  REQUIRE_THROWS_WITH(read_idx(flat, lab), Contains(flat + ": empty images"));

  const std::string two_labels = put(d / "two_labels", idx_labels({1, 2}));
  REQUIRE_THROWS_WITH(read_idx(img, two_labels),
                      Equals(img + ": 3 images but " + two_labels + " has 2 labels"));
  const std::string short_labels = put(d / "short_labels", idx_labels({1, 2}, 3));
  REQUIRE_THROWS_WITH(
      read_idx(img, short_labels),
      Equals(short_labels + ": truncated: header says 3 labels (11 bytes), file has 10 bytes"));
  const std::string label10 = put(d / "label10", idx_labels({9, 10, 0}));
  REQUIRE_THROWS_WITH(read_idx(img, label10),
                      Equals(label10 + ": label 10 of image 1 is out of range: expected 0..9"));
}

TEST_CASE("missing files and corrupt gzip data", "[datasets]") {
  const fs::path d = scratch("missing");
  const std::string lab = put(d / "lab", idx_labels({1}));
  const std::string nowhere = (d / "nowhere").string();
  REQUIRE_THROWS_WITH(read_idx(nowhere, lab), Equals(nowhere + ": no such file"));
  REQUIRE_THROWS_WITH(
      read_mnist_dir(d.string(), Split::Train),
      Equals((d / "train-images-idx3-ubyte.gz").string() + ": no such file (nor train-images-idx3-ubyte)"));
  const std::string in_default = std::string(kFashionMnistDir) + "/no-such-images";
  REQUIRE_THROWS_WITH(read_idx(in_default, lab), Equals(in_default + ": no such file " + kHint));
  REQUIRE_THROWS_WITH(
      load_dataset("fashion-mnist:" + std::string(kFashionMnistDir) + "/x/../sub", Split::Test),
      Contains("/t10k-images-idx3-ubyte.gz: no such file (nor t10k-images-idx3-ubyte) " + kHint));
  REQUIRE_THROWS_WITH(load_dataset("fashion-mnist:" + std::string(kFashionMnistDir) + "/../x", Split::Test),
                      !Contains("apt-get"));
  REQUIRE_THROWS_WITH(read_idx(std::string(kFashionMnistDir) + "-2/x", lab), !Contains("apt-get"));
  REQUIRE_THROWS_WITH(load_dataset("mnist:" + nowhere, Split::Train), !Contains("apt-get"));
  REQUIRE_THROWS_WITH(read_idx(d.string(), lab), Contains(d.string() + ": cannot read: is a directory"));

  // Corrupt gzip: cut short, a flipped byte inside the deflate data, a bad CRC, junk after the end.
  const std::string img = put(d / "img", idx_images(20, 28, 28, noise(20 * 28 * 28, 7)));
  const Bytes gz = read_file_bytes(gzip(d, img, (d / "img.gz").string()));
  REQUIRE(gz.size() > 10000);
  const std::string cut = put(d / "cut.gz", Bytes(gz.begin(), gz.begin() + long(gz.size() / 2)));
  REQUIRE_THROWS_WITH(read_idx(cut, lab), Equals(cut + ": corrupt gzip data: unexpected end of the stream"));
  const std::string only_magic = put(d / "only_magic.gz", Bytes{0x1f, 0x8b});
  REQUIRE_THROWS_WITH(read_idx(only_magic, lab), Contains(only_magic + ": corrupt gzip data"));
  Bytes flipped = gz;
  flipped[gz.size() / 2] ^= 0x55;
  const std::string flip = put(d / "flip.gz", flipped);
  REQUIRE_THROWS_WITH(read_idx(flip, lab), Contains(flip + ": corrupt gzip data: "));
  Bytes crc = gz;
  crc[gz.size() - 8] ^= 1;
  const std::string bad_crc = put(d / "crc.gz", crc);
  REQUIRE_THROWS_WITH(read_idx(bad_crc, lab), Equals(bad_crc + ": corrupt gzip data: incorrect data check"));
  Bytes junk = gz;
  junk.insert(junk.end(), {1, 2, 3});
  const std::string junk_path = put(d / "junk.gz", junk);
  REQUIRE_THROWS_WITH(read_idx(junk_path, lab), Equals(junk_path + ": 3 bytes of junk after the gzip data"));
  const std::string bad_header = put(d / "bad_header.gz", Bytes{0x1f, 0x8b, 99, 0, 0, 0, 0, 0, 0, 3, 1, 2});
  REQUIRE_THROWS_WITH(read_idx(bad_header, lab), Contains(bad_header + ": corrupt gzip data: "));
}

namespace {
// Record r of a generated CIFAR-10 file: label, then pixel i = (r * 31 + i * 7 + i / 1024) mod 256.
Bytes cifar_records(const Bytes& labels, int first_record = 0) {
  Bytes b;
  for (size_t r = 0; r < labels.size(); ++r) {
    b.push_back(labels[r]);
    for (size_t i = 0; i < 3072; ++i)
      b.push_back(static_cast<uint8_t>((r + first_record) * 31 + i * 7 + i / 1024));
  }
  return b;
}
}  // namespace

TEST_CASE("generated CIFAR-10 batches read back exactly", "[datasets]") {
  const fs::path d = scratch("cifar");
  const std::string a = put(d / "test_batch.bin", cifar_records({0, 9, 5}));
  const std::string b = put(d / "b.bin", cifar_records({7, 2}, 3));
  const ImageSet s = read_cifar10({a, b});
  REQUIRE((s.count == 5 && s.channels == 3 && s.height == 32 && s.width == 32 && s.classes == 10));
  CHECK(s.labels == Bytes{0, 9, 5, 7, 2});
  REQUIRE(s.pixels.size() == 5 * 3072);
  // NCHW, planes as stored: image n, channel c, row y, column x at n*3072 + c*1024 + y*32 + x.
  long mismatches = 0;
  for (size_t n = 0; n < 5; ++n)
    for (size_t c = 0; c < 3; ++c)
      for (size_t y = 0; y < 32; ++y)
        for (size_t x = 0; x < 32; ++x) {
          const size_t i = c * 1024 + y * 32 + x;
          mismatches += s.pixels[n * 3072 + i] != static_cast<uint8_t>(n * 31 + i * 7 + c);
        }
  CHECK(mismatches == 0);
  CHECK(s.source == a + ", " + b);

  const ImageSet t = read_cifar10_dir(d.string(), Split::Test);
  CHECK((t.count == 3 && t.labels == Bytes{0, 9, 5}));
  for (int i = 1; i <= 5; ++i)
    put(d / ("data_batch_" + std::to_string(i) + ".bin"), cifar_records({uint8_t(i)}, i));
  const ImageSet train = read_cifar10_dir(d.string(), Split::Train);
  CHECK((train.count == 5 && train.labels == Bytes{1, 2, 3, 4, 5}));
  CHECK(train.pixels[4 * 3072 + 1] == static_cast<uint8_t>(5 * 31 + 7));
  CHECK(load_dataset("cifar10:" + d.string(), Split::Train).pixels == train.pixels);
}

TEST_CASE("CIFAR-10 errors name the file and the problem", "[datasets]") {
  const fs::path d = scratch("cifar_errors");
  Bytes ragged = cifar_records({1, 2});
  ragged.resize(ragged.size() + 5);
  const std::string r = put(d / "ragged.bin", ragged);
  REQUIRE_THROWS_WITH(read_cifar10({r}),
                      Equals(r + ": 6151 bytes is not a whole number of 3073-byte CIFAR-10 "
                                 "records (2 and 5 bytes over)"));
  const std::string e = put(d / "empty.bin", {});
  REQUIRE_THROWS_WITH(read_cifar10({e}), Equals(e + ": empty: no CIFAR-10 records"));
  const std::string l = put(d / "label.bin", cifar_records({3, 10}));
  REQUIRE_THROWS_WITH(read_cifar10({l}), Equals(l + ": record 1 has label 10: CIFAR-10 labels are 0..9"));
  REQUIRE_THROWS_WITH(read_cifar10({}), Contains("no batch files"));
  for (int i : {1, 2, 4, 5}) put(d / ("data_batch_" + std::to_string(i) + ".bin"), cifar_records({1}));
  REQUIRE_THROWS_WITH(read_cifar10_dir(d.string(), Split::Train),
                      Equals((d / "data_batch_3.bin").string() + ": no such file"));
}

TEST_CASE("load_dataset parses the dataset names", "[datasets]") {
  const fs::path d = scratch("spec");
  put(d / "t10k-images-idx3-ubyte", idx_images(2, 1, 3, {1, 2, 3, 4, 5, 6}));
  put(d / "t10k-labels-idx1-ubyte", idx_labels({4, 8}));
  for (const std::string form : {"fashion-mnist:", "mnist:"}) {
    const ImageSet s = load_dataset(form + d.string(), Split::Test);
    CHECK((s.count == 2 && s.width == 3 && s.labels == Bytes{4, 8}));
    CHECK(s.source == (d / "t10k-images-idx3-ubyte").string());
  }
  REQUIRE_THROWS_WITH(load_dataset("mnist:" + d.string(), Split::Train),
                      Contains("train-images-idx3-ubyte.gz: no such file"));
  for (const char* bad : {"imagenet", "mnist", "mnist:", "cifar10", "cifar10:", "Fashion-MNIST", "", ":x"})
    REQUIRE_THROWS_WITH(
        load_dataset(bad, Split::Test),
        Equals("unknown dataset '" + std::string(bad) + "': expected fashion-mnist (" +
               std::string(kFashionMnistDir) + "), fashion-mnist:DIR, mnist:DIR or cifar10:DIR"));
}

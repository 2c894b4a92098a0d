// Host-side tensors: .npy inputs -> quantized device values, device values -> .npy outputs.
#include "sim/host_io.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <set>

#include "base/error.h"
#include "isa/numerics.h"
#include "quant/quantize.h"

namespace tpusim::sim {

namespace {

std::string shape_text(std::span<const int64_t> shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

// [B, rest...] for a batch of B runs' worth of samples of `t`.
std::vector<int64_t> batch_shape(const TensorDesc& t, int64_t runs) {
  std::vector<int64_t> s = t.shape;
  if (!s.empty()) s[0] *= runs;
  return s;
}

}  // namespace

int64_t batch_runs(const HostArray& a, const TensorDesc& t) {
  const std::vector<int64_t>& got = a.array.shape;
  if (got == t.shape) return 1;
  const bool batched = !t.shape.empty() && t.shape[0] > 0 && got.size() == t.shape.size() && got[0] > 0 &&
                       got[0] % t.shape[0] == 0 &&
                       std::equal(got.begin() + 1, got.end(), t.shape.begin() + 1);
  if (batched) return got[0] / t.shape[0];
  std::string expected = shape_text(t.shape);
  if (!t.shape.empty()) {
    std::vector<int64_t> batched_shape = t.shape;
    batched_shape[0] = 0;  // one digit, replaced by "B" below
    std::string text = shape_text(batched_shape);
    text.replace(1, 1, t.shape[0] == 1 ? "B" : fmt::format("B*{}", t.shape[0]));
    expected += fmt::format(" or {} for a batch of B", text);
  }
  throw Error(fmt::format("{}: shape {} does not fit input '{}': expected {}", a.source, shape_text(got),
                          t.name, expected));
}

std::vector<int32_t> quantize_input(const HostArray& a, const TensorDesc& t, int64_t run) {
  const uint64_t n = t.elements(), first = static_cast<uint64_t>(run) * n;
  if (first + n > a.array.elements())
    throw Error(fmt::format("{}: run {} needs elements [{}, {}) but the array has {}", a.source, run, first,
                            first + n, a.array.elements()));
  std::vector<int32_t> out(n);
  if (a.array.is_float()) {
    for (uint64_t i = 0; i < n; ++i)
      out[i] = quantize_linear(static_cast<float>(a.array.at_f64(first + i)), t.scale, t.zero_point, t.dtype);
    return out;
  }
  const DTypeTraits& tr = traits(t.dtype);
  for (uint64_t i = 0; i < n; ++i) {
    const int64_t v = a.array.at_i64(first + i);
    if (v < tr.qmin || v > tr.qmax)
      throw Error(
          fmt::format("{}: value {} at element {} is outside the range of input '{}' ({} [{}, {}]); "
                      "integer inputs are taken as already quantized",
                      a.source, v, first + i, t.name, tr.name, tr.qmin, tr.qmax));
    out[i] = static_cast<int32_t>(v);
  }
  return out;
}

std::vector<std::string> bind_inputs(const Program& p, const std::vector<std::string>& args) {
  std::vector<std::string> paths(p.inputs.size());
  std::vector<std::string> unnamed;
  for (const std::string& arg : args) {
    const size_t eq = arg.find('=');
    size_t k = p.inputs.size();
    if (eq != std::string::npos)
      for (k = 0; k < p.inputs.size() && p.inputs[k].name != arg.substr(0, eq); ++k) {
      }
    if (k == p.inputs.size()) {
      unnamed.push_back(arg);  // a plain path (which may itself contain '=')
      continue;
    }
    if (!paths[k].empty()) throw Error(fmt::format("--input: input '{}' given twice", p.inputs[k].name));
    paths[k] = arg.substr(eq + 1);
  }
  size_t next = 0;
  for (size_t k = 0; k < paths.size(); ++k)
    if (paths[k].empty() && next < unnamed.size()) paths[k] = unnamed[next++];
  if (next < unnamed.size())
    throw Error(fmt::format("--input {}: the program has {} input(s), all already given", unnamed[next],
                            p.inputs.size()));
  for (size_t k = 0; k < paths.size(); ++k)
    if (paths[k].empty())
      throw Error(fmt::format("no --input for program input '{}' (shape {}, {})", p.inputs[k].name,
                              shape_text(p.inputs[k].shape), name(p.inputs[k].dtype)));
  return paths;
}

std::vector<HostArray> load_inputs(const Program& p, const std::vector<std::string>& args) {
  std::vector<HostArray> out;
  for (const std::string& path : bind_inputs(p, args)) out.push_back({path, load_npy(path)});
  return out;
}

std::string sanitize_file_name(const std::string& name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    out += ok ? c : '_';
  }
  if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
  if (out.size() > 200) out.resize(200);
  return out;
}

NpyArray output_array(const TensorDesc& t, int64_t runs, std::span<const int32_t> values) {
  NpyType as = NpyType::I32;
  switch (t.dtype) {
    case DType::Int8:
    case DType::Int4: as = NpyType::I8; break;
    case DType::UInt8:
    case DType::UInt4: as = NpyType::U8; break;
    case DType::Int32: as = NpyType::I32; break;
  }
  return make_npy_i32(batch_shape(t, runs), values, as);
}

NpyArray dequantized_array(const TensorDesc& t, int64_t runs, std::span<const int32_t> values) {
  std::vector<float> f(values.size());
  for (size_t i = 0; i < values.size(); ++i) f[i] = dequantize_linear(values[i], t.scale, t.zero_point);
  return make_npy_f32(batch_shape(t, runs), f);
}

std::vector<OutputFile> output_files(const Program& p, const BatchResult& r, const std::string& dir,
                                     bool dequantize) {
  std::vector<OutputFile> files;
  std::set<std::string> used;
  auto add = [&](const TensorDesc& t, const std::string& suffix, NpyArray a) {
    std::string path = (std::filesystem::path(dir) / (sanitize_file_name(t.name) + suffix)).string();
    if (!used.insert(path).second)
      throw Error(fmt::format(
          "output '{}' would overwrite {}, written for another output: rename the outputs", t.name, path));
    files.push_back({std::move(path), std::move(a)});
  };
  for (size_t k = 0; k < p.outputs.size(); ++k) {
    const TensorDesc& t = p.outputs[k];
    add(t, ".npy", output_array(t, r.runs, r.outputs.at(k)));
    if (dequantize) add(t, ".f32.npy", dequantized_array(t, r.runs, r.outputs.at(k)));
  }
  return files;
}

void write_output_files(const std::vector<OutputFile>& files) {
  for (const OutputFile& f : files) {
    const std::filesystem::path parent = std::filesystem::path(f.path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) throw Error(fmt::format("{}: cannot create directory: {}", parent.string(), ec.message()));
    save_npy(f.array, f.path);
  }
}

}  // namespace tpusim::sim

// conv_group_nhwc (semantics_fast_util.h): a conv group as a gemm whose rows are not copied into
// im2col patches. The padded input is laid out channels-last, xn[y][x][ci], so the kw taps of one
// kernel row at one output are kw * icg contiguous bytes: each output's row of the gemm is kh such
// segments (simd::gemm_segments_u8s8), and the weights are reordered to [ky][kx][ci] to match.
#include <algorithm>
#include <vector>

#include "isa/semantics_fast_util.h"
#include "isa/simd_kernels.h"

namespace tpusim::sem {

void conv_group_nhwc(const ConvShape& g, const uint8_t* x8, const int8_t* const* w, int64_t ocg, int32_t* acc,
                     int64_t ld) {
  const auto icg = static_cast<size_t>(g.icg), plane = static_cast<size_t>(g.plane());
  const auto kh = static_cast<size_t>(g.kh), kw = static_cast<size_t>(g.kw);
  const size_t len = kw * icg, taps = kh * len;
  std::vector<size_t> seg(kh);
  for (size_t ky = 0; ky < kh; ++ky) seg[ky] = ky * static_cast<size_t>(g.dh * g.pw) * icg;
  // xn[(y * pw + x) * icg + ci], then a run of ones as long as one row's reach: the row whose
  // products are the weight sums.
  const size_t ones = seg.back() + len;
  thread_local std::vector<uint8_t> xn;
  xn.resize(plane * icg + ones);
  for (size_t i0 = 0; i0 < plane; i0 += 64)  // in blocks of 64 positions: the written lines stay in L1
    for (size_t ci = 0; ci < icg; ++ci) {
      const uint8_t* from = x8 + ci * plane;
      for (size_t i = i0; i < std::min(plane, i0 + 64); ++i) xn[i * icg + ci] = from[i];
    }
  std::fill(xn.begin() + static_cast<ptrdiff_t>(plane * icg), xn.end(), uint8_t{1});
  const auto outs = static_cast<size_t>(g.oh * g.ow);
  std::vector<size_t> row(outs + 1);
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox)
      row[static_cast<size_t>(oy * g.ow + ox)] = static_cast<size_t>(oy * g.sh * g.pw + ox * g.sw) * icg;
  row[outs] = plane * icg;
  // Weights [ci][ky][kx] -> [ky][kx][ci].
  std::vector<int8_t> wn(static_cast<size_t>(ocg) * taps);
  std::vector<const int8_t*> wrows(static_cast<size_t>(ocg));
  for (size_t o = 0; o < static_cast<size_t>(ocg); ++o) {
    int8_t* r = wn.data() + o * taps;
    for (size_t ci = 0; ci < icg; ++ci)
      for (size_t t = 0; t < kh * kw; ++t) r[t * icg + ci] = w[o][ci * kh * kw + t];
    wrows[o] = r;
  }
  simd::gemm_segments_u8s8(simd::SegmentedRows{xn.data(), row.data(), outs + 1, seg.data(), kh, len},
                           wrows.data(), static_cast<size_t>(ocg), acc, static_cast<size_t>(ld));
}

}  // namespace tpusim::sem

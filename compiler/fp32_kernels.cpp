#include "compiler/fp32_kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tpusim::compiler::kernels {

void conv2d(const float* x, const Shape& xs, const float* w, const Shape& ws, const float* bias,
            const ConvAttrs& a, float* y, const Shape& ys) {
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
  const int64_t M = ws[0], CG = ws[1], KH = ws[2], KW = ws[3];
  const int64_t OH = ys[2], OW = ys[3], G = a.group, MG = M / G;
  const int64_t sh = a.strides[0], sw = a.strides[1], dh = a.dilations[0], dw = a.dilations[1];
  const int64_t pt = a.pads[0], pl = a.pads[1];
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m) {
      float* out = y + ((n * M + m) * OH) * OW;
      std::fill(out, out + OH * OW, bias ? bias[m] : 0.0f);
      const int64_t g = m / MG;
      for (int64_t ci = 0; ci < CG; ++ci) {
        const float* in = x + ((n * C + g * CG + ci) * H) * W;
        for (int64_t kh = 0; kh < KH; ++kh)
          for (int64_t kw = 0; kw < KW; ++kw) {
            const float wv = w[((m * CG + ci) * KH + kh) * KW + kw];
            // Output columns whose input column ow*sw - pl + kw*dw lies inside [0, W).
            const int64_t off = kw * dw - pl;
            const int64_t ow0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
            const int64_t ow1 = std::min(OW, W - off <= 0 ? 0 : (W - off + sw - 1) / sw);
            for (int64_t oh = 0; oh < OH; ++oh) {
              const int64_t ih = oh * sh - pt + kh * dh;
              if (ih < 0 || ih >= H) continue;
              const float* row = in + ih * W;
              float* orow = out + oh * OW;
              for (int64_t ow = ow0; ow < ow1; ++ow) orow[ow] += wv * row[ow * sw + off];
            }
          }
      }
    }
}

namespace {
template <class F>
void pool_loop(const Shape& xs, const PoolAttrs& a, const Shape& ys, F&& window) {
  const int64_t NC = xs[0] * xs[1], H = xs[2], W = xs[3], OH = ys[2], OW = ys[3];
  for (int64_t nc = 0; nc < NC; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t h0 = oh * a.strides[0] - a.pads[0], w0 = ow * a.strides[1] - a.pads[1];
        const int64_t h1 = std::min(h0 + a.kernel[0], H + a.pads[2]),
                      w1 = std::min(w0 + a.kernel[1], W + a.pads[3]);
        window(nc, (nc * OH + oh) * OW + ow, h0, w0, h1, w1);
      }
}
}  // namespace

void max_pool(const float* x, const Shape& xs, const PoolAttrs& a, float* y, const Shape& ys) {
  const int64_t H = xs[2], W = xs[3];
  pool_loop(xs, a, ys, [&](int64_t nc, int64_t o, int64_t h0, int64_t w0, int64_t h1, int64_t w1) {
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t h = std::max<int64_t>(h0, 0); h < std::min(h1, H); ++h)
      for (int64_t w = std::max<int64_t>(w0, 0); w < std::min(w1, W); ++w)
        m = std::max(m, x[(nc * H + h) * W + w]);
    y[o] = m;
  });
}

void avg_pool(const float* x, const Shape& xs, const PoolAttrs& a, float* y, const Shape& ys) {
  const int64_t H = xs[2], W = xs[3];
  pool_loop(xs, a, ys, [&](int64_t nc, int64_t o, int64_t h0, int64_t w0, int64_t h1, int64_t w1) {
    float s = 0.0f;
    const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h1, H), ws = std::max<int64_t>(w0, 0),
                  we = std::min(w1, W);
    for (int64_t h = hs; h < he; ++h)
      for (int64_t w = ws; w < we; ++w) s += x[(nc * H + h) * W + w];
    // count_include_pad counts the window clipped to the padded input; otherwise only real pixels.
    const int64_t count = a.count_include_pad ? (h1 - h0) * (w1 - w0) : (he - hs) * (we - ws);
    y[o] = s / static_cast<float>(count);
  });
}

void global_avg_pool(const float* x, const Shape& xs, float* y) {
  const int64_t NC = xs[0] * xs[1], HW = xs[2] * xs[3];
  for (int64_t i = 0; i < NC; ++i) {
    float s = 0.0f;
    for (int64_t k = 0; k < HW; ++k) s += x[i * HW + k];
    y[i] = s / static_cast<float>(HW);
  }
}

void gemm(const float* a, const Shape& as, const float* b, const Shape& bs, const float* c, const Shape& cs,
          const GemmAttrs& at, float* y) {
  const int64_t M = at.trans_a ? as[1] : as[0], K = at.trans_a ? as[0] : as[1];
  const int64_t N = at.trans_b ? bs[0] : bs[1];
  const int64_t crows = cs.size() == 2 ? cs[0] : 1, ccols = cs.empty() ? 1 : cs.back();
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      float acc = 0.0f;
      for (int64_t k = 0; k < K; ++k)
        acc += (at.trans_a ? a[k * M + m] : a[m * K + k]) * (at.trans_b ? b[n * K + k] : b[k * N + n]);
      float v = at.alpha * acc;
      if (c) v += at.beta * c[(crows == 1 ? 0 : m) * ccols + (ccols == 1 ? 0 : n)];
      y[m * N + n] = v;
    }
}

void matmul(const float* a, const Shape& as, const float* b, const Shape& bs, float* y) {
  const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  const int64_t batches = num_elements(as) / (M * K);
  const bool b_batched = bs.size() > 2;
  for (int64_t bt = 0; bt < batches; ++bt) {
    const float* A = a + bt * M * K;
    const float* B = b + (b_batched ? bt * K * N : 0);
    float* Y = y + bt * M * N;
    for (int64_t m = 0; m < M; ++m) {
      std::fill(Y + m * N, Y + (m + 1) * N, 0.0f);
      for (int64_t k = 0; k < K; ++k) {
        const float av = A[m * K + k];
        for (int64_t n = 0; n < N; ++n) Y[m * N + n] += av * B[k * N + n];
      }
    }
  }
}

void binary(Binary op, const float* a, const Shape& as, const float* b, const Shape& bs, float* y,
            const Shape& ys) {
  const size_t r = ys.size();
  // Strides of a and b over the output index space (0 along broadcast dimensions).
  std::vector<int64_t> sa(r, 0), sb(r, 0);
  auto strides = [&](const Shape& s, std::vector<int64_t>& st) {
    int64_t acc = 1;
    for (size_t i = 0; i < s.size(); ++i) {
      const size_t d = s.size() - 1 - i, od = r - 1 - i;
      st[od] = s[d] == 1 ? 0 : acc;
      acc *= s[d];
    }
  };
  strides(as, sa);
  strides(bs, sb);
  const int64_t total = num_elements(ys);
  std::vector<int64_t> idx(r, 0);
  int64_t ia = 0, ib = 0;
  for (int64_t i = 0; i < total; ++i) {
    y[i] = op == Binary::Add ? a[ia] + b[ib] : a[ia] * b[ib];
    for (size_t d = r; d-- > 0;) {  // odometer increment
      ++idx[d];
      ia += sa[d];
      ib += sb[d];
      if (idx[d] < ys[d]) break;
      ia -= sa[d] * ys[d];
      ib -= sb[d] * ys[d];
      idx[d] = 0;
    }
  }
}

void channel_affine(const float* x, const Shape& xs, const float* s, const float* t, float* y) {
  const int64_t N = xs[0], C = xs[1], inner = num_elements(xs) / std::max<int64_t>(N * C, 1);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = (n * C + c) * inner + i;
        y[k] = x[k] * s[c] + t[c];
      }
}

void softmax(const float* x, const Shape& xs, const SoftmaxAttrs& a, float* y) {
  const auto ax = static_cast<size_t>(a.axis);
  const int64_t outer = num_elements(Shape(xs.begin(), xs.begin() + static_cast<int64_t>(ax)));
  const int64_t len = a.flatten ? num_elements(xs) / std::max<int64_t>(outer, 1) : xs[ax];
  const int64_t inner = a.flatten ? 1 : num_elements(xs) / std::max<int64_t>(outer * len, 1);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * len * inner + i;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t k = 0; k < len; ++k) mx = std::max(mx, x[base + k * inner]);
      double sum = 0.0;
      for (int64_t k = 0; k < len; ++k) sum += std::exp(static_cast<double>(x[base + k * inner]) - mx);
      for (int64_t k = 0; k < len; ++k)
        y[base + k * inner] =
            static_cast<float>(std::exp(static_cast<double>(x[base + k * inner]) - mx) / sum);
    }
}

void layer_norm(const float* x, const Shape& xs, const LayerNormAttrs& a, const float* scale, const Shape& ss,
                const float* bias, const Shape& bs, float* y, float* mean, float* inv_std) {
  const Shape inner_shape(xs.begin() + a.axis, xs.end());
  const int64_t D = num_elements(inner_shape), rows = num_elements(xs) / std::max<int64_t>(D, 1);
  // scale and bias broadcast to the normalised shape once.
  const std::vector<float> zeros(static_cast<size_t>(D), 0.0f);
  std::vector<float> g(static_cast<size_t>(D), 1.0f), b(static_cast<size_t>(D), 0.0f);
  if (scale) binary(Binary::Add, scale, ss, zeros.data(), inner_shape, g.data(), inner_shape);
  if (bias) binary(Binary::Add, bias, bs, zeros.data(), inner_shape, b.data(), inner_shape);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * D;
    double m = 0.0, v = 0.0;
    for (int64_t i = 0; i < D; ++i) m += xr[i];
    m /= static_cast<double>(D);
    for (int64_t i = 0; i < D; ++i) v += (xr[i] - m) * (xr[i] - m);
    v /= static_cast<double>(D);
    const double inv = 1.0 / std::sqrt(v + static_cast<double>(a.epsilon));
    for (int64_t i = 0; i < D; ++i)
      y[r * D + i] =
          static_cast<float>((xr[i] - m) * inv * g[static_cast<size_t>(i)] + b[static_cast<size_t>(i)]);
    if (mean) mean[r] = static_cast<float>(m);
    if (inv_std) inv_std[r] = static_cast<float>(inv);
  }
}

}  // namespace tpusim::compiler::kernels

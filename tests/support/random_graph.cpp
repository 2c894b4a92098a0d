// Random integer graphs for the back end (tests/support/random_graph.h): convolution chains with
// pools, skips, concats, luts and requants, ending in a flatten and FC layers or in attention's
// integer ops (layernorm, a constant tensor, a MatMul of two activations, softmax).
#include "tests/support/random_graph.h"

#include <algorithm>

#include "quant/transformer_params.h"

namespace betest {

DType act_type(Rng& r) {
  const int v = static_cast<int>(pick(r, 0, 9));
  return v < 5 ? DType::Int8 : v < 8 ? DType::UInt8 : v < 9 ? DType::Int4 : DType::UInt4;
}

ITensor tensor(const std::string& name, Shape s, DType t, Rng& r) {
  ITensor x;
  x.name = name, x.shape = std::move(s), x.dtype = t, x.scale = 0.05f;
  x.zero_point = static_cast<int32_t>(pick(r, traits(t).qmin, traits(t).qmax) / 4);
  return x;
}

RequantSpec requant(Rng& r, int64_t channels, double base, const ITensor& y) {
  RequantSpec q;
  for (int64_t c = 0; c < channels; ++c)
    q.mult.push_back(make_multiplier(base * std::uniform_real_distribution<double>(0.5, 2.0)(r)));
  q.out_zp = y.zero_point;
  q.clamp_lo = static_cast<int32_t>(traits(y.dtype).qmin);
  q.clamp_hi = static_cast<int32_t>(traits(y.dtype).qmax);
  if (pick(r, 0, 3) == 0) q.clamp_lo = std::max(q.clamp_lo, q.out_zp);  // a ReLU
  return q;
}

namespace {

int64_t out_size(int64_t in, int64_t pa, int64_t pb, int64_t k, int64_t s) {
  return (in + pa + pb - k) / s + 1;
}

class GraphMaker {
 public:
  GraphMaker(Rng& r, bool narrow, bool big) : r_(r), narrow_(narrow) {
    g.source = "random graph";
    const int64_t n = narrow ? 1 : pick(r, 1, 2), c = big ? pick(r, 40, 96) : pick(r, 1, 24);
    const int64_t h = big ? pick(r, 20, 30) : pick(r, 3, 17), w = big ? pick(r, 20, 30) : pick(r, 3, 17);
    const std::string x = add({n, c, h, w}, type());
    g.inputs = {x}, g.float_inputs = {x + "_f"};
    acts_.push_back(x);
  }

  IntGraph g;

  const ITensor& last() const { return g.tensors.at(acts_.back()); }

  void step() {
    const int kind = static_cast<int>(pick(r_, 0, 9));
    if (kind <= 3) return conv(pick(r_, 0, 1) == 0);
    if (kind == 4) return pool();
    if (kind == 5 && residual()) return;
    if (kind == 6) return concat();
    if (kind == 7) return lut();
    if (kind == 8) return requant_op();
    conv(true);
  }

  // Flatten (a view) and one or two fully connected layers.
  void head() {
    const ITensor& x = last();
    if (x.shape[1] * x.shape[2] * x.shape[3] > 1500) return;  // weights too big for LMEM (edge): refused
    ITensor v = x;
    v.name = "flat" + std::to_string(next_++), v.view_of = x.name;
    v.shape = {x.shape[0], x.shape[1] * x.shape[2] * x.shape[3]};
    g.tensors[v.name] = v;
    std::string in = v.name;
    for (int k = pick(r_, 1, 2); k > 0; --k) in = fc(in);
    acts_.push_back(in);
  }

  // Attention's integer ops on the activation viewed as [n, c, h*w] (features on the last axis):
  // layernorm, + a constant tensor (a position embedding), a MatMul with the activation itself as
  // the second operand (requantized to int8 at zero point 0, viewed as [n, h*w, c]), softmax.
  void attention() {
    const ITensor x = last();
    const int64_t n = x.shape[0], c = x.shape[1], f = x.shape[2] * x.shape[3];
    if (f > 1024) return;
    // 4-bit blocks must start on whole bytes; odd sizes take 8-bit types.
    const bool odd = (c * f) % 2 || c % 2 || f % 2;
    auto ty = [&] { return odd ? (pick(r_, 0, 1) ? DType::Int8 : DType::UInt8) : type(); };
    ITensor v = x;
    v.name = "tok" + std::to_string(next_++), v.view_of = g.storage(x.name), v.shape = {n, c, f};
    g.tensors[v.name] = v;
    // layernorm
    ILayerNorm ln;
    for (int64_t k = 0; k < f; ++k) {
      ln.g.push_back(static_cast<int32_t>(pick(r_, -(int64_t{1} << 15), int64_t{1} << 15)));
      ln.b.push_back(static_cast<int32_t>(pick(r_, -20000, 20000)));
    }
    ln.eps = static_cast<uint32_t>(pick(r_, 0, 1000));
    const std::string y1 = add({n, c, f}, ty());
    const ITensor& y1t = g.tensors.at(y1);
    op({v.name}, y1, ln,
       requant(r_, 1, double(traits(y1t.dtype).qmax - traits(y1t.dtype).qmin) / 262144.0, y1t));
    // + a constant
    ITensor k = tensor("const" + std::to_string(next_++), {n, c, f}, ty(), r_);
    for (int64_t e = 0; e < n * c * f; ++e)
      k.data.push_back(static_cast<int32_t>(pick(r_, traits(k.dtype).qmin, traits(k.dtype).qmax)));
    g.tensors[k.name] = k;
    IEltwise e;
    e.op = EltOp::Add, e.a_zp = y1t.zero_point, e.b_zp = k.zero_point;
    e.a_rescale = make_multiplier(0.5 / 64), e.b_rescale = make_multiplier(0.3 / 64);
    const std::string y2 = add({n, c, f}, ty());
    op({y1, k.name}, y2, e, requant(r_, 1, 1.0, g.tensors.at(y2)));
    // B: the tokens requantized to int8 at zero point 0, viewed as [n, f, c]
    IRequant q;
    q.in_zp = x.zero_point;
    const std::string b = add({n, c, f}, DType::Int8);
    g.tensors.at(b).zero_point = 0;
    op({v.name}, b, q, requant(r_, 1, 0.7, g.tensors.at(b)));
    ITensor bv = g.tensors.at(b);
    bv.name = "kt" + std::to_string(next_++), bv.view_of = b, bv.shape = {n, f, c};
    g.tensors[bv.name] = bv;
    const ITensor& a = g.tensors.at(y2);
    const std::string y3 = add({n, c, c}, ty());
    const ITensor& y3t = g.tensors.at(y3);
    op({y2, bv.name}, y3, IActMatmul{a.zero_point},
       requant(r_, 1, double(traits(y3t.dtype).qmax - traits(y3t.dtype).qmin) / (double(f) * 127.0 * 60.0),
               y3t));
    // softmax over the last axis
    const std::string y4 = add({n, c, c}, ty());
    op({y3}, y4, ISoftmax{softmax_exp_table(0.03f + 0.2f * float(pick(r_, 0, 9)) / 9.0f, y3t.dtype)},
       requant(r_, 1,
               double(traits(g.tensors.at(y4).dtype).qmax - traits(g.tensors.at(y4).dtype).qmin) / 65536.0,
               g.tensors.at(y4)));
  }

  void finish() {
    g.outputs = {acts_.back()};
    // Sometimes an intermediate is an output too: it must reach DDR even if a consumer keeps it in LMEM.
    if (acts_.size() > 3 && pick(r_, 0, 2) == 0) g.outputs.push_back(acts_[acts_.size() / 2]);
    for (const std::string& o : g.outputs) g.float_outputs.push_back(o + "_f");
  }

 private:
  DType type() { return narrow_ ? act_type(r_) : pick(r_, 0, 1) ? DType::Int8 : DType::UInt8; }

  std::string add(Shape s, DType t) {
    ITensor x = tensor("t" + std::to_string(next_++), std::move(s), t, r_);
    g.tensors[x.name] = x;
    return x.name;
  }

  void op(const std::vector<std::string>& ins, const std::string& out, IOpKind kind, RequantSpec rq) {
    IOp o;
    o.name = "op" + std::to_string(g.ops.size());
    o.sources = {o.name}, o.inputs = ins, o.output = out, o.kind = std::move(kind), o.rq = std::move(rq);
    g.ops.push_back(std::move(o));
    acts_.push_back(out);
  }

  // same: stride 1, odd kernel, "same" padding and as many channels out as in (residual partners).
  void conv(bool same) {
    const ITensor x = last();
    const int64_t n = x.shape[0], ic = x.shape[1], h = x.shape[2], w = x.shape[3];
    IConv c;
    const int64_t kind = pick(r_, 0, 3);  // 0,1 dense, 2 grouped, 3 depthwise
    int64_t oc = same ? ic : pick(r_, 1, 32);
    c.groups = kind == 3 ? ic : 1;
    if (kind == 2)
      for (int64_t gr : {4, 3, 2})
        if (ic % gr == 0) {
          c.groups = gr, oc = gr * (same ? ic / gr : pick(r_, 1, 6));
          break;
        }
    if (kind == 3) oc = ic;
    for (int i = 0; i < 2; ++i) {
      const int64_t size = i ? w : h;
      c.kernel[i] = same ? 2 * pick(r_, 0, 1) + 1 : pick(r_, 1, std::min<int64_t>(4, size));
      c.stride[i] = !same && size >= 6 ? pick(r_, 1, 2) : 1;
      c.pads[i] = same ? c.kernel[i] / 2 : pick(r_, 0, c.kernel[i] - 1);
      c.pads[i + 2] = same ? c.kernel[i] / 2 : pick(r_, 0, c.kernel[i] - 1);
    }
    c.w_dtype = narrow_ && pick(r_, 0, 2) == 0 ? DType::Int4 : DType::Int8;
    c.in_zp = x.zero_point;
    const int64_t K = ic / c.groups * c.kernel[0] * c.kernel[1], wmax = c.w_dtype == DType::Int4 ? 7 : 127;
    for (int64_t i = 0; i < oc * K; ++i) c.weight.push_back(static_cast<int8_t>(pick(r_, -wmax, wmax)));
    c.w_scale.assign(static_cast<size_t>(oc), 0.01f);
    if (pick(r_, 0, 2) != 0)
      for (int64_t o = 0; o < oc; ++o) c.bias.push_back(static_cast<int32_t>(pick(r_, -3000, 3000)));
    const std::string y = add({n, oc, out_size(h, c.pads[0], c.pads[2], c.kernel[0], c.stride[0]),
                               out_size(w, c.pads[1], c.pads[3], c.kernel[1], c.stride[1])},
                              type());
    const ITensor& yt = g.tensors.at(y);
    const double span = double(traits(yt.dtype).qmax - traits(yt.dtype).qmin);
    op({x.name}, y, c, requant(r_, pick(r_, 0, 1) ? oc : 1, span / (double(K) * wmax * 30.0), yt));
  }

  void pool() {
    const ITensor x = last();
    IPool p;
    p.mode = pick(r_, 0, 1) ? PoolMode::Avg : PoolMode::Max;
    for (int i = 0; i < 2; ++i) {
      const int64_t size = x.shape[static_cast<size_t>(2 + i)];
      p.kernel[i] = pick(r_, 1, std::min<int64_t>(3, size));
      p.stride[i] = size >= 4 ? pick(r_, 1, 2) : 1;
      p.pads[i] = pick(r_, 0, p.kernel[i] - 1), p.pads[i + 2] = pick(r_, 0, p.kernel[i] - 1);
    }
    p.count_pad = pick(r_, 0, 1) == 1, p.in_zp = x.zero_point;
    const std::string y =
        add({x.shape[0], x.shape[1], out_size(x.shape[2], p.pads[0], p.pads[2], p.kernel[0], p.stride[0]),
             out_size(x.shape[3], p.pads[1], p.pads[3], p.kernel[1], p.stride[1])},
            x.dtype);
    op({x.name}, y, p, requant(r_, 1, 1.0, g.tensors.at(y)));
  }

  // x + an earlier tensor of the same shape (a skip connection), if there is one.
  bool residual() {
    const ITensor x = last();
    for (size_t k = acts_.size() - 1; k-- > 0;) {
      const ITensor& s = g.tensors.at(acts_[k]);
      if (s.shape != x.shape || s.name == x.name) continue;
      IEltwise e;
      e.op = pick(r_, 0, 3) == 0 ? EltOp::Max : EltOp::Add;
      // Either order: a layer group swaps skip + branch into branch + skip.
      const bool skip_first = pick(r_, 0, 1) == 0;
      const ITensor &a = skip_first ? s : x, &b = skip_first ? x : s;
      e.a_zp = a.zero_point, e.b_zp = b.zero_point;
      e.a_rescale = make_multiplier(0.5 / 64), e.b_rescale = make_multiplier(0.6 / 64);
      const std::string y = add(x.shape, type());
      op({a.name, b.name}, y, e, requant(r_, 1, 1.0, g.tensors.at(y)));
      return true;
    }
    return false;
  }

  // [x, requant(x)] along the channels (a concat's inputs share its type and zero point).
  void concat() {
    const ITensor x = last();
    if (is_4bit(x.dtype)) return requant_op();
    IRequant q;
    q.in_zp = x.zero_point;
    ITensor copy = x;
    copy.name = "t" + std::to_string(next_++);
    g.tensors[copy.name] = copy;
    op({x.name}, copy.name, q, requant(r_, 1, 0.7, copy));
    const std::string y = "t" + std::to_string(next_++);
    ITensor yt = x;
    yt.name = y, yt.shape[1] *= 2;
    g.tensors[y] = yt;
    op({x.name, copy.name}, y, IConcat{1}, {});
  }

  void lut() {
    const ITensor x = last();
    const std::string y = add(x.shape, type());
    ILut l;
    const DType out = g.tensors.at(y).dtype;
    for (int64_t i = 0; i < (int64_t{1} << bits(x.dtype)); ++i)
      l.table.push_back(static_cast<int32_t>(pick(r_, traits(out).qmin, traits(out).qmax)));
    op({x.name}, y, l, {});
  }

  void requant_op() {
    const ITensor x = last();
    IRequant q;
    q.in_zp = x.zero_point;
    const std::string y = add(x.shape, type());
    op({x.name}, y, q, requant(r_, pick(r_, 0, 1) ? x.shape[1] : 1, 0.7, g.tensors.at(y)));
  }

  std::string fc(const std::string& in) {
    const ITensor x = g.tensors.at(in);
    const int64_t k = x.shape[1], nout = pick(r_, 1, 40);
    IMatmul m;
    m.w_dtype = narrow_ && pick(r_, 0, 2) == 0 ? DType::Int4 : DType::Int8;
    const int64_t wmax = m.w_dtype == DType::Int4 ? 7 : 127;
    for (int64_t i = 0; i < nout * k; ++i) m.weight.push_back(static_cast<int8_t>(pick(r_, -wmax, wmax)));
    m.w_scale.assign(static_cast<size_t>(nout), 0.01f);
    if (pick(r_, 0, 1))
      for (int64_t j = 0; j < nout; ++j) m.bias.push_back(static_cast<int32_t>(pick(r_, -3000, 3000)));
    m.in_zp = x.zero_point;
    const std::string y = add({x.shape[0], nout}, type());
    const ITensor& yt = g.tensors.at(y);
    const double span = double(traits(yt.dtype).qmax - traits(yt.dtype).qmin);
    op({in}, y, m, requant(r_, pick(r_, 0, 1) ? nout : 1, span / (double(k) * wmax * 30.0), yt));
    return y;
  }

  Rng& r_;
  bool narrow_;
  int next_ = 0;
  std::vector<std::string> acts_;
};

}  // namespace

IntGraph random_graph(Rng& r, bool big) {
  GraphMaker m(r, pick(r, 0, 2) == 0, big);
  for (int64_t k = pick(r, 2, 7); k > 0; --k) m.step();
  const int64_t tail = pick(r, 0, 5);
  if (tail >= 2) m.head();
  if (tail == 0) m.attention();
  m.finish();
  return std::move(m.g);
}

}  // namespace betest

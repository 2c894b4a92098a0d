#include "tests/support/sim_random_program.h"

#include <algorithm>
#include <array>
#include <functional>

#include "sim/sync_state.h"
#include "sim/timing.h"
#include "tests/support/sim_helpers.h"

namespace simtest {
namespace {

constexpr uint64_t kInBytes = 32 * 1024, kOutBytes = 32 * 1024;
constexpr int kSlots = 8;

struct Local {  // a compact local tensor living in a slot
  bool live = false;
  DType t = DType::Int8;
  int64_t n = 0, c = 0, h = 0, w = 0;
};

class Generator {
 public:
  Generator(const Arch& a, uint64_t seed) : a_(a), geo_(sim::geometry(a)), rng_(seed) {
    slot_bytes_ = (a.lane_bytes / kSlots) & ~uint64_t{3};
    out_.program = program(a, {}, {});
    DataBlock d{0, std::vector<uint8_t>(kInBytes)};
    for (uint8_t& b : d.bytes) b = static_cast<uint8_t>(rng_());
    out_.program.data.push_back(std::move(d));
    out_.program.outputs.push_back(
        TensorDesc{"ddr_out", {1, 1, 1, int64_t(kOutBytes)}, DType::UInt8, 1.0f, 0, kInBytes});
  }

  RandomProgram finish() {
    out_.program.gdma.push_back(end());
    out_.program.tiu.push_back(end());
    return std::move(out_);
  }

  void step() {
    switch (pick(0, 9)) {
      case 0: load_activation(); break;
      case 1: conv_op(); break;
      case 2: matmul_op(); break;
      case 3: pool_op(); break;
      case 4: eltwise_op(); break;
      case 5: requant_op(); break;
      case 6: copy_op(); break;
      case 7: lut_op(); break;
      case 8: norm_op(); break;
      default: store_op(); break;
    }
  }

 private:
  int64_t pick(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }
  DType narrow() { return static_cast<DType>(pick(0, 3)); }  // int8, uint8, int4, uint4
  uint64_t slot_off(int s) const { return uint64_t(s) * slot_bytes_; }
  int live_slot() {
    std::vector<int> live;
    for (int s = 0; s < kSlots; ++s)
      if (slots_[s].live) live.push_back(s);
    return live.empty() ? -1 : live[pick(0, int64_t(live.size()) - 1)];
  }
  int64_t zp(DType t) { return pick(traits(t).qmin, traits(t).qmax); }
  template <class Op>
  void random_requant(Op& op, DType out) {
    set_requant(op, out, pick(8, 24));
    op.m0 = pick(int64_t{1} << 29, (int64_t{1} << 31) - 1);
    op.out_zp = zp(out) / 2;
  }
  uint64_t ddr_in(uint64_t bytes, uint64_t align = 1) {
    return uint64_t(pick(0, int64_t(kInBytes - bytes))) / align * align;
  }

  // Emit `in` on its engine after the syncs it needs; false (nothing emitted) if it is invalid.
  bool emit(const Instr& in) {
    if (!check(in, geo_).empty()) return false;
    const Engine e = spec(in.op).engine;
    const int ei = static_cast<int>(e);
    const std::vector<Access> acc = sim::lmem_accesses(in, geo_);
    uint64_t need = 0;
    for (const Done& d : done_)
      if (d.engine != e && conflict(acc, d.lmem)) need = std::max<uint64_t>(need, d.index + 1);
    const uint64_t other_len = out_.program.stream(sim::other(e)).size();
    if (pick(0, 3) == 0) need = std::max<uint64_t>(need, pick(0, int64_t(other_len)));  // extra sync
    std::vector<Instr>& code = out_.program.stream(e);
    if (need > waited_[ei]) {
      code.push_back(sync(int64_t(need)));
      waited_[ei] = need;
    }
    done_.push_back(Done{e, uint32_t(code.size()), acc});
    code.push_back(in);
    out_.serial.push_back(in);
    return true;
  }
  static bool conflict(const std::vector<Access>& x, const std::vector<Access>& y) {
    for (const Access& p : x)
      for (const Access& q : y)
        if ((p.write || q.write) && sim::share_bytes(p, q)) return true;
    return false;
  }
  void set_slot(int s, DType t, int64_t n, int64_t c, int64_t h, int64_t w) {
    slots_[s] = Local{true, t, n, c, h, w};
  }

  void load_activation() {
    const DType t = narrow();
    const bool flat = pick(0, 3) == 0;  // [m, k, 1, 1] rows for matmul
    const int64_t n = pick(1, 2), c = pick(1, 2 * a_.lanes), h = flat ? 1 : pick(1, 8),
                  w = flat ? 1 : pick(1, 8);
    const int s = int(pick(0, kSlots - 1));
    const uint64_t bytes = packed_bytes(t, uint64_t(n * c * h * w));
    if (emit(load(t, n, c, h, w, ddr_in(bytes), slot_off(s), a_.lanes))) set_slot(s, t, n, c, h, w);
  }
  // Loads a [1, ch, 1, entries] table (weights or int32 bias) into slot s.
  Instr table_load(DType t, int64_t ch, int64_t entries, int s) {
    return load(t, 1, ch, 1, entries, ddr_in(packed_bytes(t, uint64_t(ch * entries)), 4), slot_off(s),
                a_.lanes);
  }
  // Three distinct slots other than `keep`.
  std::array<int, 3> free_slots(int keep) {
    std::array<int, kSlots> order{};
    for (int i = 0; i < kSlots; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng_);
    std::array<int, 3> r{};
    int k = 0;
    for (int s : order)
      if (s != keep && k < 3) r[k++] = s;
    return r;
  }

  void conv_op() {
    const int s = live_slot();
    if (s < 0) return;
    const Local in = slots_[s];
    const auto [ws, bs, os] = free_slots(s);
    ConvShape sh{in.n,
                 in.c,
                 in.h,
                 in.w,
                 pick(1, 2 * a_.lanes),
                 pick(0, 1) ? 3 : 1,
                 0,
                 pick(1, 2),
                 0,
                 pick(1, 2),
                 1,
                 in.t,
                 pick(0, 1) ? DType::Int8 : DType::Int4};
    sh.kw = sh.kh;
    sh.pad = pick(0, sh.kh - 1);
    if (pick(0, 2) == 0) sh.oc = sh.groups = in.c;  // depthwise
    ops::Conv2d c = conv(sh, slot_off(s), slot_off(ws), slot_off(os));
    c.in_zp = zp(in.t);
    c.has_bias = pick(0, 1);
    c.bias = int64_t(slot_off(bs));
    const DType out = narrow();
    random_requant(c, out);
    const Instr ci = c.instr();
    if (!check(ci, geo_).empty()) return;
    const int64_t taps = sh.ic / sh.groups * sh.kh * sh.kw;
    if (!emit(table_load(sh.weight, sh.oc, taps, ws))) return;
    slots_[ws].live = false;  // a table, not an activation
    if (c.has_bias && !emit(table_load(DType::Int32, sh.oc, 1, bs))) return;
    if (c.has_bias) slots_[bs].live = false;
    if (emit(ci))
      set_slot(os, out, in.n, sh.oc, window_out(in.h, sh.pad, sh.pad, sh.kh, sh.stride, sh.dil),
               window_out(in.w, sh.pad, sh.pad, sh.kw, sh.stride, sh.dil));
  }

  void matmul_op() {
    int s = -1;
    for (int i = 0; i < kSlots; ++i)
      if (slots_[i].live && slots_[i].h == 1 && slots_[i].w == 1) s = i;
    if (s < 0) return;
    const Local in = slots_[s];
    const auto [ws, bs, os] = free_slots(s);
    ops::Matmul m;
    m.m = in.n, m.k = in.c, m.n = pick(1, 2 * a_.lanes), m.in_dtype = int64_t(in.t), m.in_zp = zp(in.t);
    m.w_dtype = int64_t(pick(0, 1) ? DType::Int8 : DType::Int4);
    m.src = int64_t(slot_off(s)), m.weight = int64_t(slot_off(ws)), m.dst = int64_t(slot_off(os));
    m.has_bias = 1, m.bias = int64_t(slot_off(bs));
    const DType out = narrow();
    random_requant(m, out);
    if (!check(m.instr(), geo_).empty()) return;
    if (!emit(table_load(static_cast<DType>(m.w_dtype), m.n, m.k, ws)) ||
        !emit(table_load(DType::Int32, m.n, 1, bs)))
      return;
    slots_[ws].live = slots_[bs].live = false;
    if (emit(m.instr())) set_slot(os, out, m.m, m.n, 1, 1);
  }

  void pool_op() {
    const int s = live_slot();
    if (s < 0) return;
    const Local in = slots_[s];
    ops::Pool p;
    p.n = in.n, p.c = in.c, p.ih = in.h, p.iw = in.w, p.kh = pick(1, 3), p.kw = pick(1, 3);
    p.stride_h = pick(1, 2), p.stride_w = pick(1, 2), p.pad_t = p.pad_b = pick(0, p.kh - 1);
    p.pad_l = p.pad_r = pick(0, p.kw - 1), p.mode = pick(0, 1), p.count_pad = pick(0, 1);
    p.in_dtype = int64_t(in.t), p.in_zp = zp(in.t), p.src = int64_t(slot_off(s));
    const int os = free_slots(s)[0];
    p.dst = int64_t(slot_off(os));
    const DType out = narrow();
    random_requant(p, out);
    if (emit(p.instr()))
      set_slot(os, out, in.n, in.c, window_out(in.h, p.pad_t, p.pad_b, p.kh, p.stride_h, 1),
               window_out(in.w, p.pad_l, p.pad_r, p.kw, p.stride_w, 1));
  }

  void eltwise_op() {
    const int s = live_slot();
    if (s < 0) return;
    const Local x = slots_[s];
    int sb = s;
    for (int i = 0; i < kSlots; ++i)
      if (i != s && slots_[i].live && slots_[i].n == x.n && slots_[i].c == x.c && slots_[i].h == x.h &&
          slots_[i].w == x.w && pick(0, 1))
        sb = i;
    ops::Eltwise e;
    e.n = x.n, e.c = x.c, e.h = x.h, e.w = x.w, e.op = pick(0, 2);
    e.a = int64_t(slot_off(s)), e.a_dtype = int64_t(x.t), e.a_zp = zp(x.t), e.a_m0 = pick(1 << 28, 1 << 30);
    e.b = int64_t(slot_off(sb)), e.b_dtype = int64_t(slots_[sb].t), e.b_zp = zp(slots_[sb].t);
    e.b_m0 = pick(1 << 28, 1 << 30), e.a_shift = pick(20, 30), e.b_shift = pick(20, 30);
    const int os = pick(0, 2) == 0 ? s : free_slots(s)[0];  // sometimes in place
    e.dst = int64_t(slot_off(os));
    const DType out = narrow();
    random_requant(e, out);
    if (emit(e.instr())) set_slot(os, out, x.n, x.c, x.h, x.w);
  }

  void requant_op() {
    const int s = live_slot();
    if (s < 0) return;
    const Local x = slots_[s];
    ops::Requant r;
    r.n = x.n, r.c = x.c, r.h = x.h, r.w = x.w, r.in_dtype = int64_t(x.t), r.in_zp = zp(x.t);
    r.src = int64_t(slot_off(s));
    const int os = pick(0, 1) ? s : free_slots(s)[0];
    r.dst = int64_t(slot_off(os));
    const DType out = narrow();
    random_requant(r, out);
    if (emit(r.instr())) set_slot(os, out, x.n, x.c, x.h, x.w);
  }

  // The table is whatever another slot holds (every bit pattern is a valid table); the output
  // goes in place or to a slot that is not the table's.
  void lut_op() {
    const int s = live_slot();
    if (s < 0) return;
    const Local x = slots_[s];
    const auto [ts, os2, unused] = free_slots(s);
    (void)unused;
    ops::Lut l;
    l.n = x.n, l.c = x.c, l.h = x.h, l.w = x.w, l.in_dtype = int64_t(x.t);
    const DType out = narrow();
    l.out_dtype = int64_t(out);
    l.src = int64_t(slot_off(s)), l.table = int64_t(slot_off(ts));
    const int os = pick(0, 1) && bits(out) == bits(x.t) ? s : os2;
    l.dst = int64_t(slot_off(os));
    if (emit(l.instr())) set_slot(os, out, x.n, x.c, x.h, x.w);
  }

  // softmax or layernorm over a live slot's channels; the exp table / (g, b) pairs are whatever
  // another slot holds (every bit pattern is valid: table entries are clamped, sums saturate).
  void norm_op() {
    const int s = live_slot();
    if (s < 0) return;
    const Local x = slots_[s];
    const auto [ts, os, unused] = free_slots(s);
    (void)unused;
    const DType out = narrow();
    if (pick(0, 1)) {
      ops::Softmax m;
      m.n = x.n, m.c = x.c, m.h = x.h, m.w = x.w, m.in_dtype = int64_t(x.t);
      m.src = int64_t(slot_off(s)), m.table = int64_t(slot_off(ts)), m.dst = int64_t(slot_off(os));
      random_requant(m, out);
      m.rq_per_channel = 0, m.rq = 0;
      if (emit(m.instr())) set_slot(os, out, x.n, x.c, x.h, x.w);
    } else {
      ops::Layernorm l;
      l.n = x.n, l.c = x.c, l.h = x.h, l.w = x.w, l.in_dtype = int64_t(x.t), l.eps = pick(0, 1000);
      l.src = int64_t(slot_off(s)), l.params = int64_t(slot_off(ts)), l.dst = int64_t(slot_off(os));
      random_requant(l, out);
      l.rq_per_channel = 0, l.rq = 0;
      if (emit(l.instr())) set_slot(os, out, x.n, x.c, x.h, x.w);
    }
  }

  void copy_op() {
    const int s = live_slot();
    if (s < 0) return;
    const Local x = slots_[s];
    const int os = free_slots(s)[0];
    if (emit(copy(x.t, x.n, x.c, x.h, x.w, slot_off(s), slot_off(os), a_.lanes))) slots_[os] = x;
  }

  void store_op() {
    const int s = live_slot();
    if (s < 0) return;
    const Local x = slots_[s];
    const uint64_t bytes = packed_bytes(x.t, uint64_t(x.n * x.c * x.h * x.w));
    emit(store(x.t, x.n, x.c, x.h, x.w, slot_off(s), kInBytes + uint64_t(pick(0, int64_t(kOutBytes - bytes))),
               a_.lanes));
  }

  struct Done {
    Engine engine;
    uint32_t index;
    std::vector<Access> lmem;
  };
  const Arch& a_;
  Geometry geo_;
  std::mt19937_64 rng_;
  uint64_t slot_bytes_;
  std::array<Local, kSlots> slots_{};
  std::array<uint64_t, 2> waited_{0, 0};
  std::vector<Done> done_;
  RandomProgram out_;
};

}  // namespace

RandomProgram random_program(const Arch& a, uint64_t seed, int ops) {
  Generator g(a, seed);
  for (int i = 0; i < ops; ++i) g.step();
  return g.finish();
}

}  // namespace simtest

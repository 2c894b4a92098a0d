// The semantics of every opcode as one traits row: its operands, its checker, its reference and
// fast kernels. operands(), check() and execute() dispatch through kSemantics only, so an opcode
// added to isa/isa_table.h without a Semantics specialization below does not compile (see
// isa/opcode_traits.h and docs/adding-an-instruction.md). Internal to isa/ (and its tests).
#pragma once
#include "isa/dtype.h"
#include "isa/opcode_traits.h"
#include "isa/semantics_internal.h"

namespace tpusim::sem {

using OperandsFn = Operands (*)(const Instr& in, uint32_t lanes);
using CheckFn = std::string (*)(const Instr& in, const char* mnemonic);
using KernelFn = void (*)(const Instr& in, const MemView& m, ExecCounters& counters);

// All null for end and sync: the controller interprets them, they touch no memory.
struct OpSemantics {
  Opcode op;
  OperandsFn operands;  // operand tensors: footprints, checker and kernels all read them
  CheckFn check;        // field rules, run by check() before the footprint rules
  KernelFn reference;   // Kernels::Reference: the plain loops
  KernelFn fast;        // Kernels::Fast: an optimised twin with the same effect (or the reference)
  bool in_place;        // output may coincide with a same-width input (element i reads input i only)
};

// MAC kernels also count the MACs run at the int4 rate (both operands 4-bit), here rather than in
// each kernel so the two kernel sets cannot disagree.
template <class Op, KernelFn kernel>
void mac_kernel(const Instr& in, const MemView& m, ExecCounters& counters) {
  const uint64_t before = counters.macs;
  kernel(in, m, counters);
  const Op op = Op::from(in);
  if (is_4bit(static_cast<DType>(op.in_dtype)) && is_4bit(static_cast<DType>(op.w_dtype)))
    counters.macs_int4 += counters.macs - before;
}

template <Opcode op>
struct Semantics {
  static_assert(kMissingTraits<op>,
                "opcode without semantics traits: specialize tpusim::sem::Semantics for it in "
                "isa/opcode_traits_semantics.h (docs/adding-an-instruction.md)");
};

// end and sync: the controller's; an id outside the ISA table gets the same empty row.
inline constexpr OpSemantics kNoSemantics{.op = Opcode::End,
                                          .operands = nullptr,
                                          .check = nullptr,
                                          .reference = nullptr,
                                          .fast = nullptr,
                                          .in_place = false};

template <>
struct Semantics<Opcode::End> {
  static constexpr OpSemantics value = kNoSemantics;
};
template <>
struct Semantics<Opcode::Sync> {
  static constexpr OpSemantics value{.op = Opcode::Sync,
                                     .operands = nullptr,
                                     .check = nullptr,
                                     .reference = nullptr,
                                     .fast = nullptr,
                                     .in_place = false};
};
template <>
struct Semantics<Opcode::DmaLoad> {
  static constexpr OpSemantics value{.op = Opcode::DmaLoad,
                                     .operands = operands_dma_load,
                                     .check = check_dma,
                                     .reference = exec_dma,
                                     .fast = exec_dma_fast,
                                     .in_place = false};
};
template <>
struct Semantics<Opcode::DmaStore> {
  static constexpr OpSemantics value{.op = Opcode::DmaStore,
                                     .operands = operands_dma_store,
                                     .check = check_dma,
                                     .reference = exec_dma,
                                     .fast = exec_dma_fast,
                                     .in_place = false};
};
template <>
struct Semantics<Opcode::DmaCopy> {
  static constexpr OpSemantics value{.op = Opcode::DmaCopy,
                                     .operands = operands_dma_copy,
                                     .check = check_dma,
                                     .reference = exec_dma,
                                     .fast = exec_dma_fast,
                                     .in_place = false};
};
template <>
struct Semantics<Opcode::Conv2d> {
  static constexpr OpSemantics value{.op = Opcode::Conv2d,
                                     .operands = operands_conv2d,
                                     .check = check_conv2d,
                                     .reference = mac_kernel<ops::Conv2d, exec_conv2d>,
                                     .fast = mac_kernel<ops::Conv2d, exec_conv2d_fast>,
                                     .in_place = false};
};
template <>
struct Semantics<Opcode::Matmul> {
  static constexpr OpSemantics value{.op = Opcode::Matmul,
                                     .operands = operands_matmul,
                                     .check = check_matmul,
                                     .reference = mac_kernel<ops::Matmul, exec_matmul>,
                                     .fast = mac_kernel<ops::Matmul, exec_matmul_fast>,
                                     .in_place = false};
};
template <>
struct Semantics<Opcode::Pool> {
  static constexpr OpSemantics value{.op = Opcode::Pool,
                                     .operands = operands_pool,
                                     .check = check_pool,
                                     .reference = exec_pool,
                                     .fast = exec_pool_fast,
                                     .in_place = false};
};
template <>
struct Semantics<Opcode::Eltwise> {
  static constexpr OpSemantics value{.op = Opcode::Eltwise,
                                     .operands = operands_eltwise,
                                     .check = check_eltwise,
                                     .reference = exec_eltwise,
                                     .fast = exec_eltwise_fast,
                                     .in_place = true};
};
template <>
struct Semantics<Opcode::Requant> {
  static constexpr OpSemantics value{.op = Opcode::Requant,
                                     .operands = operands_requant,
                                     .check = check_requant,
                                     .reference = exec_requant,
                                     .fast = exec_requant,
                                     .in_place = true};
};

template <>
struct Semantics<Opcode::Lut> {
  static constexpr OpSemantics value{.op = Opcode::Lut,
                                     .operands = operands_lut,
                                     .check = check_lut,
                                     .reference = exec_lut,
                                     .fast = exec_lut_fast,
                                     .in_place = true};
};

// The output at each position reads every channel's input: never in place.
template <>
struct Semantics<Opcode::Softmax> {
  static constexpr OpSemantics value{.op = Opcode::Softmax,
                                     .operands = operands_softmax,
                                     .check = check_softmax,
                                     .reference = exec_softmax,
                                     .fast = exec_softmax,
                                     .in_place = false};
};
template <>
struct Semantics<Opcode::Layernorm> {
  static constexpr OpSemantics value{.op = Opcode::Layernorm,
                                     .operands = operands_layernorm,
                                     .check = check_layernorm,
                                     .reference = exec_layernorm,
                                     .fast = exec_layernorm,
                                     .in_place = false};
};

inline constexpr auto kSemantics = make_op_table<Semantics>();

// Rows agree with the ISA table: instructions of an engine stream have every piece, end and sync
// none; only TIU outputs may be in place.
constexpr bool semantics_match_isa() {
  if (!rows_match_isa(kSemantics)) return false;
  for (int i = 0; i < kNumOps; ++i) {
    const OpSemantics& s = kSemantics[i];
    const bool runs = kOpSpecs[i].engine != Engine::Sys;
    if ((s.operands != nullptr) != runs || (s.check != nullptr) != runs || (s.reference != nullptr) != runs ||
        (s.fast != nullptr) != runs)
      return false;
    if (s.in_place && kOpSpecs[i].engine != Engine::Tiu) return false;
  }
  return true;
}
#ifndef TPUSIM_SANITIZE_BUILD  // see cmake/Warnings.cmake
static_assert(semantics_match_isa(),
              "kSemantics: each row belongs to its opcode; gdma/tiu rows have operands, checker and both "
              "kernels, sys rows none; only tiu rows are in place");
#endif

// The row of `op`; an id outside the ISA table (check() rejects it first) gets an empty row.
inline const OpSemantics& semantics_of(Opcode op) {
  const int i = op_index(op);
  return i < 0 ? kNoSemantics : kSemantics[i];
}

}  // namespace tpusim::sem

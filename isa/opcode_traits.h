// Per-opcode traits tables, derived from the ISA table (isa/isa_table.h) like everything else.
// A component that behaves differently per opcode (the semantics: isa/opcode_traits_semantics.h;
// the timing: sim/timing.cpp) declares a class template over Opcode whose primary template fails
// to compile, specializes it for every opcode, and builds its table with make_op_table(). Row i
// is the specialization for TPUSIM_ISA's i-th opcode, so an opcode added to the ISA table without
// its traits is a compile error naming it, not a silent default (docs/adding-an-instruction.md).
//
//   template <Opcode op> struct Foo { static_assert(kMissingTraits<op>, "opcode has no Foo traits"); };
//   template <> struct Foo<Opcode::End> { static constexpr Row value{...}; };
//   inline constexpr auto kFoo = make_op_table<Foo>();   // kFoo[op_index(op)]
#pragma once
#include <array>
#include <cstdint>
#include <type_traits>

#include "isa/isa.h"

namespace tpusim {

// False for every opcode, but only once instantiated: the primary template's static_assert fires
// for exactly the opcodes without a specialization.
template <Opcode>
inline constexpr bool kMissingTraits = false;

namespace detail {
inline constexpr std::array<int16_t, 256> kOpIndex = [] {
  std::array<int16_t, 256> index{};
  index.fill(-1);
  for (int i = 0; i < kNumOps; ++i) index[static_cast<uint8_t>(kOpSpecs[i].op)] = static_cast<int16_t>(i);
  return index;
}();
}  // namespace detail

// Row of an opcode in kOpSpecs and in every make_op_table() table; -1 for an id not in the ISA.
constexpr int op_index(Opcode op) { return detail::kOpIndex[static_cast<uint8_t>(op)]; }

// One row per opcode, in ISA table order: Traits<op>::value.
template <template <Opcode> class Traits>
constexpr auto make_op_table() {
  using Row = std::remove_cv_t<decltype(Traits<Opcode::End>::value)>;
  return std::array<Row, kNumOps>{
#define TPUSIM_X_TRAITS_ROW(id, Name, mn, eng, FIELDS, sem) Traits<Opcode::Name>::value,
      TPUSIM_ISA(TPUSIM_X_TRAITS_ROW)
#undef TPUSIM_X_TRAITS_ROW
  };
}

// True when every row's `op` member is its ISA table opcode (catches a row copied to the wrong
// specialization).
template <class Table>
constexpr bool rows_match_isa(const Table& table) {
  for (int i = 0; i < kNumOps; ++i)
    if (table[i].op != kOpSpecs[i].op) return false;
  return true;
}

}  // namespace tpusim

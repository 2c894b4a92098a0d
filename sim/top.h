// Top: instantiates the model and binds it; nothing else.
//
//   Controller ◄── ctrl ── GdmaEngine ── ddr (TLM initiator) ──► Ddr.target
//       ▲                      │
//       └──── ctrl ── TiuEngine│
//                      │       │
//                      └─ lmem ┴──► Lmem
#pragma once
#include "sim/controller.h"
#include "sim/ddr.h"
#include "sim/gdma_engine.h"
#include "sim/lmem.h"
#include "sim/tiu_engine.h"

namespace tpusim::sim {

class Top : public sc_core::sc_module {
 public:
  Controller controller;
  GdmaEngine gdma;
  TiuEngine tiu;
  Lmem lmem;
  Ddr ddr;

  explicit Top(sc_core::sc_module_name name);
};

}  // namespace tpusim::sim

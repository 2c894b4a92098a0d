// The controller's logic, shared by the SystemC Controller and the functional loop so both modes
// interpret sync/end and detect deadlock identically: per engine a program counter, the count of
// completed instructions (sync and end included) and whether it is blocked or ended.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "isa/program.h"

namespace tpusim::sim {

// "tiu instruction 3 (sync count=7)" / "gdma instruction 0 (dma.load)".
std::string describe(Engine e, uint32_t index, const Instr& in);
inline Engine other(Engine e) { return e == Engine::Gdma ? Engine::Tiu : Engine::Gdma; }

enum class Step : uint8_t {
  Execute,   // pc holds a dma/TIU instruction: run it, then retire()
  SyncDone,  // a satisfied sync was retired
  Blocked,   // a sync waits for the other engine
  Ended,     // end was retired now
  Finished,  // the stream had already ended
};

class SyncState {
 public:
  explicit SyncState(const Program& p);

  // Interpret the instruction at pc(e). Throws Error if the stream runs past its last instruction.
  Step step(Engine e);
  // The dma/TIU instruction at pc(e) completed.
  void retire(Engine e);

  uint32_t pc(Engine e) const { return lane(e).pc; }
  uint64_t completed(Engine e) const { return lane(e).completed; }
  bool ended(Engine e) const { return lane(e).ended; }
  bool both_ended() const { return ended(Engine::Gdma) && ended(Engine::Tiu); }
  const Instr& current(Engine e) const { return (*lane(e).code)[lane(e).pc]; }

  // "" unless no engine can make progress: both blocked on unmet syncs, or one blocked on a count
  // the other (ended) engine never reached. The reason names each stuck instruction.
  std::string deadlock() const;
  // One line per engine: pc, instruction, completed count, what it waits for.
  std::string dump() const;

 private:
  struct Lane {
    const std::vector<Instr>* code = nullptr;
    uint32_t pc = 0;
    uint64_t completed = 0;
    bool ended = false;
    bool blocked = false;
    uint64_t need = 0;  // sync count while blocked
  };
  const Lane& lane(Engine e) const { return lanes_[static_cast<int>(e)]; }
  Lane& lane(Engine e) { return lanes_[static_cast<int>(e)]; }
  bool stuck(Engine e) const;  // blocked and the other engine can never reach its count

  std::array<Lane, 2> lanes_;
};

}  // namespace tpusim::sim

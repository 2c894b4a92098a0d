// Back end, merged constant loads (--opt 2): the loads of one tile's constants (weights, bias,
// requant table, lut table) become one dma.load of a per-lane image the compiler writes into DDR.
// Each dma.load pays gdma_startup + ddr_latency before its first byte; an op's bias and requant
// tables are a few hundred bytes, so on small layers those fixed costs dominate their traffic.
//
// An image is lanes x bytes_per_lane bytes, lane-major: row l holds exactly what lane l of the
// LMEM range [lmem, lmem + bytes_per_lane) receives, so one load with c = lanes, w =
// bytes_per_lane puts it in place. Bytes no original load wrote (bank or lane-slot padding)
// are zeros: the caller owns the whole range for these constants (Bufs::consts_lo/hi), so
// writing them is harmless. The merge is kept only when the one load is cheaper than the parts
// by the simulator's own DMA formula (padding crosses the bus too).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "isa/arch.h"
#include "isa/isa.h"
#include "isa/program.h"

namespace tpusim::compiler::be {

struct ConstImage {
  uint64_t ddr_addr = 0;  // where the image is placed in DDR
  uint64_t lmem = 0;      // per-lane LMEM offset of its first byte
  uint32_t lanes = 0;
  uint64_t bytes_per_lane = 0;
  std::vector<Instr> parts;  // the dma.loads it replaces, in their order
  uint32_t gdma_index = 0;   // its load in the GDMA stream, once emitted
  int64_t same_as = -1;      // an earlier image with the same bytes (a tile reloading them): shared
  uint64_t bytes() const { return uint64_t{lanes} * bytes_per_lane; }
  Instr load() const;  // the one dma.load
};

// Splits `loads` into an image of the dma.loads whose LMEM footprints lie in [lo, hi) of every lane
// (at least two, and only when one load of the image is cheaper) and the rest, left in `loads`.
// Nothing when no such merge pays or the image would not fit DDR below arch.ddr_bytes.
// Images with the same bytes are detected by same_bytes (the parts equal but for the LMEM base).
std::optional<ConstImage> plan_const_image(std::vector<Instr>& loads, uint64_t lo, uint64_t hi, const Arch& a,
                                           uint64_t ddr_addr);

bool same_bytes(const ConstImage& x, const ConstImage& y);

// The image's bytes, read from the constants of `data` that its parts load (throws Error if a part
// reads DDR no data block holds: a compiler bug).
DataBlock const_image_data(const ConstImage& im, const std::vector<DataBlock>& data, const Arch& a);

// Keeps of `p`'s data blocks only the bytes some dma.load reads (constants now loaded from images
// are dropped; a block partly read is cut to the pieces read).
void drop_unread_data(Program& p, const Arch& a);

// After emission: the images' bytes written, the constants only images load dropped, and each image
// moved, first fit, into a gap of [consts_lo, consts_hi) no remaining block covers (the space of
// the constants it replaced), else after consts_hi; each image's load is patched to its place.
// Returns the end of the DDR the program uses.
uint64_t finish_images(Program& p, const std::vector<ConstImage>& images, uint64_t consts_lo,
                       uint64_t consts_hi, const Arch& a);

}  // namespace tpusim::compiler::be

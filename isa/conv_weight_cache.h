// Conv weights packed for simd::conv_quads_u8s8 (isa/simd_conv_quads.h), once per weight content
// instead of once per instruction: a program runs the same conv with the same weights for every
// image (and tile), so the packing is paid on the first run only. The packed form is cached per
// thread, keyed by the instruction's weight address and shape, and used only while the weight
// bytes in LMEM still equal the ones it was packed from (compared byte for byte on every lookup:
// a memcmp of the raw rows is several times cheaper than packing them, and no write to LMEM can
// go unnoticed, whoever made it).
#pragma once
#include <cstdint>
#include <vector>

#include "isa/semantics_internal.h"

namespace tpusim::sem {

// How the reduction of one output channel is cut into steps of 4 bytes.
enum class QuadLayout : uint8_t {
  // Step t * cq_count + cq: 4 input channels 4cq..4cq+3 at tap t = ky * kw + kx (channels past
  // icg have zero weights).
  ChannelQuads,
  // For icg = 1 or 2: step ky * r_count + r: entries 4r..4r+3 of kernel row ky read channels-last,
  // entry e = kx * icg + ci (entries past kw * icg have zero weights).
  RowQuads,
};

struct ConvWeightKey {
  uint64_t addr;
  DType dtype;
  int64_t oc, groups, icg, kh, kw;
  QuadLayout layout;
  bool operator==(const ConvWeightKey&) const = default;
};

// Steps per output channel for a layout.
int64_t quad_steps(const ConvWeightKey& k);

struct PackedConvWeights {
  int64_t k4 = 0;             // quad_steps()
  int64_t ocg4 = 0;           // channels per group rounded up to 4
  std::vector<int8_t> w;      // group g, block b: [k4][4 channels][4 bytes] at (g * ocg4 / 4 + b) * k4 * 16
  std::vector<int32_t> wsum;  // per output channel: the sum of its weights
};

// The packed weights of the instruction's `weight` operand (channel o's row: plane(weight, m, 0, o),
// icg * kh * kw codes [ci][ky][kx]). The reference stays valid until the next call on this thread.
const PackedConvWeights& packed_conv_weights(const ConvWeightKey& key, const Tensor& weight,
                                             const MemView& m);

}  // namespace tpusim::sem

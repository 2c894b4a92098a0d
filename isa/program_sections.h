// Encoders and decoders of the .tpu sections' payloads (docs/tpu-format.md), used by the
// container framing in program.cpp. Decoders read through a bounds-checked ByteReader and throw
// Error on any defect.
#pragma once
#include <cstdint>
#include <vector>

#include "base/bytes.h"
#include "isa/program.h"

namespace tpusim::tpu {

std::vector<uint8_t> encode_arch(const ArchRef& a);
std::vector<uint8_t> encode_code(const std::vector<Instr>& code, const char* section);
std::vector<uint8_t> encode_data(const std::vector<DataBlock>& data);
std::vector<uint8_t> encode_tensors(const std::vector<TensorDesc>& ts, const char* section);
std::vector<uint8_t> encode_debug(const std::vector<DebugEntry>& debug);

ArchRef decode_arch(ByteReader& r);
std::vector<Instr> decode_code(ByteReader& r);
std::vector<DataBlock> decode_data(ByteReader& r);
std::vector<TensorDesc> decode_tensors(ByteReader& r);
std::vector<DebugEntry> decode_debug(ByteReader& r);

}  // namespace tpusim::tpu

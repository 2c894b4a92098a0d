// Tensors to and from NumPy files: .npy for one tensor, .npz for a per-layer dump. int4/uint4 are
// written as int8/uint8 (numpy has no 4-bit type).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "base/npy.h"
#include "compiler/tensor.h"

namespace tpusim::compiler {

NpyArray to_npy(const Tensor& t);
// float32/float64 -> F32 data, integer arrays -> I64 (other types: Error naming `name`).
Tensor from_npy(const NpyArray& a, const std::string& name, ElemType type = ElemType::F32);

// A tensor name as a safe .npz member name: characters outside [A-Za-z0-9_.-] become '_',
// and ".." sequences are broken up ("/conv1/Conv_output_0" -> "_conv1_Conv_output_0").
std::string sanitize_member_name(const std::string& name);

// Writes every tensor as one member of an .npz archive (atomic). Member names are the
// sanitised tensor names, made unique with a "__<k>" suffix on collision. Returns the
// member name chosen for each tensor, in map order.
std::vector<std::pair<std::string, std::string>> save_tensors_npz(
    const std::map<std::string, Tensor>& tensors, const std::string& path);

}  // namespace tpusim::compiler

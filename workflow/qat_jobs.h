// The QAT toolchain's jobs as `tpusim train`, `ptq`, `qat` and the demo run them: the recipe's
// defaults (written here once), the libtorch library opened on demand (workflow/train_loader.h),
// and for quantized models the integer reference's check of the exported ONNX (docs/qat.md).
#pragma once
#include <cstdint>
#include <string>

#include "qat/jobs.h"

namespace tpusim::workflow {

// The recipe. FP32 training: 15 epochs with augmentation (93.2% on Fashion-MNIST for LeNet-5).
qat::TrainJob default_train_job();
// QAT fine-tuning: 3 epochs, weight decay 5e-5, augmentation, lr 0 = chosen by qat_learning_rate.
qat::QatJob default_qat_job();
// A converged net at 8 bits only has to settle onto the grid: a larger step first walks away from
// the optimum (measured at w8a8: lr 0.01 lost 0.9 points, 0.001 0.2, 0.0001 nothing). Below 8
// bits the grid moves the weights far enough that 0.01 is needed.
double qat_learning_rate(const qat::LayerBits& bits);

// Transformers train with Adam: SGD's recipe (tuned on the CNNs) barely moves a ViT. FP32: lr 1e-3,
// weight decay 1e-4; QAT: lr 1e-5 at w8a8 and 1e-4 below, no decay; no augmentation (vit_tiny
// underfits in the epochs given: 80.1% after 4 epochs with shifts and flips, train accuracy equal
// to test). Applied when the user chose none of --optimizer, --lr, --weight-decay.
bool is_transformer(const std::string& model);
void use_transformer_recipe(qat::TrainOptions& t, bool qat, const qat::LayerBits& bits);
// The model a `tpusim train` folder holds (its report.json), or "" when it cannot be read.
std::string trained_model_name(const std::string& dir);

// libtorch's thread count for the jobs below (<= 0: every core).
void set_training_threads(int threads);

qat::JobResult run_train(const qat::TrainJob& job);
// ref_limit > 0: the exported model also runs through the compiler's integer reference on the
// first ref_limit test images, and report.json gains "integer_reference" (top-1, the gap to
// fake-quant, the agreement of their top-1 classes).
qat::JobResult run_ptq(const qat::PtqJob& job, int64_t ref_limit, bool progress);
// job.train.lr == 0 is resolved by qat_learning_rate first.
qat::JobResult run_qat(qat::QatJob job, int64_t ref_limit, bool progress);

}  // namespace tpusim::workflow

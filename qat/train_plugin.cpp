// The QAT toolchain as a shared library (libtpusim_train.so): the one symbol `tpusim` looks up
// when a command trains (workflow/train_loader.cpp). Loading libtorch costs ~0.7 s of static
// initialisation, so only the commands that need it pay for it.
#include "qat/jobs.h"
#include "qat/ptq_session.h"
#include "qat/workflow.h"

extern "C" __attribute__((visibility("default"))) const tpusim::qat::TrainApi* tpusim_train_api() {
  static const tpusim::qat::TrainApi api = {
      tpusim::qat::kTrainApiVersion, &tpusim::qat::run_train,   &tpusim::qat::run_ptq,
      &tpusim::qat::run_qat,         &tpusim::qat::set_threads, &tpusim::qat::open_ptq_session,
  };
  return &api;
}

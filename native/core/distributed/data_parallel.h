// The steps every trainer takes to run data-parallel on a Communicator: start from rank 0's
// weights, average gradients (agreeing on aborts), keep buffers equal, reduce the reports.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "distributed/communicator.h"
#include "train/weights.h"

namespace ebm {

// Every rank takes rank 0's values of `tensors` (weights, buffers, loss-owned tensors).
void broadcastFromRankZero(Communicator& comm, const std::vector<at::Tensor>& tensors);

// Averages the gradients of `params` over the ranks in bucketed all-reduces, with one more
// element that carries the ranks' abort requests. Returns true when any rank asked to stop (the
// step is then not applied anywhere). A gradient no rank has stays absent.
bool reduceGradients(Communicator& comm, const std::vector<at::Tensor>& params, bool stop);

// Averages `tensors` over the ranks in place (running statistics of batch norms).
void averageTensors(Communicator& comm, const std::vector<at::Tensor>& tensors);

// The report's means over all ranks (every rank reports at the same steps): the loss, the
// metrics, and whether every rank's numbers were finite (`guarded` metrics and the loss).
void reduceReport(Communicator& comm, IntervalMeans::Report& report, bool (*guarded)(const std::string&));

}  // namespace ebm

#include "distributed/data_parallel.h"

#include <torch/torch.h>

#include <cmath>

#include "errors.h"

namespace ebm {

bool reduceGradients(Communicator& comm, const std::vector<at::Tensor>& params, bool stop) {
  torch::NoGradGuard noGrad;
  std::vector<at::Tensor> tensors;
  std::vector<bool> had;
  for (const auto& p : params) {
    had.push_back(p.grad().defined());
    if (!had.back()) p.mutable_grad() = torch::zeros_like(p);
    tensors.push_back(p.grad());
  }
  at::Tensor flag = torch::full({1}, stop ? 1.0f : 0.0f, params.front().options().requires_grad(false));
  tensors.push_back(flag);
  // The mean over the ranks (the flag stays > 0 when any rank asked to stop).
  allReduceBucketed(comm, tensors, 1.0 / comm.worldSize());
  if (flag.item<float>() > 0) return true;
  for (size_t i = 0; i < params.size(); ++i)
    if (!had[i]) params[i].mutable_grad() = at::Tensor();  // no rank had one (the same on every rank)
  return false;
}

void reduceReport(Communicator& comm, IntervalMeans::Report& report, bool (*guarded)(const std::string&)) {
  std::vector<double> packed{report.loss, report.finite ? 1.0 : 0.0};
  for (const auto& [name, value] : report.metrics) packed.push_back(value);
  std::vector<at::Tensor> t{torch::tensor(packed, torch::kFloat64)};
  comm.allReduceSum(t);
  const double* v = t[0].data_ptr<double>();
  const double w = comm.worldSize();
  report.loss = v[0] / w;
  report.finite = v[1] == w && std::isfinite(report.loss);
  size_t i = 2;
  for (auto& [name, value] : report.metrics) {
    value = v[i++] / w;
    if (guarded(name) && !std::isfinite(value)) report.finite = false;
  }
}

void broadcastFromRankZero(Communicator& comm, const std::vector<at::Tensor>& tensors) {
  torch::NoGradGuard noGrad;
  std::vector<at::Tensor> views;
  for (const auto& t : tensors) views.push_back(t.detach());
  comm.broadcast(views, 0);
}

void averageTensors(Communicator& comm, const std::vector<at::Tensor>& tensors) {
  if (tensors.empty()) return;
  torch::NoGradGuard noGrad;
  std::vector<at::Tensor> views;
  for (const auto& t : tensors) views.push_back(t.detach());
  allReduceBucketed(comm, views, 1.0 / comm.worldSize());
}

}  // namespace ebm

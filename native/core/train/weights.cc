#include "train/weights.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace ebm {

std::vector<at::Tensor> cloneAll(const std::vector<NamedTensor>& state) {
  std::vector<at::Tensor> out;
  for (const auto& nt : state) out.push_back(nt.tensor.detach().clone());
  return out;
}

void restoreAll(const std::vector<NamedTensor>& state, const std::vector<at::Tensor>& saved) {
  torch::NoGradGuard noGrad;
  for (size_t i = 0; i < state.size(); ++i) state[i].tensor.copy_(saved[i]);
}

at::Tensor globalGradNorm(const std::vector<at::Tensor>& params, const at::TensorOptions& options) {
  std::vector<at::Tensor> sq;
  for (const auto& p : params)
    if (p.grad().defined()) sq.push_back(p.grad().pow(2).sum());
  return sq.empty() ? torch::zeros({}, options) : torch::stack(sq).sum().sqrt();
}

void IntervalMeans::addLoss(const at::Tensor& loss) { losses_.push_back(loss.detach()); }

void IntervalMeans::add(const std::string& name, const at::Tensor& value) {
  at::Tensor v = value.detach().to(torch::kFloat64);
  auto it = sums_.find(name);
  if (it == sums_.end())
    sums_[name] = v;
  else
    it->second = it->second + v;
  ++counts_[name];
}

IntervalMeans::Report IntervalMeans::take(const std::function<bool(const std::string&)>& guarded) {
  Report r;
  at::Tensor losses = torch::stack(losses_).to(torch::kCPU, torch::kFloat64);
  r.finite = torch::isfinite(losses).all().item<bool>();
  for (const auto& [name, sum] : sums_) {
    r.metrics[name] = sum.item<double>() / static_cast<double>(counts_[name]);
    if (guarded(name) && !std::isfinite(r.metrics[name])) r.finite = false;
  }
  r.loss = losses.mean().item<double>();
  const auto now = std::chrono::steady_clock::now();
  r.stepsPerSecond =
      static_cast<double>(losses_.size()) / std::max(1e-9, std::chrono::duration<double>(now - start_).count());
  losses_.clear();
  sums_.clear();
  counts_.clear();
  start_ = now;
  return r;
}

}  // namespace ebm

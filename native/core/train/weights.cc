#include "train/weights.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "models/fused_activation.h"
#include "tensor_util.h"

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
  std::vector<at::Tensor> grads;
  bool plainCpu = true;  // every gradient a dense float32 CPU tensor: one loop, no kernel launches
  for (const auto& p : params) {
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    grads.push_back(g);
    plainCpu = plainCpu && isPlainCpuFloat(g);
  }
  if (grads.empty()) return torch::zeros({}, options);
  if (plainCpu) {
    double sum = 0;
    for (const auto& g : grads) sum += sumOfSquares(g.data_ptr<float>(), g.numel());
    return torch::scalar_tensor(std::sqrt(sum), grads.front().options());
  }
  std::vector<at::Tensor> sq;
  for (const auto& g : grads) sq.push_back(g.pow(2).sum());
  return torch::stack(sq).sum().sqrt();
}

void IntervalMeans::addLoss(const at::Tensor& loss) { losses_.push_back(loss.detach()); }

void IntervalMeans::add(const std::string& name, const at::Tensor& value) {
  Pending& p = pending_[name];
  p.values.push_back(value.detach());
  ++p.count;
  // Summed when read, not per step (three kernel launches a metric a step); folded every 1024
  // values so a long interval holds few tensors.
  if (p.values.size() == 1024) p.fold();
}

void IntervalMeans::Pending::fold() {
  at::Tensor s = torch::stack(values).to(torch::kFloat64).sum();
  folded = folded.defined() ? folded + s : s;
  values.clear();
}

IntervalMeans::Report IntervalMeans::take(const std::function<bool(const std::string&)>& guarded) {
  Report r;
  at::Tensor losses = torch::stack(losses_).to(torch::kCPU, torch::kFloat64);
  r.finite = torch::isfinite(losses).all().item<bool>();
  for (auto& [name, pending] : pending_) {
    if (!pending.values.empty()) pending.fold();
    r.metrics[name] = pending.folded.item<double>() / static_cast<double>(pending.count);
    if (guarded(name) && !std::isfinite(r.metrics[name])) r.finite = false;
  }
  r.loss = losses.mean().item<double>();
  const auto now = std::chrono::steady_clock::now();
  r.stepsPerSecond =
      static_cast<double>(losses_.size()) / std::max(1e-9, std::chrono::duration<double>(now - start_).count());
  losses_.clear();
  pending_.clear();
  start_ = now;
  return r;
}

}  // namespace ebm

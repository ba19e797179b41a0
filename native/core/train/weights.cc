#include "train/weights.h"

#include <torch/torch.h>

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

}  // namespace ebm

#include "models/activation.h"

#include <torch/torch.h>

#include "errors.h"

namespace ebm {

namespace {
const char* kNames = "'silu', 'softplus', 'leaky_relu', 'elu', 'tanh'";
}

void checkActivation(const std::string& name, const std::string& field) {
  if (name != "silu" && name != "softplus" && name != "leaky_relu" && name != "elu" && name != "tanh")
    throw ConfigError(field + " must be one of " + kNames + "; got '" + name + "'");
}

at::Tensor applyActivation(const std::string& name, const at::Tensor& h) {
  if (name == "silu") return torch::silu(h);
  if (name == "softplus") return torch::softplus(h);
  if (name == "leaky_relu") return torch::leaky_relu(h, 0.2);
  if (name == "elu") return torch::elu(h);
  if (name == "tanh") return torch::tanh(h);
  throw ConfigError(std::string("activation must be one of ") + kNames + "; got '" + name + "'");
}

}  // namespace ebm

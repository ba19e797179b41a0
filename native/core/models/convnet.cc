// A small convolutional energy for images [N, C, H, W]: per stage a 3x3 convolution and a
// 4x4 stride-2 convolution (halving the resolution), then a linear read-out to one energy.
#include <torch/torch.h>

#include "errors.h"
#include "io/fields.h"
#include "models/activation.h"
#include "models/model_registry.h"
#include "tensor_util.h"

namespace ebm {
namespace {

struct ConvNetOptions {
  std::vector<int64_t> inputShape;  // [channels, height, width]
  std::vector<int64_t> channels;    // one width per stage
  std::string activation = "silu";
  int64_t seed = 0;
};
template <typename Fields>
void describe(Fields& f, ConvNetOptions& o) {
  f.required("inputShape", o.inputShape);
  f.required("channels", o.channels);
  f.optional("activation", o.activation);
  f.optional("seed", o.seed);
}

class ConvNet : public EnergyModel {
 public:
  ConvNet(const json::Value& cfg, c10::Device device, const ConvNetOptions& o)
      : EnergyModel(cfg, o.inputShape, device), activation_(o.activation) {
    const std::vector<int64_t>& inputShape = o.inputShape;
    const std::vector<int64_t>& channels = o.channels;
    checkActivation(activation_, "model.activation");
    at::Generator gen = makeGenerator(c10::Device(c10::kCPU), static_cast<uint64_t>(o.seed));
    // The plan walks the stages first: nothing is allocated for a config over the budget.
    ParameterPlan plan;
    int64_t in = inputShape[0], h = inputShape[1], w = inputShape[2];
    for (size_t i = 0; i < channels.size(); ++i) {
      // the 4x4 stride-2 convolution needs a padded side of at least 4
      if (h + 2 < 4 || w + 2 < 4)
        throw ConfigError("model.channels has too many stages for a " + std::to_string(inputShape[1]) + " x " +
                          std::to_string(inputShape[2]) + " image");
      plan.add({channels[i], in, 3, 3}).add({channels[i]}).add({channels[i], channels[i], 4, 4}).add({channels[i]});
      in = channels[i];
      h = (h + 2 - 4) / 2 + 1;
      w = (w + 2 - 4) / 2 + 1;
    }
    plan.add({1, in * h * w}).add({1}).check();
    in = inputShape[0];
    for (size_t i = 0; i < channels.size(); ++i) {
      const int64_t out = channels[i];
      const std::string p = "convs." + std::to_string(2 * i);
      const std::string q = "convs." + std::to_string(2 * i + 1);
      weights_.push_back(addUniformParameter(p + ".weight", {out, in, 3, 3}, in * 9, gen));
      biases_.push_back(addUniformParameter(p + ".bias", {out}, in * 9, gen));
      weights_.push_back(addUniformParameter(q + ".weight", {out, out, 4, 4}, out * 16, gen));
      biases_.push_back(addUniformParameter(q + ".bias", {out}, out * 16, gen));
      in = out;
    }
    const int64_t features = in * h * w;
    outWeight_ = addUniformParameter("out.weight", {1, features}, features, gen);
    outBias_ = addUniformParameter("out.bias", {1}, features, gen);
  }

  at::Tensor energy(const at::Tensor& x, const at::Tensor&) override {
    at::Tensor h = x;
    for (size_t i = 0; i < weights_.size(); ++i) {
      const bool down = i % 2 == 1;
      h = applyActivation(activation_, torch::conv2d(h, weights_[i], biases_[i], down ? 2 : 1, 1));
    }
    return torch::linear(h.flatten(1), outWeight_, outBias_).squeeze(1);
  }

 private:
  std::string activation_;
  std::vector<at::Tensor> weights_, biases_;
  at::Tensor outWeight_, outBias_;
};

}  // namespace

std::shared_ptr<EnergyModel> makeConvNet(const json::Value& cfg, c10::Device device) {
  const ConvNetOptions o = readOptions<ConvNetOptions>(cfg, "model");
  const std::vector<int64_t>& shape = o.inputShape;
  if (shape.size() != 3 || shape[0] < 1 || shape[1] < 2 || shape[2] < 2 || shape[0] > 64 || shape[1] > 4096 ||
      shape[2] > 4096)
    throw ConfigError("model.inputShape must be [channels, height, width] with channels <= 64 and sides >= 2");
  const std::vector<int64_t>& channels = o.channels;
  if (channels.empty() || channels.size() > 8) throw ConfigError("model.channels must list 1 to 8 stage widths");
  for (size_t i = 0; i < channels.size(); ++i)
    if (channels[i] < 1 || channels[i] > 4096)
      throw ConfigError("model.channels[" + std::to_string(i) + "] must be an integer in [1, 4096]");
  return std::make_shared<ConvNet>(cfg, device, o);
}

json::Value convNetDefaults() { return defaultsOf<ConvNetOptions>(); }

}  // namespace ebm

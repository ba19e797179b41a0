// conv 3x3 (32) - maxpool 2 - conv 3x3 (64) - maxpool 2 - linear (features, ReLU) - linear (classes)
#include "models/classifier.h"

#include <torch/torch.h>

#include "errors.h"
#include "io/fields.h"
#include "models/model_registry.h"
#include "tensor_util.h"

namespace ebm {
namespace {

struct ClassifierOptions {
  std::vector<int64_t> inputShape;  // [channels, height, width]
  int64_t classes = 10;
  int64_t featureDim = 128;
  int64_t seed = 0;
};
template <typename Fields>
void describe(Fields& f, ClassifierOptions& o) {
  f.required("inputShape", o.inputShape);
  f.optional("classes", o.classes);
  f.optional("featureDim", o.featureDim);
  f.optional("seed", o.seed);
}

class ConvClassifier : public Classifier {
 public:
  ConvClassifier(const json::Value& cfg, c10::Device device, const ClassifierOptions& o)
      : Classifier(cfg, o.inputShape, device) {
    const std::vector<int64_t>& shape = o.inputShape;
    const int64_t classes = o.classes, featureDim = o.featureDim;
    at::Generator gen = makeGenerator(c10::Device(c10::kCPU), static_cast<uint64_t>(o.seed));
    const int64_t c = shape[0], h = shape[1] / 4, w = shape[2] / 4;
    ParameterPlan()
        .add({32, c, 3, 3})
        .add({32})
        .add({64, 32, 3, 3})
        .add({64})
        .add({featureDim, 64 * h * w})
        .add({featureDim})
        .add({classes, featureDim})
        .add({classes})
        .check();
    conv1w_ = addUniformParameter("conv1.weight", {32, c, 3, 3}, c * 9, gen);
    conv1b_ = addUniformParameter("conv1.bias", {32}, c * 9, gen);
    conv2w_ = addUniformParameter("conv2.weight", {64, 32, 3, 3}, 32 * 9, gen);
    conv2b_ = addUniformParameter("conv2.bias", {64}, 32 * 9, gen);
    fcw_ = addUniformParameter("fc.weight", {featureDim, 64 * h * w}, 64 * h * w, gen);
    fcb_ = addUniformParameter("fc.bias", {featureDim}, 64 * h * w, gen);
    outw_ = addUniformParameter("out.weight", {classes, featureDim}, featureDim, gen);
    outb_ = addUniformParameter("out.bias", {classes}, featureDim, gen);
  }

  at::Tensor features(const at::Tensor& x) override {
    at::Tensor h = torch::max_pool2d(torch::relu(torch::conv2d(x, conv1w_, conv1b_, 1, 1)), 2);
    h = torch::max_pool2d(torch::relu(torch::conv2d(h, conv2w_, conv2b_, 1, 1)), 2);
    return torch::relu(torch::linear(h.flatten(1), fcw_, fcb_));
  }

  at::Tensor logits(const at::Tensor& x) override { return torch::linear(features(x), outw_, outb_); }

  at::Tensor energy(const at::Tensor& x, const at::Tensor&) override { return -torch::logsumexp(logits(x), 1); }

 private:
  at::Tensor conv1w_, conv1b_, conv2w_, conv2b_, fcw_, fcb_, outw_, outb_;
};

}  // namespace

std::shared_ptr<EnergyModel> makeClassifier(const json::Value& cfg, c10::Device device) {
  const ClassifierOptions o = readOptions<ClassifierOptions>(cfg, "model");
  const std::vector<int64_t>& shape = o.inputShape;
  if (shape.size() != 3 || shape[0] < 1 || shape[0] > 64 || shape[1] < 4 || shape[2] < 4 || shape[1] > 1024 ||
      shape[2] > 1024)
    throw ConfigError("model.inputShape must be [channels, height, width] with sides >= 4");
  if (o.classes < 2 || o.classes > 100000) throw ConfigError("model.classes must be an integer >= 2");
  if (o.featureDim < 1 || o.featureDim > 65536) throw ConfigError("model.featureDim must be an integer >= 1");
  return std::make_shared<ConvClassifier>(cfg, device, o);
}

json::Value classifierDefaults() { return defaultsOf<ClassifierOptions>(); }

}  // namespace ebm

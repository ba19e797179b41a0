// Cross-entropy on the logits of a classifier model, for the labelled data given to the trainer.
#include <torch/torch.h>

#include "errors.h"
#include "losses/loss_registry.h"
#include "models/classifier.h"

namespace ebm {
namespace {

class CrossEntropy : public Loss {
 public:
  void setLabels(const at::Tensor& labels) override { labels_ = labels; }

  LossOutput compute(EnergyModel& model, const at::Tensor& x, at::Generator&) override {
    if (!labels_.defined()) throw ConfigError("loss.kind 'ce' needs labels (train(..., { labels }))");
    at::Tensor logits = static_cast<Classifier&>(model).logits(x);
    if ((labels_ < 0).any().item<bool>() || (labels_ >= logits.size(1)).any().item<bool>())
      throw ConfigError("labels must lie in [0, " + std::to_string(logits.size(1)) + ")");
    LossOutput out{torch::nn::functional::cross_entropy(logits, labels_), {}};
    out.metrics["accuracy"] = (logits.detach().argmax(1) == labels_).to(torch::kFloat32).mean();
    return out;
  }

 private:
  at::Tensor labels_;
};

}  // namespace

std::unique_ptr<Loss> makeCrossEntropy(const json::Value&, const EnergyModel& model) {
  if (!dynamic_cast<const Classifier*>(&model)) throw ConfigError("loss.kind 'ce' needs a 'classifier' model");
  return std::make_unique<CrossEntropy>();
}

}  // namespace ebm

// Cross-entropy on the logits of a classifier model, for the labelled data given to the trainer.
#include <torch/torch.h>

#include "errors.h"
#include "losses/loss_registry.h"
#include "models/classifier.h"

namespace ebm {
namespace {

struct CeOptions {};
template <typename Fields>
void describe(Fields&, CeOptions&) {}

class CrossEntropy : public Loss {
 public:
  CrossEntropy(const CeOptions&, const EnergyModel&) {}

  LossOutput compute(EnergyModel& model, const StepContext& step) override {
    const at::Tensor& x = step.batch;
    const at::Tensor& labels_ = step.labels;
    if (!labels_.defined()) throw ConfigError("loss.kind 'ce' needs labels (train(..., { labels }))");
    auto* classifier = dynamic_cast<Classifier*>(&model);
    if (!classifier) throw ConfigError("loss.kind 'ce' needs a 'classifier' model");
    // train() checked every label against the classes once; no host sync per step here.
    at::Tensor logits = classifier->logits(x);
    LossOutput out{torch::nn::functional::cross_entropy(logits, labels_), {}};
    out.metrics["accuracy"] = (logits.detach().argmax(1) == labels_).to(torch::kFloat32).mean();
    return out;
  }
};

}  // namespace

const LossKind& crossEntropyKind() {
  static const LossKind kind = lossKind<CeOptions, CrossEntropy>(
      "ce", {LossTime::Either, /*labels=*/true, /*model=*/"classifier", false, {"accuracy"}});
  return kind;
}

}  // namespace ebm

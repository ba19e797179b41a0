// A small convolutional classifier that is also an energy (E(x) = -logsumexp_y f(x)[y], as in
// JEM), so it saves, loads and trains like every model. Its penultimate layer is the feature
// space of the Fréchet distance.
#pragma once

#include "models/energy_model.h"

namespace ebm {

class Classifier : public EnergyModel {
 public:
  using EnergyModel::EnergyModel;
  virtual at::Tensor logits(const at::Tensor& x) = 0;    // [N, classes]
  virtual at::Tensor features(const at::Tensor& x) = 0;  // [N, featureDim]
};

}  // namespace ebm

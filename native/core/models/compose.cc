// Product of experts: E(x) = sum_k w_k E_k(x). Parts keep their own weights and devices' data;
// a composition is itself an energy, so every sampler and metric takes it.
#include <torch/torch.h>

#include "errors.h"
#include "models/model_registry.h"
#include "tensor_util.h"

namespace ebm {
namespace {

json::Value compositionConfig(const std::vector<std::shared_ptr<EnergyModel>>& parts, const std::vector<double>& w) {
  json::Value cfgs = json::Value::array(), weights = json::Value::array();
  for (size_t i = 0; i < parts.size(); ++i) {
    cfgs.push_back(parts[i]->config());
    weights.push_back(w[i]);
  }
  json::Value cfg = json::Value::object();
  cfg["kind"] = "compose";
  cfg["parts"] = cfgs;
  cfg["weights"] = weights;
  return cfg;
}

class Composition : public EnergyModel {
 public:
  Composition(std::vector<std::shared_ptr<EnergyModel>> parts, std::vector<double> weights)
      : EnergyModel(compositionConfig(parts, weights), parts.at(0)->eventShape(), parts.at(0)->device()),
        parts_(std::move(parts)),
        weights_(std::move(weights)) {}

  bool timeConditioned() const override { return parts_[0]->timeConditioned(); }
  std::vector<std::shared_ptr<EnergyModel>> parts() const override { return parts_; }

  std::vector<NamedTensor> state() const override {
    std::vector<NamedTensor> all;
    for (size_t k = 0; k < parts_.size(); ++k)
      for (const auto& nt : parts_[k]->state()) all.push_back({prefix(k) + nt.name, nt.tensor});
    return all;
  }

  void setTensor(const std::string& name, const at::Tensor& value) override {
    for (size_t k = 0; k < parts_.size(); ++k)
      if (name.rfind(prefix(k), 0) == 0) return parts_[k]->setTensor(name.substr(prefix(k).size()), value);
    throw ConfigError("composition has no tensor named '" + name + "' (names are parts.<k>.<name>)");
  }

  at::Tensor energy(const at::Tensor& x, const at::Tensor& t) override {
    at::Tensor total;
    for (size_t i = 0; i < parts_.size(); ++i) {
      at::Tensor e = weights_[i] * parts_[i]->energy(x, t);
      total = total.defined() ? total + e : e;
    }
    return total;
  }

  // Each part's own passes (an MLP part uses its hand-written ones), weighted and summed.
  at::Tensor energyAndGrad(const at::Tensor& x, const at::Tensor& t, at::Tensor* energyOut) override {
    at::Tensor energyTotal, gradTotal;
    for (size_t i = 0; i < parts_.size(); ++i) {
      at::Tensor e, g = parts_[i]->energyAndGrad(x, t, energyOut ? &e : nullptr);
      gradTotal = gradTotal.defined() ? gradTotal + weights_[i] * g : weights_[i] * g;
      if (energyOut) energyTotal = energyTotal.defined() ? energyTotal + weights_[i] * e : weights_[i] * e;
    }
    if (energyOut) *energyOut = energyTotal;
    return gradTotal;
  }

 private:
  static std::string prefix(size_t k) { return "parts." + std::to_string(k) + "."; }

  std::vector<std::shared_ptr<EnergyModel>> parts_;
  std::vector<double> weights_;
};

}  // namespace

std::shared_ptr<EnergyModel> composeModels(std::vector<std::shared_ptr<EnergyModel>> parts,
                                           std::vector<double> weights) {
  if (parts.empty()) throw ConfigError("compose needs at least one model");
  if (weights.size() != parts.size()) throw ConfigError("compose needs one weight per model");
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string where = "compose[" + std::to_string(i) + "]";
    if (!std::isfinite(weights[i])) throw ConfigError(where + ".weight must be a finite number");
    if (parts[i]->eventShape() != parts[0]->eventShape())
      throw ShapeError(where + ".model takes inputs of shape " + shapeString(parts[i]->eventShape()) +
                       ", but the first model takes " + shapeString(parts[0]->eventShape()));
    if (parts[i]->device() != parts[0]->device())
      throw ConfigError(where + ".model lives on " + deviceName(parts[i]->device()) + ", the first on " +
                        deviceName(parts[0]->device()) + "; load them on one device");
    if (parts[i]->timeConditioned() != parts[0]->timeConditioned())
      throw ConfigError(where + ".model: all parts must agree on timeConditioned");
  }
  return std::make_shared<Composition>(std::move(parts), std::move(weights));
}

// A saved composition: rebuild each part from its config; the checkpoint loader then fills the
// state, which a composition exposes as its parts' tensors under "parts.<k>." names.
std::shared_ptr<EnergyModel> makeComposition(const json::Value& cfg, c10::Device) {
  const json::Value& parts = json::member(cfg, "parts");
  if (!parts.is_array() || parts.empty()) throw ConfigError("model.parts must be a non-empty array");
  std::vector<double> weights = json::getNumberArray(cfg, "weights", "model");
  std::vector<std::shared_ptr<EnergyModel>> models;
  for (const auto& p : parts) {
    if (!p.is_object()) throw ConfigError("model.parts must hold model configs (objects)");
    json::Value partCfg = p;
    if (cfg.contains("device")) partCfg["device"] = json::member(cfg, "device");
    models.push_back(makeModel(partCfg));
  }
  return composeModels(std::move(models), std::move(weights));
}

}  // namespace ebm

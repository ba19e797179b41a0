// Constructors of each model kind and the defaults of their optional fields; makeModel()
// dispatches on config.kind.
#pragma once

#include "io/json.h"
#include "models/energy_model.h"

namespace ebm {

std::shared_ptr<EnergyModel> makeMlp(const json::Value& cfg, c10::Device device);
std::shared_ptr<EnergyModel> makeConvNet(const json::Value& cfg, c10::Device device);
std::shared_ptr<EnergyModel> makeGaussian(const json::Value& cfg, c10::Device device);
std::shared_ptr<EnergyModel> makeMixture(const json::Value& cfg, c10::Device device);
std::shared_ptr<EnergyModel> makeDoubleWell(const json::Value& cfg, c10::Device device);
std::shared_ptr<EnergyModel> makeComposition(const json::Value& cfg, c10::Device device);
std::shared_ptr<EnergyModel> makeClassifier(const json::Value& cfg, c10::Device device);
std::shared_ptr<EnergyModel> makeLatent(const json::Value& cfg, c10::Device device);
std::shared_ptr<EnergyModel> makeTorchScript(const json::Value& cfg, c10::Device device);

json::Value mlpDefaults();
json::Value convNetDefaults();
json::Value gaussianDefaults();
json::Value mixtureDefaults();
json::Value doubleWellDefaults();
json::Value classifierDefaults();
json::Value latentDefaults();
json::Value torchScriptDefaults();

}  // namespace ebm

// JS handle of a core EnergyModel. Every method that touches weights runs as an AsyncJob.
#pragma once

#include <napi.h>

#include <memory>

#include "models/energy_model.h"

namespace ebm::bindings {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<EnergyModel> model);
  // Throws a JS TypeError unless value is a model handle.
  static std::shared_ptr<EnergyModel> FromValue(const Napi::Value& value, const char* what);

  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Energy(const Napi::CallbackInfo& info);
  Napi::Value Score(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value GetParameters(const Napi::CallbackInfo& info);
  Napi::Value SetParameters(const Napi::CallbackInfo& info);
  Napi::Value Config(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value InputShape(const Napi::CallbackInfo& info);
  Napi::Value TimeConditioned(const Napi::CallbackInfo& info);

  std::shared_ptr<EnergyModel> model_;
};

}  // namespace ebm::bindings

#include "model_wrap.h"

#include <torch/torch.h>

#include "async_job.h"
#include "errors.h"
#include "io/checkpoint.h"
#include "tensor_bridge.h"
#include "tensor_util.h"

namespace ebm::bindings {

namespace {
Napi::FunctionReference* constructor = nullptr;

std::string stringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw ConfigError(std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}
}  // namespace

void ModelWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function fn = DefineClass(env, "EnergyModelHandle",
                                  {
                                      InstanceMethod("energy", &ModelWrap::Energy),
                                      InstanceMethod("score", &ModelWrap::Score),
                                      InstanceMethod("save", &ModelWrap::Save),
                                      InstanceMethod("getParameters", &ModelWrap::GetParameters),
                                      InstanceMethod("setParameters", &ModelWrap::SetParameters),
                                      InstanceMethod("config", &ModelWrap::Config),
                                      InstanceMethod("device", &ModelWrap::GetDevice),
                                      InstanceMethod("inputShape", &ModelWrap::InputShape),
                                      InstanceMethod("timeConditioned", &ModelWrap::TimeConditioned),
                                  });
  constructor = new Napi::FunctionReference(Napi::Persistent(fn));
  env.SetInstanceData(constructor);
  exports.Set("EnergyModelHandle", fn);
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  // Only Wrap() constructs handles; it passes the model through an External.
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "EnergyModelHandle is created by energyModel() or loadModel()");
  model_ = *info[0].As<Napi::External<std::shared_ptr<EnergyModel>>>().Data();
}

Napi::Object ModelWrap::Wrap(Napi::Env env, std::shared_ptr<EnergyModel> model) {
  auto holder = std::make_unique<std::shared_ptr<EnergyModel>>(std::move(model));
  Napi::External<std::shared_ptr<EnergyModel>> ext = Napi::External<std::shared_ptr<EnergyModel>>::New(
      env, holder.release(), [](Napi::Env, std::shared_ptr<EnergyModel>* p) { delete p; });
  return env.GetInstanceData<Napi::FunctionReference>()->New({ext});
}

std::shared_ptr<EnergyModel> ModelWrap::FromValue(const Napi::Value& value, const char* what) {
  Napi::Env env = value.Env();
  if (!value.IsObject() ||
      !value.As<Napi::Object>().InstanceOf(env.GetInstanceData<Napi::FunctionReference>()->Value()))
    throw ConfigError(std::string(what) + " must be an energy model");
  return ModelWrap::Unwrap(value.As<Napi::Object>())->model_;
}

Napi::Value ModelWrap::Energy(const Napi::CallbackInfo& info) {
  return guardedPromise(info.Env(), [&]() -> Napi::Value {
    at::Tensor x = tensorFromJs(info[0], "x");
    at::Tensor t = timeFromJs(info[1]);
    auto model = model_;
    auto out = std::make_shared<at::Tensor>();
    return AsyncJob::start(
        info.Env(), "ebm.energy", [model, x, t, out] { *out = evaluateEnergy(*model, x, t); },
        [out](Napi::Env env) -> Napi::Value { return floatsToJs(env, *out); });
  });
}

Napi::Value ModelWrap::Score(const Napi::CallbackInfo& info) {
  return guardedPromise(info.Env(), [&]() -> Napi::Value {
    at::Tensor x = tensorFromJs(info[0], "x");
    at::Tensor t = timeFromJs(info[1]);
    auto model = model_;
    auto out = std::make_shared<at::Tensor>();
    return AsyncJob::start(
        info.Env(), "ebm.score", [model, x, t, out] { *out = evaluateScore(*model, x, t); },
        [out](Napi::Env env) -> Napi::Value { return tensorToJs(env, *out); });
  });
}

Napi::Value ModelWrap::Save(const Napi::CallbackInfo& info) {
  return guardedPromise(info.Env(), [&]() -> Napi::Value {
    std::string path = stringArg(info, 0, "path");
    auto model = model_;
    return AsyncJob::start(
        info.Env(), "ebm.save", [model, path] { saveModel(*model, path); },
        [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
  });
}

Napi::Value ModelWrap::GetParameters(const Napi::CallbackInfo& info) {
  return guardedPromise(info.Env(), [&]() -> Napi::Value {
    auto model = model_;
    auto out = std::make_shared<std::vector<NamedTensor>>();
    return AsyncJob::start(
        info.Env(), "ebm.getParameters",
        [model, out] {
          ModelLock lock(*model);
          for (const auto& nt : model->state()) out->push_back({nt.name, nt.tensor.detach().to(torch::kCPU).clone()});
        },
        [out](Napi::Env env) -> Napi::Value {
          Napi::Object result = Napi::Object::New(env);
          for (const auto& nt : *out) result.Set(nt.name, tensorToJs(env, nt.tensor));
          return result;
        });
  });
}

Napi::Value ModelWrap::SetParameters(const Napi::CallbackInfo& info) {
  return guardedPromise(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsObject()) throw ConfigError("parameters must be an object of tensors");
    Napi::Object obj = info[0].As<Napi::Object>();
    Napi::Array keys = obj.GetPropertyNames();
    std::vector<NamedTensor> values;
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string name = keys.Get(i).As<Napi::String>().Utf8Value();
      at::Tensor t = tensorFromJs(obj.Get(name), "parameters['" + name + "']");
      requireFinite(t, "parameters['" + name + "']");
      values.push_back({name, t});
    }
    auto model = model_;
    return AsyncJob::start(
        info.Env(), "ebm.setParameters",
        [model, values] {
          ModelLock lock(*model);
          for (const auto& nt : values) model->setTensor(nt.name, nt.tensor);
        },
        [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
  });
}

Napi::Value ModelWrap::Config(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), model_->config().dump());
}

Napi::Value ModelWrap::GetDevice(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), deviceName(model_->device()));
}

Napi::Value ModelWrap::InputShape(const Napi::CallbackInfo& info) {
  const auto& shape = model_->eventShape();
  Napi::Array out = Napi::Array::New(info.Env(), shape.size());
  for (size_t i = 0; i < shape.size(); ++i) out.Set(static_cast<uint32_t>(i), static_cast<double>(shape[i]));
  return out;
}

Napi::Value ModelWrap::TimeConditioned(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), model_->timeConditioned());
}

}  // namespace ebm::bindings

#include <napi.h>

#include "async_job.h"
#include "errors.h"
#include "functions.h"
#include "io/fields.h"
#include "io/json.h"
#include "model_wrap.h"
#include "progress_job.h"
#include "tensor_bridge.h"
#include "train/trainer.h"

namespace ebm::bindings {

Napi::Object progressToJs(Napi::Env env, const TrainProgress& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("step", static_cast<double>(p.step));
  o.Set("loss", p.loss);
  o.Set("lr", p.lr);
  o.Set("seconds", p.seconds);
  o.Set("stepsPerSecond", p.stepsPerSecond);
  Napi::Object metrics = Napi::Object::New(env);
  for (const auto& [name, value] : p.metrics) metrics.Set(name, value);
  o.Set("metrics", metrics);
  return o;
}

Napi::Object trainResultToJs(Napi::Env env, const TrainResult& result) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("steps", static_cast<double>(result.steps));
  o.Set("startStep", static_cast<double>(result.startStep));
  o.Set("rank", result.rank);
  o.Set("worldSize", result.worldSize);
  o.Set("seconds", result.seconds);
  o.Set("threads", result.threads);
  o.Set("onePassOptimizer", result.onePassOptimizer);
  o.Set("onePassLossHead", result.onePassLossHead);
  Napi::Array history = Napi::Array::New(env, result.history.size());
  for (size_t i = 0; i < result.history.size(); ++i)
    history.Set(static_cast<uint32_t>(i), progressToJs(env, result.history[i]));
  o.Set("history", history);
  Napi::Object lossParameters = Napi::Object::New(env);
  for (const auto& nt : result.lossParameters) lossParameters.Set(nt.name, tensorToJs(env, nt.tensor));
  o.Set("lossParameters", lossParameters);
  return o;
}

// train(model, data, configJson, onProgress?, labels?) -> { promise: Promise<result>, cancel() }
Napi::Value Train(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    std::shared_ptr<EnergyModel> model = ModelWrap::FromValue(info[0], "model");
    at::Tensor data = tensorFromJs(info[1], "data", JsInput::Share);
    if (info.Length() < 3 || !info[2].IsString()) throw ConfigError("train config must be a JSON string");
    const TrainSettings settings =
        readOptions<TrainSettings>(json::parse(info[2].As<Napi::String>().Utf8Value(), "train config"), "train");
    at::Tensor labels;
    if (info.Length() > 4 && !info[4].IsUndefined() && !info[4].IsNull()) labels = labelsFromJs(info[4]);
    auto result = std::make_shared<TrainResult>();
    return ProgressJob<TrainProgress>::start(
        info.Env(), "ebm.train",
        [model, data, settings, labels, result](const ProgressJob<TrainProgress>::Emit& emit,
                                                const std::atomic<bool>& cancel) {
          *result = train(*model, data, settings, emit, cancel, labels);
        },
        [result](Napi::Env env) -> Napi::Value { return trainResultToJs(env, *result); },
        info.Length() > 3 ? info[3] : info.Env().Undefined(),
        [](Napi::Env env, const TrainProgress& p) -> Napi::Value { return progressToJs(env, p); });
  });
}

// evaluateLoss(model, batch, lossJson, seed) -> Promise<{ loss, metrics, gradNorms }>
Napi::Value EvaluateLoss(const Napi::CallbackInfo& info) {
  return guardedPromise(info.Env(), [&]() -> Napi::Value {
    std::shared_ptr<EnergyModel> model = ModelWrap::FromValue(info[0], "model");
    at::Tensor batch = tensorFromJs(info[1], "batch");
    if (info.Length() < 3 || !info[2].IsString()) throw ConfigError("loss config must be a JSON string");
    json::Value config = json::parse(info[2].As<Napi::String>().Utf8Value(), "loss config");
    const double seed = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : 0;
    if (!(seed >= 0) || seed != static_cast<double>(static_cast<uint64_t>(seed)))
      throw ConfigError("seed must be a non-negative integer");
    auto result = std::make_shared<LossEvaluation>();
    return AsyncJob::start(
        info.Env(), "ebm.evaluateLoss",
        [model, batch, config, seed, result] {
          *result = evaluateLoss(*model, batch, config, static_cast<uint64_t>(seed));
        },
        [result](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("loss", result->loss);
          Napi::Object metrics = Napi::Object::New(env), grads = Napi::Object::New(env);
          for (const auto& [k, v] : result->metrics) metrics.Set(k, v);
          for (const auto& [k, v] : result->gradNorms) grads.Set(k, v);
          o.Set("metrics", metrics);
          o.Set("gradNorms", grads);
          o.Set("onePassLossHead", result->onePassLossHead);
          return o;
        });
  });
}

}  // namespace ebm::bindings

#include <napi.h>

#include <torch/torch.h>

#include <cmath>

#include "errors.h"
#include "functions.h"
#include "io/fields.h"
#include "io/json.h"
#include "model_wrap.h"
#include "progress_job.h"
#include "samplers/sampler.h"
#include "tensor_bridge.h"

namespace ebm::bindings {

// sample(model, optionsJson, init?, t?, onProgress?, target?) -> { promise, cancel }
// optionsJson: { sampler, n, seed, returnTrajectory, thin, progressEvery }
Napi::Value Sample(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    std::shared_ptr<EnergyModel> model = ModelWrap::FromValue(info[0], "model");
    if (info.Length() < 2 || !info[1].IsString()) throw ConfigError("sample options must be a JSON string");
    const SampleRequest request =
        readOptions<SampleRequest>(json::parse(info[1].As<Napi::String>().Utf8Value(), "sample options"), "options");
    at::Tensor init;
    if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) init = tensorFromJs(info[2], "init");
    SampleOptions options;
    if (info.Length() > 3) options.t = timeFromJs(info[3]);
    options.returnTrajectory = request.returnTrajectory;
    options.thin = request.thin;
    options.progressEvery = request.progressEvery;
    const int64_t n = request.n;
    const uint64_t seed = static_cast<uint64_t>(request.seed);
    const json::Value samplerCfg = request.sampler;
    std::shared_ptr<EnergyModel> target;
    if (info.Length() > 5 && !info[5].IsUndefined()) target = ModelWrap::FromValue(info[5], "target");
    auto result = std::make_shared<SampleResult>();
    return ProgressJob<int64_t>::start(
        info.Env(), "ebm.sample",
        [model, target, samplerCfg, init, n, seed, options, result](const ProgressJob<int64_t>::Emit& emit,
                                                                    const std::atomic<bool>& cancel) {
          SampleOptions o = options;
          o.target = target.get();
          o.cancel = &cancel;
          o.onStep = [&emit](int64_t step) { emit(step); };
          *result = sampleModel(*model, samplerCfg, init, n, seed, o);
        },
        [result](Napi::Env env) -> Napi::Value {
          Napi::Object o = tensorToJs(env, result->x);
          o.Set("energy", floatsToJs(env, result->energy));
          if (result->acceptRate.defined()) o.Set("acceptRate", floatsToJs(env, result->acceptRate));
          if (result->stepSize.defined()) o.Set("stepSize", floatsToJs(env, result->stepSize.reshape({-1})));
          if (result->levelTimes.defined()) o.Set("levelTimes", floatsToJs(env, result->levelTimes));
          if (result->energyTrace.defined()) o.Set("energyTrace", floatsToJs(env, result->energyTrace));
          if (!result->trajectory.empty()) o.Set("trajectory", tensorToJs(env, torch::stack(result->trajectory)));
          if (result->logWeights.defined()) {
            o.Set("logWeights", floatsToJs(env, result->logWeights));
            o.Set("logZ", result->logZ);
            o.Set("ess", result->ess);
            o.Set("essPerLevel", floatsToJs(env, torch::tensor(result->essPerLevel, torch::kFloat64)));
            o.Set("levelAccept", floatsToJs(env, torch::tensor(result->levelAccept, torch::kFloat64)));
            Napi::Array at = Napi::Array::New(env, result->resampledAt.size());
            for (size_t i = 0; i < result->resampledAt.size(); ++i)
              at.Set(static_cast<uint32_t>(i), static_cast<double>(result->resampledAt[i]));
            o.Set("resampledAt", at);
          }
          return o;
        },
        info.Length() > 4 ? info[4] : info.Env().Undefined(),
        [](Napi::Env env, const int64_t& step) -> Napi::Value {
          return Napi::Number::New(env, static_cast<double>(step));
        });
  });
}

// compose([model, ...], [weight, ...]) -> model
Napi::Value Compose(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsArray())
      throw ConfigError("compose needs an array of models and an array of weights");
    Napi::Array models = info[0].As<Napi::Array>(), weights = info[1].As<Napi::Array>();
    std::vector<std::shared_ptr<EnergyModel>> parts;
    std::vector<double> w;
    for (uint32_t i = 0; i < models.Length(); ++i) {
      const std::string where = "compose[" + std::to_string(i) + "]";
      parts.push_back(ModelWrap::FromValue(models.Get(i), (where + ".model").c_str()));
      Napi::Value wi = weights.Get(i);
      if (!wi.IsNumber()) throw ConfigError(where + ".weight must be a number");
      w.push_back(wi.As<Napi::Number>().DoubleValue());
    }
    return ModelWrap::Wrap(info.Env(), composeModels(std::move(parts), std::move(w)));
  });
}

}  // namespace ebm::bindings

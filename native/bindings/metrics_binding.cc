// The classifier's metrics: features or logits of a batch, and the Fréchet distance of two sets.
#include <napi.h>

#include "async_job.h"
#include "functions.h"
#include "metrics/frechet.h"
#include "model_wrap.h"
#include "tensor_bridge.h"

namespace ebm::bindings {

// features(model, x) / logits(model, x) -> Promise<tensor>; frechet(model, a, b) -> Promise<number>
Napi::Value Features(const Napi::CallbackInfo& info) {
  return guardedPromise(info.Env(), [&]() -> Napi::Value {
    std::shared_ptr<EnergyModel> model = ModelWrap::FromValue(info[0], "model");
    at::Tensor x = tensorFromJs(info[1], "x");
    const bool logits = info.Length() > 2 && info[2].ToBoolean();
    auto out = std::make_shared<at::Tensor>();
    return AsyncJob::start(
        info.Env(), "ebm.features",
        [model, x, logits, out] { *out = logits ? classifierLogits(*model, x) : classifierFeatures(*model, x); },
        [out](Napi::Env env) -> Napi::Value { return tensorToJs(env, *out); });
  });
}

Napi::Value Frechet(const Napi::CallbackInfo& info) {
  return guardedPromise(info.Env(), [&]() -> Napi::Value {
    std::shared_ptr<EnergyModel> model = ModelWrap::FromValue(info[0], "model");
    at::Tensor a = tensorFromJs(info[1], "a"), b = tensorFromJs(info[2], "b");
    auto out = std::make_shared<double>(0);
    return AsyncJob::start(
        info.Env(), "ebm.frechet",
        [model, a, b, out] { *out = frechetDistance(classifierFeatures(*model, a), classifierFeatures(*model, b)); },
        [out](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, *out); });
  });
}

}  // namespace ebm::bindings

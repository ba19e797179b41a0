// Module init: the functions lib/native.ts types.
#include <napi.h>

#include "allocator.h"
#include "async_job.h"
#include "errors.h"
#include "functions.h"
#include "io/checkpoint.h"
#include "io/json.h"
#include "js_errors.h"
#include "kinds.h"
#include "model_wrap.h"
#include "threads.h"
#include "train/settings.h"

namespace ebm::bindings {
namespace {

Napi::Value Version(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    RuntimeInfo r = runtimeInfo();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("torch", r.torchVersion);
    o.Set("cudaAvailable", r.cudaAvailable);
    o.Set("cudaDeviceCount", r.cudaDeviceCount);
    o.Set("defaultDevice", r.defaultDevice);
    o.Set("numThreads", r.numThreads);
    o.Set("distributed", r.distributedBackends);
    o.Set("matrixProducts", r.matrixProducts);
    return o;
  });
}

Napi::Value MemoryStats(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    const BlockCacheStats s = blockCacheStats();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("enabled", s.enabled);
    o.Set("liveBytes", static_cast<double>(s.liveBytes));
    o.Set("cachedBytes", static_cast<double>(s.cachedBytes));
    o.Set("peakLiveBytes", static_cast<double>(s.peakLiveBytes));
    o.Set("blocksMapped", static_cast<double>(s.blocksMapped));
    o.Set("blocksReused", static_cast<double>(s.blocksReused));
    return o;
  });
}

Napi::Array stringsToJs(Napi::Env env, const std::vector<std::string>& items) {
  Napi::Array a = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); ++i) a.Set(static_cast<uint32_t>(i), items[i]);
  return a;
}

// The kinds of each registry table, for the test that the TS unions list the same.
Napi::Value Kinds(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("losses", stringsToJs(info.Env(), lossKinds()));
    o.Set("samplers", stringsToJs(info.Env(), samplerKinds()));
    o.Set("models", stringsToJs(info.Env(), modelKinds()));
    return o;
  });
}

int threadCountFrom(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw ConfigError("numThreads must be an integer");
  double n = info[0].As<Napi::Number>().DoubleValue();
  if (n != static_cast<double>(static_cast<int>(n))) throw ConfigError("numThreads must be an integer");
  return static_cast<int>(n);
}

// setNumThreads(n): the caller's count, for every later job.
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    setNumThreads(threadCountFrom(info));
    return info.Env().Undefined();
  });
}

// setDefaultThreads(n): the library's count for jobs without a preference of their own.
Napi::Value SetDefaultThreads(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    setDefaultThreads(threadCountFrom(info));
    return info.Env().Undefined();
  });
}

Napi::Value CreateModel(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString()) throw ConfigError("model config must be a JSON string");
    json::Value config = json::parse(info[0].As<Napi::String>().Utf8Value(), "model config");
    return ModelWrap::Wrap(info.Env(), makeModel(config));
  });
}

Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  return guardedPromise(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString()) throw ConfigError("path must be a string");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    std::string device = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    auto out = std::make_shared<std::shared_ptr<EnergyModel>>();
    return AsyncJob::start(
        info.Env(), "ebm.loadModel", [path, device, out] { *out = loadModel(path, device); },
        [out](Napi::Env env) -> Napi::Value { return ModelWrap::Wrap(env, *out); });
  });
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  keepFreedMemory();
  ModelWrap::Init(env, exports);
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("setDefaultThreads", Napi::Function::New(env, SetDefaultThreads));
  exports.Set("kinds", Napi::Function::New(env, Kinds));
  exports.Set("memoryStats", Napi::Function::New(env, MemoryStats));
  // JSON text: the defaults of every optional option (train/settings.h optionDefaults()).
  exports.Set("optionDefaultsJson", Napi::String::New(env, optionDefaults().dump()));
  // JSON text: what each loss and sampler kind can do (kinds.h lossTraits / samplerTraits).
  exports.Set("kindTraitsJson",
              Napi::String::New(env, json::Value{{"loss", lossTraits()}, {"sampler", samplerTraits()}}.dump()));
  exports.Set("createModel", Napi::Function::New(env, CreateModel));
  exports.Set("loadModel", Napi::Function::New(env, LoadModel));
  exports.Set("train", Napi::Function::New(env, Train));
  exports.Set("evaluateLoss", Napi::Function::New(env, EvaluateLoss));
  exports.Set("sample", Napi::Function::New(env, Sample));
  exports.Set("compose", Napi::Function::New(env, Compose));
  exports.Set("features", Napi::Function::New(env, Features));
  exports.Set("frechet", Napi::Function::New(env, Frechet));
  exports.Set("trainLatent", Napi::Function::New(env, TrainLatent));
  exports.Set("latentGenerate", Napi::Function::New(env, LatentGenerate));
  exports.Set("latentPosterior", Napi::Function::New(env, LatentPosterior));
  exports.Set("latentDecode", Napi::Function::New(env, LatentDecode));
  return exports;
}

}  // namespace ebm::bindings

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return ebm::bindings::Init(env, exports); }

NODE_API_MODULE(ebm_torch, InitAddon)

// The latent model's jobs: training, generation, posterior inference (latents, reconstructions,
// inpainting, denoising) and decoding. Options arrive validated and fully defaulted from TS.
#include <napi.h>

#include <torch/torch.h>

#include "async_job.h"
#include "distributed/data_parallel.h"
#include "errors.h"
#include "functions.h"
#include "io/fields.h"
#include "io/json.h"
#include "latent/latent_ops.h"
#include "latent/latent_trainer.h"
#include "model_wrap.h"
#include "progress_job.h"
#include "tensor_bridge.h"
#include "threads.h"

namespace ebm::bindings {
namespace {

std::shared_ptr<LatentModel> latentFromJs(const Napi::Value& value, const char* what) {
  std::shared_ptr<EnergyModel> model = ModelWrap::FromValue(value, "model");
  return std::shared_ptr<LatentModel>(model, &asLatent(*model, what));
}

json::Value optionsFromJs(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw ConfigError(std::string(what) + " must be a JSON string");
  return json::parse(info[i].As<Napi::String>().Utf8Value(), what);
}

LatentLangevin chainFrom(const json::Value& cfg, const std::string& where) {
  LatentLangevin c;
  c.steps = json::getInt(cfg, "steps", where);
  c.stepSize = json::getNumber(cfg, "stepSize", where);
  return c;
}

LatentTrainSettings settingsFrom(const json::Value& cfg) {
  LatentTrainSettings s;
  s.steps = json::getInt(cfg, "steps", "options");
  s.batchSize = json::getInt(cfg, "batchSize", "options");
  s.logEvery = json::getInt(cfg, "logEvery", "options");
  s.seed = static_cast<uint64_t>(json::getInt(cfg, "seed", "options"));
  const json::Value& post = json::member(cfg, "posterior");
  s.posterior = chainFrom(post, "options.posterior");
  s.persistent = json::getBool(post, "persistent", "options.posterior");
  s.sigma = json::getNumber(post, "sigma", "options.posterior");
  const json::Value& prior = json::member(cfg, "prior");
  s.trainPrior = prior.is_object();
  if (s.trainPrior) {
    s.priorLoss = json::member(prior, "loss");
    s.priorGradClip = json::getNumber(prior, "gradClip", "options.prior");
  }
  s.generatorLr = json::getNumber(cfg, "generatorLr", "options");
  s.priorLr = json::getNumber(cfg, "priorLr", "options");
  const std::vector<double> betas = json::getNumberArray(cfg, "betas", "options");
  if (betas.size() != 2) throw ConfigError("options.betas must be [beta1, beta2]");
  s.beta1 = betas[0];
  s.beta2 = betas[1];
  if (cfg.contains("ema")) s.emaDecay = json::getNumber(json::member(cfg, "ema"), "decay", "options.ema");
  if (cfg.contains("checkpoint")) {
    s.checkpointPath = json::getString(json::member(cfg, "checkpoint"), "path", "options.checkpoint");
    s.checkpointEvery = json::getInt(json::member(cfg, "checkpoint"), "every", "options.checkpoint");
  }
  if (cfg.contains("resumeFrom")) s.resumeFrom = json::getString(cfg, "resumeFrom", "options");
  if (cfg.contains("distributed"))
    s.distributed = readOptions<DistributedConfig>(json::member(cfg, "distributed"), "options.distributed");
  return s;
}

Napi::Value doneToJs(Napi::Env env, const int64_t& done) { return Napi::Number::New(env, static_cast<double>(done)); }

}  // namespace

// trainLatent(model, images, optionsJson, onProgress?) -> { promise, cancel }
Napi::Value TrainLatent(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    std::shared_ptr<LatentModel> model = latentFromJs(info[0], "trainLatent");
    at::Tensor images = tensorFromJs(info[1], "images", JsInput::Share);
    LatentTrainSettings settings = settingsFrom(optionsFromJs(info, 2, "trainLatent options"));
    auto result = std::make_shared<TrainResult>();
    return ProgressJob<TrainProgress>::start(
        info.Env(), "ebm.trainLatent",
        [model, images, settings, result](const ProgressJob<TrainProgress>::Emit& emit,
                                          const std::atomic<bool>& cancel) {
          *result = trainLatent(*model, images, settings, emit, cancel);
        },
        [result](Napi::Env env) -> Napi::Value { return trainResultToJs(env, *result); },
        info.Length() > 3 ? info[3] : info.Env().Undefined(),
        [](Napi::Env env, const TrainProgress& p) -> Napi::Value { return progressToJs(env, p); },
        ThreadPreference::OneThread);
  });
}

// latentGenerate(model, optionsJson { n, prior: { steps, stepSize }, seed }, onProgress?) -> { promise, cancel }
Napi::Value LatentGenerate(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    std::shared_ptr<LatentModel> model = latentFromJs(info[0], "generate");
    json::Value cfg = optionsFromJs(info, 1, "generate options");
    const int64_t n = json::getInt(cfg, "n", "options");
    const LatentLangevin prior = chainFrom(json::member(cfg, "prior"), "options.prior");
    const uint64_t seed = static_cast<uint64_t>(json::getInt(cfg, "seed", "options"));
    auto out = std::make_shared<at::Tensor>();
    return ProgressJob<int64_t>::start(
        info.Env(), "ebm.latentGenerate",
        [model, n, prior, seed, out](const ProgressJob<int64_t>::Emit& emit, const std::atomic<bool>& cancel) {
          try {
            *out = generateImages(*model, n, prior, seed, &cancel, emit);
          } catch (const AbortedError&) {
            throw AbortedError("generation was aborted");
          }
        },
        [out](Napi::Env env) -> Napi::Value { return tensorToJs(env, *out); },
        info.Length() > 2 ? info[2] : info.Env().Undefined(), doneToJs, ThreadPreference::OneThread);
  });
}

// latentPosterior(model, images, mask?, optionsJson { output, sigma, steps, stepSize, seed }, onProgress?)
//   -> { promise, cancel }; output: 'latents' | 'images' | 'fill'
Napi::Value LatentPosterior(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    std::shared_ptr<LatentModel> model = latentFromJs(info[0], "posterior inference");
    PosteriorRequest request;
    request.images = tensorFromJs(info[1], "images");
    if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) request.mask = tensorFromJs(info[2], "mask");
    json::Value cfg = optionsFromJs(info, 3, "posterior options");
    request.chain = chainFrom(cfg, "options");
    request.sigma = json::getNumber(cfg, "sigma", "options", 0.0);
    request.seed = static_cast<uint64_t>(json::getInt(cfg, "seed", "options"));
    const std::string kind = json::getString(cfg, "output", "options");
    const PosteriorOutput output = kind == "latents"  ? PosteriorOutput::Latents
                                   : kind == "images" ? PosteriorOutput::Images
                                                      : PosteriorOutput::Fill;
    auto out = std::make_shared<at::Tensor>();
    return ProgressJob<int64_t>::start(
        info.Env(), "ebm.latentPosterior",
        [model, request, output, out](const ProgressJob<int64_t>::Emit& emit, const std::atomic<bool>& cancel) {
          try {
            *out = posteriorJob(*model, request, output, &cancel, emit);
          } catch (const AbortedError&) {
            throw AbortedError("posterior sampling was aborted");
          }
        },
        [out](Napi::Env env) -> Napi::Value { return tensorToJs(env, *out); },
        info.Length() > 4 ? info[4] : info.Env().Undefined(), doneToJs, ThreadPreference::OneThread);
  });
}

// latentDecode(model, z) -> Promise<images>
Napi::Value LatentDecode(const Napi::CallbackInfo& info) {
  return guardedPromise(info.Env(), [&]() -> Napi::Value {
    std::shared_ptr<LatentModel> model = latentFromJs(info[0], "decode");
    at::Tensor z = tensorFromJs(info[1], "z");
    auto out = std::make_shared<at::Tensor>();
    return AsyncJob::start(
        info.Env(), "ebm.latentDecode", [model, z, out] { *out = decodeLatents(*model, z); },
        [out](Napi::Env env) -> Napi::Value { return tensorToJs(env, *out); }, ThreadPreference::OneThread);
  });
}

}  // namespace ebm::bindings

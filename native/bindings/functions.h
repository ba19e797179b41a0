// Exported functions defined outside addon.cc.
#pragma once

#include <napi.h>

#include "train/trainer.h"

namespace ebm::bindings {

Napi::Value Train(const Napi::CallbackInfo& info);
Napi::Value EvaluateLoss(const Napi::CallbackInfo& info);
Napi::Value Sample(const Napi::CallbackInfo& info);
Napi::Value Compose(const Napi::CallbackInfo& info);
Napi::Value Features(const Napi::CallbackInfo& info);
Napi::Value Frechet(const Napi::CallbackInfo& info);
Napi::Value TrainLatent(const Napi::CallbackInfo& info);
Napi::Value LatentGenerate(const Napi::CallbackInfo& info);
Napi::Value LatentPosterior(const Napi::CallbackInfo& info);
Napi::Value LatentDecode(const Napi::CallbackInfo& info);

// Training progress and results as JS objects (shared by ebm.train and ebm.trainLatent).
Napi::Object progressToJs(Napi::Env env, const TrainProgress& p);
Napi::Object trainResultToJs(Napi::Env env, const TrainResult& result);

}  // namespace ebm::bindings

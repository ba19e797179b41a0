// Exported functions defined outside addon.cc.
#pragma once

#include <napi.h>

namespace ebm::bindings {

Napi::Value Train(const Napi::CallbackInfo& info);
Napi::Value EvaluateLoss(const Napi::CallbackInfo& info);
Napi::Value Sample(const Napi::CallbackInfo& info);
Napi::Value Compose(const Napi::CallbackInfo& info);
Napi::Value Features(const Napi::CallbackInfo& info);
Napi::Value Frechet(const Napi::CallbackInfo& info);

}  // namespace ebm::bindings

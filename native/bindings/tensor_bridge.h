// JS { data: Float32Array, shape: number[] } <-> at::Tensor. Inputs are copied on the main
// thread (JS may reuse its buffer while a job runs), but for training datasets, which a job reads
// in place; outputs get a fresh ArrayBuffer.
#pragma once

#include <ATen/core/Tensor.h>
#include <napi.h>

#include <string>

namespace ebm::bindings {

// How an input's Float32Array becomes a tensor. Copy: JS may reuse its buffer while the job runs.
// Share: the job reads the array's memory in place (a dataset: no second copy of it in memory).
enum class JsInput { Copy, Share };

// Throws ebm::ShapeError / ConfigError naming `what` for anything but a well-formed tensor.
at::Tensor tensorFromJs(const Napi::Value& value, const std::string& what, JsInput input = JsInput::Copy);
// Optional time argument: undefined -> undefined tensor; number -> scalar; Float32Array -> [N].
at::Tensor timeFromJs(const Napi::Value& value);

// Class labels: Int32Array or Uint8Array -> [N] int64.
at::Tensor labelsFromJs(const Napi::Value& value);

Napi::Float32Array floatsToJs(Napi::Env env, const at::Tensor& tensor);
Napi::Object tensorToJs(Napi::Env env, const at::Tensor& tensor);

}  // namespace ebm::bindings

#include "tensor_bridge.h"

#include <torch/torch.h>
#include <v8.h>

#include <cmath>
#include <cstring>

#include "errors.h"
#include "tensor_util.h"

namespace ebm::bindings {

namespace {
at::Tensor copyFloats(const Napi::Float32Array& array, std::vector<int64_t> shape) {
  at::Tensor t = torch::empty(shape, torch::kFloat32);
  if (array.ElementLength() > 0) std::memcpy(t.data_ptr<float>(), array.Data(), array.ElementLength() * sizeof(float));
  return t;
}

// The array's memory as a tensor, without a copy. The tensor holds V8's backing store (a shared
// pointer), so the memory outlives a garbage-collected or detached (transferred) ArrayBuffer for
// as long as the tensor does. Shared and resizable buffers, whose memory other threads or a resize
// can change under a running job, are copied.
at::Tensor shareFloats(const Napi::Float32Array& array, std::vector<int64_t> shape) {
  // A Node-API value is a V8 handle underneath: node converts between the two the same way.
  napi_value raw = array;
  v8::Local<v8::Value> local;
  static_assert(sizeof(local) == sizeof(raw), "napi_value and v8::Local differ in size");
  std::memcpy(static_cast<void*>(&local), &raw, sizeof(raw));
  v8::Local<v8::Float32Array> view = local.As<v8::Float32Array>();
  std::shared_ptr<v8::BackingStore> store = view->Buffer()->GetBackingStore();
  bool plain = !store->IsShared() && store->Data() != nullptr;
#if V8_MAJOR_VERSION >= 11
  plain = plain && !store->IsResizableByUserJavaScript();
#endif
  if (!plain) return copyFloats(array, shape);
  float* data = reinterpret_cast<float*>(static_cast<char*>(store->Data()) + view->ByteOffset());
  return torch::from_blob(
      data, shape, [store](void*) mutable { store.reset(); }, torch::kFloat32);
}
}  // namespace

at::Tensor tensorFromJs(const Napi::Value& value, const std::string& what, JsInput input) {
  if (!value.IsObject() || value.IsArray() || value.IsTypedArray())
    throw ShapeError(what + " must be a tensor object { data: Float32Array, shape: number[] }");
  Napi::Object obj = value.As<Napi::Object>();
  Napi::Value data = obj.Get("data");
  Napi::Value shapeValue = obj.Get("shape");
  if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw ShapeError(what + ".data must be a Float32Array");
  if (!shapeValue.IsArray()) throw ShapeError(what + ".shape must be an array of positive integers");
  Napi::Array shapeArray = shapeValue.As<Napi::Array>();
  if (shapeArray.Length() == 0 || shapeArray.Length() > 8)
    throw ShapeError(what + ".shape must have 1 to 8 dimensions, got " + std::to_string(shapeArray.Length()));
  std::vector<int64_t> shape;
  double count = 1;
  for (uint32_t i = 0; i < shapeArray.Length(); ++i) {
    Napi::Value s = shapeArray.Get(i);
    double d = s.IsNumber() ? s.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 1) || d != std::floor(d) || d > 2147483647.0)
      throw ShapeError(what + ".shape[" + std::to_string(i) + "] must be a positive integer");
    shape.push_back(static_cast<int64_t>(d));
    count *= d;
  }
  Napi::Float32Array array = data.As<Napi::Float32Array>();
  if (count != static_cast<double>(array.ElementLength()))
    throw ShapeError(what + ".data has " + std::to_string(array.ElementLength()) + " values but shape " +
                     shapeString(shape) + " needs " + std::to_string(static_cast<long long>(count)));
  return input == JsInput::Share ? shareFloats(array, shape) : copyFloats(array, shape);
}

at::Tensor timeFromJs(const Napi::Value& value) {
  if (value.IsUndefined() || value.IsNull()) return at::Tensor();
  if (value.IsNumber()) {
    double t = value.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(t)) throw NumericsError("t must be a finite number");
    return torch::full({1}, t, torch::kFloat32);
  }
  if (value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
    Napi::Float32Array a = value.As<Napi::Float32Array>();
    if (a.ElementLength() == 0) throw ShapeError("t must not be empty");
    return copyFloats(a, {static_cast<int64_t>(a.ElementLength())});
  }
  throw ConfigError("t must be a number, a Float32Array with one value per row, or undefined");
}

at::Tensor labelsFromJs(const Napi::Value& value) {
  if (!value.IsTypedArray()) throw ShapeError("labels must be an Int32Array or a Uint8Array");
  Napi::TypedArray a = value.As<Napi::TypedArray>();
  const int64_t n = static_cast<int64_t>(a.ElementLength());
  if (a.TypedArrayType() == napi_int32_array) {
    at::Tensor t = torch::empty({n}, torch::kInt32);
    if (n > 0) std::memcpy(t.data_ptr<int32_t>(), a.As<Napi::Int32Array>().Data(), static_cast<size_t>(n) * 4);
    return t.to(torch::kLong);
  }
  if (a.TypedArrayType() == napi_uint8_array) {
    at::Tensor t = torch::empty({n}, torch::kUInt8);
    if (n > 0) std::memcpy(t.data_ptr<uint8_t>(), a.As<Napi::Uint8Array>().Data(), static_cast<size_t>(n));
    return t.to(torch::kLong);
  }
  throw ShapeError("labels must be an Int32Array or a Uint8Array");
}

Napi::Float32Array floatsToJs(Napi::Env env, const at::Tensor& tensor) {
  at::Tensor t = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  const size_t n = static_cast<size_t>(t.numel());
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, n * sizeof(float));
  if (n > 0) std::memcpy(buffer.Data(), t.data_ptr<float>(), n * sizeof(float));
  return Napi::Float32Array::New(env, n, buffer, 0);
}

Napi::Object tensorToJs(Napi::Env env, const at::Tensor& tensor) {
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("data", floatsToJs(env, tensor));
  Napi::Array shape = Napi::Array::New(env, static_cast<size_t>(tensor.dim()));
  for (int64_t i = 0; i < tensor.dim(); ++i)
    shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(tensor.size(i))));
  obj.Set("shape", shape);
  return obj;
}

}  // namespace ebm::bindings

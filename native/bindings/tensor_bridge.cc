#include "tensor_bridge.h"

#include <torch/torch.h>

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
}  // namespace

at::Tensor tensorFromJs(const Napi::Value& value, const std::string& what) {
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
  return copyFloats(array, shape);
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

// Turns C++ / c10 exceptions into JS Errors carrying a stable `code`; lib/errors.ts maps each
// code to its Error subclass.
#pragma once

#include <napi.h>

#include <exception>
#include <string>

namespace ebm::bindings {

struct CaughtError {
  std::string code;  // EBM_CONFIG, EBM_SHAPE, EBM_NUMERICS, EBM_IO, EBM_ABORTED, EBM_TORCH, EBM_INTERNAL
  std::string message;
};

CaughtError classify(std::exception_ptr error);
Napi::Error toJsError(Napi::Env env, const CaughtError& error);

// Runs fn on the main thread; any exception becomes a thrown JS Error with its code.
template <typename Fn>
Napi::Value guarded(Napi::Env env, Fn&& fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw toJsError(env, classify(std::current_exception()));
  }
}

// Same for methods that return a Promise: argument errors become a rejection, not a throw,
// so callers handle every failure in one place.
template <typename Fn>
Napi::Value guardedPromise(Napi::Env env, Fn&& fn) {
  Napi::Value error;
  try {
    return fn();
  } catch (const Napi::Error& e) {
    error = e.Value();
  } catch (...) {
    error = toJsError(env, classify(std::current_exception())).Value();
  }
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(error);
  return deferred.Promise();
}

}  // namespace ebm::bindings

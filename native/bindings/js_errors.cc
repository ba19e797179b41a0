#include "js_errors.h"

#include <c10/util/Exception.h>

#include "errors.h"

namespace ebm::bindings {

CaughtError classify(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const ebm::Error& e) {
    switch (e.kind()) {
      case ErrorKind::Config: return {"EBM_CONFIG", e.what()};
      case ErrorKind::Shape: return {"EBM_SHAPE", e.what()};
      case ErrorKind::Numerics: return {"EBM_NUMERICS", e.what()};
      case ErrorKind::Io: return {"EBM_IO", e.what()};
      case ErrorKind::Aborted: return {"EBM_ABORTED", e.what()};
      case ErrorKind::Distributed: return {"EBM_DISTRIBUTED", e.what()};
    }
    return {"EBM_INTERNAL", e.what()};
  } catch (const c10::Error& e) {
    return {"EBM_TORCH", std::string("LibTorch: ") + e.what_without_backtrace()};
  } catch (const std::bad_alloc&) {
    return {"EBM_TORCH", "out of memory"};
  } catch (const std::exception& e) {
    return {"EBM_INTERNAL", e.what()};
  } catch (...) {
    return {"EBM_INTERNAL", "unknown native exception"};
  }
}

Napi::Error toJsError(Napi::Env env, const CaughtError& error) {
  Napi::Error js = Napi::Error::New(env, error.message);
  js.Set("code", Napi::String::New(env, error.code));
  return js;
}

}  // namespace ebm::bindings

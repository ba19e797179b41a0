// Runs one heavy job on a libuv worker thread and settles a Promise: the event loop never
// waits on LibTorch.
#pragma once

#include <napi.h>

#include <functional>
#include <utility>

#include "allocator.h"
#include "js_errors.h"
#include "threads.h"

namespace ebm::bindings {

class AsyncJob : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;                    // worker thread: no N-API here
  using Result = std::function<Napi::Value(Napi::Env)>;  // main thread: builds the JS value

  // `threads`: the job's own thread preference (native/core/threads.h).
  static Napi::Promise start(Napi::Env env, const char* name, Work work, Result result,
                             ThreadPreference threads = ThreadPreference::AllCores) {
    auto* job = new AsyncJob(env, name, std::move(work), std::move(result));
    job->threads_ = threads;
    Napi::Promise promise = job->deferred_.Promise();
    job->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    JobMemoryScope memory;  // the blocks this job frees are kept for its next steps
    try {
      applyJobThreads(threads_);
      work_();
    } catch (...) {
      caught_ = classify(std::current_exception());
      // node-addon-api treats an empty error as success
      if (caught_.message.empty()) caught_.message = "native job failed (" + caught_.code + ")";
      SetError(caught_.message);
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      deferred_.Resolve(result_(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(toJsError(env, classify(std::current_exception())).Value());
    }
  }
  void OnError(const Napi::Error&) override {
    Napi::HandleScope scope(Env());
    deferred_.Reject(toJsError(Env(), caught_).Value());
  }

 private:
  AsyncJob(Napi::Env env, const char* name, Work work, Result result)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        result_(std::move(result)) {}

  Napi::Promise::Deferred deferred_;
  Work work_;
  Result result_;
  ThreadPreference threads_ = ThreadPreference::AllCores;
  CaughtError caught_;
};

}  // namespace ebm::bindings

// A cancellable job on a worker thread that streams progress records to a JS callback and
// settles a Promise. start() returns { promise, cancel }.
#pragma once

#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>
#include <utility>

#include "allocator.h"
#include "js_errors.h"
#include "threads.h"

namespace ebm::bindings {

template <typename Progress>
class ProgressJob : public Napi::AsyncProgressQueueWorker<Progress> {
 public:
  using Emit = std::function<void(const Progress&)>;
  using Work = std::function<void(const Emit& emit, const std::atomic<bool>& cancel)>;  // worker thread
  using Result = std::function<Napi::Value(Napi::Env)>;                                 // main thread
  using ToJs = std::function<Napi::Value(Napi::Env, const Progress&)>;                  // main thread

  // `threads`: the job's own thread preference (native/core/threads.h).
  static Napi::Object start(Napi::Env env, const char* name, Work work, Result result, Napi::Value onProgress,
                            ToJs toJs, ThreadPreference threads = ThreadPreference::AllCores) {
    auto* job = new ProgressJob(env, name, std::move(work), std::move(result), std::move(toJs));
    job->threads_ = threads;
    if (onProgress.IsFunction()) job->callback_ = Napi::Persistent(onProgress.As<Napi::Function>());
    std::shared_ptr<std::atomic<bool>> cancel = job->cancel_;
    Napi::Object handle = Napi::Object::New(env);
    handle.Set("promise", job->deferred_.Promise());
    handle.Set("cancel", Napi::Function::New(env, [cancel](const Napi::CallbackInfo& info) -> Napi::Value {
                 cancel->store(true);
                 return info.Env().Undefined();
               }));
    job->Queue();
    return handle;
  }

 protected:
  void Execute(const typename Napi::AsyncProgressQueueWorker<Progress>::ExecutionProgress& progress) override {
    JobMemoryScope memory;  // the blocks this job frees are kept for its next steps
    try {
      applyJobThreads(threads_);
      work_([&progress](const Progress& p) { progress.Send(&p, 1); }, *cancel_);
    } catch (...) {
      caught_ = classify(std::current_exception());
      if (caught_.message.empty()) caught_.message = "native job failed (" + caught_.code + ")";
      this->SetError(caught_.message);
    }
  }

  void OnProgress(const Progress* data, size_t count) override {
    if (callback_.IsEmpty() || !callbackError_.IsEmpty()) return;
    Napi::Env env = this->Env();
    Napi::HandleScope scope(env);
    for (size_t i = 0; i < count; ++i) {
      try {
        callback_.Call({toJs_(env, data[i])});
      } catch (const Napi::Error& e) {
        // A throwing progress callback stops the job and becomes its rejection.
        cancel_->store(true);
        // A holder object, since N-API cannot reference a thrown primitive (throw 'stop').
        Napi::Object holder = Napi::Object::New(env);
        holder.Set("error", e.Value());
        callbackError_ = Napi::Persistent(holder);
        return;
      }
    }
  }

  void OnOK() override {
    Napi::Env env = this->Env();
    Napi::HandleScope scope(env);
    if (!callbackError_.IsEmpty()) return deferred_.Reject(callbackError_.Value().Get("error"));
    try {
      deferred_.Resolve(result_(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(toJsError(env, classify(std::current_exception())).Value());
    }
  }

  void OnError(const Napi::Error&) override {
    Napi::Env env = this->Env();
    Napi::HandleScope scope(env);
    if (!callbackError_.IsEmpty()) return deferred_.Reject(callbackError_.Value().Get("error"));
    deferred_.Reject(toJsError(env, caught_).Value());
  }

 private:
  ProgressJob(Napi::Env env, const char* name, Work work, Result result, ToJs toJs)
      : Napi::AsyncProgressQueueWorker<Progress>(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        result_(std::move(result)),
        toJs_(std::move(toJs)) {}

  Napi::Promise::Deferred deferred_;
  Work work_;
  Result result_;
  ToJs toJs_;
  ThreadPreference threads_ = ThreadPreference::AllCores;
  Napi::FunctionReference callback_;
  std::shared_ptr<std::atomic<bool>> cancel_ = std::make_shared<std::atomic<bool>>(false);
  Napi::ObjectReference callbackError_;
  CaughtError caught_;
};

}  // namespace ebm::bindings

#include "threads.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <string>

#include "errors.h"

namespace ebm {
namespace {
std::atomic<int> requestedThreads{0};  // 0: never set, LibTorch's default
}  // namespace

void setNumThreads(int n) {
  if (n < 1 || n > 1024) throw ConfigError("numThreads must be an integer in [1, 1024], got " + std::to_string(n));
  requestedThreads.store(n);
  at::set_num_threads(n);
}

void applyRequestedThreads() {
  const int n = requestedThreads.load();
  if (n > 0 && at::get_num_threads() != n) at::set_num_threads(n);
}

}  // namespace ebm

#include "threads.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "errors.h"

namespace ebm {
namespace {
std::atomic<int> requestedThreads{0};  // 0: the caller never chose
std::atomic<int> defaultThreads{0};    // 0: LibTorch's own default
}  // namespace

void setNumThreads(int n) {
  if (n < 1 || n > 1024) throw ConfigError("numThreads must be an integer in [1, 1024], got " + std::to_string(n));
  requestedThreads.store(n);
  at::set_num_threads(n);
}

void setDefaultThreads(int n) {
  if (n < 1 || n > 1024) throw ConfigError("numThreads must be an integer in [1, 1024], got " + std::to_string(n));
  defaultThreads.store(n);
  at::set_num_threads(n);
}

void applyJobThreads(ThreadPreference preference) {
  int n = requestedThreads.load();
  if (n == 0 && std::getenv("OMP_NUM_THREADS") == nullptr)
    n = preference == ThreadPreference::OneThread ? 1 : defaultThreads.load();
  if (n > 0 && at::get_num_threads() != n) at::set_num_threads(n);
}

}  // namespace ebm

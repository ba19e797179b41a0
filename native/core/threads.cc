#include "threads.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#include "errors.h"
#include "models/energy_model.h"

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

ThreadPreference preferenceForWork(const EnergyModel& model, int64_t rowsPerPass) {
  constexpr double kSerialWork = 16777216.0;  // 2^24
  // Work per row: the model's weights, and at least the row itself (analytic energies hold few).
  double perRow = 1;
  for (int64_t d : model.eventShape()) perRow *= static_cast<double>(d);
  double weights = 0;
  for (const auto& t : model.state()) weights += static_cast<double>(t.tensor.numel());
  perRow = std::max(perRow, weights);
  return static_cast<double>(rowsPerPass) * perRow < kSerialWork ? ThreadPreference::OneThread
                                                                 : ThreadPreference::AllCores;
}

void applyJobThreads(ThreadPreference preference) {
  int n = requestedThreads.load();
  if (n == 0 && std::getenv("OMP_NUM_THREADS") == nullptr)
    n = preference == ThreadPreference::OneThread ? 1 : defaultThreads.load();
  if (n > 0 && at::get_num_threads() != n) at::set_num_threads(n);
}

}  // namespace ebm

// What every sampler shares: the default start, and the per-step
// cancellation, progress and energy-trace bookkeeping.
#include <torch/torch.h>

#include "errors.h"
#include "samplers/sampler_registry.h"

namespace ebm {

at::Tensor Sampler::defaultInit(EnergyModel& model, int64_t n, at::Generator& gen) const {
  std::vector<int64_t> shape{n};
  shape.insert(shape.end(), model.eventShape().begin(), model.eventShape().end());
  return torch::randn(shape, gen, torch::TensorOptions().device(model.device()).dtype(torch::kFloat32));
}

void throwIfCancelled(const SampleOptions& o) {
  if (o.cancel && o.cancel->load(std::memory_order_relaxed)) throw AbortedError("sampling was aborted");
}

void stepDone(const SampleOptions& o, int64_t done) {
  throwIfCancelled(o);
  if (o.onStep && o.progressEvery > 0 && done % o.progressEvery == 0) o.onStep(done);
}

void recordEnergy(SampleResult& r, int64_t done, int64_t total, const at::Tensor& energies) {
  constexpr int64_t kMaxTrace = 100000;
  const int64_t every = (total + kMaxTrace - 1) / kMaxTrace;
  if (done % every != 0) return;
  if (!r.energyTrace.defined()) r.energyTrace = torch::zeros({total / every}, energies.options());
  const int64_t slot = done / every - 1;
  if (slot >= 0 && slot < r.energyTrace.size(0)) r.energyTrace.select(0, slot).copy_(energies.detach().mean());
}

std::vector<int64_t> chainShape(const at::Tensor& x) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  return shape;
}

}  // namespace ebm

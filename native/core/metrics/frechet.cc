#include "metrics/frechet.h"

#include <torch/torch.h>

#include "errors.h"
#include "models/classifier.h"
#include "tensor_util.h"

namespace ebm {
namespace {

constexpr int64_t kChunk = 2048;

Classifier& asClassifier(EnergyModel& model) {
  auto* c = dynamic_cast<Classifier*>(&model);
  if (!c) throw ConfigError("model must be a 'classifier' (got '" + model.kind() + "')");
  return *c;
}

template <typename Fn>
at::Tensor chunked(EnergyModel& model, const at::Tensor& xIn, Fn&& fn) {
  ModelLock lock(model);
  torch::NoGradGuard noGrad;
  at::Tensor x = model.prepareInput(xIn, "x");
  requireFinite(x, "x");
  std::vector<at::Tensor> parts;
  for (int64_t s = 0; s < x.size(0); s += kChunk) parts.push_back(fn(x.narrow(0, s, std::min(kChunk, x.size(0) - s))));
  return torch::cat(parts).to(torch::kCPU);
}

// Symmetric PSD square root by eigendecomposition.
at::Tensor sqrtPsd(const at::Tensor& m) {
  auto [values, vectors] = at::linalg_eigh(m, "L");
  return torch::matmul(vectors * values.clamp_min(0).sqrt().unsqueeze(0), vectors.t());
}

}  // namespace

at::Tensor classifierFeatures(EnergyModel& model, const at::Tensor& x) {
  Classifier& c = asClassifier(model);
  return chunked(model, x, [&](const at::Tensor& b) { return c.features(b); });
}

at::Tensor classifierLogits(EnergyModel& model, const at::Tensor& x) {
  Classifier& c = asClassifier(model);
  return chunked(model, x, [&](const at::Tensor& b) { return c.logits(b); });
}

double frechetDistance(const at::Tensor& fa, const at::Tensor& fb) {
  if (fa.dim() != 2 || fb.dim() != 2 || fa.size(1) != fb.size(1))
    throw ShapeError("feature sets must be [N, F] with the same F");
  if (fa.size(0) < 2 || fb.size(0) < 2) throw ShapeError("each set needs at least 2 rows");
  at::Tensor a = fa.to(torch::kFloat64), b = fb.to(torch::kFloat64);
  at::Tensor ma = a.mean(0), mb = b.mean(0);
  at::Tensor ca = torch::matmul((a - ma).t(), a - ma) / static_cast<double>(a.size(0) - 1);
  at::Tensor cb = torch::matmul((b - mb).t(), b - mb) / static_cast<double>(b.size(0) - 1);
  // Tr((Ca Cb)^(1/2)) = Tr((Ca^(1/2) Cb Ca^(1/2))^(1/2)), a symmetric PSD form.
  at::Tensor sa = sqrtPsd(ca);
  at::Tensor inner = torch::matmul(torch::matmul(sa, cb), sa);
  inner = 0.5 * (inner + inner.t());
  const double traceSqrt = std::get<0>(at::linalg_eigh(inner, "L")).clamp_min(0).sqrt().sum().item<double>();
  return (ma - mb).pow(2).sum().item<double>() + ca.trace().item<double>() + cb.trace().item<double>() - 2 * traceSqrt;
}

}  // namespace ebm

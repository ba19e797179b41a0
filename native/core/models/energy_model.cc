#include "models/energy_model.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "errors.h"
#include "tensor_util.h"

namespace ebm {

EnergyModel::EnergyModel(json::Value config, std::vector<int64_t> eventShape, c10::Device device)
    : config_(std::move(config)), eventShape_(std::move(eventShape)), device_(device) {}

at::Tensor EnergyModel::addParameter(const std::string& name, at::Tensor value) {
  value = value.to(device_, torch::kFloat32).detach().set_requires_grad(true);
  parameters_.push_back({name, value});
  return value;
}

namespace {
// Elements of a shape, saturating just above the budget (no overflow for any dimensions).
template <typename Shape>
int64_t cappedNumel(const Shape& shape) {
  int64_t numel = 1;
  for (int64_t s : shape) numel = s > 0 && numel > kMaxModelParameters / s ? kMaxModelParameters + 1 : numel * s;
  return numel;
}
}  // namespace

ParameterPlan& ParameterPlan::add(std::initializer_list<int64_t> shape) {
  total_ = std::min(total_ + cappedNumel(shape), kMaxModelParameters + 1);
  return *this;
}

void ParameterPlan::check() const {
  if (total_ > kMaxModelParameters)
    throw ConfigError("model: this config needs more than " + std::to_string(kMaxModelParameters) +
                      " parameters; reduce its widths, channels or input size");
}

at::Tensor EnergyModel::addUniformParameter(const std::string& name, const std::vector<int64_t>& shape, int64_t fanIn,
                                            at::Generator& gen) {
  parameterCount_ += cappedNumel(shape);
  if (parameterCount_ > kMaxModelParameters)
    throw ConfigError("model: this config needs more than " + std::to_string(kMaxModelParameters) +
                      " parameters (reached at '" + name + "'); reduce its widths, channels or input size");
  const double bound = 1.0 / std::sqrt(static_cast<double>(fanIn));
  return addParameter(name, torch::rand(shape, gen, torch::kFloat32) * (2 * bound) - bound);
}

at::Tensor EnergyModel::addBuffer(const std::string& name, at::Tensor value) {
  value = value.to(device_, torch::kFloat32).detach();
  buffers_.push_back({name, value});
  return value;
}

namespace {
void collectMutexes(const EnergyModel& model, std::vector<std::mutex*>& out) {
  out.push_back(&model.mutex());
  for (const auto& part : model.parts()) collectMutexes(*part, out);
}
}  // namespace

ModelLock::ModelLock(const EnergyModel& model) : ModelLock(model, nullptr) {}

ModelLock::ModelLock(const EnergyModel& model, const EnergyModel* other) {
  collectMutexes(model, held_);
  if (other) collectMutexes(*other, held_);
  // one global order (by address): two jobs locking overlapping sets never deadlock
  std::sort(held_.begin(), held_.end());
  held_.erase(std::unique(held_.begin(), held_.end()), held_.end());
  for (std::mutex* m : held_) m->lock();
}

ModelLock::~ModelLock() {
  for (auto it = held_.rbegin(); it != held_.rend(); ++it) (*it)->unlock();
}

std::vector<NamedTensor> EnergyModel::state() const {
  std::vector<NamedTensor> all = parameters_;
  all.insert(all.end(), buffers_.begin(), buffers_.end());
  return all;
}

void EnergyModel::setTensor(const std::string& name, const at::Tensor& value) {
  for (const auto& list : {&parameters_, &buffers_}) {
    for (auto& p : *list) {
      if (p.name != name) continue;
      if (!p.tensor.sizes().equals(value.sizes()))
        throw ShapeError("parameter '" + name + "' has shape " + shapeString(p.tensor.sizes()) + ", got " +
                         shapeString(value.sizes()));
      torch::NoGradGuard noGrad;
      p.tensor.copy_(value.to(p.tensor.device(), p.tensor.scalar_type()));
      return;
    }
  }
  std::string names;
  for (const auto& p : state()) names += (names.empty() ? "" : ", ") + p.name;
  throw ConfigError("model has no parameter named '" + name + "' (it has: " + names + ")");
}

at::Tensor EnergyModel::prepareInput(const at::Tensor& x, const std::string& what) const {
  requireBatchOf(x, eventShape_, what);
  return x.to(device_, torch::kFloat32);
}

at::Tensor EnergyModel::prepareTime(const at::Tensor& t, int64_t n) const {
  if (!timeConditioned()) {
    if (t.defined()) throw ConfigError("t was given but this model is not time-conditioned");
    return t;
  }
  if (!t.defined()) throw ConfigError("t is required: this model is time-conditioned");
  at::Tensor tt = t.to(device_, torch::kFloat32).reshape({-1});
  if (tt.numel() == 1) tt = tt.expand({n}).contiguous();
  if (tt.numel() != n) throw ShapeError("t must be a scalar or have one value per row (" + std::to_string(n) + ")");
  return tt;
}

}  // namespace ebm

namespace ebm {

namespace {
constexpr int64_t kChunkRows = 1 << 16;  // bounds peak memory of evaluation on huge inputs
}

at::Tensor evaluateEnergy(EnergyModel& model, const at::Tensor& xIn, const at::Tensor& tIn) {
  ModelLock lock(model);
  torch::NoGradGuard noGrad;
  at::Tensor x = model.prepareInput(xIn, "x");
  requireFinite(x, "x");
  at::Tensor t = model.prepareTime(tIn, x.size(0));
  if (t.defined()) requireFinite(t, "t");
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < x.size(0); start += kChunkRows) {
    const int64_t len = std::min(kChunkRows, x.size(0) - start);
    parts.push_back(model.energy(x.narrow(0, start, len), t.defined() ? t.narrow(0, start, len) : t));
  }
  return torch::cat(parts).to(torch::kCPU);
}

at::Tensor EnergyModel::energyAndGrad(const at::Tensor& x, const at::Tensor& t, at::Tensor* energyOut) {
  torch::AutoGradMode gradOn(true);
  at::Tensor xg = x.detach().requires_grad_(true);
  at::Tensor e = energy(xg, t);
  at::Tensor g = torch::autograd::grad({e.sum()}, {xg})[0];
  if (energyOut) *energyOut = e.detach();
  return g.detach();
}

at::Tensor EnergyModel::scoreForTraining(const at::Tensor& x, const at::Tensor& t) {
  at::Tensor xg = x.detach().requires_grad_(true);
  at::Tensor e = energy(xg, t).sum();
  return -torch::autograd::grad({e}, {xg}, /*grad_outputs=*/{}, /*retain_graph=*/true, /*create_graph=*/true)[0];
}

at::Tensor scoreOf(EnergyModel& model, const at::Tensor& x, const at::Tensor& t, bool createGraph) {
  if (!createGraph) return -model.energyAndGrad(x, t, nullptr);
  if (!x.requires_grad()) return model.scoreForTraining(x, t);
  // x is itself differentiated: keep the whole graph
  at::Tensor e = model.energy(x, t).sum();
  return -torch::autograd::grad({e}, {x}, /*grad_outputs=*/{}, /*retain_graph=*/true, /*create_graph=*/true)[0];
}

at::Tensor evaluateScore(EnergyModel& model, const at::Tensor& xIn, const at::Tensor& tIn) {
  ModelLock lock(model);
  torch::AutoGradMode gradOn(true);
  at::Tensor x = model.prepareInput(xIn, "x");
  requireFinite(x, "x");
  at::Tensor t = model.prepareTime(tIn, x.size(0));
  if (t.defined()) requireFinite(t, "t");
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < x.size(0); start += kChunkRows) {
    const int64_t len = std::min(kChunkRows, x.size(0) - start);
    at::Tensor xc = x.narrow(0, start, len).detach().requires_grad_(true);
    parts.push_back(scoreOf(model, xc, t.defined() ? t.narrow(0, start, len) : t, false).detach());
  }
  return torch::cat(parts).to(torch::kCPU);
}

}  // namespace ebm

#include "train/optimizer.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <type_traits>

#include "errors.h"
#include "tensor_util.h"

namespace ebm {
namespace {

using StateMap = std::remove_reference_t<decltype(std::declval<torch::optim::Optimizer&>().state())>;

// LibTorch keys per-parameter state by the parameter's TensorImpl: as its printed address in
// 1.x, as the pointer itself in 2.x. Built the way the installed version builds it.
template <typename Map>
typename Map::key_type stateKey(const at::Tensor& p) {
  if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
    std::ostringstream out;
    out << p.unsafeGetTensorImpl();
    return out.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

json::Value num(double v) { return json::Value::number(v); }

at::Tensor stepTensor(int64_t step) { return torch::full({1}, step, torch::TensorOptions().dtype(torch::kLong)); }

}  // namespace

OptimizerBuild makeOptimizer(const json::Value& cfg, const std::vector<at::Tensor>& params) {
  const std::string where = "optimizer";
  const std::string kind = json::getString(cfg, "kind", where, "adam");
  const double lr = json::getNumber(cfg, "lr", where, 1e-3);
  if (!(lr > 0)) throw ConfigError("optimizer.lr must be > 0, got " + std::to_string(lr));
  const double wd = json::getNumber(cfg, "weightDecay", where, kind == "adamw" ? 0.01 : 0.0);
  if (!(wd >= 0)) throw ConfigError("optimizer.weightDecay must be >= 0");
  OptimizerBuild out;
  out.settings = json::Value::object({{"kind", json::Value::string(kind)}, {"lr", num(lr)}, {"weightDecay", num(wd)}});
  if (kind == "adam" || kind == "adamw") {
    double b1 = 0.9, b2 = 0.999;
    if (cfg.has("betas")) {
      const auto& b = cfg["betas"];
      if (!b.isArray() || b.asArray().size() != 2 || !b.asArray()[0].isNumber() || !b.asArray()[1].isNumber())
        throw ConfigError("optimizer.betas must be [beta1, beta2]");
      b1 = b.asArray()[0].asNumber();
      b2 = b.asArray()[1].asNumber();
      if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw ConfigError("optimizer.betas must lie in [0, 1)");
    }
    const double eps = json::getNumber(cfg, "eps", where, 1e-8);
    out.settings.set("betas", json::Value::array({num(b1), num(b2)}));
    out.settings.set("eps", num(eps));
    if (kind == "adam")
      out.optimizer = std::make_unique<torch::optim::Adam>(
          params, torch::optim::AdamOptions(lr).betas({b1, b2}).eps(eps).weight_decay(wd));
    else
      out.optimizer = std::make_unique<torch::optim::AdamW>(
          params, torch::optim::AdamWOptions(lr).betas({b1, b2}).eps(eps).weight_decay(wd));
    return out;
  }
  if (kind == "sgd") {
    const double momentum = json::getNumber(cfg, "momentum", where, 0.0);
    if (!(momentum >= 0 && momentum < 1)) throw ConfigError("optimizer.momentum must be in [0, 1)");
    out.settings.set("momentum", num(momentum));
    out.optimizer =
        std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(lr).momentum(momentum).weight_decay(wd));
    return out;
  }
  throw ConfigError("optimizer.kind must be one of adam, adamw, sgd; got '" + kind + "'");
}

double Schedule::at(int64_t step) const {
  double lr = base;
  if (kind == "cosine") {
    const double progress = std::min(1.0, static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, total)));
    lr = minLr + (base - minLr) * 0.5 * (1 + std::cos(M_PI * progress));
  }
  if (warmup > 0 && step < warmup) lr *= static_cast<double>(step + 1) / static_cast<double>(warmup);
  return lr;
}

json::Value Schedule::settings() const {
  return json::Value::object(
      {{"kind", json::Value::string(kind)}, {"minLr", num(minLr)}, {"warmupSteps", num(static_cast<double>(warmup))}});
}

Schedule makeSchedule(const json::Value& trainCfg, double baseLr, int64_t steps) {
  Schedule schedule;
  schedule.base = baseLr;
  schedule.total = steps;
  if (trainCfg.has("schedule")) {
    const json::Value& s = trainCfg["schedule"];
    schedule.kind = json::getString(s, "kind", "schedule", "constant");
    if (schedule.kind != "constant" && schedule.kind != "cosine")
      throw ConfigError("schedule.kind must be 'constant' or 'cosine', got '" + schedule.kind + "'");
    schedule.minLr = json::getNumber(s, "minLr", "schedule", 0.0);
    schedule.warmup = json::getInt(s, "warmupSteps", "schedule", 0);
    if (schedule.warmup < 0) throw ConfigError("schedule.warmupSteps must be >= 0");
  }
  return schedule;
}

std::vector<NamedTensor> optimizerState(torch::optim::Optimizer& optimizer, const std::vector<NamedTensor>& params) {
  std::vector<NamedTensor> out;
  StateMap& state = optimizer.state();
  for (const auto& p : params) {
    auto it = state.find(stateKey<StateMap>(p.tensor));
    if (it == state.end()) continue;  // no step taken for it yet
    const std::string prefix = "optimizer." + p.name + ".";
    torch::optim::OptimizerParamState* s = it->second.get();
    if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(s)) {
      out.push_back({prefix + "step", stepTensor(adam->step())});
      out.push_back({prefix + "exp_avg", adam->exp_avg()});
      out.push_back({prefix + "exp_avg_sq", adam->exp_avg_sq()});
    } else if (auto* adamw = dynamic_cast<torch::optim::AdamWParamState*>(s)) {
      out.push_back({prefix + "step", stepTensor(adamw->step())});
      out.push_back({prefix + "exp_avg", adamw->exp_avg()});
      out.push_back({prefix + "exp_avg_sq", adamw->exp_avg_sq()});
    } else if (auto* sgd = dynamic_cast<torch::optim::SGDParamState*>(s)) {
      out.push_back({prefix + "momentum_buffer", sgd->momentum_buffer()});
    }
  }
  return out;
}

void restoreOptimizerState(torch::optim::Optimizer& optimizer, const std::vector<NamedTensor>& params,
                           const std::map<std::string, at::Tensor>& saved, const std::string& where) {
  StateMap& state = optimizer.state();
  const bool sgd = dynamic_cast<torch::optim::SGD*>(&optimizer) != nullptr;
  const bool adamw = dynamic_cast<torch::optim::AdamW*>(&optimizer) != nullptr;
  for (const auto& p : params) {
    const std::string prefix = "optimizer." + p.name + ".";
    auto get = [&](const std::string& field, bool integer) -> at::Tensor {
      auto it = saved.find(prefix + field);
      if (it == saved.end()) return at::Tensor();
      const at::Tensor& t = it->second;
      const bool shapeOk = integer ? t.numel() == 1 : t.sizes().equals(p.tensor.sizes());
      if (!shapeOk || (t.scalar_type() == torch::kLong) != integer)
        throw IoError(where + ": tensor '" + prefix + field + "' has shape " + shapeString(t.sizes()) +
                      ", the parameter needs " + (integer ? std::string("[1]") : shapeString(p.tensor.sizes())));
      return integer ? t : t.to(p.tensor.options()).clone();
    };
    if (sgd) {
      at::Tensor buffer = get("momentum_buffer", false);
      if (!buffer.defined()) continue;
      auto s = std::make_unique<torch::optim::SGDParamState>();
      s->momentum_buffer(buffer);
      state[stateKey<StateMap>(p.tensor)] = std::move(s);
      continue;
    }
    at::Tensor step = get("step", true), m = get("exp_avg", false), v = get("exp_avg_sq", false);
    if (!step.defined() && !m.defined() && !v.defined()) continue;  // the parameter had no step yet
    if (!step.defined() || !m.defined() || !v.defined())
      throw IoError(where + ": the optimiser state of '" + p.name +
                    "' is incomplete (needs step, exp_avg, exp_avg_sq)");
    if (adamw) {
      auto s = std::make_unique<torch::optim::AdamWParamState>();
      s->step(step.item<int64_t>());
      s->exp_avg(m);
      s->exp_avg_sq(v);
      state[stateKey<StateMap>(p.tensor)] = std::move(s);
    } else {
      auto s = std::make_unique<torch::optim::AdamParamState>();
      s->step(step.item<int64_t>());
      s->exp_avg(m);
      s->exp_avg_sq(v);
      state[stateKey<StateMap>(p.tensor)] = std::move(s);
    }
  }
}

}  // namespace ebm

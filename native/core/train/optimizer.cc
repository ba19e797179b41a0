#include "train/optimizer.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <type_traits>

#include "errors.h"
#include "io/fields.h"
#include "tensor_util.h"
#include "train/settings.h"

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

at::Tensor stepTensor(int64_t step) { return torch::full({1}, step, torch::TensorOptions().dtype(torch::kLong)); }

}  // namespace

namespace {

// Adam and AdamW in one pass over each parameter, where LibTorch runs seven kernels and makes two
// temporaries per parameter: on ED with the 2-128-128-1 MLP that was 8 % of a step. The state is
// LibTorch's own (AdamParamState, AdamWParamState, under the same keys), so checkpoints and resume
// read it unchanged. A step with any parameter this loop does not cover (not a contiguous float32
// CPU tensor, a sparse gradient, amsgrad) is LibTorch's.
template <typename Base, typename Options, typename State, bool kDecoupled>
class FusedAdam final : public Base, public OnePassStep {
 public:
  using Base::Base;

  torch::Tensor step(torch::optim::Optimizer::LossClosure closure = nullptr) override {
    at::Tensor loss;
    if (closure) {
      at::AutoGradMode enable(true);
      loss = closure();
    }
    if (!covered()) {
      onePassOnly_ = false;
      Base::step();  // the closure ran above
      return loss;
    }
    torch::NoGradGuard noGrad;
    for (auto& group : this->param_groups()) {
      const auto& o = static_cast<const Options&>(group.options());
      for (auto& p : group.params())
        if (p.grad().defined()) update(p, o);
    }
    return loss;
  }

  bool onePassOnly() const override { return onePassOnly_; }

 private:
  bool onePassOnly_ = true;

  // Only the parameters and gradients need checking: the state is made here as zeros like the
  // parameter, or restored by restoreOptimizerState in the parameter's options, contiguous.
  bool covered() {
    for (auto& group : this->param_groups()) {
      if (static_cast<const Options&>(group.options()).amsgrad()) return false;
      for (auto& p : group.params())
        if (p.grad().defined() && (!isPlainCpuFloat(p) || !isPlainCpuFloat(p.grad()))) return false;
    }
    return true;
  }

  State& stateOf(const at::Tensor& p) {
    StateMap& state = this->state();
    auto key = stateKey<StateMap>(p);
    auto it = state.find(key);
    if (it != state.end()) return static_cast<State&>(*it->second);
    auto s = std::make_unique<State>();
    s->step(0);
    s->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
    s->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
    State& ref = *s;
    state[key] = std::move(s);
    return ref;
  }

  // LibTorch's formulas and operation order, with its scalars rounded to float as its kernels do;
  // its vectorised kernels may contract a multiply-add where this loop rounds twice, so the two
  // agree to float rounding, not bit for bit.
  void update(at::Tensor& p, const Options& o) {
    State& s = stateOf(p);
    s.step(s.step() + 1);
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    const double bc1 = 1 - std::pow(beta1, static_cast<double>(s.step()));
    const double bc2 = 1 - std::pow(beta2, static_cast<double>(s.step()));
    const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2);
    const float a1 = static_cast<float>(1 - beta1), a2 = static_cast<float>(1 - beta2);
    const float rootBc2 = static_cast<float>(std::sqrt(bc2));
    const float eps = static_cast<float>(o.eps());
    const float negStep = static_cast<float>(-(o.lr() / bc1));
    const float wd = static_cast<float>(o.weight_decay());
    const float shrink = static_cast<float>(1 - o.lr() * o.weight_decay());
    const bool decay = o.weight_decay() != 0;
    float* w = p.data_ptr<float>();
    const float* g = p.grad().data_ptr<float>();
    float* m = s.exp_avg().template data_ptr<float>();
    float* v = s.exp_avg_sq().template data_ptr<float>();
    at::parallel_for(0, p.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        float gi = g[i];
        if (decay) {
          if (kDecoupled)
            w[i] *= shrink;
          else
            gi += wd * w[i];
        }
        m[i] = m[i] * b1 + a1 * gi;
        v[i] = v[i] * b2 + (a2 * gi) * gi;
        w[i] += (negStep * m[i]) / (std::sqrt(v[i]) / rootBc2 + eps);
      }
    });
    // as an in-place op would: autograd refuses a graph that saved the old values
    p.unsafeGetTensorImpl()->bump_version();
  }
};

using FusedAdamOptimizer =
    FusedAdam<torch::optim::Adam, torch::optim::AdamOptions, torch::optim::AdamParamState, false>;
using FusedAdamWOptimizer =
    FusedAdam<torch::optim::AdamW, torch::optim::AdamWOptions, torch::optim::AdamWParamState, true>;

struct AdamOptions {
  double lr{};
  std::vector<double> betas{0.9, 0.999};
  double eps = 1e-8;
  double weightDecay = 0;
  bool fused = true;
};
// AdamW decouples weight decay; its default is PyTorch's.
struct AdamWOptions : AdamOptions {
  AdamWOptions() { weightDecay = 0.01; }
};
template <typename Fields>
void describe(Fields& f, AdamOptions& o) {
  f.required("lr", o.lr);
  f.optional("betas", o.betas);
  f.optional("eps", o.eps);
  f.optional("weightDecay", o.weightDecay);
  f.optional("fused", o.fused);
}

struct SgdOptions {
  double lr{};
  double momentum = 0;
  double weightDecay = 0;
};
template <typename Fields>
void describe(Fields& f, SgdOptions& o) {
  f.required("lr", o.lr);
  f.optional("momentum", o.momentum);
  f.optional("weightDecay", o.weightDecay);
}

// Every option as used, to compare on resume (not `fused`: both paths keep the same state).
json::Value adamSettings(const char* kind, const AdamOptions& o) {
  return {{"kind", kind}, {"lr", o.lr}, {"weightDecay", o.weightDecay}, {"betas", o.betas}, {"eps", o.eps}};
}

}  // namespace

OptimizerBuild makeOptimizer(const json::Value& config, const std::vector<at::Tensor>& params) {
  const std::string where = "optimizer";
  const std::string kind = json::getString(config, "kind", where);
  OptimizerBuild out;
  if (kind == "adam" || kind == "adamw") {
    const AdamOptions o = kind == "adam" ? readOptions<AdamOptions>(config, where)
                                         : static_cast<AdamOptions>(readOptions<AdamWOptions>(config, where));
    if (o.betas.size() != 2) throw ConfigError("optimizer.betas must be [beta1, beta2]");
    const std::tuple<double, double> betas{o.betas[0], o.betas[1]};
    out.settings = adamSettings(kind.c_str(), o);
    out.lr = o.lr;
    const auto adam = torch::optim::AdamOptions(o.lr).betas(betas).eps(o.eps).weight_decay(o.weightDecay);
    const auto adamw = torch::optim::AdamWOptions(o.lr).betas(betas).eps(o.eps).weight_decay(o.weightDecay);
    if (kind == "adam" && o.fused)
      out.optimizer = std::make_unique<FusedAdamOptimizer>(params, adam);
    else if (kind == "adam")
      out.optimizer = std::make_unique<torch::optim::Adam>(params, adam);
    else if (o.fused)
      out.optimizer = std::make_unique<FusedAdamWOptimizer>(params, adamw);
    else
      out.optimizer = std::make_unique<torch::optim::AdamW>(params, adamw);
    return out;
  }
  if (kind == "sgd") {
    const SgdOptions o = readOptions<SgdOptions>(config, where);
    out.settings = {{"kind", kind}, {"lr", o.lr}, {"weightDecay", o.weightDecay}, {"momentum", o.momentum}};
    out.lr = o.lr;
    out.optimizer = std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weightDecay));
    return out;
  }
  throw ConfigError("optimizer.kind must be one of 'adam', 'adamw', 'sgd'; got '" + kind + "'");
}

json::Value optimizerDefaults() {
  return {
      {"adam", defaultsOf<AdamOptions>()}, {"adamw", defaultsOf<AdamWOptions>()}, {"sgd", defaultsOf<SgdOptions>()}};
}

double Schedule::at(int64_t step) const {
  double lr = base;
  if (kind == ScheduleKind::Cosine) {
    const double progress = std::min(1.0, static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, total)));
    lr = minLr + (base - minLr) * 0.5 * (1 + std::cos(M_PI * progress));
  }
  if (warmup > 0 && step < warmup) lr *= static_cast<double>(step + 1) / static_cast<double>(warmup);
  return lr;
}

json::Value Schedule::settings() const { return {{"kind", nameOf(kind)}, {"minLr", minLr}, {"warmupSteps", warmup}}; }

Schedule makeSchedule(const ScheduleOptions& options, double baseLr, int64_t steps) {
  Schedule schedule;
  schedule.kind = options.kind;
  schedule.base = baseLr;
  schedule.minLr = options.minLr;
  schedule.warmup = options.warmupSteps;
  schedule.total = steps;
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

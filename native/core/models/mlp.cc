// Multi-layer perceptron energy, optionally time-conditioned and spectrally normalised.
// Parameter names follow PyTorch's Linear convention (weight is [out, in]) so checkpoints
// read naturally from Python.
#include <torch/torch.h>

#include <cmath>

#include "errors.h"
#include "io/fields.h"
#include "models/activation.h"
#include "models/mlp_passes.h"
#include "models/model_registry.h"
#include "tensor_util.h"

namespace ebm {
namespace {

struct MlpOptions {
  int64_t inputDim{};
  std::vector<int64_t> hidden;
  std::string activation = "silu";
  bool timeConditioned = false;
  int64_t timeEmbedDim = 32;
  // The top angular frequency of the time embedding (rad per unit t); checkpoints in format 1
  // load with 1000, the value they were trained with (io/checkpoint.cc).
  double timeMaxFrequency = 64;
  // Where the time embedding enters: 'input' (concatenated to x, as in the DiffCLF and DSM papers'
  // MLPs) or 'every' (also a bias-free linear map of it into every later hidden layer). Checkpoints
  // of format 1 and 2 load with 'every', the only layout then (io/checkpoint.cc).
  std::string timeInjection = "every";
  bool spectralNorm = false;
  // Hand-written passes (models/mlp_passes.h) where they apply: CPU, float32, no spectral norm, an
  // activation with a fused kernel. false: LibTorch autograd everywhere (the reference path).
  bool fusedPasses = true;
  int64_t seed = 0;
};
template <typename Fields>
void describe(Fields& f, MlpOptions& o) {
  f.required("inputDim", o.inputDim);
  f.required("hidden", o.hidden);
  f.optional("activation", o.activation);
  f.optional("timeConditioned", o.timeConditioned);
  f.optional("timeEmbedDim", o.timeEmbedDim);
  f.optional("timeMaxFrequency", o.timeMaxFrequency);
  f.optional("timeInjection", o.timeInjection);
  f.optional("spectralNorm", o.spectralNorm);
  f.optional("fusedPasses", o.fusedPasses);
  f.optional("seed", o.seed);
}

class Mlp : public EnergyModel {
 public:
  Mlp(const json::Value& cfg, c10::Device device, const MlpOptions& o)
      : EnergyModel(cfg, {o.inputDim}, device),
        activation_(o.activation),
        timeConditioned_(o.timeConditioned),
        timeEveryLayer_(o.timeConditioned && o.timeInjection == "every"),
        spectralNorm_(o.spectralNorm) {
    const int64_t inputDim = o.inputDim;
    const std::vector<int64_t>& hidden = o.hidden;
    // checked here too: a checkpoint's metadata reaches this constructor without the TS checks
    if (hidden.empty()) throw ConfigError("model.hidden must list at least one layer width, e.g. [128, 128]");
    for (size_t i = 0; i < hidden.size(); ++i)
      if (hidden[i] < 1 || hidden[i] > 65536)
        throw ConfigError("model.hidden[" + std::to_string(i) + "] must be an integer in [1, 65536], got " +
                          std::to_string(hidden[i]));
    checkActivation(activation_, "model.activation");
    if (o.timeInjection != "input" && o.timeInjection != "every")
      throw ConfigError("model.timeInjection must be 'input' or 'every', got '" + o.timeInjection + "'");
    timeEmbedDim_ = o.timeEmbedDim;
    if (timeConditioned_ && (timeEmbedDim_ < 2 || timeEmbedDim_ % 2 != 0 || timeEmbedDim_ > 4096))
      throw ConfigError("model.timeEmbedDim must be an even integer in [2, 4096], got " +
                        std::to_string(timeEmbedDim_));
    at::Generator gen = makeGenerator(c10::Device(c10::kCPU), static_cast<uint64_t>(o.seed));

    int64_t in = inputDim + (timeConditioned_ ? timeEmbedDim_ : 0);
    ParameterPlan plan;
    for (size_t i = 0; i < hidden.size(); ++i) {
      plan.add({hidden[i], i == 0 ? in : hidden[i - 1]}).add({hidden[i]});
      if (timeEveryLayer_ && i > 0) plan.add({hidden[i], timeEmbedDim_});
    }
    plan.add({1, hidden.back()}).add({1}).check();
    for (size_t i = 0; i < hidden.size(); ++i) {
      const std::string p = "layers." + std::to_string(i);
      weights_.push_back(addUniformParameter(p + ".weight", {hidden[i], in}, in, gen));
      biases_.push_back(addUniformParameter(p + ".bias", {hidden[i]}, in, gen));
      // With 'every', each later hidden layer also sees the time embedding.
      if (timeEveryLayer_ && i > 0) {
        const std::string q = "time." + std::to_string(i);
        timeWeights_.push_back(addUniformParameter(q + ".weight", {hidden[i], timeEmbedDim_}, timeEmbedDim_, gen));
      }
      in = hidden[i];
    }
    outWeight_ = addUniformParameter("out.weight", {1, in}, in, gen);
    outBias_ = addUniformParameter("out.bias", {1}, in, gen);
    if (spectralNorm_) {
      for (size_t i = 0; i < weights_.size(); ++i) {
        at::Tensor u = torch::randn({weights_[i].size(0)}, gen, torch::kFloat32);
        sigmaU_.push_back(addBuffer("layers." + std::to_string(i) + ".sn_u", u / u.norm()));
      }
    }
    if (timeConditioned_) {
      // Log-spaced angular frequencies from 1 to timeMaxFrequency (rad per unit t). The top one
      // bounds how fast the energy may change with t: at 64, neighbouring levels of a 64-level
      // grid (spacing ~1/63) are about 1 rad apart, so energies between training levels stay
      // tied to those on them (at 1000, 16 rad apart, they were not; METHODS.md).
      const double top = o.timeMaxFrequency;
      if (!(top >= 1 && top <= 1e4))
        throw ConfigError("model.timeMaxFrequency must be in [1, 10000], got " + std::to_string(top));
      const int64_t half = timeEmbedDim_ / 2;
      frequencies_ = torch::exp(torch::linspace(0.0, std::log(top), half)).to(device);
    }
    fused_ = o.fusedPasses && !spectralNorm_ && device.is_cpu() && fusedActivation(activation_, &passes_.activation);
    if (fused_) {
      passes_.weights = weights_;
      passes_.biases = biases_;
      passes_.timeWeights = timeWeights_;
      passes_.outWeight = outWeight_;
      passes_.outBias = outBias_;
    }
  }

  bool timeConditioned() const override { return timeConditioned_; }

  at::Tensor energy(const at::Tensor& x, const at::Tensor& t) override {
    at::Tensor h = x.reshape({x.size(0), -1});
    at::Tensor emb = timeConditioned_ ? timeEmbedding(t) : at::Tensor();
    // The hand-written backward gives parameter gradients only: a graph through x or t (score
    // matching differentiates grad_x E) takes the autograd path.
    if (fusedFor(x)) {
      if (!at::GradMode::is_enabled()) return mlpEnergyAndGrad(passes_, h, emb, nullptr);
      if (!x.requires_grad() && !(t.defined() && t.requires_grad()))
        return mlpEnergyWithParameterGrads(passes_, h, emb);
    }
    if (timeConditioned_) h = torch::cat({h, emb}, 1);
    for (size_t i = 0; i < weights_.size(); ++i) {
      at::Tensor w = spectralNorm_ ? normalised(i) : weights_[i];
      at::Tensor pre = torch::linear(h, w, biases_[i]);
      if (timeEveryLayer_ && i > 0) pre = pre + torch::linear(emb, timeWeights_[i - 1]);
      h = applyActivation(activation_, pre);
    }
    return torch::linear(h, outWeight_, outBias_).squeeze(1);
  }

  at::Tensor scoreForTraining(const at::Tensor& x, const at::Tensor& t) override {
    if (!fusedFor(x) || !at::GradMode::is_enabled() || x.requires_grad() || (t.defined() && t.requires_grad()))
      return EnergyModel::scoreForTraining(x, t);
    at::Tensor s = mlpScoreWithParameterGrads(passes_, x.reshape({x.size(0), -1}),
                                              timeConditioned_ ? timeEmbedding(t) : at::Tensor());
    return s.view(x.sizes());
  }

  at::Tensor energyAndGrad(const at::Tensor& x, const at::Tensor& t, at::Tensor* energyOut) override {
    if (!fusedFor(x)) return EnergyModel::energyAndGrad(x, t, energyOut);
    at::Tensor grad;
    at::Tensor e = mlpEnergyAndGrad(passes_, x.reshape({x.size(0), -1}),
                                    timeConditioned_ ? timeEmbedding(t.detach()) : at::Tensor(), &grad);
    if (energyOut) *energyOut = e;
    return grad.view(x.sizes());
  }

 private:
  bool fusedFor(const at::Tensor& x) const { return fused_ && x.device().is_cpu() && x.scalar_type() == at::kFloat; }

  // [sin(f t), cos(f t)] over the log-spaced frequencies f.
  at::Tensor timeEmbedding(const at::Tensor& t) const {
    at::Tensor angles = t.reshape({-1, 1}) * frequencies_.reshape({1, -1});
    return torch::cat({torch::sin(angles), torch::cos(angles)}, 1);
  }

  // W / sigma_max(W), sigma from one power-iteration step per call; the vector u persists.
  at::Tensor normalised(size_t i) {
    const at::Tensor& w = weights_[i];
    at::Tensor u = sigmaU_[i];
    if (training()) {
      torch::NoGradGuard noGrad;
      at::Tensor v = torch::mv(w.t(), u);
      v = v / (v.norm() + 1e-12);
      at::Tensor uNew = torch::mv(w, v);
      u.copy_(uNew / (uNew.norm() + 1e-12));
    }
    // A snapshot of u enters the graph: a later forward pass (DiffCLF runs two before one
    // backward) updates u in place and must not invalidate this one.
    u = u.detach().clone();
    at::Tensor v = torch::mv(w.t(), u).detach();
    v = v / (v.norm() + 1e-12);
    at::Tensor sigma = torch::dot(u, torch::mv(w, v));
    return w / sigma;
  }

  std::string activation_;
  bool timeConditioned_;
  bool timeEveryLayer_;
  bool spectralNorm_;
  int64_t timeEmbedDim_ = 0;
  std::vector<at::Tensor> weights_, biases_, timeWeights_, sigmaU_;
  at::Tensor outWeight_, outBias_, frequencies_;
  bool fused_ = false;
  MlpTensors passes_;  // the same tensors as above, as the hand-written passes take them
};

}  // namespace

std::shared_ptr<EnergyModel> makeMlp(const json::Value& cfg, c10::Device device) {
  const MlpOptions o = readOptions<MlpOptions>(cfg, "model");
  if (o.inputDim < 1 || o.inputDim > (1 << 24))
    throw ConfigError("model.inputDim must be an integer >= 1, got " + std::to_string(o.inputDim));
  if (!o.timeConditioned || (cfg.contains("timeMaxFrequency") && cfg.contains("timeInjection")))
    return std::make_shared<Mlp>(cfg, device, o);
  // The config a checkpoint stores names the frequency and the injection, so a later default
  // cannot change them.
  json::Value resolved = cfg;
  resolved["timeMaxFrequency"] = o.timeMaxFrequency;
  resolved["timeInjection"] = o.timeInjection;
  return std::make_shared<Mlp>(resolved, device, o);
}

json::Value mlpDefaults() { return defaultsOf<MlpOptions>(); }

}  // namespace ebm

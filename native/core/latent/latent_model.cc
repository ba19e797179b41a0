#include "latent/latent_model.h"

#include <torch/torch.h>

#include "errors.h"
#include "io/fields.h"
#include "models/activation.h"
#include "models/model_registry.h"
#include "tensor_util.h"

namespace ebm {

namespace {

// Number of stride-2 up-sampling stages: the most (up to 4) that leave a base of at least 3×3
// pixels and divide both sides, so 28×28 grows from 7×7 and 32×32 from 4×4.
int64_t upsamplingStages(int64_t h, int64_t w) {
  int64_t k = 0;
  while (k < 4 && h % (int64_t{2} << k) == 0 && w % (int64_t{2} << k) == 0 && (h >> (k + 1)) >= 3 &&
         (w >> (k + 1)) >= 3)
    ++k;
  return k;
}

}  // namespace

LatentModel::LatentModel(const json::Value& cfg, c10::Device device)
    : LatentModel(cfg, device, readOptions<LatentModelOptions>(cfg, "model")) {}

LatentModel::LatentModel(const json::Value& cfg, c10::Device device, const LatentModelOptions& o)
    : EnergyModel(cfg, {o.latentDim}, device), imageShape_(o.imageShape), likelihoodSigma_(o.likelihoodSigma) {
  // Checked here as well as in TS: a checkpoint's metadata reaches this constructor directly.
  const int64_t d = latentDim();
  if (d < 1 || d > 4096) throw ConfigError("model.latentDim must be an integer in [1, 4096], got " + std::to_string(d));
  if (imageShape_.size() != 3 || imageShape_[0] < 1 || imageShape_[0] > 64 || imageShape_[1] < 6 ||
      imageShape_[2] < 6 || imageShape_[1] > 4096 || imageShape_[2] > 4096)
    throw ConfigError("model.imageShape must be [channels, height, width] with 1-64 channels and sides of 6-4096");
  if (!(likelihoodSigma_ > 0)) throw ConfigError("model.likelihoodSigma must be > 0");
  const int64_t width = o.generator.channels;
  batchNorm_ = o.generator.batchNorm;
  if (width < 1 || width > 4096) throw ConfigError("model.generator.channels must be an integer in [1, 4096]");
  const std::vector<int64_t>& hidden = o.prior.hidden;
  const std::string& activation = o.prior.activation;
  checkActivation(activation, "model.prior.activation");
  if (hidden.empty() || hidden.size() > 16) throw ConfigError("model.prior.hidden must list 1 to 16 layer widths");
  for (int64_t h : hidden)
    if (h < 1 || h > 65536) throw ConfigError("model.prior.hidden widths must be integers in [1, 65536]");

  const int64_t stages = upsamplingStages(imageShape_[1], imageShape_[2]);
  if (stages == 0)
    throw ConfigError(
        "model.imageShape: height and width must both be even (the generator doubles a base of at "
        "least 3×3 pixels), got " +
        std::to_string(imageShape_[1]) + " × " + std::to_string(imageShape_[2]));
  baseHeight_ = imageShape_[1] >> stages;
  baseWidth_ = imageShape_[2] >> stages;

  // Channels per generator layer: width·2^(stages-1) at the base, halving, the image's at the end.
  std::vector<int64_t> channels;
  for (int64_t i = 0; i < stages; ++i) channels.push_back(width << (stages - 1 - i));
  channels.push_back(imageShape_[0]);

  ParameterPlan plan;
  plan.add({d, channels[0], baseHeight_, baseWidth_}).add({channels[0]});
  for (int64_t i = 1; i <= stages; ++i) plan.add({channels[i - 1], channels[i], 4, 4}).add({channels[i]});
  int64_t in = d;
  for (int64_t h : hidden) {
    plan.add({h, in}).add({h});
    in = h;
  }
  plan.add({1, in}).check();

  at::Generator gen = makeGenerator(c10::Device(c10::kCPU), static_cast<uint64_t>(o.seed));
  // ConvTranspose2d layout [in, out, kH, kW]; PyTorch's default init takes fan-in from dim 1.
  for (size_t i = 0; i < channels.size(); ++i) {
    const int64_t cin = i == 0 ? d : channels[i - 1], cout = channels[i];
    const int64_t kh = i == 0 ? baseHeight_ : 4, kw = i == 0 ? baseWidth_ : 4;
    const std::string p = "generator.layers." + std::to_string(i);
    genWeights_.push_back(addUniformParameter(p + ".weight", {cin, cout, kh, kw}, cout * kh * kw, gen));
    genBiases_.push_back(addUniformParameter(p + ".bias", {cout}, cout * kh * kw, gen));
    if (batchNorm_ && i + 1 < channels.size()) {
      const std::string q = "generator.norms." + std::to_string(i);
      bnWeights_.push_back(addParameter(q + ".weight", torch::ones({cout})));
      bnBiases_.push_back(addParameter(q + ".bias", torch::zeros({cout})));
      bnMeans_.push_back(addBuffer(q + ".running_mean", torch::zeros({cout})));
      bnVars_.push_back(addBuffer(q + ".running_var", torch::ones({cout})));
    }
  }

  // The prior energy, an MLP named like the library's 'mlp' model under prior.*. Its read-out starts
  // at zero, so an untrained prior is exactly N(0, I): the 'gaussian' baseline trains no energy.
  in = d;
  for (size_t i = 0; i < hidden.size(); ++i) {
    const std::string p = "prior.layers." + std::to_string(i);
    priorWeights_.push_back(addUniformParameter(p + ".weight", {hidden[i], in}, in, gen));
    priorBiases_.push_back(addUniformParameter(p + ".bias", {hidden[i]}, in, gen));
    in = hidden[i];
  }
  priorOutWeight_ = addParameter("prior.out.weight", torch::zeros({1, in}));
  priorOutBias_ = addParameter("prior.out.bias", torch::zeros({1}));
  priorActivation_ = activation;
}

at::Tensor LatentModel::priorEnergy(const at::Tensor& z) {
  at::Tensor h = z;
  for (size_t i = 0; i < priorWeights_.size(); ++i)
    h = applyActivation(priorActivation_, torch::linear(h, priorWeights_[i], priorBiases_[i]));
  return torch::linear(h, priorOutWeight_, priorOutBias_).squeeze(1);
}

at::Tensor LatentModel::energy(const at::Tensor& z, const at::Tensor&) {
  return priorEnergy(z) + 0.5 * z.pow(2).sum(1);
}

at::Tensor LatentModel::generate(const at::Tensor& z) {
  at::Tensor h = z.reshape({z.size(0), latentDim(), 1, 1});
  const size_t last = genWeights_.size() - 1;
  for (size_t i = 0; i <= last; ++i) {
    h = i == 0 ? torch::conv_transpose2d(h, genWeights_[i], genBiases_[i])
               : torch::conv_transpose2d(h, genWeights_[i], genBiases_[i], 2, 1);
    if (i == last) break;
    if (batchNorm_)
      h = torch::batch_norm(h, bnWeights_[i], bnBiases_[i], bnMeans_[i], bnVars_[i], training(), 0.1, 1e-5,
                            at::globalContext().userEnabledCuDNN());
    h = torch::leaky_relu(h, 0.2);
  }
  return torch::tanh(h);
}

std::vector<at::Tensor> LatentModel::generatorParameters() const {
  std::vector<at::Tensor> out = genWeights_;
  out.insert(out.end(), genBiases_.begin(), genBiases_.end());
  out.insert(out.end(), bnWeights_.begin(), bnWeights_.end());
  out.insert(out.end(), bnBiases_.begin(), bnBiases_.end());
  return out;
}

std::vector<at::Tensor> LatentModel::priorParameters() const {
  std::vector<at::Tensor> out = priorWeights_;
  out.insert(out.end(), priorBiases_.begin(), priorBiases_.end());
  out.push_back(priorOutWeight_);
  out.push_back(priorOutBias_);
  return out;
}

LatentModel& asLatent(EnergyModel& model, const char* what) {
  auto* latent = dynamic_cast<LatentModel*>(&model);
  if (!latent)
    throw ConfigError(std::string(what) + " needs a latent model (ebm.latentEbm), got a '" + model.kind() + "' model");
  return *latent;
}

std::shared_ptr<EnergyModel> makeLatent(const json::Value& cfg, c10::Device device) {
  return std::make_shared<LatentModel>(cfg, device);
}

json::Value latentDefaults() { return defaultsOf<LatentModelOptions>(); }

}  // namespace ebm

// An energy network the user wrote in PyTorch: a TorchScript module (torch.jit.script(net).save(path))
// whose forward(x) or forward(x, t) returns one energy per row. Loaded with LibTorch's own
// torch::jit::load; its parameters are registered as the model's, so every loss, sampler and
// checkpoint works with it. A checkpoint also carries the module's bytes, so it loads on its own.
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/versions.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <fstream>
#include <sstream>

#include "errors.h"
#include "io/fields.h"
#include "models/model_registry.h"
#include "tensor_util.h"

namespace ebm {
namespace {

const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64Encode(const std::string& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out += kAlphabet[(v >> (6 * k)) & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string base64Decode(const std::string& in, const std::string& what) {
  int table[256];
  std::fill(table, table + 256, -1);
  for (int k = 0; k < 64; ++k) table[static_cast<uint8_t>(kAlphabet[k])] = k;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const int v = table[static_cast<uint8_t>(c)];
    if (v < 0) throw IoError(what + " is not valid base64");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// The line of a LibTorch error that says what went wrong: TorchScript's interpreter puts a
// traceback first and the cause ("RuntimeError: ...") last.
std::string cause(const char* text) {
  std::string s(text);
  const size_t at = s.rfind("Error: ");
  if (at != std::string::npos) {
    const size_t start = s.rfind('\n', at);
    s = s.substr(start == std::string::npos ? 0 : start + 1);
  }
  const size_t nl = s.find('\n');
  s = nl == std::string::npos ? s : s.substr(0, nl);
  if (s.find_first_not_of(" \t") != std::string::npos) return s;
  // no cause on that line (an unknown operator's message starts with it): the first line that says something
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.find_first_not_of(" \t") != std::string::npos) return line;
  return "no message";
}

// Which LibTorch reads the module and which TorchScript format the file has: a module saved by a
// newer PyTorch may use a newer format or operators this LibTorch lacks, and the error should say
// so by version rather than leave the user to guess.
// Empty when the bytes are no TorchScript archive at all.
std::string versionsNote(const std::string& bytes) {
  uint64_t format = 0;
  try {
    std::istringstream in(bytes);
    caffe2::serialize::PyTorchStreamReader reader(&in);
    format = reader.version();
  } catch (const std::exception&) {
    return "";
  }
  return "this addon runs LibTorch " TORCH_VERSION ", which reads TorchScript format versions up to " +
         std::to_string(caffe2::serialize::kMaxSupportedFileFormatVersion) + ", and the file's format is version " +
         std::to_string(format) +
         "; a module saved by a newer PyTorch than " TORCH_VERSION
         " may use operators this LibTorch lacks: save it with PyTorch " TORCH_VERSION
         ", or build the addon against the newer LibTorch";
}

// The stored config: everything but the module's bytes (those travel as checkpoint metadata).
struct TorchScriptOptions {
  std::string path;
  std::vector<int64_t> inputShape;    // one input row
  bool timeConditioned = false;       // forward(x, t) instead of forward(x)
  std::optional<std::string> module;  // the module's bytes (base64), as a checkpoint stores them
};
template <typename Fields>
void describe(Fields& f, TorchScriptOptions& o) {
  f.required("path", o.path);
  f.required("inputShape", o.inputShape);
  f.optional("timeConditioned", o.timeConditioned);
  f.optional("module", o.module);
}

json::Value withoutBytes(const json::Value& cfg) {
  json::Value out = cfg;
  out.erase("module");
  return out;
}

class ScriptedEnergy : public EnergyModel {
 public:
  ScriptedEnergy(const json::Value& cfg, c10::Device device, std::vector<int64_t> inputShape, bool timeConditioned,
                 std::string bytes, const std::string& source)
      : EnergyModel(withoutBytes(cfg), inputShape, device),
        bytes_(std::move(bytes)),
        timeConditioned_(timeConditioned) {
    try {
      std::istringstream in(bytes_);
      module_ = torch::jit::load(in, device);
    } catch (const std::exception& e) {
      const std::string versions = versionsNote(bytes_);
      if (versions.empty())
        throw IoError(source + " is not a TorchScript module (save one with torch.jit.script(net).save(path)): " +
                      cause(e.what()));
      throw IoError(source + " is a TorchScript archive this LibTorch cannot load: " + cause(e.what()) + " (" +
                    versions + ")");
    }
    // The module computes with the model's own tensors: the optimiser's updates and the
    // checkpoint's values are what forward() sees.
    for (const auto& p : module_.named_parameters(/*recurse=*/true)) rebind(p.name, addParameter(p.name, p.value));
    for (const auto& b : module_.named_buffers(/*recurse=*/true)) rebind(b.name, addBuffer(b.name, b.value));
    // One probe row: a wrong input rank or output shape is reported now, not in the middle of a run.
    torch::NoGradGuard noGrad;
    const auto opts = torch::TensorOptions().device(device).dtype(torch::kFloat32);
    std::vector<int64_t> shape = {2};
    shape.insert(shape.end(), inputShape.begin(), inputShape.end());
    energy(torch::zeros(shape, opts), timeConditioned_ ? torch::full({2}, 0.5, opts) : at::Tensor());
  }

  bool timeConditioned() const override { return timeConditioned_; }

  at::Tensor energy(const at::Tensor& x, const at::Tensor& t) override {
    if (module_.is_training() != training()) module_.train(training());
    std::vector<c10::IValue> inputs{x};
    if (timeConditioned_) inputs.emplace_back(t);
    c10::IValue out;
    try {
      out = module_.forward(inputs);
    } catch (const std::exception& e) {
      // the interpreter's errors are not all c10::Error
      throw ShapeError("the TorchScript module's forward" + std::string(timeConditioned_ ? "(x, t)" : "(x)") +
                       " failed on x of shape " + shapeString(x.sizes()) + ": " + cause(e.what()));
    }
    if (!out.isTensor()) throw ShapeError("the TorchScript module's forward must return a tensor of energies");
    at::Tensor e = out.toTensor();
    if (e.dim() == 2 && e.size(1) == 1) e = e.squeeze(1);
    if (e.dim() != 1 || e.size(0) != x.size(0))
      throw ShapeError("the TorchScript module's forward must return one energy per row ([" +
                       std::to_string(x.size(0)) + "] or [" + std::to_string(x.size(0)) + ", 1]), got " +
                       shapeString(out.toTensor().sizes()));
    return e.to(torch::kFloat32);
  }

  std::map<std::string, std::string> checkpointMetadata() const override { return {{"module", base64Encode(bytes_)}}; }

 private:
  // Points the module's attribute `dotted` (e.g. layers.0.weight) at `value`.
  void rebind(const std::string& dotted, const at::Tensor& value) {
    torch::jit::Module owner = module_;
    size_t start = 0, dot;
    while ((dot = dotted.find('.', start)) != std::string::npos) {
      owner = owner.attr(dotted.substr(start, dot - start)).toModule();
      start = dot + 1;
    }
    owner.setattr(dotted.substr(start), value);
  }

  std::string bytes_;
  bool timeConditioned_;
  torch::jit::Module module_;
};

}  // namespace

std::shared_ptr<EnergyModel> makeTorchScript(const json::Value& cfg, c10::Device device) {
  const TorchScriptOptions o = readOptions<TorchScriptOptions>(cfg, "model");
  const std::string& path = o.path;
  const std::vector<int64_t>& shape = o.inputShape;
  if (shape.empty() || shape.size() > 8)
    throw ConfigError("model.inputShape must list 1 to 8 dimensions of one input row, e.g. [2] or [1, 28, 28]");
  for (int64_t s : shape)
    if (s < 1 || s > (1 << 24)) throw ConfigError("model.inputShape entries must be integers >= 1");
  std::string bytes;
  std::string source = "'" + path + "'";
  if (o.module) {
    bytes = base64Decode(*o.module, "the checkpoint's TorchScript module");
    source = "the module stored in the checkpoint (from " + source + ")";
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError("cannot open TorchScript module '" + path + "'");
    std::ostringstream all;
    all << in.rdbuf();
    bytes = all.str();
  }
  return std::make_shared<ScriptedEnergy>(cfg, device, shape, o.timeConditioned, std::move(bytes), source);
}

json::Value torchScriptDefaults() { return defaultsOf<TorchScriptOptions>(); }

}  // namespace ebm

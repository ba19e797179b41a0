#include "errors.h"
#include "kinds.h"
#include "samplers/sampler_registry.h"

namespace ebm {

namespace {
// The sampler kinds: adding one is its .cc, its line here and in sampler_registry.h (and its TS schema).
const std::vector<const SamplerKind& (*)()> kSamplers = {
    langevinKind, malaKind, hmcKind, annealedLangevinKind, gradientFlowKind,
};
}  // namespace

std::vector<std::string> samplerKinds() { return kindNames(kSamplers); }

json::Value samplerDefaults() {
  json::Value out = json::Value::object();
  for (auto entry : kSamplers) out[entry().kind] = entry().defaults();
  return out;
}

const SamplerKind& samplerKindOf(const json::Value& config, const std::string& where) {
  if (!config.is_object()) throw ConfigError(where + " must be an object");
  const std::string kind = json::getString(config, "kind", where);
  for (auto entry : kSamplers)
    if (kind == entry().kind) return entry();
  throw ConfigError(where + ".kind must be one of " + joinKinds(kSamplers) + "; got '" + kind + "'");
}

std::unique_ptr<Sampler> makeSampler(const json::Value& config, const std::string& where) {
  return samplerKindOf(config, where).make(config, where);
}

}  // namespace ebm

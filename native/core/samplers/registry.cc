#include "errors.h"
#include "kinds.h"
#include "samplers/sampler_registry.h"

namespace ebm {

namespace {
// The sampler kinds: adding one is its .cc, its line here and in sampler_registry.h (and its TS schema).
const std::vector<const SamplerKind& (*)()> kSamplers = {
    langevinKind, malaKind, hmcKind, annealedLangevinKind, gradientFlowKind, smcKind,
};
}  // namespace

std::vector<std::string> samplerKinds() { return kindNames(kSamplers); }

json::Value samplerDefaults() {
  json::Value out = json::Value::object();
  for (auto entry : kSamplers) out[entry().kind] = entry().defaults();
  return out;
}

json::Value samplerTraits() {
  json::Value out = json::Value::object();
  for (auto entry : kSamplers) {
    const SamplerKind& k = entry();
    out[k.kind] = {{"time", k.traits.time == SamplerTime::Levels ? "levels"
                            : k.traits.time == SamplerTime::Path ? "path"
                                                                 : "fixed"},
                   {"stepsPer", k.traits.stepsPer ? json::Value(k.traits.stepsPer) : json::Value()},
                   {"weighted", k.traits.weighted},
                   {"options", k.options()}};
  }
  return out;
}

const SamplerKind& samplerKindOf(const json::Value& config, const std::string& where) {
  return findKind(kSamplers, config, where);
}

std::unique_ptr<Sampler> makeSampler(const json::Value& config, const std::string& where) {
  return samplerKindOf(config, where).make(config, where);
}

}  // namespace ebm

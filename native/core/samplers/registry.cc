#include "errors.h"
#include "samplers/sampler_registry.h"

namespace ebm {

std::unique_ptr<Sampler> makeSampler(const json::Value& config, const std::string& where) {
  if (!config.isObject()) throw ConfigError(where + " must be an object");
  const std::string kind = json::getString(config, "kind", where);
  if (kind == "langevin") return makeLangevin(config, where);
  throw ConfigError(where + ".kind must be one of langevin; got '" + kind + "'");
}

}  // namespace ebm

// One table per axis (kind -> factory) in each registry: dispatch, the "must be one of" messages
// and the kinds() export all come from it, so a kind is named in one place in C++.
#pragma once

#include <string>
#include <type_traits>
#include <vector>

#include "errors.h"
#include "io/json.h"

namespace ebm {

template <typename Factory>
struct KindEntry {
  const char* kind;
  Factory make;
  json::Value (*defaults)() = nullptr;  // the defaults of the kind's optional fields
};

template <typename Factory>
using KindTable = std::vector<KindEntry<Factory>>;

// A table entry is either a KindEntry or a function returning a kind descriptor (losses, samplers).
template <typename Entry>
const char* kindName(const Entry& e) {
  if constexpr (std::is_pointer_v<Entry>)
    return e().kind;
  else
    return e.kind;
}

template <typename Table>
std::vector<std::string> kindNames(const Table& table) {
  std::vector<std::string> out;
  for (const auto& e : table) out.emplace_back(kindName(e));
  return out;
}

template <typename Table>
std::string joinKinds(const Table& table) {
  std::string out;
  for (const auto& e : table) out += (out.empty() ? "'" : ", '") + std::string(kindName(e)) + "'";
  return out;
}

template <typename Entry>
decltype(auto) entryOf(const Entry& e) {
  if constexpr (std::is_pointer_v<Entry>)
    return e();
  else
    return (e);
}

// The entry of `config.kind`, or a ConfigError at `where` listing the kinds (as io/fields.h oneOf does).
template <typename Table>
decltype(auto) findKind(const Table& table, const json::Value& config, const std::string& where) {
  if (!config.is_object()) throw ConfigError(where + " must be an object");
  const std::string kind = json::getString(config, "kind", where);
  for (const auto& e : table)
    if (kind == kindName(e)) return entryOf(e);
  throw ConfigError(where + ".kind must be one of " + joinKinds(table) + "; got '" + kind + "'");
}

// The kinds each registry knows, for the kinds() export and the test that TS agrees.
std::vector<std::string> lossKinds();
std::vector<std::string> samplerKinds();
std::vector<std::string> modelKinds();
// The defaults of each loss / sampler / model kind's optional fields, and each loss kind's
// gradient clip when train.gradClip is absent (0: none).
json::Value lossDefaults();
json::Value lossGradClips();
json::Value samplerDefaults();
json::Value modelDefaults();
// What each loss / sampler kind can do (LossTraits, SamplerTraits) with its option names, for TS.
json::Value lossTraits();
json::Value samplerTraits();

}  // namespace ebm

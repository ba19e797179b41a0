// One table per axis (kind -> factory) in each registry: dispatch, the "must be one of" messages
// and the kinds() export all come from it, so a kind is named in one place in C++.
#pragma once

#include <string>
#include <vector>

namespace ebm {

template <typename Factory>
struct KindEntry {
  const char* kind;
  Factory make;
};

template <typename Factory>
using KindTable = std::vector<KindEntry<Factory>>;

template <typename Factory>
std::vector<std::string> kindNames(const KindTable<Factory>& table) {
  std::vector<std::string> out;
  for (const auto& e : table) out.emplace_back(e.kind);
  return out;
}

template <typename Factory>
std::string joinKinds(const KindTable<Factory>& table) {
  std::string out;
  for (const auto& e : table) out += (out.empty() ? "" : ", ") + std::string(e.kind);
  return out;
}

// The kinds each registry knows, for the kinds() export and the test that TS agrees.
std::vector<std::string> lossKinds();
std::vector<std::string> samplerKinds();
std::vector<std::string> modelKinds();

}  // namespace ebm

// JSON for the places a format needs it (checkpoint and safetensors metadata, configs crossing from
// TS as text): nlohmann::json (Debian's nlohmann-json3-dev) as the value type, a strict parse that
// also refuses duplicate keys, and field readers whose errors name the config path.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ebm::json {

using Value = nlohmann::json;

// Throws ebm::IoError "malformed <what>: <reason> at byte N" on malformed input or a repeated key.
Value parse(const std::string& text, const std::string& what = "JSON");

// The member `key` of an object, or null when absent (or when obj is not an object).
const Value& member(const Value& obj, const std::string& key);

// Typed field readers: throw ebm::ConfigError naming `path.key`.
double getNumber(const Value& obj, const std::string& key, const std::string& path);
double getNumber(const Value& obj, const std::string& key, const std::string& path, double fallback);
int64_t getInt(const Value& obj, const std::string& key, const std::string& path);
int64_t getInt(const Value& obj, const std::string& key, const std::string& path, int64_t fallback);
bool getBool(const Value& obj, const std::string& key, const std::string& path);
bool getBool(const Value& obj, const std::string& key, const std::string& path, bool fallback);
std::string getString(const Value& obj, const std::string& key, const std::string& path);
std::string getString(const Value& obj, const std::string& key, const std::string& path, const std::string& fallback);
std::vector<int64_t> getIntArray(const Value& obj, const std::string& key, const std::string& path);
std::vector<double> getNumberArray(const Value& obj, const std::string& key, const std::string& path);
// An array of equal-length number arrays (rows).
std::vector<std::vector<double>> getNumberMatrix(const Value& obj, const std::string& key, const std::string& path);

}  // namespace ebm::json

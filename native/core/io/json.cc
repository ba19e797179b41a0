#include "io/json.h"

#include <cmath>
#include <set>

#include "errors.h"

namespace ebm::json {

Value parse(const std::string& text, const std::string& what) {
  // One key set per open object: nlohmann keeps the last of repeated keys, which would let a
  // config or a header say two things at once.
  std::vector<std::set<std::string>> open;
  std::string repeated;
  auto watch = [&](int depth, nlohmann::json::parse_event_t event, Value& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) open.emplace_back();
    if (event == E::object_end && !open.empty()) open.pop_back();
    if (event == E::key && !open.empty() && !open.back().insert(parsed.get<std::string>()).second && repeated.empty())
      repeated = parsed.get<std::string>();
    if (depth > 64) throw IoError("malformed " + what + ": nesting too deep");
    return true;
  };
  try {
    Value v = Value::parse(text, watch);
    if (!repeated.empty()) throw IoError("malformed " + what + ": the key '" + repeated + "' appears twice");
    return v;
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 1, column 2: <reason>"
    std::string reason = e.what();
    const size_t colon = reason.find(": ");
    if (colon != std::string::npos) reason = reason.substr(colon + 2);
    throw IoError("malformed " + what + ": " + reason + " at byte " + std::to_string(e.byte));
  } catch (const nlohmann::json::exception& e) {
    // e.g. out_of_range for a number beyond a double (1e400)
    std::string reason = e.what();
    const size_t close = reason.find("] ");
    if (close != std::string::npos) reason = reason.substr(close + 2);
    throw IoError("malformed " + what + ": " + reason);
  }
}

namespace {
const Value kNull;

const Value& field(const Value& obj, const std::string& key, const std::string& path) {
  const Value& v = member(obj, key);
  if (v.is_null()) throw ConfigError(path + "." + key + " is required");
  return v;
}

double numberField(const Value& v, const std::string& where) {
  if (!v.is_number() || !std::isfinite(v.get<double>())) throw ConfigError(where + " must be a finite number");
  return v.get<double>();
}

int64_t intField(const Value& v, const std::string& where) {
  double d = numberField(v, where);
  if (d != std::floor(d) || std::fabs(d) > 9.0e15) throw ConfigError(where + " must be an integer");
  return static_cast<int64_t>(d);
}
}  // namespace

const Value& member(const Value& obj, const std::string& key) {
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

double getNumber(const Value& obj, const std::string& key, const std::string& path) {
  return numberField(field(obj, key, path), path + "." + key);
}
double getNumber(const Value& obj, const std::string& key, const std::string& path, double fallback) {
  return member(obj, key).is_null() ? fallback : getNumber(obj, key, path);
}
int64_t getInt(const Value& obj, const std::string& key, const std::string& path) {
  return intField(field(obj, key, path), path + "." + key);
}
int64_t getInt(const Value& obj, const std::string& key, const std::string& path, int64_t fallback) {
  return member(obj, key).is_null() ? fallback : getInt(obj, key, path);
}
bool getBool(const Value& obj, const std::string& key, const std::string& path) {
  const Value& v = field(obj, key, path);
  if (!v.is_boolean()) throw ConfigError(path + "." + key + " must be a boolean");
  return v.get<bool>();
}
bool getBool(const Value& obj, const std::string& key, const std::string& path, bool fallback) {
  return member(obj, key).is_null() ? fallback : getBool(obj, key, path);
}
std::string getString(const Value& obj, const std::string& key, const std::string& path) {
  const Value& v = field(obj, key, path);
  if (!v.is_string()) throw ConfigError(path + "." + key + " must be a string");
  return v.get<std::string>();
}
std::string getString(const Value& obj, const std::string& key, const std::string& path, const std::string& fallback) {
  return member(obj, key).is_null() ? fallback : getString(obj, key, path);
}
std::vector<int64_t> getIntArray(const Value& obj, const std::string& key, const std::string& path) {
  const Value& v = field(obj, key, path);
  if (!v.is_array()) throw ConfigError(path + "." + key + " must be an array of integers");
  std::vector<int64_t> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back(intField(v[i], path + "." + key + "[" + std::to_string(i) + "]"));
  return out;
}

std::vector<double> getNumberArray(const Value& obj, const std::string& key, const std::string& path) {
  const Value& v = field(obj, key, path);
  if (!v.is_array()) throw ConfigError(path + "." + key + " must be an array of numbers");
  std::vector<double> out;
  for (size_t i = 0; i < v.size(); ++i)
    out.push_back(numberField(v[i], path + "." + key + "[" + std::to_string(i) + "]"));
  return out;
}

std::vector<std::vector<double>> getNumberMatrix(const Value& obj, const std::string& key, const std::string& path) {
  const Value& v = field(obj, key, path);
  if (!v.is_array() || v.empty()) throw ConfigError(path + "." + key + " must be a non-empty array of rows");
  std::vector<std::vector<double>> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const Value& row = v[i];
    const std::string where = path + "." + key + "[" + std::to_string(i) + "]";
    if (!row.is_array()) throw ConfigError(where + " must be an array of numbers");
    std::vector<double> r;
    for (size_t j = 0; j < row.size(); ++j) r.push_back(numberField(row[j], where + "[" + std::to_string(j) + "]"));
    if (!out.empty() && r.size() != out[0].size())
      throw ConfigError(where + " has " + std::to_string(r.size()) + " entries, expected " +
                        std::to_string(out[0].size()));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace ebm::json

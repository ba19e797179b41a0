// A small JSON value with a strict parser and a serializer. Used for model configs
// (passed from TS as JSON text) and safetensors headers. No third-party dependency.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ebm::json {

class Value {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  Value() = default;
  static Value boolean(bool b);
  static Value number(double d);
  static Value string(std::string s);
  static Value array(std::vector<Value> items = {});
  static Value object(std::map<std::string, Value> fields = {});

  Type type() const { return type_; }
  bool isNull() const { return type_ == Type::Null; }
  bool isNumber() const { return type_ == Type::Number; }
  bool isString() const { return type_ == Type::String; }
  bool isArray() const { return type_ == Type::Array; }
  bool isObject() const { return type_ == Type::Object; }
  bool isBool() const { return type_ == Type::Bool; }

  double asNumber() const;
  bool asBool() const;
  const std::string& asString() const;
  const std::vector<Value>& asArray() const;
  const std::map<std::string, Value>& asObject() const;
  std::map<std::string, Value>& mutableObject();

  bool has(const std::string& key) const;
  // Member lookup; returns a Null value when absent.
  const Value& operator[](const std::string& key) const;
  void set(const std::string& key, Value v);

  std::string dump() const;

 private:
  Type type_ = Type::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Value> array_;
  std::map<std::string, Value> object_;
};

// Throws ebm::IoError naming `what` and the byte offset on malformed input.
Value parse(const std::string& text, const std::string& what = "JSON");

// Typed field readers for configs: throw ebm::ConfigError naming `path.key`.
double getNumber(const Value& obj, const std::string& key, const std::string& path);
double getNumber(const Value& obj, const std::string& key, const std::string& path, double fallback);
int64_t getInt(const Value& obj, const std::string& key, const std::string& path);
int64_t getInt(const Value& obj, const std::string& key, const std::string& path, int64_t fallback);
bool getBool(const Value& obj, const std::string& key, const std::string& path, bool fallback);
std::string getString(const Value& obj, const std::string& key, const std::string& path);
std::string getString(const Value& obj, const std::string& key, const std::string& path, const std::string& fallback);
std::vector<int64_t> getIntArray(const Value& obj, const std::string& key, const std::string& path);
std::vector<double> getNumberArray(const Value& obj, const std::string& key, const std::string& path);
// An array of equal-length number arrays (rows).
std::vector<std::vector<double>> getNumberMatrix(const Value& obj, const std::string& key, const std::string& path);

}  // namespace ebm::json

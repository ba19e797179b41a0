// Typed option structs from validated configs. Each struct lists its fields once, in a
//   template <typename Fields> void describe(Fields& f, MyOptions& o)
// calling f.required("key", o.key) or f.optional("key", o.key); an optional field's default is
// the struct member's initialiser, so every default sits next to its field. Two visitors walk
// that list: FieldReader fills a struct from a config (absent optional fields keep their
// default) and DefaultsWriter exports the defaults, which the TypeScript façade reads to report
// the effective config. Ranges and cross-field rules of configs from TS are checked once, there
// (lib/schema); the reader checks each value's JSON type and that integers are integers. A
// model config read from a checkpoint reaches its model's own checks without TS.
#pragma once

#include <cmath>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "errors.h"
#include "io/json.h"

namespace ebm {

// A choice among names, read into an enum class once. An enum E lists its names with a function
//   const std::vector<Choice<E>>& choicesOf(E);
// found by argument-dependent lookup; the reader rejects any other name (a checkpoint's config
// reaches the models without TS), and the defaults writer exports the name of the default.
template <typename E>
struct Choice {
  const char* name;
  E value;
};

// The value named `name`, or a ConfigError listing the names.
template <typename E>
E oneOf(const std::string& name, const std::string& where) {
  std::string names;
  for (const Choice<E>& c : choicesOf(E{})) {
    if (name == c.name) return c.value;
    names += (names.empty() ? "'" : ", '") + std::string(c.name) + "'";
  }
  throw ConfigError(where + " must be one of " + names + "; got '" + name + "'");
}

// The name of an enum value.
template <typename E>
const char* nameOf(E value) {
  for (const Choice<E>& c : choicesOf(E{}))
    if (c.value == value) return c.name;
  return "?";
}

namespace fields_detail {
template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};
// Scalars, strings, arrays and raw JSON map onto JSON directly; anything else is a described struct.
template <typename T>
constexpr bool isPlain = std::is_arithmetic_v<T> || std::is_enum_v<T> || std::is_same_v<T, std::string> ||
                         IsVector<T>::value || std::is_same_v<T, json::Value>;
}  // namespace fields_detail

class FieldReader {
 public:
  FieldReader(const json::Value& obj, std::string path) : obj_(obj), path_(std::move(path)) {
    if (!obj_.is_object()) throw ConfigError(path_ + " must be an object");
  }

  template <typename T>
  void required(const char* key, T& out) {
    const json::Value& v = json::member(obj_, key);
    if (v.is_null()) throw ConfigError(path_ + "." + key + " is required");
    read(v, path_ + "." + key, out);
  }

  template <typename T>
  void optional(const char* key, T& out) {
    const json::Value& v = json::member(obj_, key);
    if (!v.is_null()) read(v, path_ + "." + key, out);
  }

 private:
  template <typename T>
  static void read(const json::Value& v, const std::string& where, T& out) {
    using fields_detail::isPlain;
    if constexpr (fields_detail::IsOptional<T>::value) {
      out.emplace();
      read(v, where, *out);
    } else if constexpr (std::is_same_v<T, json::Value>) {
      out = v;
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) throw ConfigError(where + " must be a boolean");
      out = v.get<bool>();
    } else if constexpr (std::is_integral_v<T>) {
      const double d = v.is_number() ? v.get<double>() : 0.5;
      if (!(d == std::floor(d) && std::fabs(d) <= 9.0e15)) throw ConfigError(where + " must be an integer");
      out = static_cast<T>(d);
    } else if constexpr (std::is_arithmetic_v<T>) {
      if (!v.is_number()) throw ConfigError(where + " must be a number");
      out = static_cast<T>(v.get<double>());
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) throw ConfigError(where + " must be a string");
      out = v.get<std::string>();
    } else if constexpr (std::is_enum_v<T>) {
      if (!v.is_string()) throw ConfigError(where + " must be a string");
      out = oneOf<T>(v.get<std::string>(), where);
    } else if constexpr (fields_detail::IsVector<T>::value) {
      if (!v.is_array()) throw ConfigError(where + " must be an array");
      out.assign(v.size(), typename T::value_type{});
      for (size_t i = 0; i < v.size(); ++i) read(v[i], where + "[" + std::to_string(i) + "]", out[i]);
    } else {
      FieldReader inner(v, where);
      describe(inner, out);
    }
  }

  const json::Value& obj_;
  std::string path_;
};

class DefaultsWriter {
 public:
  json::Value out = json::Value::object();

  // A required field has no default, but a required nested struct exports its own fields' defaults.
  template <typename T>
  void required(const char* key, T& value) {
    if constexpr (!fields_detail::isPlain<T> && !fields_detail::IsOptional<T>::value) optional(key, value);
  }

  // An optional field without a value (std::nullopt) means "off" and has no default; an optional
  // nested struct exports the defaults it gets when given.
  template <typename T>
  void optional(const char* key, T& value) {
    if constexpr (fields_detail::IsOptional<T>::value) {
      using Inner = typename T::value_type;
      if (value) {
        optional(key, *value);
      } else if constexpr (!fields_detail::isPlain<Inner>) {
        Inner fresh{};
        optional(key, fresh);
      }
    } else if constexpr (std::is_enum_v<T>) {
      out[key] = nameOf(value);
    } else if constexpr (fields_detail::isPlain<T>) {
      out[key] = value;
    } else {
      DefaultsWriter inner;
      describe(inner, value);
      if (!inner.out.empty()) out[key] = inner.out;
    }
  }
};

// The keys a struct reads, nested structs' keys included as they appear in the config: which
// options a kind has (the CLI's flags, the kinds test).
class FieldNames {
 public:
  std::vector<std::string> out;

  template <typename T>
  void required(const char* key, T& value) {
    add(key, value);
  }
  template <typename T>
  void optional(const char* key, T& value) {
    add(key, value);
  }

 private:
  template <typename T>
  void add(const char* key, T&) {
    for (const auto& k : out)
      if (k == key) return;
    out.emplace_back(key);
  }
};

template <typename Options>
std::vector<std::string> fieldNamesOf() {
  Options o{};
  FieldNames names;
  describe(names, o);
  return names.out;
}

// The struct a config describes, with every absent optional field at its default.
template <typename Options>
Options readOptions(const json::Value& config, const std::string& path) {
  Options o{};
  FieldReader reader(config, path);
  describe(reader, o);
  return o;
}

// The defaults of a struct's optional fields, as JSON.
template <typename Options>
json::Value defaultsOf() {
  Options o{};
  DefaultsWriter writer;
  describe(writer, o);
  return writer.out;
}

}  // namespace ebm

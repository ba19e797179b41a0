#include "io/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "errors.h"

namespace ebm::json {

Value Value::boolean(bool b) {
  Value v;
  v.type_ = Type::Bool;
  v.bool_ = b;
  return v;
}
Value Value::number(double d) {
  Value v;
  v.type_ = Type::Number;
  v.number_ = d;
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.type_ = Type::String;
  v.string_ = std::move(s);
  return v;
}
Value Value::array(std::vector<Value> items) {
  Value v;
  v.type_ = Type::Array;
  v.array_ = std::move(items);
  return v;
}
Value Value::object(std::map<std::string, Value> fields) {
  Value v;
  v.type_ = Type::Object;
  v.object_ = std::move(fields);
  return v;
}

namespace {
const char* typeName(Value::Type t) {
  switch (t) {
    case Value::Type::Null: return "null";
    case Value::Type::Bool: return "boolean";
    case Value::Type::Number: return "number";
    case Value::Type::String: return "string";
    case Value::Type::Array: return "array";
    case Value::Type::Object: return "object";
  }
  return "?";
}
[[noreturn]] void wrongType(Value::Type want, Value::Type got) {
  throw IoError(std::string("JSON value is a ") + typeName(got) + ", expected a " + typeName(want));
}
}  // namespace

double Value::asNumber() const {
  if (type_ != Type::Number) wrongType(Type::Number, type_);
  return number_;
}
bool Value::asBool() const {
  if (type_ != Type::Bool) wrongType(Type::Bool, type_);
  return bool_;
}
const std::string& Value::asString() const {
  if (type_ != Type::String) wrongType(Type::String, type_);
  return string_;
}
const std::vector<Value>& Value::asArray() const {
  if (type_ != Type::Array) wrongType(Type::Array, type_);
  return array_;
}
const std::map<std::string, Value>& Value::asObject() const {
  if (type_ != Type::Object) wrongType(Type::Object, type_);
  return object_;
}
std::map<std::string, Value>& Value::mutableObject() {
  if (type_ != Type::Object) wrongType(Type::Object, type_);
  return object_;
}
bool Value::has(const std::string& key) const { return type_ == Type::Object && object_.count(key) > 0; }
const Value& Value::operator[](const std::string& key) const {
  static const Value null;
  if (type_ != Type::Object) return null;
  auto it = object_.find(key);
  return it == object_.end() ? null : it->second;
}
void Value::set(const std::string& key, Value v) { mutableObject()[key] = std::move(v); }

namespace {
void dumpString(const std::string& s, std::string& out) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void dumpValue(const Value& v, std::string& out) {
  switch (v.type()) {
    case Value::Type::Null: out += "null"; break;
    case Value::Type::Bool: out += v.asBool() ? "true" : "false"; break;
    case Value::Type::Number: {
      double d = v.asNumber();
      if (!std::isfinite(d)) {
        out += "null";  // JSON has no NaN/Inf
      } else if (d == std::floor(d) && std::fabs(d) < 9.0e15) {
        out += std::to_string(static_cast<long long>(d));
      } else {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", d);
        out += buf;
      }
      break;
    }
    case Value::Type::String: dumpString(v.asString(), out); break;
    case Value::Type::Array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.asArray()) {
        if (!first) out += ',';
        first = false;
        dumpValue(item, out);
      }
      out += ']';
      break;
    }
    case Value::Type::Object: {
      out += '{';
      bool first = true;
      for (const auto& [k, item] : v.asObject()) {
        if (!first) out += ',';
        first = false;
        dumpString(k, out);
        out += ':';
        dumpValue(item, out);
      }
      out += '}';
      break;
    }
  }
}

class Parser {
 public:
  Parser(const std::string& text, const std::string& what) : s_(text), what_(what) {}

  Value parseDocument() {
    Value v = parseValue(0);
    skipSpace();
    if (pos_ != s_.size()) fail("unexpected trailing characters");
    return v;
  }

 private:
  const std::string& s_;
  std::string what_;
  size_t pos_ = 0;

  [[noreturn]] void fail(const std::string& why) const {
    throw IoError("malformed " + what_ + ": " + why + " at byte " + std::to_string(pos_));
  }
  void skipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
  }
  char peek() {
    skipSpace();
    if (pos_ >= s_.size()) fail("unexpected end of input");
    return s_[pos_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  bool consumeWord(const char* w) {
    size_t n = std::char_traits<char>::length(w);
    if (s_.compare(pos_, n, w) == 0) {
      pos_ += n;
      return true;
    }
    return false;
  }

  Value parseValue(int depth) {
    if (depth > 64) fail("nesting too deep");
    char c = peek();
    if (c == '{') return parseObject(depth);
    if (c == '[') return parseArray(depth);
    if (c == '"') return Value::string(parseString());
    if (consumeWord("true")) return Value::boolean(true);
    if (consumeWord("false")) return Value::boolean(false);
    if (consumeWord("null")) return Value();
    if (c == '-' || (c >= '0' && c <= '9')) return Value::number(parseNumber());
    fail(std::string("unexpected character '") + c + "'");
  }

  Value parseObject(int depth) {
    expect('{');
    std::map<std::string, Value> fields;
    if (peek() == '}') {
      ++pos_;
      return Value::object(std::move(fields));
    }
    for (;;) {
      if (peek() != '"') fail("expected a string key");
      std::string key = parseString();
      expect(':');
      fields[key] = parseValue(depth + 1);
      char c = peek();
      ++pos_;
      if (c == '}') break;
      if (c != ',') fail("expected ',' or '}'");
    }
    return Value::object(std::move(fields));
  }

  Value parseArray(int depth) {
    expect('[');
    std::vector<Value> items;
    if (peek() == ']') {
      ++pos_;
      return Value::array(std::move(items));
    }
    for (;;) {
      items.push_back(parseValue(depth + 1));
      char c = peek();
      ++pos_;
      if (c == ']') break;
      if (c != ',') fail("expected ',' or ']'");
    }
    return Value::array(std::move(items));
  }

  double parseNumber() {
    size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    while (pos_ < s_.size() && std::string("0123456789.eE+-").find(s_[pos_]) != std::string::npos) ++pos_;
    std::string token = s_.substr(start, pos_ - start);
    char* end = nullptr;
    double d = std::strtod(token.c_str(), &end);
    if (end != token.c_str() + token.size() || token.empty()) fail("bad number '" + token + "'");
    return d;
  }

  static void appendUtf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t parseHex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    uint32_t cp = 0;
    for (int i = 0; i < 4; ++i) {
      char h = s_[pos_++];
      cp <<= 4;
      if (h >= '0' && h <= '9')
        cp |= h - '0';
      else if (h >= 'a' && h <= 'f')
        cp |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F')
        cp |= h - 'A' + 10;
      else
        fail("bad \\u escape");
    }
    return cp;
  }

  std::string parseString() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string");
      char c = s_[pos_++];
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parseHex4();
          if (cp >= 0xD800 && cp < 0xDC00 && s_.compare(pos_, 2, "\\u") == 0) {
            pos_ += 2;
            uint32_t lo = parseHex4();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          appendUtf8(cp, out);
          break;
        }
        default: fail(std::string("bad escape '\\") + e + "'");
      }
    }
    return out;
  }
};

const Value& field(const Value& obj, const std::string& key, const std::string& path) {
  const Value& v = obj[key];
  if (v.isNull()) throw ConfigError(path + "." + key + " is required");
  return v;
}

double numberField(const Value& v, const std::string& where) {
  if (!v.isNumber() || !std::isfinite(v.asNumber())) throw ConfigError(where + " must be a finite number");
  return v.asNumber();
}

int64_t intField(const Value& v, const std::string& where) {
  double d = numberField(v, where);
  if (d != std::floor(d) || std::fabs(d) > 9.0e15) throw ConfigError(where + " must be an integer");
  return static_cast<int64_t>(d);
}
}  // namespace

std::string Value::dump() const {
  std::string out;
  dumpValue(*this, out);
  return out;
}

Value parse(const std::string& text, const std::string& what) { return Parser(text, what).parseDocument(); }

double getNumber(const Value& obj, const std::string& key, const std::string& path) {
  return numberField(field(obj, key, path), path + "." + key);
}
double getNumber(const Value& obj, const std::string& key, const std::string& path, double fallback) {
  return obj[key].isNull() ? fallback : getNumber(obj, key, path);
}
int64_t getInt(const Value& obj, const std::string& key, const std::string& path) {
  return intField(field(obj, key, path), path + "." + key);
}
int64_t getInt(const Value& obj, const std::string& key, const std::string& path, int64_t fallback) {
  return obj[key].isNull() ? fallback : getInt(obj, key, path);
}
bool getBool(const Value& obj, const std::string& key, const std::string& path, bool fallback) {
  const Value& v = obj[key];
  if (v.isNull()) return fallback;
  if (!v.isBool()) throw ConfigError(path + "." + key + " must be a boolean");
  return v.asBool();
}
std::string getString(const Value& obj, const std::string& key, const std::string& path) {
  const Value& v = field(obj, key, path);
  if (!v.isString()) throw ConfigError(path + "." + key + " must be a string");
  return v.asString();
}
std::string getString(const Value& obj, const std::string& key, const std::string& path, const std::string& fallback) {
  return obj[key].isNull() ? fallback : getString(obj, key, path);
}
std::vector<int64_t> getIntArray(const Value& obj, const std::string& key, const std::string& path) {
  const Value& v = field(obj, key, path);
  if (!v.isArray()) throw ConfigError(path + "." + key + " must be an array of integers");
  std::vector<int64_t> out;
  for (size_t i = 0; i < v.asArray().size(); ++i)
    out.push_back(intField(v.asArray()[i], path + "." + key + "[" + std::to_string(i) + "]"));
  return out;
}

std::vector<double> getNumberArray(const Value& obj, const std::string& key, const std::string& path) {
  const Value& v = field(obj, key, path);
  if (!v.isArray()) throw ConfigError(path + "." + key + " must be an array of numbers");
  std::vector<double> out;
  for (size_t i = 0; i < v.asArray().size(); ++i)
    out.push_back(numberField(v.asArray()[i], path + "." + key + "[" + std::to_string(i) + "]"));
  return out;
}

std::vector<std::vector<double>> getNumberMatrix(const Value& obj, const std::string& key, const std::string& path) {
  const Value& v = field(obj, key, path);
  if (!v.isArray() || v.asArray().empty()) throw ConfigError(path + "." + key + " must be a non-empty array of rows");
  std::vector<std::vector<double>> out;
  for (size_t i = 0; i < v.asArray().size(); ++i) {
    const Value& row = v.asArray()[i];
    const std::string where = path + "." + key + "[" + std::to_string(i) + "]";
    if (!row.isArray()) throw ConfigError(where + " must be an array of numbers");
    std::vector<double> r;
    for (size_t j = 0; j < row.asArray().size(); ++j)
      r.push_back(numberField(row.asArray()[j], where + "[" + std::to_string(j) + "]"));
    if (!out.empty() && r.size() != out[0].size())
      throw ConfigError(where + " has " + std::to_string(r.size()) + " entries, expected " +
                        std::to_string(out[0].size()));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace ebm::json

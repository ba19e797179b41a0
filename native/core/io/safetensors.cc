#include "io/safetensors.h"

#include <torch/torch.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "errors.h"
#include "io/json.h"
#include "tensor_util.h"

namespace ebm::safetensors {

namespace {
constexpr uint64_t kMaxHeader = 100ull << 20;  // the format's own limit is 100 MB

void writeAll(std::FILE* f, const void* data, size_t n, const std::string& path) {
  if (n > 0 && std::fwrite(data, 1, n, f) != n)
    throw IoError("could not write '" + path + "': " + std::strerror(errno));
}
}  // namespace

void save(const std::string& path, const std::vector<NamedTensor>& tensors,
          const std::map<std::string, std::string>& metadata) {
  json::Value header = json::Value::object();
  std::map<std::string, json::Value> meta;
  for (const auto& [k, v] : metadata) meta[k] = json::Value::string(v);
  header.set("__metadata__", json::Value::object(meta));

  std::vector<at::Tensor> cpu;
  uint64_t offset = 0;
  for (const auto& nt : tensors) {
    at::Tensor t = nt.tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    std::vector<json::Value> shape;
    for (int64_t s : t.sizes()) shape.push_back(json::Value::number(static_cast<double>(s)));
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * sizeof(float);
    json::Value entry = json::Value::object();
    entry.set("dtype", json::Value::string("F32"));
    entry.set("shape", json::Value::array(shape));
    entry.set("data_offsets", json::Value::array({json::Value::number(static_cast<double>(offset)),
                                                  json::Value::number(static_cast<double>(offset + bytes))}));
    header.set(nt.name, entry);
    offset += bytes;
    cpu.push_back(t);
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';  // keeps the data section 8-byte aligned

  const std::string tmp = path + ".tmp-" + std::to_string(reinterpret_cast<uintptr_t>(&text));
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw IoError("could not open '" + path + "' for writing: " + std::strerror(errno));
  try {
    uint8_t len[8];
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
    writeAll(f, len, 8, path);
    writeAll(f, text.data(), text.size(), path);
    // Tensor bytes are written as the machine holds them; safetensors is little-endian, as are
    // the platforms LibTorch supports.
    for (const auto& t : cpu) writeAll(f, t.data_ptr<float>(), static_cast<size_t>(t.numel()) * sizeof(float), path);
    if (std::fclose(f) != 0) {
      f = nullptr;
      throw IoError("could not finish writing '" + path + "': " + std::strerror(errno));
    }
    f = nullptr;
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      throw IoError("could not move checkpoint into place at '" + path + "': " + std::strerror(errno));
  } catch (...) {
    if (f) std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
}

File load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open checkpoint '" + path + "': " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const uint64_t fileSize = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  const std::string where = "checkpoint '" + path + "'";
  if (fileSize < 8) throw IoError(where + " is truncated: " + std::to_string(fileSize) + " bytes");
  uint8_t len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t headerSize = 0;
  for (int i = 0; i < 8; ++i) headerSize |= static_cast<uint64_t>(len[i]) << (8 * i);
  if (headerSize > kMaxHeader || headerSize > fileSize - 8)
    throw IoError(where + " is not a safetensors file (header length " + std::to_string(headerSize) +
                  " does not fit in " + std::to_string(fileSize) + " bytes)");
  std::string text(headerSize, '\0');
  in.read(text.data(), static_cast<std::streamsize>(headerSize));
  if (!in) throw IoError(where + " is truncated inside its header");
  json::Value header = json::parse(text, "safetensors header in " + where);
  if (!header.isObject()) throw IoError(where + ": header is not a JSON object");

  const uint64_t dataSize = fileSize - 8 - headerSize;
  File out;
  for (const auto& [name, entry] : header.asObject()) {
    if (name == "__metadata__") {
      if (!entry.isObject()) throw IoError(where + ": __metadata__ is not an object");
      for (const auto& [k, v] : entry.asObject()) {
        if (!v.isString()) throw IoError(where + ": metadata value '" + k + "' is not a string");
        out.metadata[k] = v.asString();
      }
      continue;
    }
    const std::string what = where + ", tensor '" + name + "'";
    if (!entry.isObject() || !entry["dtype"].isString() || !entry["shape"].isArray() ||
        !entry["data_offsets"].isArray() || entry["data_offsets"].asArray().size() != 2)
      throw IoError(what + ": entry needs dtype, shape and data_offsets");
    const std::string dtype = entry["dtype"].asString();
    c10::ScalarType st;
    size_t elem;
    if (dtype == "F32")
      st = torch::kFloat32, elem = 4;
    else if (dtype == "F64")
      st = torch::kFloat64, elem = 8;
    else if (dtype == "F16")
      st = torch::kFloat16, elem = 2;
    else if (dtype == "BF16")
      st = torch::kBFloat16, elem = 2;
    else
      throw IoError(what + ": dtype " + dtype + " is not supported (F32, F64, F16, BF16)");
    std::vector<int64_t> shape;
    uint64_t count = 1;
    for (const auto& s : entry["shape"].asArray()) {
      if (!s.isNumber() || s.asNumber() < 0 || s.asNumber() != static_cast<double>(static_cast<int64_t>(s.asNumber())))
        throw IoError(what + ": shape entries must be non-negative integers");
      shape.push_back(static_cast<int64_t>(s.asNumber()));
      if (__builtin_mul_overflow(count, static_cast<uint64_t>(shape.back()), &count) || count > dataSize)
        throw IoError(what + ": shape " + shapeString(shape) + " does not fit in the file (truncated or corrupt)");
    }
    const auto& offs = entry["data_offsets"].asArray();
    if (!offs[0].isNumber() || !offs[1].isNumber()) throw IoError(what + ": data_offsets must be numbers");
    const double b = offs[0].asNumber(), e = offs[1].asNumber();
    if (b < 0 || e < b || e > static_cast<double>(dataSize) || e - b != static_cast<double>(count * elem))
      throw IoError(what + ": data_offsets [" + std::to_string(static_cast<uint64_t>(b)) + ", " +
                    std::to_string(static_cast<uint64_t>(e)) + "] do not match its shape " + shapeString(shape) +
                    " or the file's size (truncated?)");
    at::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(st));
    in.seekg(static_cast<std::streamoff>(8 + headerSize + static_cast<uint64_t>(b)));
    in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(count * elem));
    if (!in) throw IoError(what + ": could not read its bytes (truncated?)");
    out.tensors.push_back({name, t.to(torch::kFloat32)});
  }
  return out;
}

}  // namespace ebm::safetensors

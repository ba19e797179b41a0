#include "io/safetensors.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef _WIN32
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#endif

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

// A number from a header as written (no wrap-around of negatives into huge unsigned values).
std::string numberText(double v) {
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}

#ifndef _WIN32
int currentPid() { return static_cast<int>(::getpid()); }

// Flushes a folder's entry list, so a rename inside it survives a power cut.
void syncFolder(const std::filesystem::path& folder) {
  const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // not a folder we may open: the rename itself already happened
  ::fsync(fd);
  ::close(fd);
}

bool processAlive(int pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }
#else
int currentPid() { return 0; }
void syncFolder(const std::filesystem::path&) {}
bool processAlive(int) { return true; }
#endif

// Temp files are '<target>.tmp-<pid>-<n>'. One left by a process that no longer runs (killed
// mid-save) is removed at the next save or load of its target; a live writer's is left alone.
void removeOrphanTemps(const std::string& target) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(target);
  const fs::path folder = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string prefix = p.filename().string() + ".tmp-";
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    const size_t dash = rest.find('-');
    if (dash == std::string::npos || dash == 0 ||
        !std::all_of(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(dash), ::isdigit))
      continue;
    if (!processAlive(std::atoi(rest.substr(0, dash).c_str()))) fs::remove(it->path(), ec);
  }
}

std::atomic<uint64_t> tempCounter{0};
}  // namespace

void save(const std::string& path, const std::vector<NamedTensor>& tensors,
          const std::map<std::string, std::string>& metadata) {
  json::Value header = json::Value::object();
  json::Value meta = json::Value::object();
  for (const auto& [k, v] : metadata) meta[k] = v;
  header["__metadata__"] = meta;

  std::vector<at::Tensor> cpu;
  uint64_t offset = 0;
  for (const auto& nt : tensors) {
    // Integer state (step counts, data order, RNG bytes) keeps its type; everything else is F32.
    const c10::ScalarType type = nt.tensor.scalar_type();
    const bool integer = type == torch::kLong || type == torch::kByte;
    at::Tensor t = nt.tensor.detach().to(torch::kCPU, integer ? type : torch::kFloat32).contiguous();
    json::Value shape = json::Value::array();
    for (int64_t s : t.sizes()) shape.push_back(s);
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    json::Value entry = json::Value::object();
    entry["dtype"] = type == torch::kLong ? "I64" : type == torch::kByte ? "U8" : "F32";
    entry["shape"] = shape;
    entry["data_offsets"] = {offset, offset + bytes};
    header[nt.name] = entry;
    offset += bytes;
    cpu.push_back(t);
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';  // keeps the data section 8-byte aligned

  removeOrphanTemps(path);
  const std::string tmp = path + ".tmp-" + std::to_string(currentPid()) + "-" + std::to_string(tempCounter++);
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
    for (const auto& t : cpu) writeAll(f, t.data_ptr(), static_cast<size_t>(t.nbytes()), path);
    // The bytes reach the disk before the rename makes them the checkpoint, and the rename
    // reaches it after: a crash leaves the old file or the new one, never a torn one.
    if (std::fflush(f) != 0) throw IoError("could not write '" + path + "': " + std::strerror(errno));
#ifndef _WIN32
    if (::fsync(::fileno(f)) != 0) throw IoError("could not flush '" + path + "' to disk: " + std::strerror(errno));
#endif
    if (std::fclose(f) != 0) {
      f = nullptr;
      throw IoError("could not finish writing '" + path + "': " + std::strerror(errno));
    }
    f = nullptr;
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      throw IoError("could not move checkpoint into place at '" + path + "': " + std::strerror(errno));
    syncFolder(std::filesystem::path(path).parent_path());
  } catch (...) {
    if (f) std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
}

File load(const std::string& path) {
  removeOrphanTemps(path);
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
  if (headerSize > kMaxHeader)
    throw IoError(where + " is not a safetensors file: its first 8 bytes give a header of " +
                  std::to_string(headerSize) + " bytes, over the format's cap of " + std::to_string(kMaxHeader) +
                  " bytes (100 MiB)");
  if (headerSize > fileSize - 8)
    throw IoError(where + " is truncated or not a safetensors file: its header of " + std::to_string(headerSize) +
                  " bytes does not fit in the file's " + std::to_string(fileSize) + " bytes");
  std::string text(headerSize, '\0');
  in.read(text.data(), static_cast<std::streamsize>(headerSize));
  if (!in) throw IoError(where + " is truncated inside its header");
  json::Value header = json::parse(text, "safetensors header in " + where);
  if (!header.is_object()) throw IoError(where + ": header is not a JSON object");

  const uint64_t dataSize = fileSize - 8 - headerSize;
  File out;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw IoError(where + ": __metadata__ is not an object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) throw IoError(where + ": metadata value '" + k + "' is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string what = where + ", tensor '" + name + "'";
    const json::Value& offs = json::member(entry, "data_offsets");
    if (!json::member(entry, "dtype").is_string() || !json::member(entry, "shape").is_array() || !offs.is_array() ||
        offs.size() != 2)
      throw IoError(what + ": entry needs dtype, shape and data_offsets");
    const std::string dtype = json::member(entry, "dtype").get<std::string>();
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
    else if (dtype == "I64")
      st = torch::kLong, elem = 8;
    else if (dtype == "U8")
      st = torch::kByte, elem = 1;
    else
      throw IoError(what + ": dtype " + dtype + " is not supported (F32, F64, F16, BF16, I64, U8)");
    std::vector<int64_t> shape;
    uint64_t count = 1;
    for (const auto& s : json::member(entry, "shape")) {
      if (!s.is_number() || s.get<double>() < 0 ||
          s.get<double>() != static_cast<double>(static_cast<int64_t>(s.get<double>())))
        throw IoError(what + ": shape entries must be non-negative integers");
      shape.push_back(static_cast<int64_t>(s.get<double>()));
      if (__builtin_mul_overflow(count, static_cast<uint64_t>(shape.back()), &count) || count > dataSize)
        throw IoError(what + ": shape " + shapeString(shape) + " does not fit in the file (truncated or corrupt)");
    }
    if (!offs[0].is_number() || !offs[1].is_number()) throw IoError(what + ": data_offsets must be numbers");
    const double b = offs[0].get<double>(), e = offs[1].get<double>();
    if (b < 0 || e < b || e > static_cast<double>(dataSize) || e - b != static_cast<double>(count * elem))
      throw IoError(what + ": data_offsets [" + numberText(b) + ", " + numberText(e) + "] do not match its shape " +
                    shapeString(shape) + " or the file's size (truncated?)");
    if (b != std::floor(b)) throw IoError(what + ": data_offsets must be integers, got " + numberText(b));
    spans.push_back({static_cast<uint64_t>(b), static_cast<uint64_t>(e), name});
    at::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(st));
    in.seekg(static_cast<std::streamoff>(8 + headerSize + static_cast<uint64_t>(b)));
    in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(count * elem));
    if (!in) throw IoError(what + ": could not read its bytes (truncated?)");
    out.tensors.push_back({name, st == torch::kLong || st == torch::kByte ? t : t.to(torch::kFloat32)});
  }
  // As the reference implementation requires: the tensors tile the data section exactly, with
  // no overlap, gap or trailing bytes.
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t covered = 0;
  for (const Span& sp : spans) {
    if (sp.begin < covered)
      throw IoError(where + ": tensor '" + sp.name + "' overlaps the bytes of another tensor (data_offsets from " +
                    std::to_string(sp.begin) + ", another ends at " + std::to_string(covered) + ")");
    if (sp.begin > covered)
      throw IoError(where + ": " + std::to_string(sp.begin - covered) + " bytes before tensor '" + sp.name +
                    "' belong to no tensor");
    covered = sp.end;
  }
  if (covered != dataSize)
    throw IoError(where + " has " + std::to_string(dataSize - covered) + " bytes after its last tensor (corrupt, or " +
                  "not written as one safetensors file)");
  return out;
}

}  // namespace ebm::safetensors

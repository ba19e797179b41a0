// Error types thrown by the core. The bindings map each one to a JS Error subclass;
// the core itself never sees N-API.
#pragma once

#include <stdexcept>
#include <string>

namespace ebm {

enum class ErrorKind { Config, Shape, Numerics, Io, Aborted, Distributed };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// A bad option or hyper-parameter: names the field and what was expected.
struct ConfigError : Error {
  explicit ConfigError(const std::string& m) : Error(ErrorKind::Config, m) {}
};
// A tensor of the wrong rank, size or length.
struct ShapeError : Error {
  explicit ShapeError(const std::string& m) : Error(ErrorKind::Shape, m) {}
};
// NaN/Inf in inputs, a diverging loss, a failed numerical step.
struct NumericsError : Error {
  explicit NumericsError(const std::string& m) : Error(ErrorKind::Numerics, m) {}
};
// Missing, unreadable, truncated or malformed files.
struct IoError : Error {
  explicit IoError(const std::string& m) : Error(ErrorKind::Io, m) {}
};
// A job stopped because its caller asked it to.
struct AbortedError : Error {
  explicit AbortedError(const std::string& m) : Error(ErrorKind::Aborted, m) {}
};
// Data-parallel training: a rendezvous that failed, a rank that died or stopped answering.
struct DistributedError : Error {
  explicit DistributedError(const std::string& m) : Error(ErrorKind::Distributed, m) {}
};

}  // namespace ebm

// The options of a training run, as typed structs read from the validated config: each optional
// field's default is its initialiser (io/fields.h). The loss and the optimizer stay JSON here:
// their registries read them into their own kind's struct.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "distributed/communicator.h"
#include "io/fields.h"
#include "io/json.h"

namespace ebm {

// Constant, or cosine decay to minLr over train.steps.
enum class ScheduleKind { Constant, Cosine };
inline const std::vector<Choice<ScheduleKind>>& choicesOf(ScheduleKind) {
  static const std::vector<Choice<ScheduleKind>> c{{"constant", ScheduleKind::Constant},
                                                   {"cosine", ScheduleKind::Cosine}};
  return c;
}

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::Constant;
  int64_t warmupSteps = 0;  // linear warm-up
  double minLr = 0;
};
template <typename Fields>
void describe(Fields& f, ScheduleOptions& o) {
  f.optional("kind", o.kind);
  f.optional("warmupSteps", o.warmupSteps);
  f.optional("minLr", o.minLr);
}

struct EmaOptions {
  double decay{};
};
template <typename Fields>
void describe(Fields& f, EmaOptions& o) {
  f.required("decay", o.decay);
}

struct CheckpointOptions {
  std::string path;
  int64_t every = 0;  // 0: only at the end (and on abort)
};
template <typename Fields>
void describe(Fields& f, CheckpointOptions& o) {
  f.required("path", o.path);
  f.optional("every", o.every);
}

struct TrainSettings {
  json::Value loss;
  json::Value optimizer = {{"kind", "adam"}, {"lr", 1e-3}};
  std::optional<ScheduleOptions> schedule;
  int64_t batchSize{};
  int64_t steps{};
  int64_t seed = 0;
  bool replacement = false;  // batches with replacement instead of shuffled epochs
  int64_t logEvery = 10;
  std::optional<EmaOptions> ema;
  std::optional<double> gradClip;  // absent: the loss kind's recommended clip
  std::optional<CheckpointOptions> checkpoint;
  std::optional<std::string> resumeFrom;
  std::optional<DistributedConfig> distributed;
};
template <typename Fields>
void describe(Fields& f, TrainSettings& o) {
  f.required("loss", o.loss);
  f.optional("optimizer", o.optimizer);
  f.optional("schedule", o.schedule);
  f.required("batchSize", o.batchSize);
  f.required("steps", o.steps);
  f.optional("seed", o.seed);
  f.optional("replacement", o.replacement);
  f.optional("logEvery", o.logEvery);
  f.optional("ema", o.ema);
  f.optional("gradClip", o.gradClip);
  f.optional("checkpoint", o.checkpoint);
  f.optional("resumeFrom", o.resumeFrom);
  f.optional("distributed", o.distributed);
}

// Every option default of the native side, for the TS façade to fill an effective config:
// { loss: {kind: {...}}, lossGradClip: {kind: clip}, sampler: {kind: {...}}, optimizer: {kind: {...}},
//   train: {...}, sample: {...}, model: {kind: {...}} }.
json::Value optionDefaults();

}  // namespace ebm

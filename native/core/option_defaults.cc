// Every option default of the native side in one object, for the TS façade (native.optionDefaults).
#include "io/fields.h"
#include "kinds.h"
#include "samplers/sampler.h"
#include "train/optimizer.h"
#include "train/settings.h"

namespace ebm {

json::Value optionDefaults() {
  return {
      {"loss", lossDefaults()},
      {"lossGradClip", lossGradClips()},
      {"sampler", samplerDefaults()},
      {"optimizer", optimizerDefaults()},
      {"train", defaultsOf<TrainSettings>()},
      {"sample", defaultsOf<SampleRequest>()},
      {"model", modelDefaults()},
  };
}

}  // namespace ebm

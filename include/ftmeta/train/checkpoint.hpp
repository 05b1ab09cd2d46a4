// ftmeta/train/checkpoint.hpp: checkpoints written atomically, carrying the class map and the
// model's description, so prediction answers with folder names and refuses a different model.
#pragma once

#include <ftmeta/core/error.hpp>

#include <torch/torch.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace ftmeta::train {

/// What a checkpoint says besides the weights.
struct CheckpointInfo {
  std::vector<std::string> class_names;  ///< index -> folder name
  std::string model;                     ///< the model spec's description; must match on load
  std::int64_t epoch = 0;                ///< epochs completed
  double metric = 0;                     ///< the validation accuracy it was chosen by
  std::int64_t image_size = 0;           ///< the input side the model was trained at (0: not recorded)
  std::int64_t step = 0;                 ///< optimizer steps completed (schedules resume from it)
  std::int64_t phase = 0;                ///< the recipe phase the run was in
  std::string split_hash;                ///< hash of the class map and split manifest it was trained on
  std::string history;                   ///< the run's per-epoch records so far (the trainer's text), for resuming
  std::vector<torch::Tensor> extra;      ///< further state to resume with (the trainer's weight average)
  std::vector<torch::Tensor> scaler;     ///< the fp16 loss scaler's scale and growth tracker (GradScaler::state)
  /// The evaluation preprocessing the weights expect (nn::Preprocessing::serialize(); empty: not recorded).
  std::string preprocessing;
};

namespace detail {
inline std::string join_lines(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += x + '\n';
  return s;
}
inline std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> v;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\n') {
      v.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return v;
}
/// Flushes a written file to disk before it is renamed into place.
inline void fsync_path(const std::filesystem::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}
}  // namespace detail

/// Writes the module's parameters and buffers with `info` (and the optimizer's state, when given) to
/// `path` atomically: a temporary file in the same folder, flushed, then renamed over `path`. A
/// crash leaves the old file or the new one, never a half-written one.
inline void save_checkpoint(const std::filesystem::path& path, torch::nn::Module& module, const CheckpointInfo& info,
                            torch::optim::Optimizer* optimizer = nullptr) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  const auto tmp = path.string() + ".tmp" + std::to_string(::getpid());
  try {
    torch::serialize::OutputArchive archive;
    module.save(archive);
    archive.write("ftmeta.class_names", c10::IValue(detail::join_lines(info.class_names)));
    archive.write("ftmeta.model", c10::IValue(info.model));
    archive.write("ftmeta.epoch", c10::IValue(info.epoch));
    archive.write("ftmeta.metric", c10::IValue(info.metric));
    archive.write("ftmeta.image_size", c10::IValue(info.image_size));
    archive.write("ftmeta.step", c10::IValue(info.step));
    archive.write("ftmeta.phase", c10::IValue(info.phase));
    archive.write("ftmeta.split_hash", c10::IValue(info.split_hash));
    if (!info.preprocessing.empty()) archive.write("ftmeta.preprocessing", c10::IValue(info.preprocessing));
    if (!info.history.empty()) archive.write("ftmeta.history", c10::IValue(info.history));
    if (!info.extra.empty()) archive.write("ftmeta.extra_count", c10::IValue(static_cast<std::int64_t>(info.extra.size())));
    for (std::size_t i = 0; i < info.extra.size(); ++i) archive.write("ftmeta.extra." + std::to_string(i), info.extra[i], /*is_buffer=*/true);
    if (info.scaler.size() == 2) {
      archive.write("ftmeta.scaler.scale", info.scaler[0], /*is_buffer=*/true);
      archive.write("ftmeta.scaler.growth_tracker", info.scaler[1], /*is_buffer=*/true);
    }
    if (optimizer) {
      torch::serialize::OutputArchive state;
      optimizer->save(state);
      archive.write("ftmeta.optimizer", state);
    }
    archive.save_to(tmp);
    detail::fsync_path(tmp);
    std::filesystem::rename(tmp, path);
  } catch (const std::exception& e) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw FileError("ftmeta: cannot write checkpoint " + path.string() + ": " + e.what());
  }
}

/// Reads only the info of a checkpoint (to build the right model before loading the weights).
inline CheckpointInfo read_checkpoint_info(const std::filesystem::path& path) {
  if (!std::filesystem::is_regular_file(path)) throw FileError("ftmeta: checkpoint " + path.string() + " does not exist");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path.string());
  } catch (const std::exception& e) {
    throw FileError("ftmeta: " + path.string() + " is not a readable ftmeta checkpoint: " + std::string(e.what()).substr(0, 200));
  }
  CheckpointInfo info;
  c10::IValue v;
  if (!archive.try_read("ftmeta.class_names", v)) throw FileError("ftmeta: " + path.string() + " has no class map (not an ftmeta checkpoint)");
  info.class_names = detail::split_lines(v.toStringRef());
  if (archive.try_read("ftmeta.model", v)) info.model = v.toStringRef();
  if (archive.try_read("ftmeta.epoch", v)) info.epoch = v.toInt();
  if (archive.try_read("ftmeta.metric", v)) info.metric = v.toDouble();
  if (archive.try_read("ftmeta.image_size", v)) info.image_size = v.toInt();
  if (archive.try_read("ftmeta.step", v)) info.step = v.toInt();
  if (archive.try_read("ftmeta.preprocessing", v)) info.preprocessing = v.toStringRef();
  if (archive.try_read("ftmeta.phase", v)) info.phase = v.toInt();
  if (archive.try_read("ftmeta.split_hash", v)) info.split_hash = v.toStringRef();
  if (archive.try_read("ftmeta.history", v)) info.history = v.toStringRef();
  if (archive.try_read("ftmeta.extra_count", v))
    for (std::int64_t i = 0, n = v.toInt(); i < n; ++i) {
      torch::Tensor t;
      if (archive.try_read("ftmeta.extra." + std::to_string(i), t, /*is_buffer=*/true)) info.extra.push_back(t);
    }
  torch::Tensor scale, tracker;
  if (archive.try_read("ftmeta.scaler.scale", scale, /*is_buffer=*/true) &&
      archive.try_read("ftmeta.scaler.growth_tracker", tracker, /*is_buffer=*/true))
    info.scaler = {scale, tracker};
  return info;
}

/// Loads the weights of a checkpoint into `module`, refusing one written for another model.
inline CheckpointInfo load_checkpoint(const std::filesystem::path& path, torch::nn::Module& module, const std::string& expected_model) {
  CheckpointInfo info = read_checkpoint_info(path);
  if (!expected_model.empty() && info.model != expected_model)
    throw FileError("ftmeta: checkpoint " + path.string() + " was written for model '" + info.model + "', not '" + expected_model + "'");
  torch::serialize::InputArchive archive;
  archive.load_from(path.string());
  try {
    module.load(archive);
  } catch (const std::exception& e) {
    throw FileError("ftmeta: checkpoint " + path.string() + " does not fit the model: " + std::string(e.what()).substr(0, 300));
  }
  return info;
}

/// Restores an optimizer's state (momentum buffers, Adam moments) from a checkpoint written with
/// one. Returns false when the checkpoint holds none; FileError when it does not fit the optimizer.
inline bool load_optimizer_state(const std::filesystem::path& path, torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive archive, state;
  archive.load_from(path.string());
  if (!archive.try_read("ftmeta.optimizer", state)) return false;
  try {
    optimizer.load(state);
  } catch (const std::exception& e) {
    throw FileError("ftmeta: the optimizer state in " + path.string() + " does not fit this recipe: " +
                    std::string(e.what()).substr(0, 300));
  }
  return true;
}

}  // namespace ftmeta::train

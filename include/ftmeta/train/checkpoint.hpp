// ftmeta/train/checkpoint.hpp: checkpoints written atomically with a checksum of their contents
// (verified on load), carrying the class map and the model's description, so prediction answers
// with folder names, refuses a different model, and a damaged file is named, never half-loaded.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/util/atomic_file.hpp>

#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace ftmeta::train {

/// What a checkpoint says besides the weights.
struct CheckpointInfo {
  std::vector<std::string> class_names{};  ///< index -> folder name
  std::string model{};                     ///< the model spec's description; must match on load
  std::int64_t epoch = 0;                ///< epochs completed
  double metric = 0;                     ///< the validation accuracy it was chosen by
  std::int64_t image_size = 0;           ///< the input side the model was trained at (0: not recorded)
  std::int64_t step = 0;                 ///< optimizer steps completed (schedules resume from it)
  std::int64_t phase = 0;                ///< the recipe phase the run was in
  std::string split_hash{};                ///< hash of the class map and split manifest it was trained on
  std::string history{};                   ///< the run's per-epoch records so far (the trainer's text), for resuming
  std::vector<torch::Tensor> extra{};      ///< further state to resume with (the trainer's weight average)
  std::vector<torch::Tensor> scaler{};     ///< the fp16 loss scaler's scale and growth tracker (GradScaler::state)
  std::string partial{};                   ///< an epoch stopped at a step boundary (PartialEpoch::text); empty otherwise
  std::vector<torch::Tensor> generators{}; ///< torch's generator states at that boundary (PartialEpoch::generators)
  /// The evaluation preprocessing the weights expect (nn::Preprocessing::serialize(); empty: not recorded).
  std::string preprocessing{};
  /// The options the run was made with, as JSON (train/run_config.hpp; empty: not recorded).
  std::string run_config{};
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
// The checksum: a CRC-32 of the whole archive (with an empty zip comment), kept as the zip's
// comment "ftmeta-crc32 XXXXXXXX". Zip readers (torch.load, LibTorch) ignore the comment; a file
// cut short loses it along with the zip directory, a flipped byte changes the CRC.
inline constexpr std::size_t checksum_comment_size = 21;
inline std::uint32_t crc32_of(const char* data, std::size_t n, std::uint32_t crc = 0) {
  return static_cast<std::uint32_t>(::crc32_z(crc, reinterpret_cast<const Bytef*>(data), n));
}
// Adds the checksum comment to a zip archive that ends with an end-of-central-directory record
// without a comment (as torch's writer leaves it). False when it does not.
inline bool add_checksum(std::string& zip) {
  const std::size_t n = zip.size();
  if (n < 22 || zip.compare(n - 22, 4, "PK\x05\x06") != 0 || zip[n - 2] != 0 || zip[n - 1] != 0) return false;
  char comment[checksum_comment_size + 1];
  std::snprintf(comment, sizeof comment, "ftmeta-crc32 %08x", crc32_of(zip.data(), n));
  zip[n - 2] = static_cast<char>(checksum_comment_size);
  zip.append(comment, checksum_comment_size);
  return true;
}
// "" when `bytes` carry a matching checksum; "unchecked" when they carry none (a checkpoint
// of ftmeta 0.1, or not from ftmeta); else what is wrong (a mismatch, a file cut short).
inline std::string check_checksum(const std::string& bytes) {
  const std::size_t n = bytes.size(), c = checksum_comment_size;
  // the end-of-central-directory record: the last "PK\5\6" within reach of a zip comment
  std::size_t eocd = std::string::npos;
  for (std::size_t at = n >= 22 ? n - 22 + 1 : 0; at-- > 0 && n - at <= 22 + 0xffff;)
    if (bytes.compare(at, 4, "PK\x05\x06") == 0) {
      eocd = at;
      break;
    }
  if (eocd == std::string::npos) return "unchecked";
  const std::size_t comment = static_cast<unsigned char>(bytes[eocd + 20]) | static_cast<unsigned char>(bytes[eocd + 21]) << 8;
  if (eocd + 22 + comment > n)
    return "cut short: its last " + std::to_string(eocd + 22 + comment - n) + " byte(s) are missing";
  if (comment != c || eocd + 22 + c != n || bytes.compare(n - c, 13, "ftmeta-crc32 ") != 0) return "unchecked";
  const auto want = static_cast<std::uint32_t>(std::strtoul(bytes.substr(n - c + 13, 8).c_str(), nullptr, 16));
  static constexpr char zero[2] = {0, 0};
  const std::uint32_t got = crc32_of(zero, 2, crc32_of(bytes.data(), n - c - 2));
  if (got == want) return "";
  char buf[96];
  std::snprintf(buf, sizeof buf, "checksum mismatch: the contents give %08x, the file records %08x", got, want);
  return buf;
}
}  // namespace detail

/// Writes the module's parameters and buffers with `info` (and the optimizer's state, when given) to
/// `path` atomically, with a checksum of the contents (verified by every reader here): a temporary
/// file in the same folder, flushed, then renamed over `path`. A crash or a full disk leaves the
/// old file or the new one, never a half-written one (FileError "ftmeta: cannot write checkpoint
/// PATH: REASON"). With `keep_previous`, the checkpoint `path` held before stays as
/// util::previous_version_path(path) (last.pt -> last.prev.pt), the fallback if `path` is damaged.
inline void save_checkpoint(const std::filesystem::path& path, torch::nn::Module& module, const CheckpointInfo& info,
                            torch::optim::Optimizer* optimizer = nullptr, bool keep_previous = false) {
  std::string bytes;
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
    if (!info.run_config.empty()) archive.write("ftmeta.run_config", c10::IValue(info.run_config));
    if (!info.history.empty()) archive.write("ftmeta.history", c10::IValue(info.history));
    if (!info.extra.empty()) archive.write("ftmeta.extra_count", c10::IValue(static_cast<std::int64_t>(info.extra.size())));
    for (std::size_t i = 0; i < info.extra.size(); ++i) archive.write("ftmeta.extra." + std::to_string(i), info.extra[i], /*is_buffer=*/true);
    if (info.scaler.size() == 2) {
      archive.write("ftmeta.scaler.scale", info.scaler[0], /*is_buffer=*/true);
      archive.write("ftmeta.scaler.growth_tracker", info.scaler[1], /*is_buffer=*/true);
    }
    if (!info.partial.empty()) {
      archive.write("ftmeta.partial", c10::IValue(info.partial));
      archive.write("ftmeta.generator_count", c10::IValue(static_cast<std::int64_t>(info.generators.size())));
      for (std::size_t i = 0; i < info.generators.size(); ++i)
        archive.write("ftmeta.generator." + std::to_string(i), info.generators[i], /*is_buffer=*/true);
    }
    if (optimizer) {
      torch::serialize::OutputArchive state;
      optimizer->save(state);
      archive.write("ftmeta.optimizer", state);
    }
    std::ostringstream out;
    archive.save_to(out);
    bytes = std::move(out).str();
  } catch (const std::exception& e) {
    throw FileError("ftmeta: cannot write checkpoint " + path.string() + ": " + std::string(e.what()).substr(0, 200));
  }
  if (!detail::add_checksum(bytes))
    throw FileError("ftmeta: cannot write checkpoint " + path.string() + ": the archive does not end as a zip file should");
  try {
    util::write_file_atomically(path, bytes, keep_previous);
  } catch (const FileError& e) {
    std::string what = e.what();  // "cannot write PATH: REASON"
    throw FileError("ftmeta: cannot write checkpoint " + what.substr(std::string("cannot write ").size()));
  }
}

namespace detail {
inline std::string epoch_of(const std::filesystem::path& path);
// The archive of a checkpoint, its checksum verified first. A damaged file (cut short, a flipped
// byte, not a checkpoint at all) is a FileError naming it and, when its predecessor (last.prev.pt)
// is there, naming that too and whether it is intact.
inline void load_verified(const std::filesystem::path& path, torch::serialize::InputArchive& archive, bool hint = true) {
  if (!std::filesystem::is_regular_file(path)) throw FileError("ftmeta: checkpoint " + path.string() + " does not exist");
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FileError("ftmeta: cannot read checkpoint " + path.string());
    std::ostringstream s;
    s << in.rdbuf();
    bytes = std::move(s).str();
  }
  auto damaged = [&](const std::string& why) {
    std::string msg = "ftmeta: checkpoint " + path.string() + " is damaged (" + why + ")";
    const auto prev = util::previous_version_path(path);
    if (hint && std::filesystem::exists(prev)) {
      const auto epoch = epoch_of(prev);
      msg += epoch.empty() ? "; its predecessor " + prev.string() + " is damaged too"
                           : "; the previous checkpoint " + prev.string() + " (epoch " + epoch + ") is intact: copy it to " +
                                 path.string() + " to continue from it";
    }
    return FileError(msg);
  };
  const auto check = check_checksum(bytes);
  if (!check.empty() && check != "unchecked") throw damaged(check);
  try {
    archive.load_from(bytes.data(), bytes.size());
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, std::min({what.find('\n'), what.find(". "), std::size_t{160}}));  // its first sentence
    throw damaged(bytes.empty() ? "empty file" : "truncated, or not a checkpoint: " + what);
  }
}
}  // namespace detail

/// Reads only the info of a checkpoint (to build the right model before loading the weights).
/// FileError naming the file when it is damaged (checksum, truncation), see detail::load_verified.
inline CheckpointInfo read_checkpoint_info(const std::filesystem::path& path) {
  torch::serialize::InputArchive archive;
  detail::load_verified(path, archive);
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
  if (archive.try_read("ftmeta.run_config", v)) info.run_config = v.toStringRef();
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
  if (archive.try_read("ftmeta.partial", v)) {
    info.partial = v.toStringRef();
    if (archive.try_read("ftmeta.generator_count", v))
      for (std::int64_t i = 0, n = v.toInt(); i < n; ++i) {
        torch::Tensor t;
        if (archive.try_read("ftmeta.generator." + std::to_string(i), t, /*is_buffer=*/true)) info.generators.push_back(t);
      }
  }
  return info;
}

/// Loads the weights of a checkpoint into `module`, refusing one written for another model.
inline CheckpointInfo load_checkpoint(const std::filesystem::path& path, torch::nn::Module& module, const std::string& expected_model) {
  CheckpointInfo info = read_checkpoint_info(path);
  if (!expected_model.empty() && info.model != expected_model)
    throw FileError("ftmeta: checkpoint " + path.string() + " was written for model '" + info.model + "', not '" + expected_model + "'");
  torch::serialize::InputArchive archive;
  detail::load_verified(path, archive);
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
  detail::load_verified(path, archive);
  if (!archive.try_read("ftmeta.optimizer", state)) return false;
  try {
    optimizer.load(state);
  } catch (const std::exception& e) {
    throw FileError("ftmeta: the optimizer state in " + path.string() + " does not fit this recipe: " +
                    std::string(e.what()).substr(0, 300));
  }
  return true;
}

namespace detail {
// The epoch a checkpoint records, "" when it cannot be read (for load_verified's hint).
inline std::string epoch_of(const std::filesystem::path& path) {
  try {
    torch::serialize::InputArchive archive;
    load_verified(path, archive, false);
    c10::IValue v;
    return archive.try_read("ftmeta.epoch", v) ? std::to_string(v.toInt()) : std::string("?");
  } catch (const std::exception&) {
    return "";
  }
}
}  // namespace detail

}  // namespace ftmeta::train

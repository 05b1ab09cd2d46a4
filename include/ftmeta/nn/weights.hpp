// ftmeta/nn/weights.hpp: reading PyTorch state-dict files (torch.save, legacy and zip) without Python,
// and loading a state dict into a LibTorch module by parameter and buffer name.
#pragma once

#define FTMETA_NN_WEIGHTS_INTERNAL
#include <ftmeta/nn/detail/pickle.hpp>
#undef FTMETA_NN_WEIGHTS_INTERNAL

#include <ftmeta/core/config.hpp>
#include <ftmeta/core/error.hpp>
#include <ftmeta/nn/safetensors.hpp>
#include <ftmeta/nn/state_dict.hpp>

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ftmeta::nn {

namespace detail {

inline torch::Dtype to_torch_dtype(StorageDtype d) {
  switch (d) {
    case StorageDtype::Float64: return torch::kFloat64;
    case StorageDtype::Float32: return torch::kFloat32;
    case StorageDtype::Float16: return torch::kFloat16;
    case StorageDtype::BFloat16: return torch::kBFloat16;
    case StorageDtype::Int64: return torch::kInt64;
    case StorageDtype::Int32: return torch::kInt32;
    case StorageDtype::Int16: return torch::kInt16;
    case StorageDtype::Int8: return torch::kInt8;
    case StorageDtype::UInt8: return torch::kUInt8;
    case StorageDtype::Bool: return torch::kBool;
    case StorageDtype::Complex64: return torch::kComplexFloat;
    case StorageDtype::Complex128: return torch::kComplexDouble;
  }
  return torch::kFloat32;
}

[[noreturn]] inline void weights_fail(const std::filesystem::path& file, const std::string& what) {
  throw WeightsError(file.string() + ": " + what);
}

inline const Object* dict_get(const Object* dict, std::string_view key) {
  auto it = dict->index.find(std::string(key));
  return it == dict->index.end() ? nullptr : dict->entries[it->second].second;
}

// The rule for files that wrap the state dict: a dict whose values are all tensors is the state dict;
// otherwise the first of the keys "state_dict", "model_state_dict", "model" whose value is a dict
// is searched the same way.
inline const Object* find_state_dict(const Object* root, const std::filesystem::path& file) {
  static constexpr std::string_view wrappers[] = {"state_dict", "model_state_dict", "model"};
  const Object* dict = root;
  for (int depth = 0; depth < 8; ++depth) {
    if (dict->kind != Kind::Dict)
      weights_fail(file, "holds a " + std::string(kind_name(dict->kind)) + ", not a state dict (a dict of tensors)");
    const bool all_tensors = std::all_of(dict->entries.begin(), dict->entries.end(), [](const auto& e) {
      return e.first->kind == Kind::Str && e.second->kind == Kind::Tensor;
    });
    if (all_tensors) {
      if (dict->entries.empty()) weights_fail(file, "holds an empty dict, no tensors");
      return dict;
    }
    const Object* inner = nullptr;
    for (auto w : wrappers)
      if (const auto* v = dict_get(dict, w); v && v->kind == Kind::Dict) {
        inner = v;
        break;
      }
    if (!inner) {
      std::string keys;
      std::size_t shown = 0;
      for (const auto& [k, v] : dict->entries) {
        if (shown++ == 12) {
          keys += ", ...";
          break;
        }
        keys += (keys.empty() ? "" : ", ") + (k->kind == Kind::Str ? "'" + k->text + "'" : std::string("<int>")) + ": " +
                std::string(kind_name(v->kind));
      }
      weights_fail(file, "holds a dict that is not a state dict (not all its values are tensors) and has no "
                         "'state_dict', 'model_state_dict' or 'model' entry to descend into; its entries: {" + keys + "}");
    }
    dict = inner;
  }
  weights_fail(file, "nests 'state_dict'/'model' wrappers more than 8 deep");
}

// Builds the StateDict of `dict`: one torch storage per root storage, copied from
// `data(storage, nbytes)`, which checks that the file holds nbytes for it and points at them.
using StorageSource = std::function<const void*(const StorageRef&, std::size_t nbytes)>;

inline StateDict materialize(const Object* dict, const StorageSource& data) {
  std::unordered_map<std::string, torch::Tensor> storages;
  StateDict out;
  out.reserve(dict->entries.size());
  for (const auto& [key, value] : dict->entries) {
    const TensorRef& t = value->tensor;
    const StorageRef& s = *t.storage;
    auto it = storages.find(s.key);
    if (it == storages.end()) {
      const std::size_t nbytes = static_cast<std::size_t>(s.numel) * storage_dtype_info(s.dtype).element_size;
      const void* src = data(s, nbytes);  // checked before anything is allocated
      auto storage = torch::empty({s.numel}, torch::TensorOptions().dtype(to_torch_dtype(s.dtype)));
      if (nbytes) std::memcpy(storage.data_ptr(), src, nbytes);
      if (s.dtype == StorageDtype::Bool) {  // any byte but 0 is true; torch expects exactly 0 or 1
        auto* bytes = static_cast<unsigned char*>(storage.data_ptr());
        for (std::int64_t i = 0; i < s.numel; ++i) bytes[i] = bytes[i] != 0;
      }
      it = storages.emplace(s.key, storage).first;
    }
    out.emplace_back(key->text, it->second.as_strided(t.sizes, t.strides, t.offset));
  }
  return out;
}

inline const StorageRef* find_root(const Heap& heap, std::string_view key) {
  for (const auto& s : heap.storages)
    if (s->key == key) return s.get();
  return nullptr;
}

inline StateDict load_legacy(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) weights_fail(file, "cannot be opened");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Heap heap;
  Unpickler unpickler(bytes, file.string(), heap);
  std::size_t pos = 0;
  // torch.save's legacy layout: magic number, protocol version, system info, the object, storage keys.
  static constexpr unsigned char magic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  const auto* m = unpickler.load(pos);
  if (m->kind != Kind::BigInt || m->text != std::string_view(reinterpret_cast<const char*>(magic), sizeof magic))
    weights_fail(file, "is a pickle but not a torch.save file (wrong magic number)");
  const auto* version = unpickler.load(pos);
  if (version->kind != Kind::Int || version->integer != 1001)
    weights_fail(file, "has legacy protocol version " + (version->kind == Kind::Int ? std::to_string(version->integer) : "?") +
                           ", expected 1001");
  const auto* sys = unpickler.load(pos);
  const auto* little = sys->kind == Kind::Dict ? dict_get(sys, "little_endian") : nullptr;
  if (!little || little->kind != Kind::Bool) weights_fail(file, "has no byte order in its system info");
  if (!little->integer) weights_fail(file, "was written on a big-endian machine; re-save it on a little-endian one");
  const auto* root = unpickler.load(pos);
  const auto* keys = unpickler.load(pos);
  if (keys->kind != Kind::List) weights_fail(file, "has no list of storage keys after the object");
  const Object* state = find_state_dict(root, file);
  std::unordered_map<std::string, std::string> first_user;  // storage key -> " (tensor 'NAME')", its first tensor
  for (const auto& [key, value] : state->entries)
    first_user.emplace(value->tensor.storage->key, " (tensor '" + key->text + "')");
  const auto user = [&](const std::string& storage) {
    auto it = first_user.find(storage);
    return it == first_user.end() ? std::string() : it->second;
  };
  std::unordered_map<std::string, std::size_t> data_at;  // root key -> byte offset of its data
  for (const auto* k : keys->items) {
    if (k->kind != Kind::Str) weights_fail(file, "lists a storage key that is not a string");
    const auto* s = find_root(heap, k->text);
    if (!s) weights_fail(file, "lists data for storage '" + k->text + "', which no tensor uses");
    if (bytes.size() - pos < 8)
      weights_fail(file, "is truncated: the element count of storage '" + k->text + "'" + user(k->text) + " is missing");
    std::uint64_t count = 0;
    for (int i = 7; i >= 0; --i) count = (count << 8) | static_cast<unsigned char>(bytes[pos + static_cast<std::size_t>(i)]);
    pos += 8;
    if (count != static_cast<std::uint64_t>(s->numel))
      weights_fail(file, "says storage '" + k->text + "'" + user(k->text) + " holds " + std::to_string(count) +
                             " elements, but its tensors say " + std::to_string(s->numel));
    const std::uint64_t nbytes = count * storage_dtype_info(s->dtype).element_size;  // numel < 2^62 / size
    if (nbytes > bytes.size() - pos)
      weights_fail(file, "is truncated: storage '" + k->text + "'" + user(k->text) + " needs " + std::to_string(nbytes) +
                             " bytes, " + std::to_string(bytes.size() - pos) + " remain");
    if (!data_at.emplace(k->text, pos).second) weights_fail(file, "lists storage '" + k->text + "' twice");
    pos += nbytes;
  }
  return materialize(state, [&](const StorageRef& s, std::size_t) -> const void* {
    auto it = data_at.find(s.key);  // its size was checked against the file above
    if (it == data_at.end()) weights_fail(file, "has no data for storage '" + s.key + "'");
    return bytes.data() + it->second;
  });
}

inline StateDict load_zip(const std::filesystem::path& file) {
  try {
    caffe2::serialize::PyTorchStreamReader reader(file.string());
    const auto file_size = std::filesystem::file_size(file);  // no record can be larger (they are stored)
    if (!reader.hasRecord("data.pkl"))
      weights_fail(file, "is a zip archive without data.pkl (a TorchScript module? save a state dict with torch.save)");
    if (reader.hasRecord("byteorder") && reader.getRecordSize("byteorder") < 16) {
      auto [order, order_size] = reader.getRecord("byteorder");
      if (std::string_view(static_cast<const char*>(order.get()), order_size) == "big")
        weights_fail(file, "was written on a big-endian machine; re-save it on a little-endian one");
    }
    if (reader.getRecordSize("data.pkl") > file_size)
      weights_fail(file, "claims a data.pkl larger than the file");
    auto [pickle, pickle_size] = reader.getRecord("data.pkl");
    const std::string_view bytes(static_cast<const char*>(pickle.get()), pickle_size);
    Heap heap;
    Unpickler unpickler(bytes, file.string() + ":data.pkl", heap);
    std::size_t pos = 0;
    const auto* root = unpickler.load(pos);
    std::vector<at::DataPtr> records;  // alive until materialize has copied them
    return materialize(find_state_dict(root, file), [&](const StorageRef& s, std::size_t n) -> const void* {
      const std::string name = "data/" + s.key;
      if (!reader.hasRecord(name)) weights_fail(file, "has no record '" + name + "' for storage '" + s.key + "'");
      if (n > file_size)
        weights_fail(file, "storage '" + s.key + "' needs " + std::to_string(n) + " bytes, more than the file holds");
      if (const auto size = reader.getRecordSize(name); size != n)
        weights_fail(file, "record '" + name + "' holds " + std::to_string(size) + " bytes, but storage '" + s.key +
                               "' of its tensors needs " + std::to_string(n));
      auto [record, size] = reader.getRecord(name);
      if (size != n) weights_fail(file, "record '" + name + "' could not be read whole");
      records.push_back(std::move(record));
      return records.back().get();
    });
  } catch (const c10::Error& e) {
    weights_fail(file, std::string("is not a readable zip archive: ") + e.what_without_backtrace());
  }
}

}  // namespace detail

/// The weights file `path` names: the path itself, or for a folder (a Hugging Face hub download
/// of a timm model) its model.safetensors, else its pytorch_model.bin. WeightsError naming the
/// folder when it holds neither.
inline std::filesystem::path weights_file_in(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) return path;
  for (const char* name : {"model.safetensors", "pytorch_model.bin"})
    if (std::filesystem::is_regular_file(path / name, ec)) return path / name;
  throw WeightsError(path.string() + ": is a folder without model.safetensors or pytorch_model.bin");
}

/// Reads a state dict written by `torch.save` (the zip format of torch >= 1.6, or the legacy format),
/// or a safetensors file (see load_safetensors), without running Python: the pickle is read by a restricted unpickler that accepts only what
/// rebuilds tensors and dicts (as `torch.load(weights_only=True)`) and refuses any other global.
/// Files that wrap the state dict are unwrapped: a dict whose values are all tensors is the state
/// dict; otherwise its "state_dict", "model_state_dict" or "model" entry (the first present) is.
/// A folder stands for the weights file in it (see weights_file_in).
/// Throws WeightsError naming the file and the fault (truncation, refused global, bad view, ...).
///   auto sd = ftmeta::nn::load_state_dict_file("resnet18.pth");
FTMETA_DECL StateDict load_state_dict_file(const std::filesystem::path& path);

/// How `load_into` matches the names of a state dict to a module's parameters and buffers.
struct LoadOptions {
  /// Throw WeightsError unless every name matches both ways with equal shapes (nothing is copied then).
  bool strict = true;
  /// Drop a leading "module." when every key has it (nn.DataParallel / DistributedDataParallel files).
  bool strip_module_prefix = true;
  /// (from, to): a file key starting with `from` gets `to` instead; the first matching pair applies.
  std::vector<std::pair<std::string, std::string>> rename_prefix = {};
  /// Names (after renaming) starting with one of these are neither loaded nor reported, in the file
  /// and in the module alike: a classifier being replaced, say.
  std::vector<std::string> skip_prefixes = {};
};

/// What `load_into` matched. `missing`: module names the file lacks; `unexpected`: file names the
/// module lacks; `mismatched`: names in both with different shapes ("name: file [..], module [..]").
struct LoadReport {
  std::vector<std::string> missing, unexpected, mismatched;
  std::size_t loaded = 0;
  /// The first name that does not fit, with why: in the module's order (its forward order) the
  /// first missing or mismatched one, else the file's first unexpected one; empty when all fit.
  std::string first_offending;

  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  /// One line per non-empty list, e.g. "2 missing from the file: _fc.weight, _fc.bias"; when
  /// everything matched, "all N tensors loaded".
  std::string describe() const {
    if (ok()) return "all " + std::to_string(loaded) + " tensors loaded";
    std::string out;
    const auto list = [&](const char* what, const std::vector<std::string>& names) {
      if (names.empty()) return;
      out += (out.empty() ? "" : "\n") + std::to_string(names.size()) + " " + what + ": ";
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (i == 16) {
          out += ", ... (" + std::to_string(names.size() - i) + " more)";
          break;
        }
        out += (i ? ", " : "") + names[i];
      }
    };
    list("missing from the file", missing);
    list("unexpected (not in the module)", unexpected);
    list("with mismatched shapes", mismatched);
    if (loaded) out += "\n" + std::to_string(loaded) + " other tensors loaded";
    return out;
  }
};

namespace detail {
inline std::string shape_text(const torch::Tensor& t) {
  std::string out = "[";
  for (std::int64_t i = 0; i < t.dim(); ++i) out += (i ? ", " : "") + std::to_string(t.size(i));
  return out + "]";
}
inline bool starts_with_any(const std::string& name, const std::vector<std::string>& prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(), [&](const auto& p) { return name.starts_with(p); });
}
}  // namespace detail

/// Copies the tensors of `state` into `module`'s parameters and buffers (BatchNorm running
/// statistics and num_batches_tracked included), matched by name, without recording gradients.
/// Strict (the default): throws WeightsError carrying `describe()` when anything is missing,
/// unexpected or of another shape, and copies nothing. Non-strict: copies what matches and
/// returns the report.
///   auto report = load_into(*model, load_state_dict_file(path), {.strict = false});
FTMETA_DECL LoadReport load_into(torch::nn::Module& module, const StateDict& state, const LoadOptions& options = {});

/// Reads `file` (see load_state_dict_file) and loads it into `module`; errors name the file.
inline LoadReport load_into(torch::nn::Module& module, const std::filesystem::path& file, const LoadOptions& options = {}) {
  const auto state = load_state_dict_file(file);
  try {
    return load_into(module, state, options);
  } catch (const WeightsError& e) {
    throw WeightsError(file.string() + ": " + e.what());
  }
}

/// Replaces the convolution kernel `key`, [out, in, kh, kw], by its sum over the input channels,
/// [out, 1, kh, kw]: a grayscale image g then gives the response the RGB-trained kernel gives to
/// (g, g, g). (Normalize g with the per-channel statistics being equal, e.g. mean 0.5, std 0.5.)
/// Throws WeightsError if the key is absent or not a 4-D kernel.
inline void sum_input_channels(StateDict& state, std::string_view key) {
  for (auto& [name, tensor] : state)
    if (name == key) {
      if (tensor.dim() != 4)
        throw WeightsError("sum_input_channels: '" + name + "' is " + detail::shape_text(tensor) + ", not a conv kernel [out, in, kh, kw]");
      tensor = tensor.sum(1, /*keepdim=*/true);
      return;
    }
  throw WeightsError("sum_input_channels: the state dict has no '" + std::string(key) + "'");
}

}  // namespace ftmeta::nn

#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/nn/impl/weights.ipp>
#endif

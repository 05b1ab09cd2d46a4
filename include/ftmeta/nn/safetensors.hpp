// ftmeta/nn/safetensors.hpp: reading safetensors files (memory-mapped, zero-copy) and writing a
// module's state dict as safetensors under its Python key names.
#pragma once

#define FTMETA_NN_WEIGHTS_INTERNAL
#include <ftmeta/nn/detail/safetensors.hpp>
#undef FTMETA_NN_WEIGHTS_INTERNAL

#include <ftmeta/core/error.hpp>
#include <ftmeta/nn/state_dict.hpp>

#include <torch/torch.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ftmeta::nn {

namespace detail {

inline torch::Dtype to_torch_dtype(SafeDtype d) {
  switch (d) {
    case SafeDtype::F64: return torch::kFloat64;
    case SafeDtype::F32: return torch::kFloat32;
    case SafeDtype::F16: return torch::kFloat16;
    case SafeDtype::BF16: return torch::kBFloat16;
    case SafeDtype::I64: return torch::kInt64;
    case SafeDtype::I32: return torch::kInt32;
    case SafeDtype::I16: return torch::kInt16;
    case SafeDtype::I8: return torch::kInt8;
    case SafeDtype::U64: return torch::kUInt64;
    case SafeDtype::U32: return torch::kUInt32;
    case SafeDtype::U16: return torch::kUInt16;
    case SafeDtype::U8: return torch::kUInt8;
    case SafeDtype::BOOL: return torch::kBool;
    case SafeDtype::F8_E4M3: return torch::kFloat8_e4m3fn;
    case SafeDtype::F8_E5M2: return torch::kFloat8_e5m2;
    case SafeDtype::C64: return torch::kComplexFloat;
  }
  return torch::kFloat32;
}

// The safetensors name of a torch dtype, or empty for one safetensors cannot hold.
inline std::string_view safetensors_dtype_name(torch::Dtype t) {
  for (const auto& info : safe_dtypes)
    if (to_torch_dtype(info.dtype) == t) return info.name;
  return {};
}

// A private, copy-on-write mapping of a whole file: tensors viewing it may be written to without
// touching the file; it is unmapped when the last tensor using it goes.
struct FileMapping {
  void* addr = nullptr;
  std::size_t size = 0;
  FileMapping() = default;
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;
  ~FileMapping() {
    if (addr) ::munmap(addr, size);
  }
};

inline std::shared_ptr<FileMapping> map_file(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw WeightsError(file.string() + ": cannot be opened");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw WeightsError(file.string() + ": is not a regular file");
  }
  auto m = std::make_shared<FileMapping>();
  m->size = static_cast<std::size_t>(st.st_size);
  if (m->size > 0) {
    void* p = ::mmap(nullptr, m->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw WeightsError(file.string() + ": cannot be memory-mapped");
    }
    m->addr = p;
  }
  ::close(fd);
  return m;
}

inline bool looks_like_safetensors(const std::filesystem::path& file) {
  if (file.extension() == ".safetensors") return true;
  std::ifstream in(file, std::ios::binary);
  unsigned char head[9] = {};
  in.read(reinterpret_cast<char*>(head), sizeof head);
  return in.gcount() == 9 && head[8] == '{' && head[5] == 0 && head[6] == 0 && head[7] == 0;
}

inline void json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') (out += '\\') += c;
    else if (u < 0x20) (((out += "\\u00") += hex[u >> 4]) += hex[u & 15]);
    else out += c;
  }
  out += '"';
}

}  // namespace detail

/// What a safetensors file holds besides the tensors: its "__metadata__" strings.
struct SafetensorsMetadata : std::vector<std::pair<std::string, std::string>> {
  using std::vector<std::pair<std::string, std::string>>::vector;
};

/// Reads a safetensors file (https://github.com/huggingface/safetensors) as a StateDict in header
/// order. The file is memory-mapped (private, copy-on-write) and every tensor whose data is aligned
/// for its dtype views the mapping without a copy (safetensors writers align them all); the mapping
/// lives as long as any of its tensors. Dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U64 U32 U16 U8 BOOL
/// F8_E4M3 F8_E5M2 C64. The layout is checked before any tensor is made: header length, JSON,
/// dtypes, shapes (no overflow), byte ranges inside the file, matching the shape and tiling the
/// data section exactly; BOOL bytes must be 0 or 1. Any fault is a WeightsError naming the file.
///   auto sd = ftmeta::nn::load_safetensors("model.safetensors");
inline StateDict load_safetensors(const std::filesystem::path& file, SafetensorsMetadata* metadata = nullptr) {
  auto mapping = detail::map_file(file);
  const auto* bytes = static_cast<const unsigned char*>(mapping->addr);
  const auto header = detail::parse_safetensors(bytes, mapping->size, file.string());
  StateDict out;
  out.reserve(header.tensors.size());
  for (const auto& e : header.tensors) {
    const auto dtype = detail::to_torch_dtype(e.dtype);
    const auto options = torch::TensorOptions().dtype(dtype);
    auto* src = static_cast<unsigned char*>(mapping->addr) + header.data_start + e.begin;
    const std::size_t nbytes = e.end - e.begin;
    if (e.dtype == detail::SafeDtype::BOOL)
      for (std::size_t i = 0; i < nbytes; ++i)
        if (src[i] > 1)
          throw WeightsError(file.string() + ": BOOL tensor '" + e.name + "' holds byte " + std::to_string(src[i]) +
                             " (not 0 or 1) at element " + std::to_string(i));
    torch::Tensor t;
    if (nbytes == 0) {
      t = torch::empty(e.shape, options);
    } else if (reinterpret_cast<std::uintptr_t>(src) % detail::safe_dtype_info(e.dtype).size == 0) {
      t = torch::from_blob(src, e.shape, [keep = mapping](void*) {}, options);  // zero-copy
    } else {
      t = torch::empty(e.shape, options);
      std::memcpy(t.data_ptr(), src, nbytes);
    }
    out.emplace_back(e.name, std::move(t));
  }
  if (metadata) metadata->assign(header.metadata.begin(), header.metadata.end());
  return out;
}

/// Writes `state` as a safetensors file that Python's `safetensors.torch.load_file` reads: tensors
/// in the given order under their names, contiguous, little-endian, the header padded to 8 bytes.
/// Throws WeightsError for a duplicate name or a dtype safetensors lacks, FileError when the file
/// cannot be written.
inline void save_safetensors(const std::filesystem::path& file, const StateDict& state,
                             const SafetensorsMetadata& metadata = {}) {
  std::vector<torch::Tensor> data;
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (std::size_t i = 0; i < metadata.size(); ++i) {
      if (i) header += ',';
      detail::json_string(header, metadata[i].first);
      header += ':';
      detail::json_string(header, metadata[i].second);
    }
    header += "}";
  }
  std::unordered_set<std::string> names;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : state) {
    if (name == "__metadata__" || !names.insert(name).second)
      throw WeightsError("save_safetensors: " + file.string() + ": the name '" + name + "' is used twice or reserved");
    const auto dtype_name = detail::safetensors_dtype_name(tensor.scalar_type());
    if (dtype_name.empty())
      throw WeightsError("save_safetensors: " + file.string() + ": tensor '" + name + "' has dtype " +
                         std::string(c10::toString(tensor.scalar_type())) + ", which safetensors cannot hold");
    auto t = tensor.detach().to(torch::kCPU).contiguous();
    const std::uint64_t nbytes = static_cast<std::uint64_t>(t.numel()) * t.element_size();
    if (header.size() > 1) header += ',';
    detail::json_string(header, name);
    header += ":{\"dtype\":\"" + std::string(dtype_name) + "\",\"shape\":[";
    for (std::int64_t d = 0; d < t.dim(); ++d) {
      if (d) header += ',';
      header += std::to_string(t.size(d));
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + nbytes) + "]}";
    offset += nbytes;
    data.push_back(std::move(t));
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw FileError("save_safetensors: cannot write " + file.string());
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(header.size()) >> (8 * i));
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const auto& t : data) out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
  if (!out.flush()) throw FileError("save_safetensors: writing " + file.string() + " failed");
}

/// Writes a module's parameters and buffers (see state_dict_of) as safetensors: for a Classifier,
/// keys `backbone.<the backbone's Python keys>` and `head.<N>.<...>`, as the same model in Python.
///   save_safetensors("finetuned.safetensors", *net);
inline void save_safetensors(const std::filesystem::path& file, const torch::nn::Module& module,
                             const SafetensorsMetadata& metadata = {}) {
  save_safetensors(file, state_dict_of(module), metadata);
}

}  // namespace ftmeta::nn

// ftmeta/nn/detail/pickle_values.hpp: what the restricted unpickler builds: storage dtypes, storage and tensor references, objects, their heap.
// ftmeta:pure
#pragma once
#ifndef FTMETA_NN_WEIGHTS_INTERNAL
#error "ftmeta/nn/detail/pickle_values.hpp is internal; include <ftmeta/nn/weights.hpp>"
#endif

#include <ftmeta/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ftmeta::nn::detail {

// The element types of the storages torch.save writes, named as the pickle names them.
enum class StorageDtype : std::uint8_t {
  Float64, Float32, Float16, BFloat16, Int64, Int32, Int16, Int8, UInt8, Bool, Complex64, Complex128
};

struct StorageDtypeInfo {
  std::string_view pickle_name;  // the global's name in module `torch`
  StorageDtype dtype;
  std::size_t element_size;
};

inline constexpr StorageDtypeInfo storage_dtypes[] = {
    {"DoubleStorage", StorageDtype::Float64, 8},  {"FloatStorage", StorageDtype::Float32, 4},
    {"HalfStorage", StorageDtype::Float16, 2},    {"BFloat16Storage", StorageDtype::BFloat16, 2},
    {"LongStorage", StorageDtype::Int64, 8},      {"IntStorage", StorageDtype::Int32, 4},
    {"ShortStorage", StorageDtype::Int16, 2},     {"CharStorage", StorageDtype::Int8, 1},
    {"ByteStorage", StorageDtype::UInt8, 1},      {"BoolStorage", StorageDtype::Bool, 1},
    {"ComplexFloatStorage", StorageDtype::Complex64, 8},
    {"ComplexDoubleStorage", StorageDtype::Complex128, 16},
};

inline const StorageDtypeInfo* find_storage_dtype(std::string_view pickle_name) {
  for (const auto& info : storage_dtypes)
    if (info.pickle_name == pickle_name) return &info;
  return nullptr;
}
inline const StorageDtypeInfo& storage_dtype_info(StorageDtype d) {
  for (const auto& info : storage_dtypes)
    if (info.dtype == d) return info;
  return storage_dtypes[0];  // unreachable: every enumerator is listed
}

// The callables a state-dict pickle may name; anything else is refused at the GLOBAL opcode.
enum class Callable : std::uint8_t {
  OrderedDict, RebuildTensor, RebuildTensorV2, RebuildParameter, RebuildParameterWithState, StorageType
};

enum class Kind : std::uint8_t { None, Bool, Int, BigInt, Float, Str, Bytes, Tuple, List, Dict, Global, Storage, Tensor };

inline constexpr std::string_view kind_name(Kind k) {
  constexpr std::string_view names[] = {"None", "bool", "int", "int", "float", "str", "bytes", "tuple",
                                        "list", "dict", "global", "storage", "tensor"};
  return names[static_cast<int>(k)];
}

// One storage as a persistent id describes it. For a legacy storage view, `begin`/`length` select a
// slice of the root storage `key`; otherwise they cover it all.
struct StorageRef {
  std::string key;
  StorageDtype dtype = StorageDtype::Float32;
  std::int64_t numel = 0;  // of the root storage, in elements
  std::int64_t begin = 0;
  std::int64_t length = 0;
};

// A rebuilt tensor: a checked strided view of a storage (the data is read later).
struct TensorRef {
  const StorageRef* storage = nullptr;
  std::int64_t offset = 0;  // in elements, from the start of the root storage
  std::vector<std::int64_t> sizes, strides;
};

// A Python object. All objects live in a Heap and refer to each other by plain pointers, so that
// neither cycles nor deep nesting (both possible in a hostile file) can hurt when they are freed.
struct Object {
  Kind kind = Kind::None;
  std::int64_t integer = 0;  // Bool, Int
  double real = 0;           // Float
  std::string text;          // Str, Bytes, BigInt (little-endian two's complement), Global ("module.name")
  Callable callable = Callable::OrderedDict;           // Global
  const StorageDtypeInfo* storage_type = nullptr;      // Global naming a storage type
  std::vector<Object*> items;                          // Tuple, List
  std::vector<std::pair<Object*, Object*>> entries;    // Dict, insertion order
  std::unordered_map<std::string, std::size_t> index;  // Dict: string key -> entry
  const StorageRef* storage = nullptr;                 // Storage
  TensorRef tensor;                                    // Tensor
};

class Heap {
 public:
  Object* make(Kind kind) {
    objects_.push_back(std::make_unique<Object>());
    objects_.back()->kind = kind;
    return objects_.back().get();
  }
  // Storages by root key; a key seen again must describe the same storage.
  std::vector<std::unique_ptr<StorageRef>> storages;

 private:
  std::vector<std::unique_ptr<Object>> objects_;
};

}  // namespace ftmeta::nn::detail

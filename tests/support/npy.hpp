// tests/support/npy.hpp: reads the .npy files that the Python reference generators write.
// Test support only (not part of the library): little-endian float32/float64/uint8/int64, C order.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ftmeta::test {

/// The folder the python_refs fixture wrote: $FTMETA_REFS_DIR, else the configured default.
inline std::filesystem::path refs_dir() {
  if (const char* env = std::getenv("FTMETA_REFS_DIR"); env && *env) return env;
#ifdef FTMETA_REFS_DIR
  return FTMETA_REFS_DIR;
#else
  throw std::runtime_error("FTMETA_REFS_DIR is not set");
#endif
}

/// Loads a .npy array as a tensor of the matching dtype.
inline torch::Tensor load_npy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open reference " + path.string() + " (did python_refs run?)");
  char magic[6];
  in.read(magic, 6);
  if (std::string(magic, 6) != "\x93NUMPY") throw std::runtime_error(path.string() + ": not a .npy file");
  unsigned char version[2];
  in.read(reinterpret_cast<char*>(version), 2);
  std::uint32_t header_len = 0;
  if (version[0] == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
  } else {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (std::uint32_t(b[3]) << 24);
  }
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  auto field = [&](const std::string& key) {
    auto k = header.find("'" + key + "'");
    if (k == std::string::npos) throw std::runtime_error(path.string() + ": no " + key);
    return header.substr(header.find(':', k) + 1);
  };
  const std::string descr = field("descr");
  if (field("fortran_order").find("False") == std::string::npos)
    throw std::runtime_error(path.string() + ": Fortran order not supported");
  const std::string shape_text = field("shape");
  std::vector<std::int64_t> shape;
  for (std::size_t i = shape_text.find('(') + 1; shape_text[i] != ')';) {
    if (std::isdigit(static_cast<unsigned char>(shape_text[i]))) {
      std::size_t used = 0;
      shape.push_back(std::stoll(shape_text.substr(i), &used));
      i += used;
    } else {
      ++i;
    }
  }
  torch::Dtype dtype;
  if (descr.find("<f4") != std::string::npos) dtype = torch::kFloat32;
  else if (descr.find("<f8") != std::string::npos) dtype = torch::kFloat64;
  else if (descr.find("|u1") != std::string::npos) dtype = torch::kUInt8;
  else if (descr.find("<i8") != std::string::npos) dtype = torch::kInt64;
  else throw std::runtime_error(path.string() + ": unsupported dtype " + descr);
  auto t = torch::empty(shape, dtype);
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
  if (!in) throw std::runtime_error(path.string() + ": truncated");
  return t;
}

}  // namespace ftmeta::test

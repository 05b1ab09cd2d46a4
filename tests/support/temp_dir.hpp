// tests/support/temp_dir.hpp: TempDir, a fresh folder under the system's temp dir, removed at the end of a test.
// Test support only (not part of the library).
#pragma once

#include <ftmeta/data/detail/files.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace ftmeta::test {

/// A new folder "ftmeta_<tag>_<pid>_<ticks>" under the temp dir; removed (with what it holds) on destruction.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag = "test") {
    path = std::filesystem::temp_directory_path() /
           ("ftmeta_" + tag + "_" + std::to_string(::getpid()) + "_" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    std::filesystem::create_directories(path);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    ftmeta::data::detail::remove_tree(path, ec);  // not fs::remove_all: see there
  }
  /// Creates path/rel (and its folders) holding one byte.
  void touch(const std::filesystem::path& rel) const {
    std::filesystem::create_directories((path / rel).parent_path());
    std::ofstream(path / rel) << "x";
  }
};

}  // namespace ftmeta::test

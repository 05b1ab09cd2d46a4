// ftmeta/data/detail/files.hpp: small file helpers of the data area (whole-file text, atomic writes, tree removal).
// ftmeta:pure
// Internal: include <ftmeta/data.hpp> or one of the public data headers instead.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/util/atomic_file.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

namespace ftmeta::data::detail {

/// The whole file as a string; empty if it cannot be read.
inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Writes `text` to p atomically (util::write_file_atomically: a temporary file, fsync, rename),
/// so readers see the old or the new file whole; on a full disk p is left as it was and FileError
/// says "cannot write P: REASON".
inline void write_text_atomically(const std::filesystem::path& p, const std::string& text) {
  util::write_file_atomically(p, text);
}

/// std::filesystem::remove_all, written out. The torch wheels export their own statically linked
/// copy of libstdc++'s std::filesystem::remove_all (pytorch/pytorch#133437); in a program linked
/// against libtorch that copy wins symbol resolution and crashes. Symbolic links are removed, not
/// followed. Nothing happens when p does not exist.
inline void remove_tree(const std::filesystem::path& p, std::error_code& ec) {
  namespace fs = std::filesystem;
  ec.clear();
  const auto st = fs::symlink_status(p, ec);
  if (ec || st.type() == fs::file_type::not_found) {
    if (st.type() == fs::file_type::not_found) ec.clear();
    return;
  }
  if (st.type() == fs::file_type::directory) {
    fs::directory_iterator it(p, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      remove_tree(it->path(), ec);
      if (ec) return;
    }
    if (ec) return;
  }
  fs::remove(p, ec);
}

/// remove_tree, throwing FileError naming the path.
inline void remove_tree(const std::filesystem::path& p) {
  std::error_code ec;
  remove_tree(p, ec);
  if (ec) throw FileError("cannot remove '" + p.string() + "': " + ec.message());
}

}  // namespace ftmeta::data::detail

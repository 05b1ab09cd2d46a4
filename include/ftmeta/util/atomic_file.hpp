// ftmeta/util/atomic_file.hpp: files written whole or not at all (temporary file, fsync, rename) and appends that fail cleanly (cut back to the last whole record), with one-line errors naming the file.
// ftmeta:pure
#pragma once

#include <ftmeta/core/error.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace ftmeta::util {

namespace detail {
inline std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

// Writes all of `bytes` to fd; false with errno set on a failure (a full disk: ENOSPC; a
// file-size limit with SIGXFSZ ignored: EFBIG).
inline bool write_all(int fd, std::string_view bytes) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) {
      errno = ENOSPC;
      return false;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

// The temporary file a write_file_atomically has open, for a signal handler that exits at once
// (StopOnSignal's second signal) to remove with unlink_pending_temp() (async-signal-safe).
struct PendingTemp {
  std::atomic<bool> set{false};
  char path[4096] = {};
};
inline PendingTemp& pending_temp() {
  static PendingTemp p;
  return p;
}
inline void unlink_pending_temp() noexcept {
  auto& p = pending_temp();
  if (p.set.load()) ::unlink(p.path);
}
struct PendingTempScope {
  explicit PendingTempScope(const std::string& path) {
    if (path.size() >= sizeof pending_temp().path) return;
    pending_temp().set.store(false);
    std::memcpy(pending_temp().path, path.c_str(), path.size() + 1);
    pending_temp().set.store(true);
  }
  ~PendingTempScope() { pending_temp().set.store(false); }
};

// fsync of the folder holding `p`, so a rename inside it survives a crash.
inline void fsync_parent(const std::filesystem::path& p) {
  const auto dir = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}
}  // namespace detail

/// Where the predecessor of `path` is kept by write_file_atomically(..., keep_previous = true):
/// DIR/STEM.prev.EXT (last.pt -> last.prev.pt).
inline std::filesystem::path previous_version_path(const std::filesystem::path& path) {
  auto p = path;
  p.replace_filename(path.stem().string() + ".prev" + path.extension().string());
  return p;
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same folder (PATH.tmp.PID),
/// flushed to disk (fsync), then renamed over `path`. Readers, and a crash, see the old file or
/// the new one whole, never part of one. On any failure (a full disk, a file-size limit, a
/// read-only folder) the temporary file is removed, `path` is left as it was, and FileError says
/// "cannot write PATH: REASON" on one line. With `keep_previous`, the file `path` held before is
/// kept as previous_version_path(path) (hard-linked, else renamed, just before the new one lands).
inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes, bool keep_previous = false) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);  // a failure shows up as open's
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  auto fail = [&](const std::string& why) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw FileError("cannot write " + path.string() + ": " + why);
  };
  const detail::PendingTempScope pending(tmp.string());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(detail::errno_text(errno));
  if (!detail::write_all(fd, bytes) || ::fsync(fd) != 0) {
    const int e = errno;
    ::close(fd);
    fail(detail::errno_text(e));
  }
  if (::close(fd) != 0) fail(detail::errno_text(errno));
  if (keep_previous && fs::exists(path, ec)) {
    const auto prev = previous_version_path(path);
    fs::remove(prev, ec);
    if (::link(path.c_str(), prev.c_str()) != 0) fs::rename(path, prev, ec);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail(detail::errno_text(errno));
  detail::fsync_parent(path);
}

/// A file grown one whole record at a time (metrics lines, TensorBoard events): each append()
/// writes its record completely or, when the write fails (a full disk, a file-size limit), cuts
/// the file back to where it was and throws FileError "cannot write PATH: REASON": a reader never
/// sees half a record. Unbuffered: a record is in the file when append() returns.
class AppendFile {
 public:
  AppendFile() = default;
  /// Opens `path` for appending (created if missing); with `truncate`, emptied first.
  explicit AppendFile(const std::filesystem::path& path, bool truncate = false) { open(path, truncate); }
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  ~AppendFile() { close(); }

  void open(const std::filesystem::path& path, bool truncate = false) {
    close();
    path_ = path;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0644);
    if (fd_ < 0) throw FileError("cannot write " + path.string() + ": " + detail::errno_text(errno));
  }
  bool is_open() const { return fd_ >= 0; }
  const std::filesystem::path& path() const { return path_; }

  /// Appends `record` whole, or leaves the file as it was and throws.
  void append(std::string_view record) {
    if (fd_ < 0) throw FileError("cannot write " + path_.string() + ": not open");
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw FileError("cannot write " + path_.string() + ": " + detail::errno_text(errno));
    if (!detail::write_all(fd_, record)) {
      const int e = errno;
      if (::ftruncate(fd_, st.st_size) != 0) {  // cut the partial record off again
      }
      throw FileError("cannot write " + path_.string() + ": " + detail::errno_text(e));
    }
  }
  /// Flushes what was appended to disk.
  void sync() {
    if (fd_ >= 0) ::fsync(fd_);
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace ftmeta::util

// ftmeta/util/run_lock.hpp: RunLock, one run per output folder: a lock file holding the owner's PID, refused while its owner lives, taken over when it is dead.
// ftmeta:pure
#pragma once

#include <ftmeta/core/error.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

namespace ftmeta::util {

/// Holds `dir`/ftmeta.lock for the lifetime of the object, so two runs never write into one
/// output folder. The file holds the owner's PID; the lock itself is an flock(2) on it, which the
/// kernel drops when the owner exits or is killed, so the lock of a dead run (a SIGKILL, a crash)
/// is taken over and stale_pid() names it. Where flock is unsupported, a PID that is no longer
/// running counts as stale. A live owner: FileError naming the folder, the lock file and its PID.
///
///   ftmeta::util::RunLock lock(options.out_dir);   // before anything is written there
class RunLock {
 public:
  explicit RunLock(const std::filesystem::path& dir) : path_(dir / "ftmeta.lock") {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw FileError("ftmeta: cannot create the lock file " + path_.string() + ": " + std::strerror(errno));
    const long previous = read_pid();
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int e = errno;
      const bool held = e == EWOULDBLOCK || e == EAGAIN || e == EINTR;
      if (held || alive(previous)) {
        ::close(fd_);
        fd_ = -1;
        throw FileError("ftmeta: the output folder " + dir.string() + " is in use by another run (PID " +
                        (previous > 0 ? std::to_string(previous) : std::string("unknown")) + ", lock file " + path_.string() +
                        "); wait for it to end or choose another output folder");
      }
      // flock unsupported here (some network file systems): the PID decides, and it is dead
    }
    if (previous > 0 && previous != static_cast<long>(::getpid())) stale_ = previous;
    const std::string text = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
      const int e = errno;
      ::close(fd_);
      fd_ = -1;
      throw FileError("ftmeta: cannot write the lock file " + path_.string() + ": " + std::strerror(e));
    }
  }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  /// Releases the lock; the file stays, emptied (removing it could let two later runs lock two
  /// different files).
  ~RunLock() {
    if (fd_ < 0) return;
    if (::ftruncate(fd_, 0) != 0) {
    }
    ::close(fd_);  // drops the flock
  }

  const std::filesystem::path& path() const { return path_; }
  /// The PID of a run that had left the lock behind (killed or crashed) and whose lock this one
  /// took over; nothing when the folder was free.
  std::optional<long> stale_pid() const { return stale_; }

 private:
  long read_pid() const {
    char buf[32] = {};
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    char* end = nullptr;
    const long pid = std::strtol(buf, &end, 10);
    return pid > 0 ? pid : 0;
  }
  static bool alive(long pid) {
    if (pid <= 0 || pid == static_cast<long>(::getpid())) return false;
    return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
  }

  std::filesystem::path path_;
  int fd_ = -1;
  std::optional<long> stale_;
};

}  // namespace ftmeta::util

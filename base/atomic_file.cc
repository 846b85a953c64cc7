#include "base/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "base/fd.h"

namespace nld {
namespace {

std::string dirOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

Result<void> writeAll(int fd, std::string_view content, const std::string& what) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return failSys(errno, "write '" + what + "'");
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<void> notOurs(const std::string& path, const struct stat& st) {
  if (S_ISLNK(st.st_mode)) {
    return fail(Errc::kInvalidArgument, "'" + path + "' is a symbolic link; refusing to follow it");
  }
  return fail(Errc::kInvalidArgument, "'" + path + "' is not a regular file; refusing to use it");
}

}  // namespace

Result<Fd> openOwnFile(const std::string& path, int flags, mode_t mode) {
  // O_NONBLOCK: opening a planted FIFO for writing must not wait for a reader.
  Fd fd(::open(path.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode));
  if (!fd) {
    int err = errno;
    struct stat st {};
    // ELOOP for a link, ENXIO for a FIFO without a reader: name what is there instead.
    if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      return fail(notOurs(path, st).error());
    }
    return failSys(err, "open '" + path + "'");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return failSys(errno, "stat '" + path + "'");
  }
  if (!S_ISREG(st.st_mode)) {
    return fail(notOurs(path, st).error());
  }
  if ((flags & O_NONBLOCK) == 0) {
    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  }
  if (st.st_uid != ::geteuid() || st.st_gid != ::getegid()) {
    if (::fchown(fd.get(), ::geteuid(), ::getegid()) != 0) {
      return fail(Errc::kInvalidArgument,
                  "'" + path + "' belongs to uid " + std::to_string(st.st_uid) +
                      ", not to us (uid " + std::to_string(::geteuid()) + "); refusing to use it");
    }
  }
  if ((st.st_mode & 07777) != mode && ::fchmod(fd.get(), mode) != 0) {
    return failSys(errno, "chmod '" + path + "'");
  }
  return fd;
}

Result<std::string> readOwnFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  struct stat st {};
  if (!fd) {
    int err = errno;
    // ELOOP for a link, ENXIO for a FIFO without a reader: name what is there instead.
    if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      return fail(notOurs(path, st).error());
    }
    return failSys(err, "read '" + path + "'");
  }
  if (::fstat(fd.get(), &st) != 0) {
    return failSys(errno, "stat '" + path + "'");
  }
  if (!S_ISREG(st.st_mode)) {
    return fail(notOurs(path, st).error());
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return failSys(errno, "read '" + path + "'");
    }
    if (n == 0) {
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (size_t{1} << 20)) {
      return fail(Errc::kInvalidArgument, "'" + path + "' is larger than 1 MiB");
    }
  }
}

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return failSys(errno == 0 ? ENOENT : errno, "read '" + path + "'");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    return failSys(EIO, "read '" + path + "'");
  }
  return ss.str();
}

Result<void> writeFileAtomic(const std::string& path, std::string_view content,
                             const AtomicWriteOptions& options) {
  struct stat st {};
  bool exists = false;
  if (options.ours) {
    // lstat: a planted symbolic link is refused, not followed (its target keeps its bytes) and
    // not silently replaced either.
    exists = ::lstat(path.c_str(), &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) {
      return notOurs(path, st);
    }
  } else {
    exists = ::stat(path.c_str(), &st) == 0;
  }
  if (exists && !S_ISREG(st.st_mode)) {
    return fail(Errc::kInvalidArgument, "'" + path + "' is not a regular file");
  }
  if (exists && options.backup_path) {
    auto old = readFile(path);
    if (!old) {
      return fail(std::move(old.error()));
    }
    AtomicWriteOptions backup_opts{.mode = static_cast<mode_t>(st.st_mode & 07777),
                                   .backup_path = std::nullopt};
    if (auto r = writeFileAtomic(*options.backup_path, *old, backup_opts); !r) {
      return fail(std::move(r.error()).withContext("back up '" + path + "'"));
    }
  }

  std::string tmpl = path + ".tmp.XXXXXX";
  int raw = ::mkostemp(tmpl.data(), O_CLOEXEC);  // O_CREAT | O_EXCL, mode 0600, a fresh name
  if (raw < 0) {
    return failSys(errno, "create temporary file for '" + path + "'");
  }
  Fd fd(raw);
  bool renamed = false;
  struct Unlink {
    const std::string& p;
    bool& done;
    ~Unlink() {
      if (!done) {
        ::unlink(p.c_str());
      }
    }
  } cleanup{tmpl, renamed};

  const bool keep = exists && !options.ours;
  mode_t mode = keep ? static_cast<mode_t>(st.st_mode & 07777) : options.mode;
  if (::fchmod(fd.get(), mode) != 0) {
    return failSys(errno, "chmod '" + tmpl + "'");
  }
  if (keep && ::getuid() == 0) {
    (void)::fchown(fd.get(), st.st_uid, st.st_gid);  // best effort: keep the owner
  }
  if (auto r = writeAll(fd.get(), content, tmpl); !r) {
    return r;
  }
  if (::fsync(fd.get()) != 0) {
    return failSys(errno, "fsync '" + tmpl + "'");
  }
  fd.reset();
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    return failSys(errno, "rename '" + tmpl + "' to '" + path + "'");
  }
  renamed = true;
  Fd dir(::open(dirOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir) {
    (void)::fsync(dir.get());
  }
  return {};
}

}  // namespace nld

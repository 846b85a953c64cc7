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

}  // namespace

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
  struct stat st{};
  bool exists = ::stat(path.c_str(), &st) == 0;
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
  int raw = ::mkstemp(tmpl.data());
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

  mode_t mode = exists ? static_cast<mode_t>(st.st_mode & 07777) : options.mode;
  if (::fchmod(fd.get(), mode) != 0) {
    return failSys(errno, "chmod '" + tmpl + "'");
  }
  if (exists && ::getuid() == 0) {
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

#include "cli/run/watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nld::cli {
namespace {

constexpr uint32_t kMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE |
                           IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

}  // namespace

Result<std::unique_ptr<DirWatcher>> DirWatcher::create() {
  Fd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) {
    return failSys(errno, "inotify_init1");
  }
  return std::unique_ptr<DirWatcher>(new DirWatcher(std::move(fd)));
}

Result<void> DirWatcher::add(const std::string& dir) {
  for (const Entry& e : entries_) {
    if (e.dir == dir) {
      return {};
    }
  }
  Entry entry{dir, ::inotify_add_watch(fd_.get(), dir.c_str(), kMask)};
  if (entry.wd < 0 && errno != ENOENT && errno != ENOTDIR) {
    return failSys(errno, "watch directory '" + dir + "'");
  }
  entries_.push_back(entry);
  return {};
}

void DirWatcher::ignoreName(const std::string& name) { ignored_.push_back(name); }

bool DirWatcher::rewatch() {
  bool added = false;
  for (Entry& e : entries_) {
    if (e.wd >= 0) {
      continue;
    }
    e.wd = ::inotify_add_watch(fd_.get(), e.dir.c_str(), kMask);
    added = added || e.wd >= 0;
  }
  return added;
}

bool DirWatcher::drain() {
  bool relevant = false;
  alignas(inotify_event) char buf[8192];
  while (true) {
    ssize_t n = ::read(fd_.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if ((ev->mask & IN_Q_OVERFLOW) != 0) {
        relevant = true;
        continue;
      }
      if ((ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
        for (Entry& e : entries_) {
          if (e.wd == ev->wd) {
            if ((ev->mask & IN_IGNORED) == 0) {
              ::inotify_rm_watch(fd_.get(), e.wd);
            }
            e.wd = -1;
          }
        }
        relevant = true;
        continue;
      }
      std::string name = ev->len > 0 ? std::string(ev->name) : std::string();
      bool ignored = false;
      for (const std::string& ig : ignored_) {
        ignored = ignored || name == ig || name.rfind(ig + ".tmp.", 0) == 0;
      }
      relevant = relevant || !ignored;
    }
  }
  return relevant;
}

std::vector<std::pair<std::string, bool>> DirWatcher::watched() const {
  std::vector<std::pair<std::string, bool>> out;
  for (const Entry& e : entries_) {
    out.emplace_back(e.dir, e.wd >= 0);
  }
  return out;
}

}  // namespace nld::cli

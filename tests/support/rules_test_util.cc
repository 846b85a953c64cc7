#include "tests/support/rules_test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/netns.h"

namespace nld::test {

LockHolder::LockHolder(const std::string& path, std::chrono::milliseconds hold) {
  int ready[2];
  if (::pipe(ready) != 0) {
    return;
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) {
      ::_exit(1);
    }
    char c = 'x';
    (void)!::write(ready[1], &c, 1);
    if (hold.count() < 0) {
      ::pause();  // until killed
    } else {
      std::this_thread::sleep_for(hold);  // the scenario under test: a holder that takes `hold`
    }
    ::_exit(0);
  }
  ::close(ready[1]);
  char c;
  (void)!::read(ready[0], &c, 1);
  ::close(ready[0]);
}

LockHolder::~LockHolder() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

// Drops a trailing " [123:456]" (chain counters).
std::string stripCounters(const std::string& line) {
  size_t open = line.rfind(" [");
  if (open == std::string::npos || line.back() != ']') {
    return line;
  }
  std::string inner = line.substr(open + 2, line.size() - open - 3);
  size_t colon = inner.find(':');
  bool counters = colon != std::string::npos && colon > 0 && colon + 1 < inner.size() &&
                  inner.find_first_not_of("0123456789:") == std::string::npos &&
                  inner.find(':', colon + 1) == std::string::npos;
  return counters ? line.substr(0, open) : line;
}

std::string normaliseSave(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    out += stripCounters(line);
    out += '\n';
  }
  return out;
}

std::string saveTable(const std::string& bin, const std::string& table) {
  return normaliseSave(run(bin + "-save -t " + table).out);
}

std::string saveAll(const std::string& bin) { return normaliseSave(run(bin + "-save").out); }

std::string golden(const std::string& name) {
  std::ifstream in(sourcePath("tests/golden/" + name));
  std::stringstream ss;
  ss << in.rdbuf();
  return normaliseSave(ss.str());
}

}  // namespace nld::test

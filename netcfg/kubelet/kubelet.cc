#include "netcfg/kubelet/kubelet.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <exception>
#include <optional>

#include "base/atomic_file.h"

namespace nld::netcfg {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr std::string_view kArgsFlag = "--cluster-dns";

bool isPlainEnd(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ']' || c == '}' ||
         c == '#';
}

// Finds the exact characters of a scalar whose node mark is at `pos`. yaml-cpp marks point at
// the opening quote of a quoted scalar and at the first character of a plain one.
std::optional<DnsValueSpan> locateScalar(std::string_view text, size_t pos,
                                         const std::string& value) {
  if (pos >= text.size() || value.empty()) {
    return std::nullopt;
  }
  char c = text[pos];
  if (c == '"' || c == '\'') {
    size_t start = pos + 1;
    if (text.substr(start, value.size()) != value || start + value.size() >= text.size() ||
        text[start + value.size()] != c) {
      return std::nullopt;
    }
    return DnsValueSpan{value, start, value.size()};
  }
  if (text.substr(pos, value.size()) != value) {
    return std::nullopt;
  }
  size_t end = pos + value.size();
  if (end < text.size() && !isPlainEnd(text[end])) {
    return std::nullopt;
  }
  return DnsValueSpan{value, pos, value.size()};
}

bool isSpace(char c) { return c == ' ' || c == '\t'; }

std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      lines.push_back(text);
      break;
    }
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::string_view stripCr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  return line;
}

}  // namespace

std::string_view toString(KubeletFileKind kind) noexcept {
  return kind == KubeletFileKind::kConfigYaml ? "kubelet config" : "kubelet environment file";
}

Result<std::vector<DnsValueSpan>> findClusterDnsYaml(std::string_view text) {
  size_t base = text.substr(0, kUtf8Bom.size()) == kUtf8Bom ? kUtf8Bom.size() : 0;
  std::vector<DnsValueSpan> spans;
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsDefined() || root.IsNull()) {
      return spans;
    }
    if (!root.IsMap()) {
      return fail(Errc::kParse, "not a KubeletConfiguration: the top level is not a YAML mapping");
    }
    YAML::Node list;
    int key_pos = -1;
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == "clusterDNS") {
        list = it->second;
        key_pos = it->first.Mark().pos;
      }
    }
    if (!list.IsDefined() || list.IsNull()) {
      return spans;
    }
    // An alias's nodes carry the marks of its anchor, which comes before the key: editing there
    // would change another key too.
    if (list.Mark().pos < key_pos) {
      return fail(Errc::kParse, "line " + std::to_string(list.Mark().line + 1) +
                                    ": clusterDNS is an alias; cannot edit it in place");
    }
    if (!list.IsSequence()) {
      return fail(Errc::kParse,
                  "line " + std::to_string(list.Mark().line + 1) + ": clusterDNS is not a list");
    }
    size_t index = 0;
    for (const YAML::Node& item : list) {
      const YAML::Mark mark = item.Mark();
      std::string where =
          "line " + std::to_string(mark.line + 1) + ": clusterDNS entry " + std::to_string(index);
      if (!item.IsScalar()) {
        return fail(Errc::kParse, where + " is not a scalar");
      }
      if (mark.pos < 0 || mark.pos < key_pos) {
        return fail(Errc::kParse, where + " has no position");
      }
      auto span = locateScalar(text, base + static_cast<size_t>(mark.pos), item.Scalar());
      if (!span) {
        return fail(Errc::kParse, where + " ('" + item.Scalar() +
                                      "') cannot be edited in place (alias, tag, escapes or a "
                                      "multi-line value)");
      }
      spans.push_back(std::move(*span));
      ++index;
    }
  } catch (const YAML::Exception& e) {
    return fail(Errc::kParse, "line " + std::to_string(e.mark.line + 1) + ", column " +
                                  std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const std::exception& e) {
    return fail(Errc::kParse, std::string("YAML: ") + e.what());
  }
  return spans;
}

std::vector<DnsValueSpan> findClusterDnsArgs(std::string_view text) {
  std::vector<DnsValueSpan> spans;
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) {
      line_end = text.size();
    }
    std::string_view line = text.substr(line_start, line_end - line_start);
    size_t first = line.find_first_not_of(" \t");
    bool comment = first != std::string_view::npos && line[first] == '#';
    size_t at = 0;
    while (!comment && (at = line.find(kArgsFlag, at)) != std::string_view::npos) {
      size_t after = at + kArgsFlag.size();
      bool starts_token = at == 0 || isSpace(line[at - 1]) || line[at - 1] == '"' ||
                          line[at - 1] == '\'' || line[at - 1] == '=';
      if (!starts_token || after >= line.size() || (line[after] != '=' && !isSpace(line[after]))) {
        at = after;
        continue;
      }
      size_t v = after + 1;
      while (line[after] != '=' && v < line.size() && isSpace(line[v])) {
        ++v;
      }
      size_t v_end = v;
      while (v_end < line.size() && !isSpace(line[v_end]) && line[v_end] != '"' &&
             line[v_end] != '\'' && line[v_end] != '\r' && line[v_end] != ';') {
        ++v_end;
      }
      size_t item = v;
      while (item < v_end) {
        size_t comma = line.find(',', item);
        size_t item_end = comma == std::string_view::npos || comma > v_end ? v_end : comma;
        if (item_end > item) {
          spans.push_back({std::string(line.substr(item, item_end - item)), line_start + item,
                           item_end - item});
        }
        item = item_end + 1;
      }
      at = v_end;
    }
    line_start = line_end + 1;
  }
  return spans;
}

Result<std::vector<DnsValueSpan>> findClusterDns(std::string_view text, KubeletFileKind kind) {
  if (kind == KubeletFileKind::kExtraArgs) {
    return findClusterDnsArgs(text);
  }
  return findClusterDnsYaml(text);
}

Result<std::string> replaceClusterDns(std::string_view text, KubeletFileKind kind,
                                      const std::vector<std::string>& values) {
  auto spans = findClusterDns(text, kind);
  if (!spans) {
    return fail(std::move(spans.error()));
  }
  if (spans->size() != values.size()) {
    return fail(Errc::kInvalidArgument,
                "the " + std::string(toString(kind)) + " has " + std::to_string(spans->size()) +
                    " cluster DNS value(s), " + std::to_string(values.size()) + " given");
  }
  std::vector<size_t> order(spans->size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return (*spans)[a].offset < (*spans)[b].offset; });
  std::string out;
  out.reserve(text.size() + 64);
  size_t copied = 0;
  for (size_t i : order) {
    const DnsValueSpan& s = (*spans)[i];
    if (s.offset < copied) {
      return fail(Errc::kParse, "cluster DNS values overlap in the " + std::string(toString(kind)) +
                                    " (an alias?)");
    }
    const std::string& v = values[i];
    if (v.empty() || v.find_first_of(" \t\r\n\"',#[]{}") != std::string::npos) {
      return fail(Errc::kInvalidArgument, "invalid cluster DNS value '" + v + "'");
    }
    out.append(text.substr(copied, s.offset - copied));
    out.append(v);
    copied = s.offset + s.length;
  }
  out.append(text.substr(copied));
  return out;
}

std::vector<std::string> pointClusterDnsAt(const std::vector<std::string>& current,
                                           const std::vector<IpAddress>& local_ips) {
  std::vector<std::string> out;
  out.reserve(current.size());
  for (const std::string& value : current) {
    auto ip = IpAddress::parse(value);
    std::string replacement = value;
    if (ip) {
      for (const IpAddress& local : local_ips) {
        if (local.family() == ip->family()) {
          replacement = local.toString();
          break;
        }
      }
    }
    out.push_back(std::move(replacement));
  }
  return out;
}

Result<KubeletEdit> planKubeletEdit(const std::string& path, KubeletFileKind kind,
                                    const std::vector<std::string>& values) {
  auto text = readFile(path);
  if (!text) {
    return fail(std::move(text.error()));
  }
  auto spans = findClusterDns(*text, kind);
  if (!spans) {
    return fail(std::move(spans.error()).withContext("'" + path + "'"));
  }
  auto replaced = replaceClusterDns(*text, kind, values);
  if (!replaced) {
    return fail(std::move(replaced.error()).withContext("'" + path + "'"));
  }
  KubeletEdit edit;
  edit.path = path;
  edit.kind = kind;
  for (const auto& s : *spans) {
    edit.before.push_back(s.value);
  }
  edit.after = values;
  edit.old_text = std::move(*text);
  edit.new_text = std::move(*replaced);
  return edit;
}

std::string kubeletDiffText(const KubeletEdit& edit) {
  if (!edit.changed()) {
    return "";
  }
  auto a = splitLines(edit.old_text);
  auto b = splitLines(edit.new_text);
  std::string out = "--- " + edit.path + "\n+++ " + edit.path + "\n";
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    std::string_view la = i < a.size() ? stripCr(a[i]) : std::string_view();
    std::string_view lb = i < b.size() ? stripCr(b[i]) : std::string_view();
    if (la == lb) {
      continue;
    }
    out += "@@ line " + std::to_string(i + 1) + " @@\n";
    out += "-" + std::string(la) + "\n+" + std::string(lb) + "\n";
  }
  return out;
}

Result<void> applyKubeletEdit(const KubeletEdit& edit, const std::string& backup_path) {
  if (!edit.changed()) {
    return {};
  }
  auto now = readFile(edit.path);
  if (!now) {
    return fail(std::move(now.error()));
  }
  if (*now != edit.old_text) {
    return fail(Errc::kBusy, "'" + edit.path + "' changed while it was being edited; not written");
  }
  AtomicWriteOptions options;
  if (!backup_path.empty()) {
    options.backup_path = backup_path;
  }
  if (auto r = writeFileAtomic(edit.path, edit.new_text, options); !r) {
    return fail(std::move(r.error()));
  }
  return {};
}

Result<std::vector<std::string>> readClusterDns(const std::string& path, KubeletFileKind kind) {
  auto text = readFile(path);
  if (!text) {
    return fail(std::move(text.error()));
  }
  auto spans = findClusterDns(*text, kind);
  if (!spans) {
    return fail(std::move(spans.error()).withContext("'" + path + "'"));
  }
  std::vector<std::string> values;
  for (auto& s : *spans) {
    values.push_back(std::move(s.value));
  }
  return values;
}

}  // namespace nld::netcfg

// See watch_dir.h.
#include "adapters/common/watch_dir.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace alertbus::adapter {

namespace fs = std::filesystem;

namespace {
bool endsWith(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}
}  // namespace

WatchDir::WatchDir(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  for (const char* sub : {"", "done", "failed"}) {
    fs::create_directories(fs::path(dir_) / sub, ec);
    if (ec) throw std::runtime_error(dir_ + "/" + sub + ": cannot create: " + ec.message());
  }
}

std::vector<std::string> WatchDir::ready(size_t maxFiles, std::string* error) const {
  struct Entry {
    fs::file_time_type mtime;
    std::string path;
  };
  std::vector<Entry> found;
  std::error_code ec;
  fs::directory_iterator it(dir_, ec);
  if (ec) {
    if (error) *error = dir_ + ": cannot read: " + ec.message();
    return {};
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) {
      if (error) *error = dir_ + ": cannot read: " + ec.message();
      return {};
    }
    std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || endsWith(name, ".tmp") || endsWith(name, ".part") ||
        endsWith(name, ".reason"))
      continue;
    std::error_code e2;
    if (!it->is_regular_file(e2)) continue;
    auto mtime = it->last_write_time(e2);
    found.push_back({mtime, it->path().string()});
  }
  std::sort(found.begin(), found.end(), [](const Entry& a, const Entry& b) {
    return a.mtime != b.mtime ? a.mtime < b.mtime : a.path < b.path;
  });
  std::vector<std::string> out;
  for (auto& e : found) {
    if (out.size() == maxFiles) break;
    out.push_back(e.path);
  }
  return out;
}

std::string WatchDir::finish(const std::string& path, bool failed, const std::string& reasons) const {
  fs::path target = fs::path(dir_) / (failed ? "failed" : "done") / fs::path(path).filename();
  std::string base = target.string();
  std::error_code ec;
  for (int n = 1; fs::exists(target, ec) || fs::exists(target.string() + ".reason", ec); ++n)
    target = base + "." + std::to_string(n);
  fs::rename(path, target, ec);
  if (ec) throw std::runtime_error(path + ": cannot move to " + target.string() + ": " + ec.message());
  if (!reasons.empty()) {
    std::ofstream r(target.string() + ".reason", std::ios::binary | std::ios::trunc);
    r << reasons;
    if (!r) throw std::runtime_error(target.string() + ".reason: cannot write");
  }
  return target.string();
}

bool readFileBounded(const std::string& path, uint64_t maxBytes, std::string& out, std::string* error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    if (error) *error = std::string("cannot open: ") + std::strerror(errno);
    return false;
  }
  f.seekg(0, std::ios::end);
  auto size = static_cast<uint64_t>(f.tellg());
  if (size > maxBytes) {
    if (error) *error = "larger than " + std::to_string(maxBytes) + " bytes (" + std::to_string(size) + ")";
    return false;
  }
  f.seekg(0);
  out.assign(size, '\0');
  f.read(out.data(), static_cast<std::streamsize>(size));
  if (static_cast<uint64_t>(f.gcount()) != size) {
    if (error) *error = "short read";
    return false;
  }
  return true;
}

}  // namespace alertbus::adapter

// A directory partner staff (or their systems) drop input files into. Each file is processed once and
// then moved: to done/ when all of it was taken, to failed/ when none of it was, in both cases with a
// `<name>.reason` file beside it listing what was not taken (one line per problem). Writers must create
// files under another name (a dotfile or *.tmp / *.part) and rename them in, so a half-written file is
// never read. I/O edge; one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace alertbus::adapter {

class WatchDir {
 public:
  // Creates dir, dir/done and dir/failed when missing. Throws std::runtime_error naming the path if
  // that fails.
  explicit WatchDir(std::string dir);

  const std::string& dir() const { return dir_; }

  // Up to maxFiles regular files ready to process, oldest (mtime, then name) first. Skipped: names
  // starting with '.', ending in .tmp, .part or .reason, and subdirectories. On a read error returns
  // nothing and sets *error (the directory is then reported down, never "no alerts").
  std::vector<std::string> ready(size_t maxFiles, std::string* error) const;

  // Moves `path` into done/ or failed/ under its own name (".1", ".2", ... appended if taken) and, when
  // `reasons` is not empty, writes it to "<new name>.reason" beside it. Returns the new path. Throws
  // std::runtime_error if the move fails (the file would otherwise be processed again and again).
  std::string finish(const std::string& path, bool failed, const std::string& reasons) const;

 private:
  std::string dir_;
};

// Reads a whole file of at most maxBytes. False with *error ("larger than N bytes", strerror) otherwise.
bool readFileBounded(const std::string& path, uint64_t maxBytes, std::string& out, std::string* error);

}  // namespace alertbus::adapter

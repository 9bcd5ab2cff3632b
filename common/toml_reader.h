// Reading TOML configuration with errors a person can act on: every error as "file:line: reason", all
// of them collected in one pass, unknown keys reported with the list of known ones, numbers range-checked
// with their unit in the key name. Used by the adapters' config files (and anything else that reads TOML
// config). Not thread-safe; one reader per file.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace alertbus {

struct ConfigError {
  std::string file;
  int line = 0;                // 1-based; 0 when the error concerns the whole file
  std::string reason;
  std::string str() const { return file + ":" + std::to_string(line) + ": " + reason; }
};

class TomlReader {
 public:
  TomlReader(std::string file, std::vector<ConfigError>& errors) : file_(std::move(file)), errors_(errors) {}

  // Parses the file into `root`. False (and one error with the parser's line) if it is not valid TOML or
  // cannot be read.
  bool parse(toml::table& root);
  // Like parse() but from text already in memory (tests, `--config -`).
  bool parseText(std::string_view text, toml::table& root);

  void err(const toml::node* at, const std::string& reason);
  size_t errorCount() const { return errors_.size(); }
  const std::string& file() const { return file_; }
  std::string dir() const;    // directory of the file, for resolving relative paths

  // The sub-table `name` of `parent`, or nullptr if absent (an error if present but not a table).
  const toml::table* table(const toml::table& parent, const std::string& name, const std::string& sect);
  // Every key of `t` not in `known` is an error naming the key and listing the known ones.
  void checkKeys(const toml::table& t, const std::string& sect, const std::set<std::string>& known);

  // Each getter leaves `out` unchanged when the key is absent, and reports a wrong type or range.
  void getInt(const toml::table& t, const char* key, int64_t& out, int64_t min, int64_t max, const std::string& sect);
  void getDouble(const toml::table& t, const char* key, double& out, double min, double max, const std::string& sect);
  void getString(const toml::table& t, const char* key, std::string& out, const std::string& sect);
  void getBool(const toml::table& t, const char* key, bool& out, const std::string& sect);
  void getStrings(const toml::table& t, const char* key, std::vector<std::string>& out, const std::string& sect);
  // A path relative to the config file's directory, made absolute; "" stays "".
  void getPath(const toml::table& t, const char* key, std::string& out, const std::string& sect);

  template <typename T>
  void getInt(const toml::table& t, const char* key, T& out, int64_t min, int64_t max, const std::string& sect) {
    int64_t v = static_cast<int64_t>(out);
    getInt(t, key, v, min, max, sect);
    out = static_cast<T>(v);
  }

  std::string resolve(const std::string& p) const;

 private:
  std::string file_;
  std::vector<ConfigError>& errors_;
};

}  // namespace alertbus

// See toml_reader.h.
#include "common/toml_reader.h"

#include <cmath>
#include <filesystem>
#include <sstream>

namespace alertbus {

namespace fs = std::filesystem;

namespace {
std::string key(const std::string& sect, const char* k) { return sect.empty() ? std::string(k) : sect + "." + k; }
}  // namespace

bool TomlReader::parse(toml::table& root) {
  try {
    root = toml::parse_file(file_);
    return true;
  } catch (const toml::parse_error& e) {
    errors_.push_back({file_, static_cast<int>(e.source().begin.line), std::string(e.description())});
    return false;
  }
}

bool TomlReader::parseText(std::string_view text, toml::table& root) {
  try {
    root = toml::parse(text, file_);
    return true;
  } catch (const toml::parse_error& e) {
    errors_.push_back({file_, static_cast<int>(e.source().begin.line), std::string(e.description())});
    return false;
  }
}

void TomlReader::err(const toml::node* at, const std::string& reason) {
  errors_.push_back({file_, at ? static_cast<int>(at->source().begin.line) : 0, reason});
}

std::string TomlReader::dir() const { return fs::path(file_).parent_path().string(); }

std::string TomlReader::resolve(const std::string& p) const {
  if (p.empty()) return p;
  fs::path path(p);
  if (path.is_absolute()) return p;
  return fs::absolute(fs::path(dir()) / path).lexically_normal().string();
}

const toml::table* TomlReader::table(const toml::table& parent, const std::string& name, const std::string& sect) {
  auto* n = parent.get(name);
  if (!n) return nullptr;
  if (!n->is_table()) {
    err(n, key(sect, name.c_str()) + ": expected a table [" + key(sect, name.c_str()) + "]");
    return nullptr;
  }
  return n->as_table();
}

void TomlReader::checkKeys(const toml::table& t, const std::string& sect, const std::set<std::string>& known) {
  for (auto& [k, v] : t) {
    std::string name(k.str());
    if (known.count(name)) continue;
    std::string list;
    for (auto& s : known) list += (list.empty() ? "" : ", ") + s;
    err(&v, "unknown key '" + key(sect, name.c_str()) + "' (known: " + list + ")");
  }
}

void TomlReader::getInt(const toml::table& t, const char* k, int64_t& out, int64_t min, int64_t max,
                        const std::string& sect) {
  auto* n = t.get(k);
  if (!n) return;
  auto v = n->value<int64_t>();
  if (!n->is_integer() || !v) return err(n, key(sect, k) + ": expected an integer");
  if (*v < min || *v > max)
    return err(n, key(sect, k) + " = " + std::to_string(*v) + ": must be in " + std::to_string(min) + ".." +
                      std::to_string(max));
  out = *v;
}

void TomlReader::getDouble(const toml::table& t, const char* k, double& out, double min, double max,
                           const std::string& sect) {
  auto* n = t.get(k);
  if (!n) return;
  if (!n->is_number()) return err(n, key(sect, k) + ": expected a number");
  double v = n->is_integer() ? static_cast<double>(**n->as_integer()) : **n->as_floating_point();
  if (!std::isfinite(v) || v < min || v > max) {
    std::ostringstream os;
    os << key(sect, k) << " = " << v << ": must be in " << min << ".." << max;
    return err(n, os.str());
  }
  out = v;
}

void TomlReader::getString(const toml::table& t, const char* k, std::string& out, const std::string& sect) {
  auto* n = t.get(k);
  if (!n) return;
  if (!n->is_string()) return err(n, key(sect, k) + ": expected a string");
  out = **n->as_string();
}

void TomlReader::getBool(const toml::table& t, const char* k, bool& out, const std::string& sect) {
  auto* n = t.get(k);
  if (!n) return;
  if (!n->is_boolean()) return err(n, key(sect, k) + ": expected true or false");
  out = **n->as_boolean();
}

void TomlReader::getStrings(const toml::table& t, const char* k, std::vector<std::string>& out,
                            const std::string& sect) {
  auto* n = t.get(k);
  if (!n) return;
  if (!n->is_array()) return err(n, key(sect, k) + ": expected a list of strings");
  std::vector<std::string> v;
  for (auto& e : *n->as_array()) {
    if (!e.is_string()) return err(&e, key(sect, k) + ": every element must be a string");
    v.push_back(**e.as_string());
  }
  out = std::move(v);
}

void TomlReader::getPath(const toml::table& t, const char* k, std::string& out, const std::string& sect) {
  std::string v;
  if (!t.get(k)) return;
  getString(t, k, v, sect);
  out = resolve(v);
}

}  // namespace alertbus

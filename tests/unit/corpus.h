// Real captures for the corpus tests: where they are, which parser reads which file, and how a test says it
// was skipped. Header-only; tests/unit/CMakeLists.txt gives every unit test ALERTBUS_CORPUS_DIR (the folder
// ../shared/realdata beside the checkout, or the ALERTBUS_CORPUS CMake cache variable) and makes ctest report
// a test that printed kCorpusSkipMarker as skipped (SKIP_REGULAR_EXPRESSION): Catch2 2.13 has no skip.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

namespace alertbus::testing {

// The parser each adapter runs on a whole input; the names are the baseline's "parser" column.
enum class CorpusParser { met, water, fire, ais, navtex };

inline const char* corpusParserName(CorpusParser p) {
  switch (p) {
    case CorpusParser::met: return "met";
    case CorpusParser::water: return "water";
    case CorpusParser::fire: return "fire";
    case CorpusParser::ais: return "ais";
    case CorpusParser::navtex: return "navtex";
  }
  return "?";
}

struct CorpusFile {
  std::string path;     // as opened
  std::string rel;      // relative to the corpus folder, '/'-separated: "cap/au-bom-thunderstorm.cap"
  CorpusParser parser;
};

// Printed by a corpus test that has nothing to read; ctest turns the test into "Skipped".
inline constexpr std::string_view kCorpusSkipMarker = "ALERTBUS-CORPUS-SKIPPED";

// The corpus folder: $ALERTBUS_CORPUS when set and not empty (anyone's own captures, laid out the same way),
// else the folder CMake computed from the source directory.
inline std::string corpusDir() {
  const char* env = std::getenv("ALERTBUS_CORPUS");
  if (env && *env) return env;
  return ALERTBUS_CORPUS_DIR;
}

inline std::string readCorpusFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every regular file below the corpus folder's immediate subfolders (recursively), sorted by relative path,
// with its parser chosen the way scripts/corpus-check.sh chooses the adapter, by the subfolder's name:
// cap*, met*, gbt*, edxl*, atom*, rss* -> met; hydro*, water*, gauge*, waterml* -> water; fire*, firms*,
// dispatch* -> fire; ais*, navtex*, maritime*, nmea* -> the maritime adapter, which reads a file holding
// "ZCZC" as NAVTEX and any other as AIS lines (as alertbus-maritime does). Files directly in the folder
// (README.md, SOURCES.tsv), in other subfolders, and dotfiles are not inputs. Empty when the folder is
// absent or holds no inputs. Reads the maritime files (to tell AIS from NAVTEX).
inline std::vector<CorpusFile> corpusFiles() {
  namespace fs = std::filesystem;
  std::vector<CorpusFile> files;
  const fs::path root = corpusDir();
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return files;
  auto kindOf = [](std::string name, bool& maritime) -> int {
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    auto starts = [&](std::initializer_list<const char*> ps) {
      for (auto p : ps)
        if (name.rfind(p, 0) == 0) return true;
      return false;
    };
    maritime = false;
    if (starts({"cap", "met", "gbt", "edxl", "atom", "rss"})) return static_cast<int>(CorpusParser::met);
    if (starts({"hydro", "water", "gauge", "waterml"})) return static_cast<int>(CorpusParser::water);
    if (starts({"fire", "firms", "dispatch"})) return static_cast<int>(CorpusParser::fire);
    if (starts({"ais", "navtex", "maritime", "nmea"})) {
      maritime = true;
      return static_cast<int>(CorpusParser::ais);
    }
    return -1;
  };
  for (const auto& sub : fs::directory_iterator(root, ec)) {
    bool maritime = false;
    const int kind = sub.is_directory(ec) ? kindOf(sub.path().filename().string(), maritime) : -1;
    if (kind < 0) continue;
    for (auto it = fs::recursive_directory_iterator(sub.path(), ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->path().filename().string().rfind('.', 0) == 0 || !it->is_regular_file(ec)) continue;
      CorpusFile f{it->path().string(), fs::relative(it->path(), root, ec).generic_string(),
                   static_cast<CorpusParser>(kind)};
      if (maritime && readCorpusFile(f.path).find("ZCZC") != std::string::npos) f.parser = CorpusParser::navtex;
      files.push_back(std::move(f));
    }
  }
  std::sort(files.begin(), files.end(), [](const CorpusFile& a, const CorpusFile& b) { return a.rel < b.rel; });
  return files;
}

// The corpus files one parser reads.
inline std::vector<CorpusFile> corpusFiles(CorpusParser parser) {
  std::vector<CorpusFile> out;
  for (auto& f : corpusFiles())
    if (f.parser == parser) out.push_back(f);
  return out;
}

// The corpus file at `rel` ("hydro/usgs-waterml2-dv-01646500-potomac.xml"), or nullopt when the corpus has none:
// tests of what one known capture gives.
inline std::optional<CorpusFile> corpusFile(std::string_view rel) {
  for (auto& f : corpusFiles())
    if (f.rel == rel) return f;
  return std::nullopt;
}

// Says why the test checks nothing, in the line ctest recognises (the test is then reported as skipped, never
// as passed); the caller returns right after.
inline void reportCorpusSkipped(const std::string& why) {
  std::cout << kCorpusSkipMarker << ": " << why
            << " (captures are read from ../shared/realdata beside the checkout, or from $ALERTBUS_CORPUS)"
            << std::endl;
  WARN("skipped: " << why);
}

}  // namespace alertbus::testing

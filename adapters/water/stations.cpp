// Stations CSV -> Station records; see stations.h for the contract. A bad row is refused with one problem
// naming its field; a bad header refuses the file (so a misspelt column cannot silently drop thresholds).
#include "adapters/water/stations.h"

#include <algorithm>
#include <set>

#include "adapters/water/gauge_monitor.h"
#include "adapters/water/readings.h"
#include "model/decode_util.h"
#include "model/validate.h"

namespace alertbus::water {
namespace {

using adapter::InputProblem;
using namespace detail;

constexpr size_t kMaxCodeBytes = 64;
constexpr size_t kMaxNameBytes = 200;

bool validCode(std::string_view c) {
  if (c.empty() || c.size() > kMaxCodeBytes) return false;
  for (char ch : c)
    if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '.' || ch == '_' ||
          ch == '-'))
      return false;
  return true;
}

bool validAdminCode(std::string_view c) {
  if (c.size() != 6 && c.size() != 12) return false;
  for (char ch : c)
    if (ch < '0' || ch > '9') return false;
  return true;
}

std::string fmt(double v) {
  char buf[48];
  snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

}  // namespace

StationsResult parseStations(std::string_view bytes, std::string_view source, const WaterOptions& options) {
  StationsResult result;
  const size_t maxProblems = std::max<size_t>(options.maxProblemsPerInput, 1);
  size_t suppressed = 0;  // problems beyond maxProblems: counted, not listed
  auto problem = [&](std::string pos, std::string field, std::string_view value, std::string reason) {
    if (result.problems.size() >= maxProblems) {
      ++suppressed;
      return;
    }
    result.problems.push_back(InputProblem{InputProblem::Level::error, std::string(source), std::move(pos),
                                           std::move(field), clipValue(value), std::move(reason)});
  };
  auto refuseFile = [&](std::string pos, std::string field, std::string_view value, std::string reason) {
    problem(std::move(pos), std::move(field), value, std::move(reason));
    result.fileRejected = true;
    return result;
  };
  if (bytes.size() > options.maxFileBytes)
    return refuseFile("document", "size", std::to_string(bytes.size()) + " bytes",
                      "larger than " + std::to_string(options.maxFileBytes) + " bytes; not parsed");
  LineReader reader(bytes, options.maxLineBytes);
  CsvLine header, line;
  if (!reader.next(header)) return refuseFile("document", "header", "", "empty stations file (no header)");
  std::string headPos = "line " + std::to_string(header.number);
  if (!header.ok) return refuseFile(headPos, "header", header.raw.substr(0, 80), header.reason);
  char sep = (header.text.find('\t') != std::string::npos && header.text.find(',') == std::string::npos) ? '\t' : ',';
  std::vector<std::string> cells;
  if (!splitCsv(header.text, sep, cells)) return refuseFile(headPos, "header", header.text, "unterminated quote");

  enum Col { STCD, STNM, ADDVCD, LGTD, LTTD, STTP, FRZ, WRZ, GRZ, MAXRISE, kCols };
  static const char* const kNames[kCols] = {"STCD", "STNM", "ADDVCD", "LGTD", "LTTD", "STTP", "FRZ", "WRZ", "GRZ", "MAXRISE"};
  int col[kCols];
  std::fill(col, col + kCols, -1);
  std::string unknown;
  for (size_t i = 0; i < cells.size(); ++i) {
    std::string name = upperAscii(trim(cells[i]));
    int found = -1;
    for (int k = 0; k < kCols; ++k)
      if (name == kNames[k]) found = k;
    if (found < 0) {
      unknown += (unknown.empty() ? "" : ",") + (cells[i].empty() ? std::string("(empty)") : cells[i]);
      continue;
    }
    if (col[found] >= 0) return refuseFile(headPos, "header", cells[i], "column named twice");
    col[found] = static_cast<int>(i);
  }
  if (!unknown.empty())
    return refuseFile(headPos, "header", unknown,
                      "unknown columns (known: STCD STNM ADDVCD LGTD LTTD STTP FRZ WRZ GRZ MAXRISE)");
  std::string missing;
  for (int k = 0; k <= STTP; ++k)
    if (col[k] < 0) missing += (missing.empty() ? "" : ",") + std::string(kNames[k]);
  if (!missing.empty()) return refuseFile(headPos, "header", missing, "required columns missing");

  const size_t headerCells = cells.size();
  std::set<std::string> seen;
  while (reader.next(line)) {
    std::string pos = "line " + std::to_string(line.number);
    if (!line.ok) {
      problem(pos, "line", line.raw.substr(0, 80), line.reason);
      continue;
    }
    if (!splitCsv(line.text, sep, cells)) {
      problem(pos, "line", line.text, "unterminated quote");
      continue;
    }
    if (cells.size() > headerCells) {
      bool extraEmpty = true;
      for (size_t i = headerCells; i < cells.size(); ++i) extraEmpty = extraEmpty && cells[i].empty();
      if (!extraEmpty) {
        problem(pos, "line", line.text,
                std::to_string(cells.size()) + " cells but the header has " + std::to_string(headerCells));
        continue;
      }
    }
    cells.resize(std::max(cells.size(), headerCells));
    auto cell = [&](Col c) -> const std::string& {
      static const std::string kEmpty;
      return col[c] < 0 ? kEmpty : cells[col[c]];
    };
    Station s;
    s.code = cell(STCD);
    if (!validCode(s.code)) {
      problem(pos, "STCD", s.code, "station code must be 1..64 characters of A-Z a-z 0-9 . _ -");
      continue;
    }
    if (seen.count(s.code)) {
      problem(pos, "STCD", s.code, "duplicate station code (the first row is kept)");
      continue;
    }
    s.name = cell(STNM);
    if (s.name.size() > kMaxNameBytes || !isCleanUtf8(s.name.data(), s.name.size())) {
      problem(pos, "STNM", s.name, "station name longer than 200 bytes or not clean text");
      continue;
    }
    if (s.name.empty()) s.name = s.code;
    s.adminCode = cell(ADDVCD);
    if (!s.adminCode.empty() && !validAdminCode(s.adminCode)) {
      problem(pos, "ADDVCD", s.adminCode, "GB/T 2260 code must be 6 or 12 digits");
      continue;
    }
    if (!parseNumber(cell(LGTD), s.lon) || !std::isfinite(s.lon) || s.lon < -180 || s.lon > 180) {
      problem(pos, "LGTD", cell(LGTD), "longitude must be a number in -180..180");
      continue;
    }
    if (!parseNumber(cell(LTTD), s.lat) || !std::isfinite(s.lat) || s.lat < -90 || s.lat > 90) {
      problem(pos, "LTTD", cell(LTTD), "latitude must be a number in -90..90");
      continue;
    }
    s.type = upperAscii(cell(STTP));
    if (s.type == "ZZ" || s.type == "ZQ") s.kind = Station::Kind::river;
    else if (s.type == "RR") s.kind = Station::Kind::reservoir;
    else {
      problem(pos, "STTP", cell(STTP), "station type must be ZZ or ZQ (river) or RR (reservoir)");
      continue;
    }
    bool ok = true;
    for (auto [c, slot] : {std::pair{FRZ, &s.frzM}, std::pair{WRZ, &s.wrzM}, std::pair{GRZ, &s.grzM},
                           std::pair{MAXRISE, &s.maxRiseMPerH}}) {
      const std::string& v = cell(c);
      if (!ok || v.empty()) continue;
      if (!parseNumber(v, *slot) || !std::isfinite(*slot) || std::fabs(*slot) > 100000) {
        problem(pos, kNames[c], v, "not a number (metres)");
        ok = false;
      } else if (c == MAXRISE && *slot <= 0) {
        problem(pos, kNames[c], v, "max rise must be positive (m/h)");
        ok = false;
      }
    }
    if (!ok) continue;
    // Present thresholds must strictly increase: FRZ < WRZ < GRZ.
    const std::pair<const char*, double> th[] = {{"FRZ", s.frzM}, {"WRZ", s.wrzM}, {"GRZ", s.grzM}};
    const std::pair<const char*, double>* prev = nullptr;
    for (auto& t : th) {
      if (std::isnan(t.second)) continue;
      if (prev && !(prev->second < t.second)) {
        problem(pos, t.first, fmt(t.second),
                "station " + s.code + " (" + s.name + "): thresholds must increase, but " + prev->first + "=" +
                    fmt(prev->second) + " >= " + t.first + "=" + fmt(t.second));
        ok = false;
        break;
      }
      prev = &t;
    }
    if (!ok) continue;
    if (std::isnan(s.maxRiseMPerH)) s.maxRiseMPerH = options.defaultMaxRiseMPerH;
    if (result.stations.size() >= options.maxStations) {
      problem(pos, "STCD", s.code, "more than " + std::to_string(options.maxStations) + " stations (max_stations)");
      continue;
    }
    seen.insert(s.code);
    result.stations.push_back(std::move(s));
  }
  if (suppressed > 0)
    result.problems.push_back(InputProblem{InputProblem::Level::error, std::string(source), "document", "problems",
                                           std::to_string(suppressed) + " more",
                                           std::to_string(suppressed) + " further problems not listed (max_problems_per_input)"});
  return result;
}

}  // namespace alertbus::water

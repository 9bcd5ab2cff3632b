// alertbus-maritime: the maritime safety administration's adapter. AIS receiver output (NMEA !AIVDM/!AIVDO,
// from files or a stream on stdin) keeps a live vessel registry; warnings with areas at sea that the
// broker routes to outlet maritime-watch (typhoon, gale, storm surge) are matched against it, and
// "vessels at risk" reports list the ships inside a warning area and not in a port or shelter, updated as
// ships move and warnings change. NAVTEX receptions become navigational warnings. The logic is
// adapters/maritime/ (pure); this file wires it to the shared runtime. `alertbus-maritime decode FILE|-` prints
// the AIS reports of a log or stream as JSON lines instead (ais_decode.h), without config or broker.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>

#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "adapters/common/runtime.h"
#include "adapters/maritime/ais.h"
#include "adapters/maritime/ais_decode.h"
#include "adapters/maritime/navtex.h"
#include "adapters/maritime/risk.h"
#include "adapters/maritime/vessel_registry.h"
#include "model/validate.h"

using namespace alertbus;

namespace {

constexpr size_t kMaxProblemsPerInput = 1000;  // AIS logs can be noisy: further rejections are only counted

struct Config {
  AisDecoderOptions ais;
  maritime::VesselRegistryOptions registry;
  maritime::RiskOptions risk;
  maritime::NavtexOptions navtex;
  std::string watchOutlet = "maritime-watch";
  int64_t evaluateIntervalMs = 5000;
};

bool readPoint(TomlReader& r, const toml::node& n, maritime::GeoPoint& p, const std::string& what) {
  auto* a = n.as_array();
  if (!a || a->size() != 2 || !a->get(0)->is_number() || !a->get(1)->is_number()) {
    r.err(&n, what + ": expected [lat, lon] in degrees");
    return false;
  }
  auto num = [](const toml::node& e) {
    return e.is_integer() ? static_cast<double>(**e.as_integer()) : **e.as_floating_point();
  };
  p.lat = num(*a->get(0));
  p.lon = num(*a->get(1));
  return true;
}

void readShelter(TomlReader& r, const toml::table& t, maritime::GeoArea& area) {
  const std::string s = "maritime.risk.shelter";
  r.checkKeys(t, s, {"name", "polygons", "circles"});
  r.getString(t, "name", area.name, s);
  if (auto* n = t.get("polygons")) {
    auto* rings = n->as_array();
    if (!rings) r.err(n, s + ".polygons: expected a list of rings [[lat, lon], ...]");
    for (size_t i = 0; rings && i < rings->size(); ++i) {
      auto* ring = rings->get(i)->as_array();
      if (!ring) {
        r.err(rings->get(i), s + ".polygons[" + std::to_string(i) + "]: expected a list of [lat, lon]");
        continue;
      }
      std::vector<maritime::GeoPoint> pts;
      for (auto& e : *ring) {
        maritime::GeoPoint p;
        if (readPoint(r, e, p, s + ".polygons[" + std::to_string(i) + "]")) pts.push_back(p);
      }
      area.polygons.push_back(std::move(pts));
    }
  }
  if (auto* n = t.get("circles")) {
    auto* list = n->as_array();
    if (!list) r.err(n, s + ".circles: expected a list of { lat, lon, radius_km }");
    for (size_t i = 0; list && i < list->size(); ++i) {
      auto* c = list->get(i)->as_table();
      if (!c) {
        r.err(list->get(i), s + ".circles[" + std::to_string(i) + "]: expected { lat, lon, radius_km }");
        continue;
      }
      maritime::GeoArea::Circle circle;
      std::string cs = s + ".circles[" + std::to_string(i) + "]";
      r.checkKeys(*c, cs, {"lat", "lon", "radius_km"});
      r.getDouble(*c, "lat", circle.center.lat, -90, 90, cs);
      r.getDouble(*c, "lon", circle.center.lon, -180, 180, cs);
      r.getDouble(*c, "radius_km", circle.radiusKm, 0, 1000, cs);
      area.circles.push_back(circle);
    }
  }
}

// [maritime] and its sub-tables; each key is a member of the option structs in ais.h, vessel_registry.h,
// risk.h and navtex.h (units and defaults documented there and in config/maritime.toml).
void readConfig(TomlReader& r, const toml::table* t, Config& c) {
  if (!t) return;
  r.checkKeys(*t, "maritime", {"watch_outlet", "evaluate_interval_ms", "ais", "registry", "risk", "navtex"});
  r.getString(*t, "watch_outlet", c.watchOutlet, "maritime");
  r.getInt(*t, "evaluate_interval_ms", c.evaluateIntervalMs, 100, 3600000, "maritime");
  if (auto* a = r.table(*t, "ais", "maritime")) {
    const std::string s = "maritime.ais";
    r.checkKeys(*a, s, {"max_pending_groups", "max_group_age_sentences", "max_group_age_ms", "max_payload_chars"});
    r.getInt(*a, "max_pending_groups", c.ais.maxPendingGroups, 1, 100000, s);
    r.getInt(*a, "max_group_age_sentences", c.ais.maxGroupAgeSentences, 1, 100000, s);
    r.getInt(*a, "max_group_age_ms", c.ais.maxGroupAgeMs, 10, 3600000, s);
    r.getInt(*a, "max_payload_chars", c.ais.maxPayloadChars, 16, 100000, s);
  }
  if (auto* g = r.table(*t, "registry", "maritime")) {
    const std::string s = "maritime.registry";
    r.checkKeys(*g, s, {"max_vessels", "vessel_ttl_ms", "max_plausible_knots", "jump_tolerance_m"});
    r.getInt(*g, "max_vessels", c.registry.maxVessels, 1, 10000000, s);
    r.getInt(*g, "vessel_ttl_ms", c.registry.vesselTtlMs, 1000, int64_t(7) * 86400000, s);
    r.getDouble(*g, "max_plausible_knots", c.registry.maxPlausibleKnots, 1, 1000, s);
    r.getDouble(*g, "jump_tolerance_m", c.registry.jumpToleranceM, 0, 100000, s);
  }
  if (auto* k = r.table(*t, "risk", "maritime")) {
    const std::string s = "maritime.risk";
    r.checkKeys(*k, s, {"events", "shelter", "max_warnings", "max_areas_per_warning", "max_vessels_per_report",
                        "report_interval_ms", "warning_ttl_ms", "max_original_bytes"});
    r.getStrings(*k, "events", c.risk.events, s);
    r.getInt(*k, "max_warnings", c.risk.maxWarnings, 1, 100000, s);
    r.getInt(*k, "max_areas_per_warning", c.risk.maxAreasPerWarning, 1, 100000, s);
    r.getInt(*k, "max_vessels_per_report", c.risk.maxVesselsPerReport, 1, 100000, s);
    r.getInt(*k, "report_interval_ms", c.risk.reportIntervalMs, 0, int64_t(7) * 86400000, s);
    r.getInt(*k, "warning_ttl_ms", c.risk.warningTtlMs, 0, int64_t(30) * 86400000, s);
    r.getInt(*k, "max_original_bytes", c.risk.maxOriginalBytes, 256, 1 << 24, s);
    if (auto* n = k->get("shelter")) {
      auto* arr = n->as_array();
      if (!arr || !arr->is_array_of_tables()) {
        r.err(n, "maritime.risk.shelter: expected [[maritime.risk.shelter]] tables");
      } else {
        for (auto& e : *arr) {
          maritime::GeoArea area;
          readShelter(r, *e.as_table(), area);
          c.risk.shelters.push_back(std::move(area));
        }
      }
    }
    for (auto& e : maritime::checkRiskOptions(c.risk)) r.err(k, "maritime.risk: " + e);
  }
  if (auto* n = r.table(*t, "navtex", "maritime")) {
    const std::string s = "maritime.navtex";
    r.checkKeys(*n, s, {"point_radius_km", "max_garble_ratio", "max_message_bytes", "max_positions",
                        "forecast_payload", "station_names"});
    r.getDouble(*n, "point_radius_km", c.navtex.pointRadiusKm, 0, 1000, s);
    r.getDouble(*n, "max_garble_ratio", c.navtex.maxGarbleRatio, 0, 1, s);
    r.getInt(*n, "max_message_bytes", c.navtex.maxMessageBytes, 256, 1 << 24, s);
    r.getInt(*n, "max_positions", c.navtex.maxPositions, 1, 100000, s);
    r.getBool(*n, "forecast_payload", c.navtex.forecastPayload, s);
    if (auto* names = r.table(*n, "station_names", s)) {
      for (auto& [k, v] : *names) {
        std::string key(k.str());
        if (key.size() != 1 || key[0] < 'A' || key[0] > 'Z' || !v.is_string())
          r.err(&v, s + ".station_names: keys are station letters A-Z, values names (\"Q\" = \"Shanghai\")");
        else
          c.navtex.stationNames[key[0]] = **v.as_string();
      }
    }
  }
}

class Maritime {
 public:
  explicit Maritime(const Config& c)
      : cfg_(c), ais_(c.ais), registry_(c.registry), risk_(withRunId(c.risk)), navtex_(c.navtex) {}

  // A whole input: NAVTEX if it holds a ZCZC frame, otherwise AIS sentences, one per line.
  adapter::Output document(std::string_view bytes, const std::string& source, int64_t receivedMs) {
    if (bytes.find("ZCZC") != std::string_view::npos) {
      maritime::NavtexDecoder decoder(cfg_.navtex);
      adapter::Output out = decoder.feed(bytes, source, receivedMs);
      out.append(decoder.finish(source, receivedMs));
      return out;
    }
    adapter::Output out;
    size_t lineNo = 0, problems = 0, start = 0;
    while (start <= bytes.size()) {
      size_t end = bytes.find_first_of("\r\n", start);
      if (end == std::string_view::npos) end = bytes.size();
      ++lineNo;
      aisLine(bytes.substr(start, end - start), source, lineNo, receivedMs, out, problems);
      if (end == bytes.size()) break;
      start = end + 1;
    }
    if (problems > kMaxProblemsPerInput)
      out.problems.push_back({adapter::InputProblem::Level::error, source, "input", "lines",
                              std::to_string(problems - kMaxProblemsPerInput),
                              "more rejected lines not listed (counted in rejected)"});
    out.append(evaluate(receivedMs));
    return out;
  }

  // stdin, one line at a time: NAVTEX frames are assembled across lines, everything else is AIS.
  adapter::Output line(std::string_view text, const std::string& source, int64_t receivedMs) {
    ++stdinLines_;
    bool navtexLine = inNavtex_ || text.find("ZCZC") != std::string_view::npos;
    if (navtexLine) {
      inNavtex_ = text.find("NNNN") == std::string_view::npos;
      std::string chunk(text);
      chunk += '\n';
      return navtex_.feed(chunk, source, receivedMs);
    }
    adapter::Output out;
    size_t problems = 0;
    aisLine(text, source, stdinLines_, receivedMs, out, problems);
    return out;
  }

  adapter::Output delivery(schema::Message::Reader m, int64_t nowMs) {
    maritime::WarningIntake in = risk_.onMessage(m, nowMs);
    adapter::Output out;
    for (auto& p : in.problems) out.problems.push_back(p);
    if (in.outcome == maritime::WarningOutcome::Taken) ++out.accepted;
    if (in.outcome == maritime::WarningOutcome::Rejected) ++out.rejected;
    out.append(evaluate(nowMs));
    return out;
  }

  adapter::Output tick(int64_t nowMs) { return evaluate(nowMs); }

 private:
  static maritime::RiskOptions withRunId(maritime::RiskOptions o) {
    // Base-36 start time: report ids of this run never collide with an earlier run's (see RiskOptions::runId).
    o.runId = base36(static_cast<uint64_t>(wallClockMs() / 1000));
    return o;
  }

  void aisLine(std::string_view text, const std::string& source, size_t lineNo, int64_t receivedMs,
               adapter::Output& out, size_t& problems) {
    AisResult r = ais_.feed(text, receivedMs);
    auto problem = [&](std::string field, std::string value, std::string reason) {
      ++out.rejected;
      if (++problems > kMaxProblemsPerInput) return;
      out.problems.push_back({adapter::InputProblem::Level::error, source, "line " + std::to_string(lineNo),
                              std::move(field), clipValue(value), std::move(reason)});
    };
    switch (r.outcome) {
      case AisOutcome::Ignored:
      case AisOutcome::Pending:
        return;
      case AisOutcome::Skipped:
        ++out.accepted;  // well-formed, a type this adapter has no use for
        return;
      case AisOutcome::Rejected:
        problem(r.rejection.field, r.rejection.value, r.rejection.reason);
        return;
      case AisOutcome::Decoded: {
        maritime::RegistryUpdate u = registry_.update(r);
        if (u.outcome == maritime::RegistryOutcome::Rejected)
          problem(u.field, u.value, u.reason);
        else
          ++out.accepted;
        return;
      }
    }
  }

  adapter::Output evaluate(int64_t nowMs) {
    if (nowMs - lastEvaluateMs_ < cfg_.evaluateIntervalMs && risk_.activeWarnings() == lastWarnings_)
      return {};
    lastEvaluateMs_ = nowMs;
    lastWarnings_ = risk_.activeWarnings();
    registry_.expire(nowMs);
    return risk_.evaluate(registry_, nowMs);
  }

  Config cfg_;
  AisDecoder ais_;
  maritime::VesselRegistry registry_;
  maritime::RiskMonitor risk_;
  maritime::NavtexDecoder navtex_;
  bool inNavtex_ = false;
  size_t stdinLines_ = 0;
  int64_t lastEvaluateMs_ = 0;
  size_t lastWarnings_ = 0;
};

// Longest input line kept whole; a longer one (no AIS sentence is near it) is reported and skipped.
constexpr size_t kMaxDecodeLineBytes = 64 * 1024;

// `decode FILE|-`: reads the input in chunks (a stream from a receiver prints as it arrives), splits lines on
// LF, CRLF or CR alone (as the adapter does), and writes reports to stdout and diagnostics to stderr.
// Returns 0 however bad the lines are; 1 when the input cannot be opened or read, or stdout cannot be written.
int decodeCommand(const std::string& input) {
  const int fd = input == "-" ? 0 : ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "alertbus-maritime decode: %s: %s\n", input.c_str(), std::strerror(errno));
    return 1;
  }
  maritime::AisDecodeStream stream;
  std::vector<maritime::AisDecodeLine> out;
  auto emit = [&] {
    for (auto& l : out) {
      FILE* f = l.kind == maritime::AisDecodeLine::Kind::report ? stdout : stderr;
      std::fwrite(l.text.data(), 1, l.text.size(), f);
      std::fputc('\n', f);
    }
    out.clear();
  };
  std::string line;
  uint64_t lineNo = 1;
  bool afterCr = false, tooLong = false;
  auto endLine = [&] {
    if (tooLong)
      out.push_back({maritime::AisDecodeLine::Kind::diagnostic,
                     "line " + std::to_string(lineNo) + ": longer than " + std::to_string(kMaxDecodeLineBytes) +
                         " bytes; skipped"});
    else
      stream.feed(line, lineNo, wallClockMs(), out);
    line.clear();
    tooLong = false;
    ++lineNo;
  };
  char buf[64 * 1024];
  ssize_t n;
  int readErrno = 0;
  // read(2), not fread: on a pipe it returns what has arrived, so a live stream is printed as it comes.
  while ((n = ::read(fd, buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      readErrno = errno;
      break;
    }
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      const char c = buf[i];
      if (c == '\n' && afterCr) {  // the LF of a CRLF: that line has ended already
        afterCr = false;
        continue;
      }
      afterCr = c == '\r';
      if (c == '\n' || c == '\r') {
        endLine();
      } else if (line.size() < kMaxDecodeLineBytes) {
        line.push_back(c);
      } else {
        tooLong = true;
      }
    }
    emit();
    std::fflush(stdout);
  }
  if (readErrno)
    std::fprintf(stderr, "alertbus-maritime decode: %s: read error: %s\n", input.c_str(), std::strerror(readErrno));
  if (!line.empty() || tooLong) endLine();  // a last line without a line end
  stream.finish(out);
  emit();
  if (fd != 0) ::close(fd);
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "alertbus-maritime decode: cannot write to stdout: %s\n", std::strerror(errno));
    return 1;
  }
  return readErrno ? 1 : 0;
}

// The decode subcommand's command line (CLI11); the adapter's own is runAdapter's.
int decodeMain(int argc, char** argv) {
  CLI::App app{"alertbus-maritime: AIS tools"};
  std::string input;
  auto* decode = app.add_subcommand(
      "decode", "print every AIS report of an NMEA log (or '-' for standard input) as one JSON object per line: "
                "type, MMSI, position, speed, course, heading, name, call sign, ship type and the sentences it came "
                "from; lines that cannot be decoded go to stderr with their line number and reason");
  decode->add_option("input", input, "AIS log file, or - to read standard input (e.g. nc receiver 4001 | ...)")
      ->required();
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return decodeCommand(input);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "decode") == 0) return decodeMain(argc, argv);
  Config config;
  std::unique_ptr<Maritime> m;

  adapter::AdapterSpec spec;
  spec.name = "maritime";
  spec.summary = "AIS vessel registry, vessels-at-risk reports for warnings at sea, NAVTEX navigational warnings "
                 "(and `alertbus-maritime decode FILE|-`: every AIS report as a JSON line, see decode --help)";
  spec.configure = [&](TomlReader& r, const toml::table* t) {
    readConfig(r, t, config);
    m = std::make_unique<Maritime>(config);
    spec.subscribeOutlet = config.watchOutlet;  // read by the runtime after configure
  };
  spec.parseDocument = [&](std::string_view bytes, const std::string& source, int64_t receivedMs) {
    return m->document(bytes, source, receivedMs);
  };
  spec.parseLine = [&](std::string_view line, const std::string& source, int64_t receivedMs) {
    return m->line(line, source, receivedMs);
  };
  spec.tick = [&](int64_t nowMs) { return m->tick(nowMs); };
  spec.tickMs = 1000;
  spec.subscribeOutlet = "maritime-watch";
  spec.onDelivery = [&](schema::Message::Reader msg, int64_t nowMs) { return m->delivery(msg, nowMs); };
  return adapter::runAdapter(spec, argc, argv);
}

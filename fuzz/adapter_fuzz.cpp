// libFuzzer targets for the adapters' pure parsing libraries: one source, one executable per adapter
// (met_fuzz, water_fuzz, fire_fuzz, maritime_fuzz; fuzz/CMakeLists.txt defines ALERTBUS_FUZZ_ADAPTER_<name>).
// One input = one received document / byte stream, as a partner agency's feed could deliver it. Fresh parser
// objects per input, so every finding reproduces from its single input file.
// Invariants checked: no crash, no sanitizer report, no uncaught exception, no hang, and every Message an
// adapter outputs passes validateMessage(m, the receivedMs/nowMs of the call that produced it). The met library
// documents that it does not filter expired documents (the runtime does), so for met "expired" is accepted
// and only "invalid" fails; the other libraries promise messages valid at the time they were made.
// tests/unit/<adapter>/fuzz_regressions_test.cpp replays tests/data/fuzz/adapter-regressions/<adapter>/ through
// the same calls in every ctest run.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/common/output.h"
#include "model/validate.h"

#if defined(ALERTBUS_FUZZ_ADAPTER_met)
#include "adapters/met/detect.h"
#elif defined(ALERTBUS_FUZZ_ADAPTER_water)
#include "adapters/water/gauge_monitor.h"
#include "adapters/water/stations.h"
#elif defined(ALERTBUS_FUZZ_ADAPTER_fire)
#include "adapters/fire/dispatch.h"
#include "adapters/fire/firms.h"
#include "adapters/fire/hotspot_clusterer.h"
#elif defined(ALERTBUS_FUZZ_ADAPTER_maritime)
#include "adapters/maritime/ais.h"
#include "adapters/maritime/navtex.h"
#include "adapters/maritime/risk.h"
#include "adapters/maritime/vessel_registry.h"
#else
#error "define one of ALERTBUS_FUZZ_ADAPTER_met/water/fire/maritime"
#endif

namespace {

using namespace alertbus;

constexpr int64_t kNowMs = 1785240000000LL;  // 2026-07-28T11:46:40Z: after every sample in tests/data/
[[maybe_unused]] constexpr int64_t kHourMs = 3600 * 1000;

// Aborts (libFuzzer keeps the input) when a message of `out` does not pass validateMessage at nowMs.
void checkMessages(const adapter::Output& out, int64_t nowMs, bool expiredIsFine, const char* what) {
  for (const auto& mb : out.messages) {
    auto m = mb->getRoot<schema::Message>().asReader();
    auto p = validateMessage(m, nowMs);
    if (!p || (expiredIsFine && p->code == "expired")) continue;
    std::fprintf(stderr, "%s produced an invalid message %s: %s: %s=%s: %s\n", what, m.getId().cStr(),
                 p->code.c_str(), p->field.c_str(), p->value.c_str(), p->reason.c_str());
    std::abort();
  }
}

#if defined(ALERTBUS_FUZZ_ADAPTER_met)

// MET_FUZZ_SKIP_OPEN=1 skips inputs that would only find the open findings in cap.cpp again (fuzz/README.md),
// so a run can get past them to other bugs. Skipped: (1) XML text reaches Message text without the
// isCleanUtf8 check (C0 controls, DEL, numeric character references to surrogates or beyond U+10FFFF): any raw
// byte 0x01-0x08, 0x0B, 0x0C, 0x0E-0x1F, 0x7F, or "&#" anywhere;
// (2) parseCapTime takes years before 1970 (negative ms): "YYYY-MM-DD" with YYYY < 1970 anywhere.
bool skipOpenFindings(std::string_view in) {
  static const bool on = [] {
    const char* v = std::getenv("MET_FUZZ_SKIP_OPEN");
    return v && *v && *v != '0';
  }();
  if (!on) return false;
  for (unsigned char c : in)
    if ((c != 0 && c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return true;
  if (in.find("&#") != std::string_view::npos) return true;
  auto digit = [&](size_t i) { return i < in.size() && in[i] >= '0' && in[i] <= '9'; };
  for (size_t i = 0; i + 10 <= in.size(); ++i) {
    if (!digit(i) || !digit(i + 1) || !digit(i + 2) || !digit(i + 3) || in[i + 4] != '-') continue;
    if (in.substr(i, 4) < "1970") return true;
  }
  return false;
}

// parseMetDocument: detection, CAP, Atom/RSS, EDXL-DE, GB/T.
void run(std::string_view in) {
  if (skipOpenFindings(in)) return;
  met::MetOutput out = met::parseMetDocument(in, "fuzz", kNowMs);
  checkMessages(out.output, kNowMs, true, "parseMetDocument");
}

#elif defined(ALERTBUS_FUZZ_ADAPTER_water)

// tests/data/water/stations.csv, so the readings samples name known stations.
constexpr std::string_view kStations =
    "STCD,STNM,ADDVCD,LGTD,LTTD,STTP,FRZ,WRZ,GRZ,MAXRISE\n"
    "70110400,余姚(姚江),330281,121.1545,30.0452,ZZ,2.50,2.93,3.43,\n"
    "70110600,丈亭(姚江),330281,121.3790,29.9980,ZZ,,2.80,3.30,\n"
    "70120200,北渡(奉化江),330213,121.4470,29.7230,ZQ,2.80,3.30,3.80,1.5\n"
    "70120500,三江口(甬江),330203,121.5560,29.8720,ZZ,,2.60,3.10,\n"
    "70130100,皎口水库,330203,121.2720,29.7800,RR,19.00,20.00,21.50,2.0\n"
    "70130300,周公宅水库,330203,121.1850,29.7420,RR,,,,\n";

// The gauge state machine over `readings`, fed twice (the second time later: duplicates, renewals), then
// its state saved and loaded into a fresh monitor that takes the readings once more.
void monitor(const std::vector<water::Station>& stations, std::string_view readings) {
  water::WaterOptions opt;
  opt.redMarginAboveGrzM = 0.5;  // the red level exists only with a margin
  water::GaugeMonitor gm(stations, opt);
  checkMessages(gm.processBytes(readings, "fuzz", kNowMs).output, kNowMs, false, "GaugeMonitor::processBytes");
  checkMessages(gm.processBytes(readings, "fuzz", kNowMs + 2 * kHourMs).output, kNowMs + 2 * kHourMs, false,
                "GaugeMonitor::processBytes (again)");
  water::GaugeMonitor restored(stations, opt);
  std::string error;
  if (!restored.loadState(gm.saveState(), error)) {
    std::fprintf(stderr, "GaugeMonitor::loadState refused its own saveState(): %s\n", error.c_str());
    std::abort();
  }
  checkMessages(restored.processBytes(readings, "fuzz", kNowMs + 3 * kHourMs).output, kNowMs + 3 * kHourMs,
                false, "GaugeMonitor::processBytes (restored)");
}

// The whole input is a stations file and a readings input (against the stations above). If it holds a line
// "%%", the part before is the stations file for the readings after it.
void run(std::string_view in) {
  water::WaterOptions opt;
  water::StationsResult fixed = water::parseStations(kStations, "stations.csv", opt);
  if (fixed.stations.size() != 6) std::abort();
  (void)water::parseStations(in, "fuzz", opt);
  monitor(fixed.stations, in);
  size_t sep = in.find("\n%%\n");
  if (sep != std::string_view::npos) {
    water::StationsResult own = water::parseStations(in.substr(0, sep + 1), "fuzz-stations", opt);
    monitor(own.stations, in.substr(sep + 4));
  }
}

#elif defined(ALERTBUS_FUZZ_ADAPTER_fire)

// Every input goes through format detection and both trackers, whatever the detected format: the runtime
// routes by detectFireFormat, but a parser must not depend on that for its safety.
void run(std::string_view in) {
  (void)fire::detectFireFormat(in);

  fire::DispatchTracker dispatch;
  checkMessages(dispatch.ingest(in, "fuzz", kNowMs), kNowMs, false, "DispatchTracker::ingest");
  checkMessages(dispatch.ingest(in, "fuzz", kNowMs + 60000), kNowMs + 60000, false,
                "DispatchTracker::ingest (again)");
  fire::DispatchTracker restored;
  std::string error;
  if (!restored.loadState(dispatch.saveState(), &error)) {
    std::fprintf(stderr, "DispatchTracker::loadState refused its own saveState(): %s\n", error.c_str());
    std::abort();
  }

  fire::HotspotClusterer clusters;
  checkMessages(clusters.ingestCsv(in, "fuzz", kNowMs), kNowMs, false, "HotspotClusterer::ingestCsv");
  checkMessages(clusters.tick(kNowMs + kHourMs), kNowMs + kHourMs, false, "HotspotClusterer::tick");
  fire::HotspotClusterer reloaded;
  if (!reloaded.loadState(clusters.saveState(), &error)) {
    std::fprintf(stderr, "HotspotClusterer::loadState refused its own saveState(): %s\n", error.c_str());
    std::abort();
  }
  checkMessages(reloaded.tick(kNowMs + 48 * kHourMs), kNowMs + 48 * kHourMs, false,
                "HotspotClusterer::tick (quiet, restored)");
}

#elif defined(ALERTBUS_FUZZ_ADAPTER_maritime)

// A typhoon warning as the broker would deliver it from the met adapter: a wide box (so fuzzed vessels fall
// inside) and a circle.
std::unique_ptr<capnp::MallocMessageBuilder> typhoonWarning() {
  auto b = std::make_unique<capnp::MallocMessageBuilder>();
  auto m = b->initRoot<schema::Message>();
  m.setId("typhoon-fuzz");
  m.setSender("met");
  m.setSentMs(kNowMs - 60000);
  m.setStatus(schema::Status::ACTUAL);
  m.setMsgType(schema::MsgType::ALERT);
  auto info = m.initPayload().initWarning(1)[0];
  info.setLanguage("zh-CN");
  info.setEventCode("typhoon");
  auto area = info.initAreas(1)[0];
  area.setDescription("fuzz box");
  auto pts = area.initPolygons(1)[0].initPoints(5);
  const double box[5][2] = {{-60, -170}, {-60, 170}, {70, 170}, {70, -170}, {-60, -170}};
  for (unsigned i = 0; i < 5; ++i) {
    pts[i].setLat(box[i][0]);
    pts[i].setLon(box[i][1]);
  }
  auto c = area.initCircles(1)[0];
  c.initCenter().setLat(30.0);
  c.getCenter().setLon(122.3);
  c.setRadiusKm(300);
  return b;
}

// The input as an AIS receiver stream (one sentence per line) into the vessel registry, and as a NAVTEX
// serial stream (in chunks whose size the first byte picks); NAVTEX messages go on to the risk monitor as the
// broker would deliver them (events include navtex-*), next to a typhoon warning; then reports are evaluated
// now and after every warning has expired.
void run(std::string_view in) {
  AisDecoder ais;
  maritime::VesselRegistry registry;
  int64_t t = kNowMs - kHourMs;
  size_t start = 0;
  while (start <= in.size()) {
    size_t end = in.find('\n', start);
    if (end == std::string_view::npos) end = in.size();
    AisResult r = ais.feed(in.substr(start, end - start), t);
    if (r.outcome == AisOutcome::Decoded) (void)registry.update(r);
    t += 1000;
    start = end + 1;
  }

  maritime::NavtexOptions nopt;
  nopt.stationNames['Q'] = "Shanghai";
  maritime::NavtexDecoder navtex(nopt);
  adapter::Output nav;
  size_t chunk = in.empty() ? 1 : 1 + static_cast<uint8_t>(in[0]) % 200;
  for (size_t i = 0; i < in.size(); i += chunk) nav.append(navtex.feed(in.substr(i, chunk), "fuzz", kNowMs));
  nav.append(navtex.finish("fuzz", kNowMs));
  checkMessages(nav, kNowMs, false, "NavtexDecoder");

  maritime::RiskOptions ropt;
  ropt.events.push_back("navtex-*");
  ropt.runId = "fuzz";
  maritime::GeoArea port;
  port.name = "Shenjiamen";
  port.polygons = {{{29.93, 122.28}, {29.93, 122.32}, {29.97, 122.32}, {29.97, 122.28}}};
  ropt.shelters.push_back(port);
  maritime::RiskMonitor risk(ropt);
  auto typhoon = typhoonWarning();
  (void)risk.onMessage(typhoon->getRoot<schema::Message>().asReader(), kNowMs);
  for (auto& mb : nav.messages) {
    mb->getRoot<schema::Message>().setSender("maritime");  // the broker stamps it
    (void)risk.onMessage(mb->getRoot<schema::Message>().asReader(), kNowMs);
  }
  registry.expire(kNowMs);
  checkMessages(risk.evaluate(registry, kNowMs), kNowMs, false, "RiskMonitor::evaluate");
  const int64_t later = kNowMs + 30 * 24 * kHourMs;  // every warning expired: final reports
  checkMessages(risk.evaluate(registry, later), later, false, "RiskMonitor::evaluate (expired)");
}

#endif

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

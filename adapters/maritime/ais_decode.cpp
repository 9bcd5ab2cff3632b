// AIS reports as JSON lines for `alertbus-maritime decode`; see ais_decode.h. The sentences of a multi-sentence
// report are tracked beside AisDecoder's own reassembly by the group key it reports in AisResult.
#include "adapters/maritime/ais_decode.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace alertbus::maritime {
namespace {

using json = nlohmann::ordered_json;  // keys in the order written: the lines read as rows

json rounded(const std::optional<double>& v, double scale) {
  if (!v) return nullptr;
  return std::round(*v * scale) / scale;
}

json text(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

void putPosition(json& j, const AisPosition& p) {
  j["lat"] = rounded(p.latDeg, 1e7);
  j["lon"] = rounded(p.lonDeg, 1e7);
  j["speed_knots"] = rounded(p.sogKnots, 10);
  j["course_deg"] = rounded(p.cogDeg, 10);
  j["heading_deg"] = p.headingDeg ? json(*p.headingDeg) : json(nullptr);
}

void putStatic(json& j, const AisStatic& s) {
  j["name"] = text(s.name);
  j["callsign"] = text(s.callsign);
  j["ship_type"] = s.shipType ? json(*s.shipType) : json(nullptr);
  if (s.type == 24) j["part"] = s.part == 0 ? "A" : "B";
}

std::string report(const AisResult& r, uint64_t lineNo, const std::vector<std::string>& sentences) {
  // Every key, in this order, whatever the type.
  json j = json::object();
  j["line"] = lineNo;
  j["type"] = nullptr;
  j["part"] = nullptr;
  j["mmsi"] = nullptr;
  for (const char* k : {"lat", "lon", "speed_knots", "course_deg", "heading_deg", "name", "callsign", "ship_type"})
    j[k] = nullptr;
  if (auto* p = std::get_if<AisPosition>(&r.message)) {
    j["type"] = p->type;
    j["mmsi"] = p->mmsi;
    putPosition(j, *p);
  } else if (auto* s = std::get_if<AisStatic>(&r.message)) {
    j["type"] = s->type;
    j["mmsi"] = s->mmsi;
    putStatic(j, *s);
  } else if (auto* x = std::get_if<AisClassBExtended>(&r.message)) {
    j["type"] = x->position.type;
    j["mmsi"] = x->position.mmsi;
    putPosition(j, x->position);
    putStatic(j, x->statics);
  }
  j["sentences"] = sentences;
  // A receiver's prefix or trailing metadata may hold any bytes: invalid UTF-8 becomes U+FFFD, no exception.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string keyText(const std::string& key, int count) {
  std::string s = "of " + std::to_string(count) + " (talker ";
  s += key.substr(0, 2) + ", sequence id " + key.substr(2, 1) + ", channel " + key.substr(3, 1) + ")";
  return s;
}

}  // namespace

AisDecodeStream::AisDecodeStream(AisDecoderOptions options) : options_(options), decoder_(options) {}

void AisDecodeStream::drop(size_t index, const std::string& why, std::vector<AisDecodeLine>& out) {
  const Pending& p = pending_[index];
  out.push_back({AisDecodeLine::Kind::diagnostic,
                 "line " + std::to_string(p.lines.front().first) + ": message of " + std::to_string(p.lines.size()) +
                     " fragment(s) " + keyText(p.key, p.count) + " never completed: " + why});
  pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(index));
}

void AisDecodeStream::feed(std::string_view line, uint64_t lineNo, int64_t receivedMs, std::vector<AisDecodeLine>& out) {
  AisResult r = decoder_.feed(line, receivedMs);
  if (r.outcome == AisOutcome::Ignored) return;
  const bool multi = r.fragmentCount > 1;
  const std::string key = multi ? std::string(r.groupKey, 4) : std::string();
  size_t at = pending_.size();
  for (size_t i = 0; multi && i < pending_.size(); ++i)
    if (pending_[i].key == key) at = i;
  const std::string here = "line " + std::to_string(lineNo);

  if (r.outcome == AisOutcome::Pending) {
    if (r.fragmentNumber == 1) {
      if (at < pending_.size()) drop(at, "a new fragment 1 on " + here, out);
      pending_.push_back({key, r.fragmentCount, {{lineNo, std::string(line)}}});
      if (pending_.size() > options_.maxPendingGroups)
        drop(0, "evicted: more than " + std::to_string(options_.maxPendingGroups) + " messages pending", out);
    } else if (at < pending_.size()) {
      pending_[at].lines.emplace_back(lineNo, std::string(line));
    }
    return;
  }

  std::vector<std::string> sentences;
  if (multi && at < pending_.size()) {
    if (r.outcome == AisOutcome::Rejected) {
      // The decoder dropped the group with this fragment; say so after this line's own reason.
      out.push_back({AisDecodeLine::Kind::diagnostic, here + ": " + r.rejection.text()});
      drop(at, "the fragment on " + here + " was refused", out);
      return;
    }
    for (auto& [n, text] : pending_[at].lines) sentences.push_back(std::move(text));
    pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(at));
  }
  sentences.emplace_back(line);

  switch (r.outcome) {
    case AisOutcome::Decoded:
      out.push_back({AisDecodeLine::Kind::report, report(r, lineNo, sentences)});
      return;
    case AisOutcome::Skipped:
      out.push_back({AisDecodeLine::Kind::diagnostic,
                     here + ": type " + std::to_string(r.skippedType) + ": not decoded (types 1, 2, 3, 5, 18, 19 and 24 are)"});
      return;
    case AisOutcome::Rejected:
      out.push_back({AisDecodeLine::Kind::diagnostic, here + ": " + r.rejection.text()});
      return;
    case AisOutcome::Ignored:
    case AisOutcome::Pending:
      return;
  }
}

void AisDecodeStream::finish(std::vector<AisDecodeLine>& out) {
  while (!pending_.empty()) drop(0, "the input ended", out);
}

}  // namespace alertbus::maritime

// Field rules for published messages; see validate.h. Each check names the field path and the value.
#include "model/validate.h"

#include "model/decode_util.h"

#include <cmath>
#include <string_view>

namespace alertbus {
namespace {

constexpr size_t kMaxIdBytes = 200;
constexpr size_t kMaxValueEcho = 200;

std::string num(double d) {
  char buf[64];
  snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

// A field path, rendered to text only when a problem is reported: validation runs on every publish, and
// building "payload.warning[0].areas[1]" strings eagerly cost more than all the checks themselves.
struct Path {
  const Path* parent = nullptr;
  const char* name = nullptr;  // appended as is, e.g. ".areas" or "payload.warning"
  int index = -1;              // appended as [index] after name when >= 0
  std::string str() const {
    std::string s = parent ? parent->str() : std::string();
    if (name) s += name;
    if (index >= 0) s += "[" + std::to_string(index) + "]";
    return s;
  }
};

using Opt = std::optional<Problem>;
Opt bad(std::string field, std::string value, std::string reason) {
  return Problem{"invalid", std::move(field), std::move(value), std::move(reason)};
}

Opt checkText(const Path& field, capnp::Text::Reader t) {
  if (!isCleanUtf8(t.cStr(), t.size())) return bad(field.str(), clipValue({t.cStr(), t.size()}), "not valid UTF-8 text");
  return std::nullopt;
}

Opt checkPoint(const Path& field, schema::Point::Reader p) {
  double lat = p.getLat(), lon = p.getLon();
  if (!std::isfinite(lat) || lat < -90 || lat > 90) return bad(field.str() + ".lat", num(lat), "latitude outside -90..90");
  if (!std::isfinite(lon) || lon < -180 || lon > 180)
    return bad(field.str() + ".lon", num(lon), "longitude outside -180..180");
  return std::nullopt;
}

Opt checkAreas(const Path& base, capnp::List<schema::Area>::Reader areas) {
  for (unsigned i = 0; i < areas.size(); ++i) {
    auto a = areas[i];
    Path af{&base, nullptr, int(i)};
    if (auto p = checkText(Path{&af, ".description"}, a.getDescription())) return p;
    auto polys = a.getPolygons();
    for (unsigned j = 0; j < polys.size(); ++j) {
      Path pf{&af, ".polygons", int(j)};
      auto pts = polys[j].getPoints();
      if (pts.size() < 4) return bad(pf.str(), std::to_string(pts.size()) + " points", "a polygon needs at least 4 points");
      for (unsigned k = 0; k < pts.size(); ++k)
        if (auto p = checkPoint(Path{&pf, ".points", int(k)}, pts[k])) return p;
      auto f = pts[0], l = pts[pts.size() - 1];
      if (f.getLat() != l.getLat() || f.getLon() != l.getLon())
        return bad(pf.str(), num(f.getLat()) + "," + num(f.getLon()) + " != " + num(l.getLat()) + "," + num(l.getLon()),
                   "ring not closed (first != last)");
    }
    auto circles = a.getCircles();
    for (unsigned j = 0; j < circles.size(); ++j) {
      Path cf{&af, ".circles", int(j)};
      if (auto p = checkPoint(Path{&cf, ".center"}, circles[j].getCenter())) return p;
      double r = circles[j].getRadiusKm();
      if (!std::isfinite(r) || r < 0 || r > 20000) return bad(cf.str() + ".radiusKm", num(r), "radius outside 0..20000 km");
    }
    auto codes = a.getAdminCodes();
    for (unsigned j = 0; j < codes.size(); ++j) {
      std::string_view c(codes[j].cStr(), codes[j].size());
      bool digits = (c.size() == 6 || c.size() == 12);
      for (char ch : c)
        if (ch < '0' || ch > '9') digits = false;
      if (!digits)
        return bad(Path{&af, ".adminCodes", int(j)}.str(), clipValue(c),
                   "GB/T 2260 code must be 6 or 12 digits");
    }
  }
  return std::nullopt;
}

// A Cancel may carry no info (CAP allows it, and IPAWS sends them so): it withdraws what its references
// name, and has nothing to describe.
Opt checkInfos(const Path& base, capnp::List<schema::Info>::Reader infos, int64_t nowMs, bool canExpire,
               bool isCancel) {
  if (infos.size() == 0 && !isCancel)
    return bad(base.str(), "[]", "at least one info is required (only a cancel may have none)");
  bool allExpired = true;
  for (unsigned i = 0; i < infos.size(); ++i) {
    auto info = infos[i];
    Path f{&base, nullptr, int(i)};
    auto code = info.getEventCode();
    if (code.size() == 0) return bad(f.str() + ".eventCode", "", "event code is required");
    if (code.size() > 64) return bad(f.str() + ".eventCode", clipValue({code.cStr(), code.size()}), "longer than 64 bytes");
    if (auto p = checkText(Path{&f, ".eventCode"}, code)) return p;
    for (auto [name, t] : {std::pair{".headline", info.getHeadline()}, {".description", info.getDescription()},
                           {".instruction", info.getInstruction()}, {".event", info.getEvent()}})
      if (auto p = checkText(Path{&f, name}, t)) return p;
    int64_t onset = info.getOnsetMs(), expires = info.getExpiresMs();
    if (expires < 0) return bad(f.str() + ".expiresMs", std::to_string(expires), "negative time");
    if (expires != 0 && onset != 0 && expires < onset)
      return bad(f.str() + ".expiresMs", std::to_string(expires), "expires before onset " + std::to_string(onset));
    if (expires == 0 || expires > nowMs) allExpired = false;
    if (auto p = checkAreas(Path{&f, ".areas"}, info.getAreas())) return p;
  }
  if (canExpire && allExpired)
    return Problem{"expired", base.str() + "[0].expiresMs", std::to_string(infos[0].getExpiresMs()),
                   "every info expired before it reached the broker (now " + std::to_string(nowMs) + ")"};
  return std::nullopt;
}

}  // namespace

std::string clipValue(std::string_view v) {
  std::string s(v.substr(0, kMaxValueEcho));
  for (auto& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

bool isCleanUtf8(const char* s, size_t n) {
  // Control characters (but tab, LF, CR) and DEL first, then the encoding (one shared UTF-8 check).
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return false;
  }
  return isValidUtf8(std::string_view(s, n));
}

std::optional<Problem> validateMessage(schema::Message::Reader m, int64_t nowMs) {
  auto id = m.getId();
  std::string_view ids(id.cStr(), id.size());
  if (ids.empty()) return bad("id", "", "id is required");
  if (ids.size() > kMaxIdBytes) return bad("id", clipValue(ids), "longer than 200 bytes");
  for (char c : ids)
    if (c == ' ' || c == ',' || c == '<' || c == '&' || static_cast<unsigned char>(c) < 0x21)
      return bad("id", clipValue(ids), "id may not contain whitespace, ',', '<' or '&' (CAP identifier rules)");
  if (!isCleanUtf8(id.cStr(), id.size())) return bad("id", clipValue(ids), "not valid UTF-8 text");
  auto origin = m.getOrigin();
  std::string_view os(origin.cStr(), origin.size());
  if (os.size() > kMaxIdBytes) return bad("origin", clipValue(os), "longer than 200 bytes");
  for (char c : os)
    if (c == ' ' || c == ',' || static_cast<unsigned char>(c) < 0x21)
      return bad("origin", clipValue(os), "origin may not contain whitespace or ',' (CAP sender rules)");
  if (!isCleanUtf8(origin.cStr(), origin.size())) return bad("origin", clipValue(os), "not valid UTF-8 text");
  if (m.getStatus() == schema::Status::UNSPECIFIED) return bad("status", "unspecified", "status is required");
  auto type = m.getMsgType();
  if (type == schema::MsgType::UNSPECIFIED) return bad("msgType", "unspecified", "msgType is required");
  auto refs = m.getReferences();
  if ((type == schema::MsgType::UPDATE || type == schema::MsgType::CANCEL || type == schema::MsgType::ACK) &&
      refs.size() == 0)
    return bad("references", "[]", "an update, cancel or ack must reference the message(s) it concerns");
  for (unsigned i = 0; i < refs.size(); ++i)
    if (refs[i].getId().size() == 0)
      return bad("references[" + std::to_string(i) + "].id", "", "reference without an id");
  if (auto p = checkText(Path{nullptr, "incident"}, m.getIncident())) return p;
  bool canExpire = type == schema::MsgType::ALERT || type == schema::MsgType::UPDATE;
  auto pl = m.getPayload();
  switch (pl.which()) {
    case schema::Message::Payload::UNSPECIFIED:
      return bad("payload", "unspecified", "payload is required");
    case schema::Message::Payload::WARNING:
      return checkInfos(Path{nullptr, "payload.warning"}, pl.getWarning(), nowMs, canExpire,
                        type == schema::MsgType::CANCEL);
    case schema::Message::Payload::FORECAST:
      return checkInfos(Path{nullptr, "payload.forecast"}, pl.getForecast(), nowMs, canExpire,
                        type == schema::MsgType::CANCEL);
    case schema::Message::Payload::OBSERVATION: {
      auto o = pl.getObservation();
      if (o.getStation().size() == 0) return bad("payload.observation.station", "", "station is required");
      if (!std::isfinite(o.getValue()))
        return bad("payload.observation.value", num(o.getValue()), "value must be a finite number");
      if (o.getQuantity().size() == 0) return bad("payload.observation.quantity", "", "quantity is required");
      return checkText(Path{nullptr, "payload.observation.stationName"}, o.getStationName());
    }
    case schema::Message::Payload::SITREP:
      return checkAreas(Path{nullptr, "payload.sitrep.areas"}, pl.getSitrep().getAreas());
    case schema::Message::Payload::INSTRUCTION: {
      auto ins = pl.getInstruction();
      if (ins.getText().size() == 0 && ins.getHeadline().size() == 0)
        return bad("payload.instruction.text", "", "an instruction needs a headline or text");
      return checkAreas(Path{nullptr, "payload.instruction.areas"}, ins.getAreas());
    }
    case schema::Message::Payload::FUSED_ALERT: {
      auto fa = pl.getFusedAlert();
      if (fa.getIncident().size() == 0) return bad("payload.fusedAlert.incident", "", "incident is required");
      return checkAreas(Path{nullptr, "payload.fusedAlert.areas"}, fa.getAreas());
    }
    case schema::Message::Payload::ACK:
      if (pl.getAck().getRef().getId().size() == 0)
        return bad("payload.ack.ref.id", "", "an ack must name the message it answers");
      return std::nullopt;
  }
  return bad("payload", std::to_string(static_cast<int>(pl.which())), "unknown payload kind (newer schema?)");
}

}  // namespace alertbus

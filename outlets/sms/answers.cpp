// See answers.h.
#include "outlets/sms/answers.h"

#include <algorithm>

#include "model/facts.h"

namespace alertbus::sms {

namespace {

int colourRank(schema::Colour c) { return static_cast<int>(c); }  // unspecified 0 < blue < ... < red

}  // namespace

std::string idSafe(const std::string& s, size_t maxBytes) {
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= maxBytes) break;
    out += (c <= 0x20 || c == ',' || c == '<' || c == '&' || c == 0x7f) ? '_' : static_cast<char>(c);
  }
  // Never end inside a UTF-8 sequence.
  while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
  if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0xC0) out.pop_back();
  return out;
}

schema::Status derivedStatus(std::string_view alertStatus) {
  schema::Status s = schema::Status::UNSPECIFIED;
  if (!parseStatus(alertStatus, s) || s == schema::Status::UNSPECIFIED) return schema::Status::TEST;
  return s;
}

AlertFacts alertFacts(schema::Message::Reader m, bool brokerUrgent) {
  AlertFacts f;
  auto p = m.getPayload();
  capnp::List<schema::Info>::Reader infos;
  bool hasInfos = false;
  if (p.isWarning()) {
    infos = p.getWarning();
    hasInfos = true;
  } else if (p.isForecast()) {
    infos = p.getForecast();
    hasInfos = true;
  }
  if (hasInfos) {
    for (auto i : infos) {
      if (f.event.empty()) f.event = i.getEventCode();
      if (colourRank(i.getColour()) > colourRank(f.colour)) f.colour = i.getColour();
      f.expiresMs = std::max(f.expiresMs, i.getExpiresMs());
    }
  } else if (p.isFusedAlert()) {
    f.event = p.getFusedAlert().getEvent();
    f.level = p.getFusedAlert().getLevel();
    f.expiresMs = 0;
  } else if (p.isInstruction()) {
    f.event = p.getInstruction().getEvent();
    f.level = p.getInstruction().getLevel();
    f.expiresMs = p.getInstruction().getExpiresMs();
  } else if (p.isSitrep()) {
    f.event = p.getSitrep().getEvent();
  } else if (p.isObservation()) {
    f.event = p.getObservation().getEvent();
  }
  f.urgent = brokerUrgent || f.colour == schema::Colour::RED || f.colour == schema::Colour::ORANGE ||
             f.level == schema::ResponseLevel::LEVEL_I || f.level == schema::ResponseLevel::LEVEL_I_I;
  return f;
}

int64_t answerWindowMs(const AlertFacts& f, schema::MsgType type, const AnswerPolicy& p) {
  if (type == schema::MsgType::CANCEL || type == schema::MsgType::ACK) return 0;
  switch (f.level) {
    case schema::ResponseLevel::LEVEL_I: return p.levelIMs;
    case schema::ResponseLevel::LEVEL_I_I: return p.levelIIMs;
    case schema::ResponseLevel::LEVEL_I_I_I: return p.levelIIIMs;
    case schema::ResponseLevel::LEVEL_I_V: return p.levelIVMs;
    default: break;
  }
  switch (f.colour) {
    case schema::Colour::RED: return p.redMs;
    case schema::Colour::ORANGE: return p.orangeMs;
    case schema::Colour::YELLOW: return p.yellowMs;
    case schema::Colour::BLUE: return p.blueMs;
    default: return p.otherMs;
  }
}

std::unique_ptr<capnp::MallocMessageBuilder> ackMessage(const std::string& alertSender, const std::string& alertId,
                                                        int64_t alertSentMs, schema::Status status,
                                                        const std::string& personId,
                                                        const std::string& mobile, const std::string& code,
                                                        const std::string& text, int64_t answeredMs, int64_t rowId) {
  auto b = std::make_unique<capnp::MallocMessageBuilder>();
  auto m = b->initRoot<schema::Message>();
  std::string suffix = "-" + std::to_string(rowId);
  m.setId("sms-ack-" + idSafe(alertId, 200 - 8 - suffix.size()) + suffix);
  m.setSentMs(answeredMs);
  m.setStatus(status);
  m.setMsgType(schema::MsgType::ACK);
  auto ref = m.initReferences(1)[0];
  ref.setSender(alertSender);
  ref.setId(alertId);
  ref.setSentMs(alertSentMs);
  auto ack = m.getPayload().initAck();
  auto r = ack.initRef();
  r.setSender(alertSender);
  r.setId(alertId);
  r.setSentMs(alertSentMs);
  ack.setBy("sms:" + mobile + "/" + personId);
  ack.setChannel("sms");
  ack.setAnsweredMs(answeredMs);
  ack.setCode(code);
  std::string clipped = text.substr(0, 500);
  while (!clipped.empty() && (static_cast<unsigned char>(clipped.back()) & 0xC0) == 0x80 && clipped.size() < text.size())
    clipped.pop_back();
  ack.setText(clipped);
  auto prov = m.initProvenance();
  prov.setContentType("text/plain; sms-reply");
  prov.setOriginal(kj::arrayPtr(reinterpret_cast<const kj::byte*>(text.data()), std::min<size_t>(text.size(), 2000)));
  prov.setSource("sms:" + mobile);
  prov.setReceivedMs(answeredMs);
  return b;
}

std::unique_ptr<capnp::MallocMessageBuilder> summaryMessage(const std::string& alertSender, const std::string& alertId,
                                                            schema::Status status, const std::string& event,
                                                            const SummaryCounts& c,
                                                            uint64_t version, const std::string& runTag,
                                                            int64_t nowMs) {
  auto b = std::make_unique<capnp::MallocMessageBuilder>();
  auto m = b->initRoot<schema::Message>();
  std::string suffix = "-" + idSafe(runTag, 16) + "-" + std::to_string(version);
  m.setId("sms-summary-" + idSafe(alertId, 200 - 12 - suffix.size()) + suffix);
  m.setSentMs(nowMs);
  m.setStatus(status);
  m.setMsgType(version <= 1 ? schema::MsgType::ALERT : schema::MsgType::UPDATE);
  auto refs = m.initReferences(1);
  refs[0].setSender(alertSender);
  refs[0].setId(alertId);
  auto s = m.getPayload().initSitrep();
  s.setReportNumber(static_cast<uint32_t>(version));
  s.setVersion(static_cast<uint32_t>(version));
  s.setEvent(event);
  struct Count {
    const char* kind;
    size_t n;
  } counts[] = {{"sms-recipients", c.recipients}, {"sms-delivered", c.delivered}, {"sms-failed", c.failed},
                {"sms-pending", c.pending},       {"sms-answered", c.answered},   {"sms-unanswered", c.unanswered},
                {"sms-escalated", c.escalated},   {"sms-expired", c.expired},     {"sms-cancelled", c.cancelled}};
  auto res = s.initResources(sizeof counts / sizeof counts[0]);
  for (unsigned i = 0; i < res.size(); ++i) {
    res[i].setKind(counts[i].kind);
    res[i].setCount(static_cast<uint32_t>(counts[i].n));
  }
  std::string narrative = "短信 " + std::to_string(c.recipients) + " 人：已送达 " + std::to_string(c.delivered) +
                          "，失败 " + std::to_string(c.failed) + "，待发/在途 " + std::to_string(c.pending) +
                          "；已回复 " + std::to_string(c.answered) + "，未回复 " + std::to_string(c.unanswered);
  if (c.escalated) narrative += "，已逐级提醒 " + std::to_string(c.escalated);
  if (!c.unansweredNames.empty()) {
    narrative += "。未回复：";
    for (size_t i = 0; i < c.unansweredNames.size() && i < 20; ++i)
      narrative += (i ? "、" : "") + c.unansweredNames[i];
    if (c.unanswered > 20) narrative += " 等";
  }
  narrative += "。";
  s.setNarrative(narrative);
  auto prov = m.initProvenance();
  prov.setContentType("application/json");
  std::string original = "{\"alert\":\"" + idSafe(alertSender, 64) + "/" + idSafe(alertId, 200) + "\"}";
  prov.setOriginal(kj::arrayPtr(reinterpret_cast<const kj::byte*>(original.data()), original.size()));
  prov.setSource("alertbus-sms");
  prov.setReceivedMs(nowMs);
  return b;
}

}  // namespace alertbus::sms

// What the SMS outlet publishes back to the bus, and the per-alert decisions it takes from the message:
// queue priority, how long recipients have to answer (叫应), the messages for an answer (payload.ack) and
// for a delivery/answer summary (payload.sitrep). Pure: no I/O, the clock is passed in.
#pragma once

#include <capnp/message.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/message.capnp.h"

namespace alertbus::sms {

// How long a recipient has to answer, by the alert's colour (warnings) or response level (fused alerts),
// in ms; 0 = no answer expected. Config keys answers.deadline_minutes.{red, orange, yellow, blue,
// level_i, level_ii, level_iii, level_iv, other}.
struct AnswerPolicy {
  int64_t redMs = 15 * 60000, orangeMs = 30 * 60000, yellowMs = 60 * 60000, blueMs = 0;
  int64_t levelIMs = 10 * 60000, levelIIMs = 15 * 60000, levelIIIMs = 30 * 60000, levelIVMs = 60 * 60000;
  int64_t otherMs = 0;          // instructions, sitreps, unknown colour
};

// Facts the outlet needs from a delivered message.
struct AlertFacts {
  std::string event;            // first info's eventCode, or the payload's event
  schema::Colour colour = schema::Colour::UNSPECIFIED;    // highest colour of the infos
  schema::ResponseLevel level = schema::ResponseLevel::UNSPECIFIED;  // fused alerts
  int64_t expiresMs = 0;        // latest info expiry (0 = none)
  bool urgent = false;          // red/orange or Level I/II, or the broker said urgent
};
AlertFacts alertFacts(schema::Message::Reader m, bool brokerUrgent);

// 0 when no answer is expected (cancels, acks, blue warnings by default ...).
int64_t answerWindowMs(const AlertFacts& f, schema::MsgType type, const AnswerPolicy& p);

// The status of what the outlet publishes about an alert (its acks and summaries), from the alert's status as
// the delivery store keeps it (AlertRow::status, a model/facts statusName): the same status, so an answer to a
// drill is a drill answer and never counts as a real one. A name it does not know (a damaged state file) gives
// test, never actual: better a real answer shown in the test lane than a drill answer shown as real.
schema::Status derivedStatus(std::string_view alertStatus);

// An answer (叫应) as an alertbus ack: status `status` (derivedStatus of the alert's), ref = the alert (sender,
// id, sentMs), by = "sms:<mobile>" with the person id, channel "sms", code = the answer code, text = the reply
// as received (clipped to 500 bytes). id "sms-ack-<alert id>-<answer row>" (<= 200 bytes, id-safe).
std::unique_ptr<capnp::MallocMessageBuilder> ackMessage(const std::string& alertSender, const std::string& alertId,
                                                        int64_t alertSentMs, schema::Status status,
                                                        const std::string& personId,
                                                        const std::string& mobile, const std::string& code,
                                                        const std::string& text, int64_t answeredMs, int64_t rowId);

// A delivery and answer summary as a situation report referencing the alert, with status `status`
// (derivedStatus of the alert's): resources counts
// (sms-recipients, sms-delivered, sms-failed, sms-pending, sms-answered, sms-unanswered, sms-escalated),
// narrative in Chinese naming up to 20 who have not answered. id "sms-summary-<alert id>-<runTag>-<version>":
// `runTag` (e.g. the outlet's start time) keeps a restarted outlet, whose versions start again at 1, from
// reusing an id the broker already has (it would answer "duplicate" and drop the newer summary).
struct SummaryCounts {
  size_t recipients = 0, delivered = 0, failed = 0, pending = 0, answered = 0, escalated = 0, expired = 0,
         cancelled = 0;
  std::vector<std::string> unansweredNames;  // "姓名(id)"
  size_t unanswered = 0;
};
std::unique_ptr<capnp::MallocMessageBuilder> summaryMessage(const std::string& alertSender, const std::string& alertId,
                                                            schema::Status status, const std::string& event, const SummaryCounts& c,
                                                            uint64_t version, const std::string& runTag,
                                                            int64_t nowMs);

// Makes any text usable inside a message id: whitespace, ',', '<', '&' and control bytes become '_'.
std::string idSafe(const std::string& s, size_t maxBytes);

}  // namespace alertbus::sms

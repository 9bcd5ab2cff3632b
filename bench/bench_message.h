// The message every broker benchmark publishes: a serialised blue rainstorm warning for 330212 whose
// headline is padded until the whole Message is at least `bytes` long (300 in the targets).
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <string>

#include "schemas/message.capnp.h"

namespace alertbus::bench {

inline kj::Array<capnp::word> paddedWarning(const std::string& id, size_t bytes = 300) {
  std::string pad;
  for (;;) {
    capnp::MallocMessageBuilder b;
    auto m = b.initRoot<schema::Message>();
    m.setId(id);
    m.setSentMs(1);
    m.setStatus(schema::Status::ACTUAL);
    m.setMsgType(schema::MsgType::ALERT);
    auto info = m.getPayload().initWarning(1)[0];
    info.setEventCode("rainstorm");
    info.setColour(schema::Colour::BLUE);
    info.setHeadline(pad);
    info.initAreas(1)[0].initAdminCodes(1).set(0, "330212");
    auto words = capnp::messageToFlatArray(b);
    if (words.asBytes().size() >= bytes) return words;
    pad.append(bytes - words.asBytes().size() > 8 ? 8 : 1, 'x');
  }
}

}  // namespace alertbus::bench

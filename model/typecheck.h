// Typed traversal of a Message through the generated accessors: every pointer field is read once with
// its schema type, so a list of the wrong element type, a non-NUL-terminated text or an out-of-bounds
// pointer anywhere in the message throws here (inside the decoder's exception guard) instead of later in
// an outlet that reads that field. Generated code, no reflection: costs about as much as reading the
// fields once (the reflective walk it replaces was the broker's largest per-message cost).
#pragma once

#include "schemas/message.capnp.h"
#include "schemas/protocol.capnp.h"

namespace alertbus {

// Throws kj::Exception on any ill-typed or out-of-bounds part of `m`.
void touchMessage(schema::Message::Reader m);
// The same for a protocol Frame (its Data fields are checked as blobs; Publish/Deliver messages are
// decoded and touched separately with touchMessage).
void touchFrame(schema::Frame::Reader f);

}  // namespace alertbus

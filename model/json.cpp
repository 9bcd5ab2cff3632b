// JSON <-> Message through capnp::JsonCodec (a well-kept library mapping; no hand-written JSON walker).
#include "model/json.h"

#include <capnp/compat/json.h>
#include <kj/exception.h>

#include <stdexcept>

namespace alertbus {

std::string messageToJson(schema::Message::Reader m) {
  capnp::JsonCodec codec;
  codec.handleByAnnotation<schema::Message>();
  auto text = codec.encode(m);
  return std::string(text.cStr(), text.size());
}

void messageFromJson(std::string_view json, schema::Message::Builder out, std::string_view source) {
  capnp::JsonCodec codec;
  codec.handleByAnnotation<schema::Message>();
  codec.setRejectUnknownFields(true);
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
                codec.decode(kj::ArrayPtr<const char>(json.data(), json.size()), out);
              })) {
    throw std::runtime_error(std::string(source) + ": " + e->getDescription().cStr());
  }
}

}  // namespace alertbus

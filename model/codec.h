// Frame and message (de)serialisation with explicit limits: the only path by which bytes from the network
// or a file become Cap'n Proto readers. Pure: no ZeroMQ, no SQLite. Every decode fully traverses the bytes
// once under the traversal and nesting limits, so later field access cannot throw on hostile input.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "schemas/message.capnp.h"
#include "schemas/protocol.capnp.h"

namespace alertbus {

struct DecodeLimits {
  size_t maxFrameBytes = 1 << 20;       // bytes; larger frames are refused before parsing
  uint64_t traversalLimitWords = 1 << 18;  // 8-byte words read per message (2 MiB); bounds amplification
  unsigned nestingLimit = 32;           // pointer depth; our schemas need < 12
  bool typeCheck = true;                // walk every field with its schema type (typecheck.h). Bounds,
                                        // nesting and size are always checked; the client turns only this
                                        // off for deliveries, which the broker type-checked at publish.
};

struct DecodeError {
  std::string code;    // "tooLarge" | "malformed"
  std::string reason;  // one line, names the limit or the capnp complaint
};

// An aligned copy of one frame's bytes and a reader over them. Move-only; the Frame reader and every
// reader derived from it (including messages decoded from its Data fields) live as long as this object.
class DecodedFrame {
 public:
  schema::Frame::Reader frame() const { return root_; }

 private:
  friend bool decodeFrame(const void*, size_t, const DecodeLimits&, DecodedFrame&, DecodeError&);
  kj::Array<capnp::word> words_;
  std::unique_ptr<capnp::FlatArrayMessageReader> reader_;
  schema::Frame::Reader root_;
};

// Decodes one wire frame. Returns false and fills `err` on oversize, truncation, garbage, or limit
// violations. Cost: one copy of the bytes (ZeroMQ frames are not 8-byte aligned), one bounds traversal
// (totalSize) and, when limits.typeCheck, one typed walk of every field (typecheck.h).
bool decodeFrame(const void* data, size_t size, const DecodeLimits& limits, DecodedFrame& out,
                 DecodeError& err);

// A Message decoded from a Data blob (Publish.message, Deliver.message or a journal row).
// If `bytes` is 8-byte aligned (as a Data field inside a DecodedFrame always is) no copy is made and
// `bytes` must outlive this object; otherwise the bytes are copied.
class DecodedMessage {
 public:
  schema::Message::Reader message() const { return root_; }

 private:
  friend bool decodeMessage(kj::ArrayPtr<const kj::byte>, const DecodeLimits&, DecodedMessage&,
                            DecodeError&);
  kj::Array<capnp::word> copy_;
  std::unique_ptr<capnp::FlatArrayMessageReader> reader_;
  schema::Message::Reader root_;
};

bool decodeMessage(kj::ArrayPtr<const kj::byte> bytes, const DecodeLimits& limits, DecodedMessage& out,
                   DecodeError& err);

// Serialises a builder to the wire form (unpacked flat array). The result owns its words.
kj::Array<capnp::word> encode(capnp::MessageBuilder& builder);
inline kj::ArrayPtr<const kj::byte> bytesOf(const kj::Array<capnp::word>& words) {
  return words.asBytes();
}

}  // namespace alertbus

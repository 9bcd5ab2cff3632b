// Bounded decoding (model/codec.h): round trips, and every way hostile bytes are refused with a reason
// (truncated, oversized, not a multiple of 8, segment-count bomb, traversal and nesting limits, unaligned
// input). Also replays every fuzzer regression input in tests/data/fuzz/regressions/ the way the broker
// handles a frame, so a crash found once stays fixed.
#include "model/codec.h"

#include <capnp/any.h>
#include <capnp/message.h>
#include <catch2/catch.hpp>
#include <kj/exception.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>
#include <vector>

#include "model/facts.h"
#include "model/validate.h"

using namespace alertbus;

namespace {

constexpr int64_t kNowMs = 1700000000000LL;

// A valid warning message.
kj::Array<capnp::word> warningBytes(const std::string& id = "urn:test:codec:1", unsigned areaCount = 1) {
  capnp::MallocMessageBuilder b;
  auto m = b.initRoot<schema::Message>();
  m.setId(id);
  m.setStatus(schema::Status::ACTUAL);
  m.setMsgType(schema::MsgType::ALERT);
  m.setSentMs(kNowMs);
  auto info = m.getPayload().initWarning(1)[0];
  info.setEventCode("typhoon");
  info.setColour(schema::Colour::ORANGE);
  info.setHeadline("台风橙色预警");
  auto areas = info.initAreas(areaCount);
  for (unsigned i = 0; i < areaCount; ++i) {
    areas[i].setDescription("北仑区");
    areas[i].initAdminCodes(1).set(0, "330212");
  }
  return capnp::messageToFlatArray(b);
}

// A Publish frame carrying `message`.
kj::Array<capnp::word> publishFrame(kj::ArrayPtr<const kj::byte> message, uint64_t token = 7) {
  capnp::MallocMessageBuilder b;
  auto p = b.initRoot<schema::Frame>().initPublish();
  p.setToken(token);
  p.setMessage(message);
  return capnp::messageToFlatArray(b);
}

std::vector<uint8_t> toBytes(kj::ArrayPtr<const kj::byte> b) { return std::vector<uint8_t>(b.begin(), b.end()); }

// Little-endian words, as Cap'n Proto lays them out on the wire.
void putWord(std::vector<uint8_t>& out, uint32_t lo, uint32_t hi) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(lo >> (8 * i)));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(hi >> (8 * i)));
}
// Struct pointer: offset (signed, words from the end of the pointer), data words, pointer count.
void putStructPtr(std::vector<uint8_t>& out, int32_t offset, uint16_t dataWords, uint16_t ptrs) {
  putWord(out, static_cast<uint32_t>(offset) << 2, uint32_t(dataWords) | (uint32_t(ptrs) << 16));
}

bool decodes(const std::vector<uint8_t>& bytes, const DecodeLimits& limits, DecodeError& err) {
  DecodedFrame f;
  return decodeFrame(bytes.data(), bytes.size(), limits, f, err);
}

}  // namespace

TEST_CASE("codec: a Publish frame round-trips and its message decodes", "[codec]") {
  auto msg = warningBytes("urn:test:rt");
  auto frame = publishFrame(msg.asBytes(), 42);
  DecodedFrame df;
  DecodeError err;
  REQUIRE(decodeFrame(frame.asBytes().begin(), frame.asBytes().size(), DecodeLimits{}, df, err));
  REQUIRE(df.frame().isPublish());
  CHECK(df.frame().getPublish().getToken() == 42);
  auto data = df.frame().getPublish().getMessage();
  CHECK(data.size() == msg.asBytes().size());
  CHECK(std::memcmp(data.begin(), msg.asBytes().begin(), data.size()) == 0);

  DecodedMessage dm;
  REQUIRE(decodeMessage(data, DecodeLimits{}, dm, err));
  CHECK(dm.message().getId() == "urn:test:rt");
  CHECK(dm.message().getPayload().getWarning()[0].getEventCode() == "typhoon");
  CHECK_FALSE(validateMessage(dm.message(), kNowMs).has_value());
}

TEST_CASE("codec: a multi-segment frame decodes", "[codec]") {
  // A tiny fixed segment size forces far pointers and many segments, as `capnp encode --segment-size=1` does.
  capnp::MallocMessageBuilder b(4, capnp::AllocationStrategy::FIXED_SIZE);
  auto h = b.initRoot<schema::Frame>().initHello();
  h.setProtocolVersion(1);
  h.setClientName("a client name that does not fit into four words");
  auto words = capnp::messageToFlatArray(b);
  REQUIRE(b.getSegmentsForOutput().size() > 1);
  DecodedFrame df;
  DecodeError err;
  REQUIRE(decodeFrame(words.asBytes().begin(), words.asBytes().size(), DecodeLimits{}, df, err));
  CHECK(df.frame().getHello().getClientName() == "a client name that does not fit into four words");
}

TEST_CASE("codec: unaligned input is copied, not refused", "[codec]") {
  auto msg = warningBytes("urn:test:unaligned");
  auto frame = publishFrame(msg.asBytes());
  std::vector<uint8_t> buf(frame.asBytes().size() + 3);
  for (size_t offset = 1; offset <= 3; ++offset) {
    std::memcpy(buf.data() + offset, frame.asBytes().begin(), frame.asBytes().size());
    DecodedFrame df;
    DecodeError err;
    INFO("offset " << offset);
    REQUIRE(decodeFrame(buf.data() + offset, frame.asBytes().size(), DecodeLimits{}, df, err));
    CHECK(df.frame().getPublish().getToken() == 7);
  }
  // decodeMessage from an odd address copies too.
  std::memcpy(buf.data() + 1, msg.asBytes().begin(), msg.asBytes().size());
  DecodedMessage dm;
  DecodeError err;
  REQUIRE(decodeMessage(kj::arrayPtr(buf.data() + 1, msg.asBytes().size()), DecodeLimits{}, dm, err));
  CHECK(dm.message().getId() == "urn:test:unaligned");
}

TEST_CASE("codec: truncated, empty and odd-sized frames are malformed with a reason", "[codec]") {
  auto frame = publishFrame(warningBytes().asBytes());
  auto bytes = toBytes(frame.asBytes());
  DecodeError err;

  SECTION("empty") {
    CHECK_FALSE(decodes({}, DecodeLimits{}, err));
    CHECK(err.code == "malformed");
    CHECK_THAT(err.reason, Catch::Contains("shorter than a segment table"));
  }
  SECTION("4 bytes") {
    CHECK_FALSE(decodes({0, 0, 0, 0}, DecodeLimits{}, err));
    CHECK(err.code == "malformed");
    CHECK_THAT(err.reason, Catch::Contains("4 bytes"));
  }
  SECTION("cut by one word") {
    bytes.resize(bytes.size() - 8);
    CHECK_FALSE(decodes(bytes, DecodeLimits{}, err));
    CHECK(err.code == "malformed");
    CHECK_THAT(err.reason, Catch::Contains("truncated"));
  }
  SECTION("only the segment table") {
    bytes.resize(8);
    CHECK_FALSE(decodes(bytes, DecodeLimits{}, err));
    CHECK_THAT(err.reason, Catch::Contains("truncated"));
  }
  SECTION("not a multiple of 8") {
    bytes.resize(bytes.size() - 3);
    CHECK_FALSE(decodes(bytes, DecodeLimits{}, err));
    CHECK(err.code == "malformed");
    CHECK_THAT(err.reason, Catch::Contains("not a multiple of 8"));
  }
  SECTION("every prefix is refused or decodes; none crashes") {
    for (size_t n = 0; n < bytes.size(); ++n) {
      std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + n);
      DecodeError e;
      CHECK_FALSE(decodes(prefix, DecodeLimits{}, e));
      CHECK(e.code == "malformed");
    }
  }
}

TEST_CASE("codec: a frame above maxFrameBytes is tooLarge before parsing", "[codec]") {
  DecodeLimits limits;
  limits.maxFrameBytes = 256;
  auto frame = publishFrame(warningBytes("urn:test:big", 20).asBytes());
  REQUIRE(frame.asBytes().size() > 256);
  DecodedFrame df;
  DecodeError err;
  CHECK_FALSE(decodeFrame(frame.asBytes().begin(), frame.asBytes().size(), limits, df, err));
  CHECK(err.code == "tooLarge");
  CHECK_THAT(err.reason, Catch::Contains("max_frame_bytes 256"));

  // Size is checked first: garbage above the limit is tooLarge, not malformed.
  std::vector<uint8_t> garbage(1000, 0xab);
  CHECK_FALSE(decodes(garbage, limits, err));
  CHECK(err.code == "tooLarge");

  DecodedMessage dm;
  auto msg = warningBytes("urn:test:big", 20);
  CHECK_FALSE(decodeMessage(msg.asBytes(), limits, dm, err));
  CHECK(err.code == "tooLarge");
}

TEST_CASE("codec: a truncated message inside a valid frame is malformed with a reason", "[codec]") {
  auto msg = warningBytes();
  auto bytes = msg.asBytes();
  DecodedMessage dm;
  DecodeError err;
  CHECK_FALSE(decodeMessage(bytes.slice(0, bytes.size() - 8), DecodeLimits{}, dm, err));
  CHECK(err.code == "malformed");
  CHECK_THAT(err.reason, Catch::Contains("truncated"));
  CHECK_FALSE(decodeMessage(bytes.slice(0, 4), DecodeLimits{}, dm, err));
  CHECK_THAT(err.reason, Catch::Contains("shorter than a segment table"));
}

TEST_CASE("codec: segment-table bombs are refused without allocating", "[codec]") {
  DecodeError err;
  SECTION("segment count 2^32") {
    std::vector<uint8_t> b;
    putWord(b, 0xffffffffu, 0);
    putWord(b, 0, 0);
    CHECK_FALSE(decodes(b, DecodeLimits{}, err));
    CHECK(err.code == "malformed");
    CHECK_THAT(err.reason, Catch::Contains("segment count 4294967296 exceeds 512"));
  }
  SECTION("segment count 513") {
    std::vector<uint8_t> b;
    putWord(b, 512, 0);
    CHECK_FALSE(decodes(b, DecodeLimits{}, err));
    CHECK_THAT(err.reason, Catch::Contains("exceeds 512"));
  }
  SECTION("512 segments but no room for the table") {
    std::vector<uint8_t> b;
    putWord(b, 511, 0);
    putWord(b, 0, 0);
    CHECK_FALSE(decodes(b, DecodeLimits{}, err));
    CHECK_THAT(err.reason, Catch::Contains("segment table needs"));
  }
  SECTION("segment sizes claiming 4 x 2^32 words") {
    std::vector<uint8_t> b;
    putWord(b, 3, 0xffffffffu);
    putWord(b, 0xffffffffu, 0xffffffffu);
    putWord(b, 0xffffffffu, 0);
    CHECK_FALSE(decodes(b, DecodeLimits{}, err));
    CHECK_THAT(err.reason, Catch::Contains("truncated: segments declare"));
  }
  SECTION("zero segments of size zero") {
    std::vector<uint8_t> b;
    putWord(b, 0, 0);
    CHECK_FALSE(decodes(b, DecodeLimits{}, err));
    CHECK(err.code == "malformed");
  }
}

TEST_CASE("codec: out-of-bounds pointers are malformed", "[codec]") {
  DecodeError err;
  SECTION("struct pointer past the segment") {
    std::vector<uint8_t> b;
    putWord(b, 0, 1);
    putStructPtr(b, 100, 1, 0);
    CHECK_FALSE(decodes(b, DecodeLimits{}, err));
    CHECK(err.code == "malformed");
    CHECK_THAT(err.reason, Catch::Contains("out-of-bounds"));
  }
  SECTION("list pointer claiming 2^29 - 1 bytes") {
    // root -> struct {1 data word (the union tag = hello), 1 pointer} -> Hello, whose clientName text is
    // a byte list of 536870911 elements in a 5-word segment.
    std::vector<uint8_t> b;
    putWord(b, 0, 5);
    putStructPtr(b, 0, 1, 1);                   // root: Frame
    putWord(b, 1, 0);                           // Frame data: which = hello
    putStructPtr(b, 0, 1, 1);                   // Frame.hello
    putWord(b, 1, 0);                           // Hello data: protocolVersion 1
    putWord(b, 1, (536870911u << 3) | 2);  // clientName: list pointer, offset 0, byte elements, huge count
    CHECK_FALSE(decodes(b, DecodeLimits{}, err));
    CHECK(err.code == "malformed");
    CHECK_THAT(err.reason, Catch::Contains("out-of-bounds"));
  }
}

TEST_CASE("codec: the traversal limit stops amplification", "[codec]") {
  DecodeError err;
  SECTION("a legitimate message larger than the limit") {
    auto frame = publishFrame(warningBytes("urn:test:trav", 200).asBytes());
    DecodeLimits limits;
    limits.traversalLimitWords = 128;
    CHECK_FALSE(decodes(toBytes(frame.asBytes()), limits, err));
    CHECK(err.code == "malformed");
    CHECK_THAT(err.reason, Catch::Contains("traversal limit"));
    // and the same frame passes with the default limits
    CHECK(decodes(toBytes(frame.asBytes()), DecodeLimits{}, err));
  }
  SECTION("a 25-deep DAG of shared children: 2^25 visits from 51 words") {
    // Struct i has two pointers, both to struct i+1. Far below the nesting limit, but counting every
    // path costs 2^25 words: only the traversal limit stops it.
    const int depth = 25;
    std::vector<uint8_t> b;
    putWord(b, 0, 1 + 2 * depth);
    putStructPtr(b, 0, 0, 2);  // root -> struct 0 at word 1
    for (int i = 0; i < depth; ++i) {
      if (i + 1 < depth) {
        putStructPtr(b, 1, 0, 2);  // word 1+2i -> word 3+2i
        putStructPtr(b, 0, 0, 2);  // word 2+2i -> word 3+2i
      } else {
        putWord(b, 0, 0);
        putWord(b, 0, 0);
      }
    }
    CHECK_FALSE(decodes(b, DecodeLimits{}, err));
    CHECK(err.code == "malformed");
    CHECK_THAT(err.reason, Catch::Contains("traversal limit"));
  }
}

TEST_CASE("codec: the nesting limit stops deep and cyclic pointers", "[codec]") {
  DecodeError err;
  SECTION("a struct whose pointer points at itself") {
    std::vector<uint8_t> b;
    putWord(b, 0, 2);
    putStructPtr(b, 0, 0, 1);   // root -> word 1
    putStructPtr(b, -1, 0, 1);  // word 1 -> word 1 (itself), forever
    CHECK_FALSE(decodes(b, DecodeLimits{}, err));
    CHECK(err.code == "malformed");
    CHECK_THAT(err.reason, Catch::Contains("too deeply-nested"));
  }
  SECTION("a legitimate message deeper than a lowered limit") {
    // Frame -> publish ... is only 2 deep; the Message inside is decoded with its own reader:
    // Message -> payload.warning list -> Info -> areas list -> Area -> adminCodes list -> Text.
    auto msg = warningBytes();
    DecodeLimits limits;
    limits.nestingLimit = 3;
    DecodedMessage dm;
    CHECK_FALSE(decodeMessage(msg.asBytes(), limits, dm, err));
    CHECK(err.code == "malformed");
    CHECK_THAT(err.reason, Catch::Contains("too deeply-nested"));
  }
}

TEST_CASE("codec: pointers of the wrong kind for the schema are malformed at decode, not later", "[codec]") {
  DecodeError err;
  SECTION("Hello.clientName (Text) is a struct pointer") {
    std::vector<uint8_t> b;
    putWord(b, 0, 6);
    putStructPtr(b, 0, 1, 1);  // root: Frame
    putWord(b, 1, 0);          // which = hello
    putStructPtr(b, 0, 1, 1);  // Frame.hello
    putWord(b, 1, 0);          // protocolVersion 1
    putStructPtr(b, 0, 1, 0);  // clientName -> a struct, not a byte list
    putWord(b, 0, 0);
    CHECK_FALSE(decodes(b, DecodeLimits{}, err));
    CHECK(err.code == "malformed");
    CHECK_THAT(err.reason, Catch::Contains("text"));
  }
  for (uint32_t elements : {1000u, 1u << 28}) {
  DYNAMIC_SECTION("Message.references is a list of " << elements << " empty structs in one word (amplification)") {
    capnp::MallocMessageBuilder builder;
    auto m = builder.initRoot<schema::Message>();
    m.setId("urn:amplified");
    m.setStatus(schema::Status::ACTUAL);
    m.setMsgType(schema::MsgType::UPDATE);
    m.initReferences(1)[0].setId("x");
    m.getPayload().initAck().initRef().setId("x");
    auto words = capnp::messageToFlatArray(builder);
    std::vector<uint8_t> b = toBytes(words.asBytes());
    // Layout: segment table (1 word), root pointer (1), Message data (2 words), pointers (6): references
    // is pointer 2, at word 1 + 1 + 2 + 2 = 6 (byte 48 of the frame).
    auto* refPtr = b.data() + 48;
    REQUIRE((refPtr[0] & 3) == 1);           // a list pointer
    REQUIRE((refPtr[4] & 7) == 7);           // inline composite
    uint32_t lo;
    std::memcpy(&lo, refPtr, 4);
    size_t tagAt = 48 + 8 + 8 * (static_cast<int32_t>(lo) >> 2);
    uint32_t hi = 7;                         // inline composite, 0 words of elements
    std::memcpy(refPtr + 4, &hi, 4);
    uint32_t tagLo = elements << 2, tagHi = 0;  // `elements` elements of 0 data words, 0 pointers
    std::memcpy(b.data() + tagAt, &tagLo, 4);
    std::memcpy(b.data() + tagAt + 4, &tagHi, 4);
    DecodedMessage dm;
    CHECK_FALSE(decodeMessage(kj::arrayPtr(b.data(), b.size()), DecodeLimits{}, dm, err));
    CHECK(err.code == "malformed");
    // 2^28 exceeds the traversal limit; 1000 fit it but are refused as zero-sized.
    CHECK_THAT(err.reason, Catch::Contains("zero-sized structs") || Catch::Contains("traversal limit"));
  }
  }
}

TEST_CASE("codec: every struct list of a message is checked for zero-sized elements "
          "(fuzz regression publish-polygon-points-zero-sized)",
          "[codec]") {
  // Each list is replaced by 100000 VOID elements (no bytes at all), which a reader accepts as a list
  // of structs with every field at its default.
  using Fill = std::function<capnp::AnyPointer::Builder(schema::Message::Builder)>;
  auto areaOf = [](schema::Message::Builder m) {
    auto info = m.getPayload().initWarning(1)[0];
    info.setEventCode("typhoon");
    return info.initAreas(1)[0];
  };
  std::vector<std::pair<const char*, Fill>> lists = {
      // Pointer slots follow field ordinals: Message.references is pointer 2, Info.areas the last
      // (15), Polygon.points 0, Area.circles 2.
      {"references", [](schema::Message::Builder m) {
         m.getPayload().initWarning(1)[0].setEventCode("typhoon");
         return capnp::AnyStruct::Builder(kj::mv(m)).getPointerSection()[2];
       }},
      {"warning[0].areas", [](schema::Message::Builder m) {
         auto info = m.getPayload().initWarning(1)[0];
         info.setEventCode("typhoon");
         return capnp::AnyStruct::Builder(kj::mv(info)).getPointerSection()[15];
       }},
      {"warning[0].areas[0].polygons[0].points", [&](schema::Message::Builder m) {
         return capnp::AnyStruct::Builder(areaOf(m).initPolygons(1)[0]).getPointerSection()[0];
       }},
      {"warning[0].areas[0].circles", [&](schema::Message::Builder m) {
         return capnp::AnyStruct::Builder(areaOf(m)).getPointerSection()[2];
       }},
  };
  for (auto& [name, fill] : lists) {
    DYNAMIC_SECTION(name) {
      capnp::MallocMessageBuilder b;
      auto m = b.initRoot<schema::Message>();
      m.setId("urn:zero-sized");
      m.setStatus(schema::Status::ACTUAL);
      m.setMsgType(schema::MsgType::ALERT);
      fill(m).initAsAnyList(capnp::ElementSize::VOID, 100000);
      auto words = capnp::messageToFlatArray(b);
      DecodedMessage dm;
      DecodeError err;
      bool ok = decodeMessage(words.asBytes(), DecodeLimits{}, dm, err);
      INFO(err.reason);
      CHECK_FALSE(ok);
      CHECK_THAT(err.reason, Catch::Contains("zero-sized structs"));
    }
  }
}

TEST_CASE("codec: a decoded message can be read several times without hitting the traversal limit",
          "[codec]") {
  // Regression: every get() charges the traversal limit, and decoding used to spend the whole budget
  // on its own check, so a legitimate message larger than half the limit decoded fine and then threw
  // "Exceeded message traversal limit" in validateMessage (the broker answered Error malformed).
  auto msg = warningBytes("urn:test:reread", 2000);
  DecodeLimits limits;
  limits.traversalLimitWords = msg.size() + 16;  // just enough for the message
  DecodedMessage dm;
  DecodeError err;
  bool ok = decodeMessage(msg.asBytes(), limits, dm, err);
  INFO(err.reason);
  REQUIRE(ok);
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(validateMessage(dm.message(), kNowMs).has_value());
    CHECK(extractFacts(dm.message(), "met").adminCodes.size() == 1);
  }
}

TEST_CASE("codec: a Publish whose message is garbage decodes as a frame, not as a message", "[codec]") {
  std::vector<uint8_t> junk(64);
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>(i * 37 + 11);
  auto frame = publishFrame(kj::arrayPtr(junk.data(), junk.size()));
  DecodedFrame df;
  DecodeError err;
  REQUIRE(decodeFrame(frame.asBytes().begin(), frame.asBytes().size(), DecodeLimits{}, df, err));
  DecodedMessage dm;
  CHECK_FALSE(decodeMessage(df.frame().getPublish().getMessage(), DecodeLimits{}, dm, err));
  CHECK(err.code == "malformed");
  CHECK_FALSE(err.reason.empty());
}

// What the broker does with a frame (broker_core.cpp onFrame/onPublish) minus the journal: decode,
// and for a Publish decode, validate and extract facts.
static void brokerPath(const std::vector<uint8_t>& bytes) {
  DecodeLimits limits;
  DecodedFrame df;
  DecodeError err;
  if (!decodeFrame(bytes.data(), bytes.size(), limits, df, err)) {
    CHECK((err.code == "malformed" || err.code == "tooLarge"));
    CHECK_FALSE(err.reason.empty());
    return;
  }
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
                auto f = df.frame();
                if (!f.isPublish()) return;
                DecodedMessage dm;
                DecodeError merr;
                if (!decodeMessage(f.getPublish().getMessage(), limits, dm, merr)) return;
                auto m = dm.message();
                (void)validateMessage(m, kNowMs);
                auto facts = extractFacts(m, "met");
                (void)facts.urgent();
              })) {
    // codec.h: a decoded frame or message is safe to read. A throw here means the decode checks missed
    // something (the broker would survive it, but answer a Publish with an untokened Error).
    FAIL("a reader threw after decode accepted the bytes: " << e->getDescription().cStr());
  }
}

TEST_CASE("codec: fuzzer regression inputs neither crash nor hang", "[codec][fuzz]") {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(ALERTBUS_SOURCE_DIR) / "tests/data/fuzz/regressions";
  fs::path seeds = fs::path(ALERTBUS_SOURCE_DIR) / "tests/data/fuzz/seeds";
  size_t n = 0;
  for (const auto& d : {dir, seeds}) {
    if (!fs::is_directory(d)) continue;
    for (auto& entry : fs::directory_iterator(d)) {
      if (!entry.is_regular_file() || entry.path().filename().string().rfind("README", 0) == 0) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      INFO(entry.path().string());
      brokerPath(bytes);
      ++n;
    }
  }
  CHECK(n > 0);  // the seed corpus is checked in, so this replays at least the seeds
}

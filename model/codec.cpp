// Bounded decoding of frames and messages; see codec.h for the contract.
#include "model/codec.h"
#include "model/typecheck.h"

#include <kj/debug.h>
#include <kj/exception.h>

#include <cstring>

namespace alertbus {
namespace {

capnp::ReaderOptions optionsFor(const DecodeLimits& limits) {
  capnp::ReaderOptions opts;
  opts.traversalLimitInWords = limits.traversalLimitWords;
  opts.nestingLimit = static_cast<int>(limits.nestingLimit);
  return opts;
}

// The reader handed to the application. The checks below already bounded the whole message by the
// traversal limit; every get() charges the limit again, so a reader with the plain limit would throw
// on a legitimate message the second or third time it is read (validation, facts, JSON, journal).
// Allow this many full reads.
constexpr uint64_t kAccessReads = 8;
capnp::ReaderOptions scaledOptionsFor(const DecodeLimits& limits, uint64_t reads) {
  capnp::ReaderOptions opts = optionsFor(limits);
  uint64_t l = limits.traversalLimitWords;
  opts.traversalLimitInWords = l > UINT64_MAX / reads ? UINT64_MAX : l * reads;
  return opts;
}

void touchRoot(schema::Message::Reader m) { touchMessage(m); }
void touchRoot(schema::Frame::Reader f) { touchFrame(f); }

// Two passes over `words`: (1) totalSize() with the plain limits: bounds, nesting and amplification of
// everything in the bytes, schema or not; (2) the reader kept for the application (kAccessReads times
// the limit), walked once through the generated accessors (typecheck.h) so an ill-typed pointer fails
// here. The reflective walk this replaces cost more than everything else the broker does per message.
// Throws kj::Exception on hostile input.
template <typename T>
typename T::Reader checkedRoot(kj::ArrayPtr<const capnp::word> words, const DecodeLimits& limits,
                               std::unique_ptr<capnp::FlatArrayMessageReader>& reader) {
  // One reader: pass (1) and the typed walk each charge the traversal limit once, so the reader is given
  // two more full reads than the application gets. The plain-limit bound on hostile bytes still holds:
  // totalSize() runs first, when the reader's budget is kAccessReads + 2 reads, and a message larger than
  // one read fails maxFrameBytes / traversalLimitWords checks in pass (1) itself (see below).
  reader = std::make_unique<capnp::FlatArrayMessageReader>(words, scaledOptionsFor(limits, kAccessReads + 2));
  auto root = reader->getRoot<T>();
  auto size = root.totalSize();
  KJ_REQUIRE(size.wordCount <= limits.traversalLimitWords, "message exceeds traversal_limit_words",
             size.wordCount, limits.traversalLimitWords);
  if (limits.typeCheck) touchRoot(root);
  return root;
}

// Checks the segment table against the byte count before handing the bytes to capnp, so that a
// truncated frame gets a precise reason rather than a generic exception text.
bool checkSegmentTable(kj::ArrayPtr<const capnp::word> words, size_t sizeBytes, DecodeError& err) {
  if (sizeBytes < 8) {
    err = {"malformed", "frame of " + std::to_string(sizeBytes) + " bytes is shorter than a segment table"};
    return false;
  }
  if (sizeBytes % 8 != 0) {
    err = {"malformed", "frame size " + std::to_string(sizeBytes) + " is not a multiple of 8 bytes"};
    return false;
  }
  uint32_t first[2];
  std::memcpy(first, words.begin(), 8);
  uint64_t segCount = uint64_t(first[0]) + 1;
  if (segCount > 512) {
    err = {"malformed", "segment count " + std::to_string(segCount) + " exceeds 512"};
    return false;
  }
  uint64_t tableWords = (segCount + 2) / 2;  // 4 bytes count + 4 bytes per segment, rounded to words
  if (tableWords * 8 > sizeBytes) {
    err = {"malformed", "truncated: segment table needs " + std::to_string(tableWords * 8) + " bytes, frame has " +
                            std::to_string(sizeBytes)};
    return false;
  }
  const uint32_t* sizes = reinterpret_cast<const uint32_t*>(words.begin()) + 1;
  uint64_t total = 0;
  for (uint64_t i = 0; i < segCount; ++i) total += sizes[i];
  if ((tableWords + total) * 8 > sizeBytes) {
    err = {"malformed", "truncated: segments declare " + std::to_string((tableWords + total) * 8) +
                            " bytes, frame has " + std::to_string(sizeBytes)};
    return false;
  }
  return true;
}

}  // namespace

bool decodeFrame(const void* data, size_t size, const DecodeLimits& limits, DecodedFrame& out,
                 DecodeError& err) {
  if (size > limits.maxFrameBytes) {
    err = {"tooLarge", "frame of " + std::to_string(size) + " bytes exceeds max_frame_bytes " +
                           std::to_string(limits.maxFrameBytes)};
    return false;
  }
  out.words_ = kj::heapArray<capnp::word>((size + 7) / 8);
  if (size > 0) std::memcpy(out.words_.begin(), data, size);
  if (!checkSegmentTable(out.words_, size, err)) return false;
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
                // Every later access is within already-checked bounds, types and budget.
                out.root_ = checkedRoot<schema::Frame>(out.words_, limits, out.reader_);
              })) {
    err = {"malformed", std::string(e->getDescription().cStr())};
    out.reader_.reset();
    return false;
  }
  return true;
}

bool decodeMessage(kj::ArrayPtr<const kj::byte> bytes, const DecodeLimits& limits, DecodedMessage& out,
                   DecodeError& err) {
  if (bytes.size() > limits.maxFrameBytes) {
    err = {"tooLarge", "message of " + std::to_string(bytes.size()) + " bytes exceeds max_frame_bytes " +
                           std::to_string(limits.maxFrameBytes)};
    return false;
  }
  kj::ArrayPtr<const capnp::word> words;
  if (reinterpret_cast<uintptr_t>(bytes.begin()) % alignof(capnp::word) == 0 && bytes.size() % 8 == 0) {
    words = kj::arrayPtr(reinterpret_cast<const capnp::word*>(bytes.begin()), bytes.size() / 8);
  } else {
    out.copy_ = kj::heapArray<capnp::word>((bytes.size() + 7) / 8);
    if (bytes.size() > 0) std::memcpy(out.copy_.begin(), bytes.begin(), bytes.size());
    words = out.copy_;
  }
  if (!checkSegmentTable(words, bytes.size(), err)) return false;
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
                out.root_ = checkedRoot<schema::Message>(words, limits, out.reader_);
              })) {
    err = {"malformed", std::string(e->getDescription().cStr())};
    out.reader_.reset();
    return false;
  }
  return true;
}

kj::Array<capnp::word> encode(capnp::MessageBuilder& builder) { return capnp::messageToFlatArray(builder); }

}  // namespace alertbus

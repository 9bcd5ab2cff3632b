// Writing a message builder's segments in the standard flat-array form (segment table + segments)
// straight into a caller's buffer, e.g. a ZeroMQ message: one copy, no intermediate allocation.
#pragma once

#include <capnp/common.h>
#include <kj/array.h>

#include <cstddef>

namespace alertbus {

using Segments = kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>;

// Bytes the flat-array form of `segments` takes.
size_t flatSize(Segments segments);
// Writes it into `out` (flatSize bytes, any alignment). Little-endian, as Cap'n Proto.
void writeFlat(Segments segments, kj::byte* out);

}  // namespace alertbus

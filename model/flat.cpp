// Flat-array writing; see flat.h.
#include "model/flat.h"

#include <cstdint>
#include <cstring>

namespace alertbus {

size_t flatSize(Segments segments) {
  size_t bytes = (segments.size() / 2 + 1) * sizeof(capnp::word);
  for (auto s : segments) bytes += s.size() * sizeof(capnp::word);
  return bytes;
}

void writeFlat(Segments segments, kj::byte* out) {
  uint32_t count = static_cast<uint32_t>(segments.size() - 1);
  std::memcpy(out, &count, 4);
  for (size_t i = 0; i < segments.size(); ++i) {
    uint32_t words = static_cast<uint32_t>(segments[i].size());
    std::memcpy(out + 4 + 4 * i, &words, 4);
  }
  size_t tableBytes = (segments.size() / 2 + 1) * sizeof(capnp::word);
  if (segments.size() % 2 == 0) std::memset(out + 4 + 4 * segments.size(), 0, 4);
  kj::byte* p = out + tableBytes;
  for (auto s : segments) {
    std::memcpy(p, s.begin(), s.size() * sizeof(capnp::word));
    p += s.size() * sizeof(capnp::word);
  }
}

}  // namespace alertbus

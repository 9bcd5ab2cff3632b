// alertbus-met: the meteorological bureau's adapter. CAP 1.0/1.1/1.2, Atom/RSS feeds of CAP (embedded or
// linked), EDXL-DE envelopes and GB/T 35965-style national warning XML, from a watched directory, feeds
// or stdin, published as warnings. The parsing is adapters/met/detect.h; the rest is the shared runtime.
#include "adapters/common/runtime.h"
#include "adapters/met/detect.h"

using namespace alertbus;

int main(int argc, char** argv) {
  adapter::AdapterSpec spec;
  spec.name = "met";
  spec.summary = "publishes CAP, Atom/RSS, EDXL-DE and GB/T 35965 warnings to alertbus";
  spec.configure = [](TomlReader& r, const toml::table* t) {
    if (t) r.checkKeys(*t, "met", {});  // nothing adapter-specific yet: every format is detected
  };
  spec.parseDocument = [](std::string_view bytes, const std::string& source, int64_t receivedMs) {
    met::MetOutput m = met::parseMetDocument(bytes, source, receivedMs);
    for (auto& link : m.links) m.output.fetchUrls.push_back(link.url);
    return std::move(m.output);
  };
  return adapter::runAdapter(spec, argc, argv);
}

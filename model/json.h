// JSON form of a Message (Cap'n Proto's standard JSON mapping: field names as in message.capnp, enums by
// name, Provenance.original as base64). Used by `alertbus send FILE.json`, `alertbus tail`, `--dry-run`
// and the rule tester. Pure.
#pragma once

#include <capnp/message.h>

#include <string>
#include <string_view>

#include "schemas/message.capnp.h"

namespace alertbus {

std::string messageToJson(schema::Message::Reader m);

// Fills `out` from JSON text. Throws std::runtime_error naming the problem (unknown field, bad enum name,
// wrong type) on bad input; `source` (e.g. a file name) prefixes the error message.
void messageFromJson(std::string_view json, schema::Message::Builder out, std::string_view source);

}  // namespace alertbus

// CURVE key pairs: generation and the key file format shared by the broker, clients and the CLI.
// A key file is TOML:   public = "<40 Z85 chars>"   secret = "<40 Z85 chars>" (secret absent in .pub files)
#pragma once

#include <string>
#include <string_view>

namespace alertbus {

struct KeyPair {
  std::string publicKey;  // Z85, 40 chars
  std::string secretKey;  // Z85, 40 chars; empty for a public-only file
};

KeyPair generateKeyPair();  // libzmq's zmq_curve_keypair (libsodium)

// Writes NAME.key (both keys, mode 0600) and NAME.pub (public only) into dir, crash-safely
// (write x.new, fsync, rename). Refuses to overwrite existing files unless `overwrite`.
// Throws std::runtime_error naming the path on failure.
void writeKeyFiles(const std::string& dir, const std::string& name, const KeyPair& pair, bool overwrite);

// Reads a key file; throws std::runtime_error "path:line: reason" on a missing file, unknown key, or a
// key that is not 40 Z85 characters. `needSecret` requires the secret key.
KeyPair readKeyFile(const std::string& path, bool needSecret);

bool isZ85Key(const std::string& s);  // a valid Z85 encoding of a 32-byte key (40 chars)
// The same with the reason when it is not: length, the first character outside the alphabet, or the
// 5-character group that overflows 32 bits.
bool checkZ85Key(std::string_view s, std::string& why);
}  // namespace alertbus

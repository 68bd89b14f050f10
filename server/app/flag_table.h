// The table of every flag cairn takes: etcd 3.4.23's flags (listed and hidden), the names etcd 3.5 and 3.6
// added or renamed, and cairn's own. Each entry knows its Go value type (so a value is accepted or refused
// exactly as etcd does), the Flags field it sets (several names may share one field: etcd 3.6's
// --watch-progress-notify-interval and 3.5's --experimental-watch-progress-notify-interval), the default
// `--help` prints and what cairn does with it. The environment variable of a flag is ETCD_ + its name in
// upper case with '-' as '_'; its config-file key is its name.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "server/app/flags.h"

namespace cairn::server::app {

enum class FlagKind : uint8_t {
  kBool,      // Go bool: "-flag" alone is true; values per strconv.ParseBool
  kString,    // any text
  kEnum,      // one of FlagSpec::values, else "invalid value" (etcd's SelectiveStringValue)
  kUint,      // Go uint / uint64 (base prefixes allowed)
  kUint32,    // etcd's uint32 type (strconv's own error text)
  kInt,       // Go int / int64
  kDuration,  // Go time.Duration ("5s", "1h30m")
  kUrls,      // etcd's URL list (types.NewURLs), or one of FlagSpec::values (exceptions such as "*")
  kIgnored,   // etcd's removed v1/v2 flags: accepted with or without a value and ignored, with a warning
};

using FlagField = std::variant<std::monostate, bool Flags::*, std::string Flags::*, uint64_t Flags::*,
                               int64_t Flags::*, GoDuration Flags::*>;

struct FlagSpec {
  std::string_view name;  // without dashes
  FlagKind kind;
  FlagField field;                // monostate: kept in Flags::other
  std::string_view help_default;  // as `--help` prints it, quotes included ("'5s'", "1000")
  std::string_view section;       // the `--help` section
  std::string_view help;          // what cairn does with it
  std::string_view values = {};   // kEnum: accepted values; kUrls: allowed non-URL values; '|'-separated
  bool listed = true;             // printed by --help (etcd hides some flags; renamed ones too)
};

const std::vector<FlagSpec>& flag_table();
const FlagSpec* find_flag(std::string_view name);
// ETCD_MAX_TXN_OPS for max-txn-ops.
std::string flag_env_name(std::string_view name);
// Sets the flag from its text. The error is what Go's flag package prints after
// `invalid value "V" for flag -NAME: ` ("parse error", "invalid value", a URL message, ...).
std::optional<std::string> set_flag(Flags& f, const FlagSpec& spec, std::string_view value);

}  // namespace cairn::server::app

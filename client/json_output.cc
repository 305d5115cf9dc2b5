#include "client/json_output.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace guestflow::cli {

absl::StatusOr<std::string> ToJsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  // Scripts read `.ok` or `.attempts` without guessing whether an absent
  // field means false or zero.
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = false;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot print ", message.GetTypeName(),
                                            " as JSON: ", std::string(status.message())));
  }
  return json;
}

absl::Status WriteJsonLine(std::ostream& out, const google::protobuf::Message& message) {
  absl::StatusOr<std::string> json = ToJsonLine(message);
  if (!json.ok()) return json.status();
  out << *json << '\n';
  out.flush();
  return absl::OkStatus();
}

}  // namespace guestflow::cli

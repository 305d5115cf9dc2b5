#include "client/request_builders.h"

namespace guestflow::cli {

v1::OnboardingOptions BuildOnboardingOptions(const GuestOptionFlags& flags) {
  v1::OnboardingOptions options;
  for (const std::string& role : flags.roles) options.add_roles(role);
  if (flags.send_invitation_message.has_value()) {
    options.set_send_invitation_message(*flags.send_invitation_message);
  }
  options.set_invitation_message(flags.invitation_message);
  if (flags.update_dynamics_email.has_value()) {
    options.set_update_dynamics_email(*flags.update_dynamics_email);
  }
  return options;
}

v1::StartOnboardingRequest BuildStartOnboardingRequest(const OnboardArgs& args) {
  v1::StartOnboardingRequest request;
  request.set_tenant(args.tenant);
  v1::Guest& guest = *request.mutable_guest();
  guest.set_email(args.email);
  guest.set_first_name(args.first_name);
  guest.set_last_name(args.last_name);
  guest.set_display_name(args.display_name);
  guest.set_usage_location(args.usage_location);
  *request.mutable_options() = BuildOnboardingOptions(args.options);
  request.set_request_id(args.request_id);
  request.set_validate_only(args.validate_only);
  return request;
}

v1::CreateBatchRequest BuildBatchHeaderRequest(const ImportArgs& args) {
  v1::CreateBatchRequest request;
  v1::BatchHeader& header = *request.mutable_header();
  header.set_tenant(args.tenant);
  header.set_request_id(args.request_id);
  header.set_validate_only(args.validate_only);
  header.set_usage_location(args.usage_location);
  *header.mutable_options() = BuildOnboardingOptions(args.options);
  return request;
}

}  // namespace guestflow::cli

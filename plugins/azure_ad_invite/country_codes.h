// ISO 3166-1 alpha-2 country codes, what Microsoft Graph accepts as a user's
// usageLocation, and hints for the codes people confuse with them.
#pragma once

#include <string>
#include <string_view>

namespace guestflow::azure_ad_invite {

// True for an officially assigned alpha-2 code, upper case ("GB", not "gb").
bool IsIso3166Alpha2(std::string_view code);

// What to say about a refused usage location: "use GB for the United Kingdom"
// for "UK", "use GR for Greece" for "EL", otherwise a generic hint.
std::string UsageLocationHint(std::string_view code);

}  // namespace guestflow::azure_ad_invite

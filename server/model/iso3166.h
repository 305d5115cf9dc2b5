// ISO 3166-1 country codes: the 249 officially assigned alpha-2 codes with
// their alpha-3 code and English short name.
//
// Thread safety: immutable static data; every function is safe to call from
// any thread. Returned pointers point into that static table and stay valid
// for the life of the process.
#pragma once

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace guestflow {

struct Iso3166Country {
  absl::string_view alpha2;  // "GB"
  absl::string_view alpha3;  // "GBR"
  absl::string_view name;    // "United Kingdom"
};

// Every assigned code, sorted by alpha-2.
absl::Span<const Iso3166Country> Iso3166Countries();

// The country with this exact (upper-case) code, or nullptr. Reserved and
// user-assigned codes ("UK", "EU", "XK") are not in the table.
const Iso3166Country* FindIso3166Alpha2(absl::string_view code);
const Iso3166Country* FindIso3166Alpha3(absl::string_view code);

}  // namespace guestflow

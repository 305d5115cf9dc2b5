// Early-return helpers for absl::Status and absl::StatusOr (Abseil 20220623
// ships none).
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define GF_STATUS_CONCAT_INNER_(a, b) a##b
#define GF_STATUS_CONCAT_(a, b) GF_STATUS_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function if it is not OK.
#define GF_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status gf_status_ = (expr);      \
    if (!gf_status_.ok()) return gf_status_; \
  } while (false)

// `GF_ASSIGN_OR_RETURN(auto x, F());` assigns the value of a StatusOr to `x`,
// or returns its status from the enclosing function.
#define GF_ASSIGN_OR_RETURN(lhs, expr) \
  GF_ASSIGN_OR_RETURN_IMPL_(GF_STATUS_CONCAT_(gf_statusor_, __LINE__), lhs, expr)

// `tmp` and `lhs` are declarations and cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define GF_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)

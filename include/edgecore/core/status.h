#pragma once

// Status and Result<T>: how every fallible edgecore function reports failure.
// Codes follow gRPC's so they map one-to-one onto gRPC and Kubernetes errors at the edges.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace edgecore::core {

enum class StatusCode {
  Ok = 0,
  Cancelled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
};

std::string_view statusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // Ok
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status okStatus() { return {}; }

  bool ok() const { return code_ == StatusCode::Ok; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NotFound: pod default/nginx" or "Ok".
  std::string toString() const;

  // Prepends context: Status(NotFound, "x").withContext("loading config") -> "loading config: x".
  Status withContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::Ok;
  std::string message_;
};

inline Status invalidArgument(std::string m) { return {StatusCode::InvalidArgument, std::move(m)}; }
inline Status notFound(std::string m) { return {StatusCode::NotFound, std::move(m)}; }
inline Status alreadyExists(std::string m) { return {StatusCode::AlreadyExists, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::Unavailable, std::move(m)}; }
inline Status deadlineExceeded(std::string m) {
  return {StatusCode::DeadlineExceeded, std::move(m)};
}
inline Status internalError(std::string m) { return {StatusCode::Internal, std::move(m)}; }
inline Status failedPrecondition(std::string m) {
  return {StatusCode::FailedPrecondition, std::move(m)};
}
inline Status resourceExhausted(std::string m) {
  return {StatusCode::ResourceExhausted, std::move(m)};
}
inline Status unimplemented(std::string m) { return {StatusCode::Unimplemented, std::move(m)}; }
inline Status cancelled(std::string m) { return {StatusCode::Cancelled, std::move(m)}; }
inline Status dataLoss(std::string m) { return {StatusCode::DataLoss, std::move(m)}; }

// A value or the Status saying why there is none. Constructing from an ok Status is a bug.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) {
      v_ = Status(StatusCode::Internal, "Result constructed from an ok Status");
    }
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The error, or Ok when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T valueOr(T fallback) const { return ok() ? std::get<T>(v_) : std::move(fallback); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

namespace detail {
[[noreturn]] void checkFailed(const char* file, int line, const char* expr, std::string_view msg);
inline Status toStatus(Status s) { return s; }
template <typename T>
Status toStatus(const Result<T>& r) {
  return r.status();
}
}  // namespace detail

}  // namespace edgecore::core

#define EC_STATUS_CONCAT_INNER(a, b) a##b
#define EC_STATUS_CONCAT(a, b) EC_STATUS_CONCAT_INNER(a, b)

// Returns the Status of `expr` (a Status or Result) from the enclosing function if it failed.
#define EC_RETURN_IF_ERROR(expr)                                                      \
  do {                                                                                \
    ::edgecore::core::Status ec_status_ = ::edgecore::core::detail::toStatus((expr)); \
    if (!ec_status_.ok()) return ec_status_;                                          \
  } while (0)

// `EC_ASSIGN_OR_RETURN(auto x, makeX());` declares x from a Result or returns its Status.
#define EC_ASSIGN_OR_RETURN(lhs, expr) \
  EC_ASSIGN_OR_RETURN_IMPL(EC_STATUS_CONCAT(ec_result_, __LINE__), lhs, expr)
#define EC_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

// Crash on the impossible (never on external input): logs to stderr and aborts; systemd restarts.
#define EC_CHECK(cond, msg)                                                               \
  do {                                                                                    \
    if (!(cond)) ::edgecore::core::detail::checkFailed(__FILE__, __LINE__, #cond, (msg)); \
  } while (0)
#ifndef NDEBUG
#define EC_DCHECK(cond, msg) EC_CHECK(cond, msg)
#else
#define EC_DCHECK(cond, msg) \
  do {                       \
  } while (0)
#endif

#include "edgecore/core/status.h"

#include <gtest/gtest.h>

namespace edgecore::core {
namespace {

Result<int> half(int x) {
  if (x % 2 != 0) {
    return invalidArgument("odd value " + std::to_string(x));
  }
  return x / 2;
}

Status quarter(int x, int* out) {
  EC_ASSIGN_OR_RETURN(int h, half(x));
  EC_ASSIGN_OR_RETURN(*out, half(h));
  return {};
}

TEST(StatusTest, OkAndErrorCarryCodeAndMessage) {
  EXPECT_TRUE(Status().ok());
  Status s = notFound("pod default/nginx");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::NotFound);
  EXPECT_EQ(s.toString(), "NotFound: pod default/nginx");
  EXPECT_EQ(s.withContext("query").message(), "query: pod default/nginx");
}

TEST(StatusTest, ResultHoldsValueOrStatus) {
  Result<int> r = half(8);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 4);
  Result<int> bad = half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::InvalidArgument);
  EXPECT_EQ(bad.valueOr(-1), -1);
}

TEST(StatusTest, ResultFromOkStatusBecomesInternalError) {
  Result<int> r{Status()};
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::Internal);
}

TEST(StatusTest, AssignOrReturnPropagatesFirstError) {
  int out = 0;
  EXPECT_TRUE(quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  Status s = quarter(6, &out);
  EXPECT_EQ(s.code(), StatusCode::InvalidArgument);
  EXPECT_EQ(s.message(), "odd value 3");
}

}  // namespace
}  // namespace edgecore::core

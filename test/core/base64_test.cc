#include "edgecore/core/base64.h"

#include <gtest/gtest.h>

namespace edgecore::core {
namespace {

TEST(Base64, StdMatchesRfc4648Vectors) {
  const std::pair<std::string, std::string> kVectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : kVectors) {
    EXPECT_EQ(base64Encode(plain), encoded);
    EXPECT_EQ(base64Decode(encoded), plain) << encoded;
  }
  std::string all;
  for (int i = 0; i < 256; ++i) {
    all += static_cast<char>(i);
  }
  EXPECT_EQ(base64Decode(base64Encode(all)), all);
}

TEST(Base64, StdRejectsWhatGoRejects) {
  EXPECT_FALSE(base64Decode("Zm9"));       // not a multiple of 4
  EXPECT_FALSE(base64Decode("Zm9v-_=="));  // URL alphabet
  EXPECT_FALSE(base64Decode("Z===="));
  EXPECT_FALSE(base64Decode("Zm 9v"));
}

TEST(Base64, UrlIsUnpaddedWithItsOwnAlphabet) {
  EXPECT_EQ(base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64UrlDecode("-_8"), "\xfb\xff");
  EXPECT_EQ(base64UrlDecode("-_8="), "\xfb\xff");  // padding tolerated
  EXPECT_FALSE(base64UrlDecode("+/8"));
  EXPECT_FALSE(base64UrlDecode("a"));
}

}  // namespace
}  // namespace edgecore::core

TEST(Base64, SkipsNewlinesAsGoDoes) {
  EXPECT_EQ(edgecore::core::base64Decode("Zm9v\nYmFy\r\n"), "foobar");
  EXPECT_EQ(edgecore::core::base64UrlDecode("Zm9v\nYmFy"), "foobar");
  EXPECT_FALSE(edgecore::core::base64Decode("Zm9v YmFy"));  // other whitespace is an error
}

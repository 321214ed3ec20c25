#include "selector.h"

#include <gtest/gtest.h>

namespace edgecore::metaserver {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

bool labelMatch(std::string_view sel, const Labels& labels) {
  auto s = LabelSelector::parse(sel);
  EXPECT_TRUE(s.ok()) << sel << ": " << s.status().toString();
  return s.ok() && s->matches(labels);
}

TEST(LabelSelectorTest, EqualityAndSetOperators) {
  Labels l = {{"app", "web"}, {"tier", "front"}};
  EXPECT_TRUE(labelMatch("", l));
  EXPECT_TRUE(labelMatch("app=web", l));
  EXPECT_TRUE(labelMatch("app==web", l));
  EXPECT_FALSE(labelMatch("app=db", l));
  EXPECT_TRUE(labelMatch("app!=db", l));
  EXPECT_TRUE(labelMatch("missing!=x", l));
  EXPECT_TRUE(labelMatch("app in (db, web)", l));
  EXPECT_FALSE(labelMatch("app notin (db,web)", l));
  EXPECT_TRUE(labelMatch("missing notin (a)", l));
  EXPECT_TRUE(labelMatch("tier", l));
  EXPECT_FALSE(labelMatch("!tier", l));
  EXPECT_TRUE(labelMatch("!missing", l));
  EXPECT_TRUE(labelMatch(" app = web , tier in (front) , !x ", l));
  EXPECT_FALSE(labelMatch("app=web,tier=back", l));
  EXPECT_TRUE(labelMatch("example.com/key", {{"example.com/key", ""}}));
  EXPECT_TRUE(labelMatch("a=", {{"a", ""}}));
}

TEST(LabelSelectorTest, ParseErrors) {
  for (const char* bad : {"app=web,", "=web", "app in web", "app in (a", "app in (a b)",
                          "app=web x", "-bad=1", "app=-x-", "a/b/c=1", "!", ",", "app in ()"}) {
    auto s = LabelSelector::parse(bad);
    EXPECT_FALSE(s.ok()) << bad;
  }
}

TEST(FieldSelectorTest, IndexedFields) {
  metamanager::StoredObject o;
  o.key = {{"", "v1", "pods"}, "default", "nginx"};
  o.node_name = "edge-1";
  o.phase = "Running";
  auto match = [&](std::string_view s) {
    auto f = FieldSelector::parse(s);
    EXPECT_TRUE(f.ok()) << s << ": " << f.status().toString();
    return f.ok() && f->matches(o);
  };
  EXPECT_TRUE(match(""));
  EXPECT_TRUE(match("metadata.name=nginx"));
  EXPECT_TRUE(match("metadata.namespace==default"));
  EXPECT_TRUE(match("spec.nodeName=edge-1,status.phase!=Pending"));
  EXPECT_FALSE(match("spec.nodeName=edge-2"));
  EXPECT_FALSE(match("status.phase!=Running"));
  auto f = FieldSelector::parse("metadata.name=nginx");
  ASSERT_TRUE(f.ok());
  ASSERT_NE(f->pinnedName(), nullptr);
  EXPECT_EQ(*f->pinnedName(), "nginx");
}

TEST(FieldSelectorTest, RejectsUnknownFieldsAndSyntax) {
  EXPECT_FALSE(FieldSelector::parse("spec.restartPolicy=Always").ok());
  EXPECT_FALSE(FieldSelector::parse("metadata.name").ok());
  EXPECT_FALSE(parseSelectors("app=", "nope=1").ok());
  EXPECT_FALSE(parseSelectors("app in (", "").ok());
}

}  // namespace
}  // namespace edgecore::metaserver

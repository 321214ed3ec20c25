// scanIndexFields must agree with the full nlohmann parse (parseObject) on every input it accepts,
// and give up on everything it does not fully understand.

#include "metamanager/index_fields.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "edgecore/core/message.h"
#include "metamanager/object_index.h"

namespace edgecore::metamanager {
namespace {

const Gvr kPods{"", "v1", "pods"};

// A pod shaped like those KubeEdge stores: escapes in annotations, arrays, numbers, booleans.
std::string podJson(int i) {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{"note":"a \u003c b \u0026 c \"q\" \\ /"},)"
         R"("creationTimestamp":"2026-11-01T08:00:00Z","labels":{"tier":"edge","app":"app-)" +
         std::to_string(i) + R"(","zz":"last","a":"first"},"name":"pod-)" + std::to_string(i) +
         R"(","namespace":"default","ownerReferences":[{"controller":true,"uid":"o-1"}],)"
         R"("resourceVersion":"12","uid":"uid-)" +
         std::to_string(i) +
         R"("},"spec":{"containers":[{"image":"r/app:1","ports":[{"containerPort":8080}],)"
         R"("resources":{"limits":{"cpu":"500m"}}}],"nodeName":"edge-1","priority":-1,)"
         R"("overhead":null,"ratio":0.25,"hostNetwork":false},)"
         R"("status":{"conditions":[],"phase":"Running","podIP":"10.0.0.2","note":"caf\u00e9 \u00e9t\u00e9 ü"}})";
}

void expectSameFields(const StoredObject& scanned, const StoredObject& full) {
  EXPECT_EQ(scanned.uid, full.uid);
  EXPECT_EQ(scanned.creation_timestamp, full.creation_timestamp);
  EXPECT_EQ(scanned.labels, full.labels);
  EXPECT_EQ(scanned.node_name, full.node_name);
  EXPECT_EQ(scanned.phase, full.phase);
}

TEST(IndexFields, ScansARealisticPodLikeTheFullParse) {
  std::string text = podJson(7);
  StoredObject scanned;
  ASSERT_EQ(scanIndexFields(text, &scanned), ScanResult::Scanned);
  auto full = parseObject(text, kPods);
  ASSERT_TRUE(full.ok()) << full.status().message();
  expectSameFields(scanned, *full);
  EXPECT_EQ(scanned.uid, "uid-7");
  EXPECT_EQ(scanned.node_name, "edge-1");
  EXPECT_EQ(scanned.phase, "Running");
  ASSERT_EQ(scanned.labels.size(), 4u);
  EXPECT_EQ(scanned.labels.front().first, "a");  // sorted as the full parse's map
  EXPECT_EQ(scanned.labels.back().first, "zz");
}

TEST(IndexFields, NonStringFieldsReadAsEmptyLikeTheFullParse) {
  std::string text =
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","uid":5,"labels":{"a":1,"b":"x"},)"
      R"("creationTimestamp":null},"spec":[1,2],"status":{"phase":{"x":[]}}})";
  StoredObject scanned;
  ASSERT_EQ(scanIndexFields(text, &scanned), ScanResult::Scanned);
  auto full = parseObject(text, kPods);
  ASSERT_TRUE(full.ok()) << full.status().message();
  expectSameFields(scanned, *full);
  EXPECT_EQ(scanned.labels.size(), 1u);
}

TEST(IndexFields, LeavesWhatItDoesNotFullyUnderstandToTheFullParse) {
  const std::vector<std::string> cases = {
      "",
      "[]",
      "{}",                                                    // no metadata.name
      R"({"metadata":{"name":""}})",                           // empty name
      R"({"metadata":[]})",                                    // metadata not an object
      R"({"metadata":{"name":"p"}} x)",                        // trailing garbage
      R"({"metadata":{"name":"p"},})",                         // trailing comma
      R"({"metadata":{"name":"p\u0041"}})",                    // escape in a kept field
      R"({"metadata":{"name":"p","labels":{"a\n":"b"}}})",     // escape in a label key
      R"({"metadata":{"name":"p"},"metadata":{"name":"q"}})",  // duplicate key it cares about
      R"({"metadata":{"name":"p","labels":{"a":"1","a":"2"}}})",
      R"({"metadata":{"name":"p"},"x":1e5})",                // exponent
      R"({"metadata":{"name":"p"},"x":01})",                 // leading zero
      R"({"metadata":{"name":"p"},"x":"\ud83d\ude00"})",     // surrogate pair
      R"({"metadata":{"name":"p"},"x":"\x"})",               // bad escape
      "{\"metadata\":{\"name\":\"p\"},\"x\":\"\xC0\xAF\"}",  // overlong UTF-8
      "{\"metadata\":{\"name\":\"p\"},\"x\":\"a\tb\"}",      // raw control character
      "\xEF\xBB\xBF{\"metadata\":{\"name\":\"p\"}}",         // byte order mark
      R"({"metadata":{"name":"p"},"x":tru})",
      R"({"metadata":{"name":"p"},"x":[1,2,]})",
      R"({"meta\u0064ata":{"name":"p"}})",
  };
  for (const std::string& text : cases) {
    StoredObject out;
    out.uid = "untouched";
    EXPECT_EQ(scanIndexFields(text, &out), ScanResult::NeedsFullParse) << text;
    EXPECT_EQ(out.uid, "untouched") << text;
  }
  std::string deep =
      R"({"metadata":{"name":"p"},"x":)" + std::string(300, '[') + std::string(300, ']') + "}";
  StoredObject out;
  EXPECT_EQ(scanIndexFields(deep, &out), ScanResult::NeedsFullParse);
}

// Random byte edits of a pod: whatever the scanner accepts, the full parse must accept too, with
// the same fields. Catches the scanner taking invalid JSON for valid.
TEST(IndexFields, AcceptsOnlyWhatTheFullParseAcceptsUnderRandomEdits) {
  std::mt19937 rng(20);
  const std::string base = podJson(3);
  const std::string alphabet = "{}[]\":,\\ u0e1-.tfn\x80\xC3\xA9x";
  int scanned_count = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text = base;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          text.erase(at, 1 + rng() % 4);
          break;
        default:
          text.insert(at, 1, alphabet[rng() % alphabet.size()]);
      }
    }
    StoredObject scanned;
    if (scanIndexFields(text, &scanned) != ScanResult::Scanned) {
      continue;
    }
    ++scanned_count;
    ASSERT_FALSE(core::parseJsonBounded(text).is_discarded()) << text;
    auto full = parseObject(text, kPods);
    if (!full.ok()) {
      // The one check loadObject does not make (the key comes from the row, not the JSON).
      ASSERT_NE(full.status().message().find("no apiVersion or kind"), std::string::npos) << text;
      continue;
    }
    expectSameFields(scanned, *full);
  }
  EXPECT_GT(scanned_count, 1000);  // the edits mostly hit skipped text, which stays valid
}

TEST(IndexFields, LoadObjectKeepsTheStoredTextAndFallsBackForOddInput) {
  ObjectKey key{kPods, "default", "p"};
  auto plain = loadObject(key, 9, podJson(1) + "\n");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->json, podJson(1));
  EXPECT_EQ(plain->resource_version, 9u);
  EXPECT_EQ(plain->uid, "uid-1");
  // An escaped label value: the scanner gives up, the full parse unescapes it.
  auto escaped = loadObject(key, 9, R"({"metadata":{"name":"p","labels":{"a":"x\u0041"}}})");
  ASSERT_TRUE(escaped.ok());
  ASSERT_EQ(escaped->labels.size(), 1u);
  EXPECT_EQ(escaped->labels[0].second, "xA");
  EXPECT_FALSE(loadObject(key, 9, R"({"metadata":{"name":"p"})").ok());
}

}  // namespace
}  // namespace edgecore::metamanager

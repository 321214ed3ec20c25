#include "server/cri_log.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "edgecore/core/time.h"

namespace edgecore::edged {
namespace {

std::string golden(const std::string& name) {
  std::ifstream f(std::string(EDGED_SERVER_TEST_DATA) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(CriLogTest, ParsesLines) {
  auto l = parseCriLogLine("2025-01-01T00:00:01.000000001Z stdout F hello world");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->stream, "stdout");
  EXPECT_FALSE(l->partial);
  EXPECT_EQ(l->message, "hello world");
  EXPECT_EQ(l->time_ns, 1735689601000000001LL);
  auto p = parseCriLogLine("2025-01-01T00:00:01Z stderr P ");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->partial);
  EXPECT_EQ(p->message, "");
  EXPECT_TRUE(parseCriLogLine("2025-01-01T00:00:01Z stdout F"));  // empty message, no space
  for (const char* bad : {"", "hello", "2025-01-01T00:00:01Z stdin F x", "notatime stdout F x",
                          "2025-01-01T00:00:01Z stdout X x", "2025-13-01T00:00:01Z stdout F x"}) {
    EXPECT_FALSE(parseCriLogLine(bad)) << bad;
  }
  EXPECT_EQ(*core::parseRfc3339Nanos("2025-01-01T01:00:00+01:00"), 1735689600000000000LL);
  EXPECT_EQ(*core::parseRfc3339Nanos("2025-01-01T00:00:00.5Z"), 1735689600500000000LL);
}

TEST(CriLogTest, GoldenRenderings) {
  const std::string log = golden("sample.log");
  LogOptions o;
  EXPECT_EQ(renderLogs(log, o), golden("sample.plain.golden"));
  o.timestamps = true;
  EXPECT_EQ(renderLogs(log, o), golden("sample.timestamps.golden"));
  o = LogOptions();
  o.tail_lines = 2;
  EXPECT_EQ(renderLogs(log, o), golden("sample.tail2.golden"));
  o.tail_lines = 0;
  EXPECT_EQ(renderLogs(log, o), "");
  o = LogOptions();
  o.since_ns = *core::parseRfc3339Nanos("2025-01-01T00:00:04Z");
  EXPECT_EQ(renderLogs(log, o), golden("sample.since4.golden"));
  o = LogOptions();
  o.limit_bytes = 15;
  EXPECT_EQ(renderLogs(log, o), golden("sample.plain.golden").substr(0, 15));
  // An unfinished last line (no newline yet) is not output.
  EXPECT_EQ(renderLogs("2025-01-01T00:00:01Z stdout F done\n2025-01-01T00:00:02Z stdout F half",
                       LogOptions()),
            "done\n");
}

TEST(CriLogTest, QueryParsing) {
  const int64_t now = 1735689600000000000LL;
  auto ok = parseLogQuery({{"follow", "true"},
                           {"tailLines", "10"},
                           {"timestamps", "1"},
                           {"limitBytes", "100"},
                           {"sinceSeconds", "60"},
                           {"previous", "false"}},
                          now);
  ASSERT_TRUE(ok.ok()) << ok.status().toString();
  EXPECT_TRUE(ok->follow);
  EXPECT_TRUE(ok->timestamps);
  EXPECT_FALSE(ok->previous);
  EXPECT_EQ(*ok->tail_lines, 10);
  EXPECT_EQ(*ok->limit_bytes, 100);
  EXPECT_EQ(*ok->since_ns, now - 60000000000LL);
  auto st = parseLogQuery({{"sinceTime", "2025-01-01T00:00:00Z"}}, now);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st->since_ns, now);
  for (std::multimap<std::string, std::string> bad :
       std::vector<std::multimap<std::string, std::string>>{
           {{"tailLines", "-1"}},
           {{"tailLines", "ten"}},
           {{"limitBytes", "0"}},
           {{"sinceSeconds", "0"}},
           {{"sinceSeconds", "5"}, {"sinceTime", "2025-01-01T00:00:00Z"}},
           {{"sinceTime", "yesterday"}},
           {{"follow", "maybe"}},
           {{"tailLines", "99999999999999999999999"}}}) {
    EXPECT_FALSE(parseLogQuery(bad, now).ok()) << bad.begin()->first << "=" << bad.begin()->second;
  }
}

TEST(CriLogTest, AssemblerBoundsARunawayPartialLine) {
  LogAssembler a(LogOptions{});
  std::string out;
  const std::string piece(64 * 1024, 'x');
  int flushed = 0;
  for (int i = 0; i < 40; ++i) {
    if (a.feed("2025-01-01T00:00:01Z stdout P " + piece, &out)) {
      ++flushed;
      EXPECT_LE(out.size(), (1u << 20) + piece.size() + 1);
    }
  }
  EXPECT_GE(flushed, 2);
}

}  // namespace
}  // namespace edgecore::edged

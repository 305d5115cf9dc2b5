#include "client/table.h"

#include "gtest/gtest.h"

namespace guestflow::cli {
namespace {

TEST(TextTableTest, AlignsColumnsWithTwoSpacesAndNoTrailingBlanks) {
  TextTable table({"NAME", "STATE", "UPDATED"});
  table.AddRow({"onboardings/a", "FAILED", "2026-11-28T10:04:05Z"});
  table.AddRow({"onboardings/long-name", "SUCCEEDED", "-"});
  EXPECT_EQ(table.Render(),
            "NAME                   STATE      UPDATED\n"
            "onboardings/a          FAILED     2026-11-28T10:04:05Z\n"
            "onboardings/long-name  SUCCEEDED  -\n");
  EXPECT_EQ(table.row_count(), 2u);
}

TEST(TextTableTest, EmptyTableIsTheHeader) {
  EXPECT_EQ(TextTable({"ID", "NAME"}).Render(), "ID  NAME\n");
}

TEST(TextTableTest, MissingCellsAreDashesAndExtraCellsAreDropped) {
  TextTable table({"A", "B"});
  table.AddRow({"x"});
  table.AddRow({"1", "2", "3"});
  EXPECT_EQ(table.Render(), "A  B\nx  -\n1  2\n");
}

TEST(TextTableTest, CountsCodePointsNotBytes) {
  TextTable table({"NAME", "X"});
  table.AddRow({"Zoë", "1"});
  table.AddRow({"Zoey", "2"});
  EXPECT_EQ(table.Render(), "NAME  X\nZoë   1\nZoey  2\n");
}

TEST(TextTableTest, MaxWidthCutsCellsWithAnEllipsisButNotTheHeader) {
  TextTable table({"ID", "LAST-ERROR"});
  table.SetMaxWidth(1, 6);
  table.AddRow({"1", "licence seats exhausted"});
  table.AddRow({"2", "ok"});
  table.AddRow({"3", "ééééééé"});
  EXPECT_EQ(table.Render(), "ID  LAST-ERROR\n1   licen…\n2   ok\n3   ééééé…\n");
}

TEST(SanitizeCellTest, KeepsOneLine) {
  EXPECT_EQ(SanitizeCell("a\nb"), "a b");
  EXPECT_EQ(SanitizeCell("a\r\n\tb"), "a b");
  EXPECT_EQ(SanitizeCell("\nlead"), "lead");
  EXPECT_EQ(SanitizeCell("trail\n"), "trail");
  EXPECT_EQ(SanitizeCell(""), "-");
  EXPECT_EQ(SanitizeCell("\n"), "-");
  EXPECT_EQ(SanitizeCell("Zoë"), "Zoë");
}

TEST(DisplayWidthTest, CodePoints) {
  EXPECT_EQ(DisplayWidth(""), 0u);
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("✔ ok"), 4u);
}

TEST(AppendFieldTest, PadsLabelsToOneColumn) {
  std::string out;
  AppendField(out, "name", "onboardings/a");
  AppendField(out, "request id", "");
  AppendField(out, "a very long label", "v");
  EXPECT_EQ(out,
            "name:       onboardings/a\n"
            "request id: -\n"
            "a very long label: v\n");
}

}  // namespace
}  // namespace guestflow::cli

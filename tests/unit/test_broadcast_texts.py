"""Notice templates (the shipped library, leaders' own texts in the sandbox) and schedules
(kinds, end dates, cron, quiet hours) without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from broadcasts import schedule, templates
from tests.fakes.telegram_api import parse_html

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY_10 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
CTX = {"area": "Phường Hải Châu", "commune": "Phường Hải Châu", "hotline": "0236 3822 111",
       "date": "23/11/2026", "expires": "", "note": ""}


@pytest.mark.parametrize("name", list(templates.library()))
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_shipped_template_renders_valid_telegram_html(name: str, lang: str) -> None:
    text = templates.render(name, lang, CTX, "Cắt điện tối nay" if name == "notice" else "")
    plain, _ = parse_html(text)  # raises on markup Telegram would refuse
    assert "Hải Châu" in plain or "HẢI CHÂU" in plain
    if name != "notice":
        assert "0236 3822 111" in plain


def test_the_library_covers_the_issue_topics() -> None:
    assert set(templates.topics()) == {"scams", "drugs", "fire", "residence", "traffic",
                                       "festival"}
    entry = templates.library()["scams"]
    assert (entry.topic, entry.cap, entry.title("en")) == ("scams", "Security",
                                                            "Phone and online scams")


def test_variables_are_escaped_and_own_text_keeps_only_its_template_parts() -> None:
    ctx = {**CTX, "area": "<b>A & B</b>", "note": "gọi <ngay>"}
    assert "&lt;b&gt;A &amp; B&lt;/b&gt;" in templates.render("fire", "vi", ctx)
    assert "gọi &lt;ngay&gt;" in templates.render("fire", "vi", ctx)
    own = templates.render("notice", "vi", CTX, "x < y & {{ hotline }} {% if 1 %}ok{% endif %}")
    assert "x &lt; y &amp; 0236 3822 111 ok" in own


@pytest.mark.parametrize(("text", "needle"), [
    ("{{ hotlin }}", "'hotlin' is undefined"),
    ("{% for x in %}", "line 1"),
    ("{{ ''.__class__.__mro__ }}", "unsafe"),
    ("{{ 1 / 0 }}", "ZeroDivisionError"),
    ("", "no text"),
    ("x" * 3001, "over 3000"),
])
def test_a_bad_own_text_is_a_clear_problem(text: str, needle: str) -> None:
    with pytest.raises(templates.TemplateProblem, match=needle.replace("(", r"\(")):
        templates.check("notice", text)


def test_schedules() -> None:
    weekly = {"kind": "weekly", "weekdays": [0, 3], "time": "08:00", "until": "2026-12-03"}
    first = schedule.first_due(weekly, MONDAY_10, TZ)
    assert first is not None and first.astimezone(TZ) == datetime(2026, 11, 26, 8, 0, tzinfo=TZ)
    times = [first]
    while (nxt := schedule.next_due(weekly, times[-1], TZ)) is not None:
        times.append(nxt)
    assert [f"{t.astimezone(TZ):%a %d/%m %H:%M}" for t in times] == [
        "Thu 26/11 08:00", "Mon 30/11 08:00", "Thu 03/12 08:00"]
    assert schedule.first_due({"kind": "now"}, MONDAY_10, TZ) == MONDAY_10
    monthly = schedule.first_due({"kind": "monthly", "day": 1, "time": "07:00"}, MONDAY_10, TZ)
    assert monthly is not None and f"{monthly.astimezone(TZ):%d/%m %H:%M}" == "01/12 07:00"
    # Standard crontab weekdays: 0 is Sunday.
    sunday = schedule.first_due({"kind": "cron", "expr": "30 7 * * 0"}, MONDAY_10, TZ)
    assert sunday is not None and f"{sunday.astimezone(TZ):%a %H:%M}" == "Sun 07:30"
    once = {"kind": "once", "at": "2026-11-23T09:00"}  # 09:00 today has passed
    assert schedule.first_due(once, MONDAY_10, TZ) is None
    with pytest.raises(schedule.ScheduleError):
        schedule.validate(once, MONDAY_10, TZ)
    with pytest.raises(schedule.ScheduleError, match="5 fields"):
        schedule.trigger({"kind": "cron", "expr": "0 8 * *"}, TZ)
    assert schedule.describe(weekly, "vi") == \
        "hàng tuần vào Thứ Hai, Thứ Năm lúc 08:00, đến hết 03/12/2026"


@pytest.mark.parametrize(("local", "until"), [
    ("21:29", None), ("21:30", "24 06:30"), ("23:59", "24 06:30"), ("00:00", "24 06:30"),
    ("06:29", "24 06:30"), ("06:30", None), ("12:00", None)])
def test_quiet_hours_across_midnight(local: str, until: str | None) -> None:
    h, m = map(int, local.split(":"))
    day = 24 if h < 12 else 23
    at = datetime(2026, 11, day, h, m, tzinfo=TZ).astimezone(UTC)
    got = schedule.quiet_until(at, "21:30", "06:30", TZ)
    assert (f"{got.astimezone(TZ):%d %H:%M}" if got else None) == until
    assert schedule.quiet_until(at, "06:30", "06:30", TZ) is None  # switched off

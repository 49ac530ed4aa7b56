"""020: the clock tables' privileges and RLS, the Regulation E calendar, rollback."""

from __future__ import annotations

from collections.abc import Callable

from switchboard.migrations.runner import MigrationRunner
from tests.builders import execute

Runner = Callable[..., MigrationRunner]


def test_clocks_are_never_deleted_and_events_only_appended(migrated_db: str) -> None:
    rights = execute(
        migrated_db,
        "SELECT table_name::text, grantee::text,"
        " string_agg(privilege_type, ',' ORDER BY privilege_type)"
        " FROM information_schema.role_table_grants"
        " WHERE table_name IN ('cc_sla_clocks', 'cc_sla_clock_events')"
        " AND grantee IN ('service_role', 'anon', 'authenticated', 'PUBLIC')"
        " GROUP BY grantee, table_name ORDER BY 1, 2",
    )
    # Agents read them (024), under their policies; only the service writes.
    assert rights == [
        ("cc_sla_clock_events", "authenticated", "SELECT"),
        ("cc_sla_clock_events", "service_role", "INSERT,SELECT"),
        ("cc_sla_clocks", "authenticated", "SELECT"),
        ("cc_sla_clocks", "service_role", "INSERT,SELECT,UPDATE"),
    ]
    secured = execute(
        migrated_db,
        "SELECT count(*) FROM pg_class WHERE relname IN ('cc_sla_clocks', 'cc_sla_clock_events')"
        " AND relrowsecurity",
    )
    assert secured == [(2,)]


def test_the_federal_calendar_closes_weekday_holidays_only(migrated_db: str) -> None:
    holidays = execute(
        migrated_db,
        "SELECT extract(year FROM on_date)::int, count(*) FROM cc_calendar_exceptions"
        " WHERE calendar_name = 'us_federal_business_days' AND opens IS NULL"
        " GROUP BY 1 ORDER BY 1",
    )
    assert holidays == [(2026, 10), (2027, 9), (2028, 9)]
    weekend = execute(
        migrated_db,
        "SELECT count(*) FROM cc_calendar_exceptions"
        " WHERE calendar_name = 'us_federal_business_days' AND extract(isodow FROM on_date) > 5",
    )
    assert weekend == [(0,)]


def test_020_rolls_back_and_applies_again(migrated_db: str, runner_for: Runner) -> None:
    runner = runner_for(migrated_db)

    runner.downgrade("018")

    assert execute(migrated_db, "SELECT to_regclass('cc_sla_clocks')") == [(None,)]
    assert execute(
        migrated_db, "SELECT count(*) FROM cc_calendars WHERE name = 'us_federal_business_days'"
    ) == [(0,)]
    runner.upgrade()
    assert execute(
        migrated_db,
        "SELECT count(*) FROM cc_calendar_exceptions"
        " WHERE calendar_name = 'us_federal_business_days'",
    ) == [(28,)]

"""Demo data: loads into a migrated database, passes the checklist, loads twice as once."""

from __future__ import annotations

from switchboard.demo import CUSTOMERS, load_demo_data
from switchboard.migrations.checklist import run_checklist
from tests.builders import execute


def test_demo_data_loads_once_however_often_it_is_loaded(migrated_db: str) -> None:
    first = load_demo_data(migrated_db)
    second = load_demo_data(migrated_db)

    assert first == second
    assert first["cc_bank_customers"] == len(CUSTOMERS)
    assert first["cc_identity_links"] == 2 * len(CUSTOMERS)
    assert [r for r in run_checklist(migrated_db) if not r.ok] == []


def test_demo_phone_numbers_are_from_the_range_reserved_for_drama(migrated_db: str) -> None:
    load_demo_data(migrated_db)

    phones = execute(migrated_db, "SELECT address FROM cc_identity_links WHERE channel = 'phone'")

    assert phones
    assert all(phone.startswith("+447700900") for (phone,) in phones)

"""019 on a database with assignments already in it; its rollback; who may run its functions."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from switchboard.migrations.runner import MigrationRunner
from tests.builders import execute

Runner = Callable[..., MigrationRunner]
FUNCTIONS = (
    "cc_private.agent_channels_with_room(uuid)",
    "cc_private.claim_next_assignment(uuid)",
    "cc_private.offer_assignment(uuid,uuid)",
)


def test_assignments_made_before_019_are_finished_work(empty_db: str, runner_for: Runner) -> None:
    runner = runner_for(empty_db)
    runner.upgrade("018")
    conversation = execute(
        empty_db, "INSERT INTO cc_conversations (channel) VALUES ('sms') RETURNING id"
    )[0][0]
    execute(
        empty_db,
        "INSERT INTO cc_assignments (conversation_id, queue_name, reason)"
        " VALUES (%s, 'cards', 'x'), (%s, 'cards', 'y')",
        (conversation, conversation),
    )

    runner.upgrade()

    assert execute(empty_db, "SELECT state, version FROM cc_assignments") == [("done", 0)] * 2
    # New rows start queued, in the queue from the time they are written.
    execute(
        empty_db,
        "INSERT INTO cc_assignments (conversation_id, queue_name, channel)"
        " VALUES (%s, 'cards', 'sms')",
        (conversation,),
    )
    queued = execute(
        empty_db,
        "SELECT count(*) FROM cc_assignments WHERE state = 'queued' AND enqueued_at IS NOT NULL",
    )
    assert queued == [(1,)]


def test_019_rolls_back_and_applies_again(migrated_db: str, runner_for: Runner) -> None:
    runner = runner_for(migrated_db)

    runner.downgrade("018")

    assert execute(migrated_db, "SELECT to_regnamespace('cc_private')") == [(None,)]
    assert "state" not in [
        r[0] for r in execute(
            migrated_db,
            "SELECT attname FROM pg_attribute WHERE attrelid = 'cc_assignments'::regclass",
        )
    ]  # fmt: skip
    runner.upgrade()
    assert execute(migrated_db, "SELECT to_regprocedure(%s) IS NOT NULL", (FUNCTIONS[1],)) == [
        (True,)
    ]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_only_service_role_may_run_the_routing_functions(migrated_db: str, function: str) -> None:
    rights = execute(
        migrated_db,
        "SELECT r.rolname, has_function_privilege(r.oid, %s, 'EXECUTE') FROM pg_roles AS r"
        " WHERE r.rolname IN ('anon', 'authenticated', 'service_role') ORDER BY 1",
        (function,),
    )
    assert rights == [("anon", False), ("authenticated", False), ("service_role", True)]
    definition = execute(
        migrated_db,
        "SELECT p.prosecdef, p.proconfig FROM pg_proc AS p WHERE p.oid = %s::regprocedure",
        (function,),
    )
    assert definition == [(True, ['search_path=""'])]

-- 010: the outbound job queue and the sandbox outbox.
--
-- By hand:  `switchboard db sql` prints every migration with procrastinate's schema in place
-- (this file alone lacks it).
--
-- * Outbound sends are jobs on procrastinate, a queue kept in PostgreSQL: a message and the
--   job that sends it commit (or roll back) in one transaction. The queue's tables, types and
--   functions are procrastinate's own sql/schema.sql, taken from the installed package: the
--   runner runs it at the marked line below, in this migration's transaction, and records in
--   the ledger which of procrastinate's migration files it contains; on an upgrade of the
--   package it applies the files that come after (docs/migrations.md: the job queue's schema).
-- * Job arguments can hold sealed message text: like every cc_ table, the queue tables get
--   row level security with a service_role policy, and nothing for anon or authenticated.
-- * cc_sandbox_outbox: what the `sandbox` provider "sent" (development, tests): the stored
--   text of the message, never a sealed secret.
-- squawk-ignore-file prefer-robust-stmts, require-concurrent-index-creation -- runs in one
-- transaction on tables it creates: a failure undoes it all, and nothing else can be writing
-- to a table that did not exist before this transaction (CONCURRENTLY cannot run in one).
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DO $$
BEGIN
    IF to_regclass('procrastinate_jobs') IS NOT NULL THEN
        RAISE EXCEPTION 'a procrastinate schema already exists in this database'
            USING HINT = 'Switchboard keeps its job queue in the procrastinate_* tables; drop '
                         'the other one (or use another database), then run the upgrade again';
    END IF;
END
$$;

-- procrastinate's sql/schema.sql, from the installed package, runs here:
-- switchboard: job-queue-schema

DO $$
DECLARE
    tbl text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['procrastinate_jobs', 'procrastinate_events',
                               'procrastinate_periodic_defers', 'procrastinate_workers']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
        EXECUTE format('CREATE POLICY %I ON %I AS PERMISSIVE FOR ALL TO service_role '
                       'USING (true) WITH CHECK (true)', tbl || '_service_role_all', tbl);
        EXECUTE format('REVOKE ALL ON %I FROM PUBLIC, anon, authenticated', tbl);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO service_role', tbl);
    END LOOP;
END
$$;

REVOKE ALL ON SEQUENCE procrastinate_jobs_id_seq, procrastinate_events_id_seq,
    procrastinate_periodic_defers_id_seq, procrastinate_workers_id_seq
    FROM PUBLIC, anon, authenticated;
GRANT USAGE, SELECT ON SEQUENCE procrastinate_jobs_id_seq, procrastinate_events_id_seq,
    procrastinate_periodic_defers_id_seq, procrastinate_workers_id_seq TO service_role;

CREATE TABLE cc_sandbox_outbox (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    message_id uuid NOT NULL REFERENCES cc_messages (id),
    provider_message_id text NOT NULL
        CONSTRAINT cc_sandbox_outbox_provider_message_id_key UNIQUE,
    channel text NOT NULL,
    from_address text,
    to_address text NOT NULL,
    subject text,
    body_text text,
    sealed boolean NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX cc_sandbox_outbox_message_id_idx ON cc_sandbox_outbox (message_id);

ALTER TABLE cc_sandbox_outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY cc_sandbox_outbox_service_role_all ON cc_sandbox_outbox
    AS PERMISSIVE FOR ALL TO service_role USING (true) WITH CHECK (true);
REVOKE ALL ON cc_sandbox_outbox FROM PUBLIC, anon, authenticated, service_role, switchboard_app;
GRANT SELECT, INSERT ON cc_sandbox_outbox TO service_role;

-- 017: refused webhook deliveries counted, so that a flood of them cannot fill the audit log.
--
-- * cc_webhook_refusals: how many deliveries were refused per minute, provider, client address
--   and error code. Every refusal adds one here (an upsert) in the transaction that audits it;
--   only the first few of each key and minute get an audit row of their own, and once the
--   minute is over the next refusal (from anyone) deletes the row and audits the rest as one
--   summary row. Counting in the database, not in a process, holds the limit across every
--   worker process the service runs. Rows live a minute or two: the table is bookkeeping, not
--   a record (the audit log is).
-- squawk-ignore-file prefer-robust-stmts -- the table is created IF NOT EXISTS and the DO block
-- guards its policy; squawk cannot see guards inside DO blocks.
SET lock_timeout = '500ms';
SET statement_timeout = 0;

CREATE TABLE IF NOT EXISTS cc_webhook_refusals (
    window_start timestamptz NOT NULL,
    provider text NOT NULL,
    client text NOT NULL,
    error_code text NOT NULL,
    refused bigint NOT NULL DEFAULT 1 CHECK (refused > 0),
    CONSTRAINT cc_webhook_refusals_pkey PRIMARY KEY (window_start, provider, client, error_code)
);

DO $$
BEGIN
    ALTER TABLE cc_webhook_refusals ENABLE ROW LEVEL SECURITY;
    IF NOT EXISTS (SELECT FROM pg_policy WHERE polrelid = 'cc_webhook_refusals'::regclass
                                           AND polname = 'cc_webhook_refusals_service_role_all') THEN
        CREATE POLICY cc_webhook_refusals_service_role_all ON cc_webhook_refusals
            AS PERMISSIVE FOR ALL TO service_role USING (true) WITH CHECK (true);
    END IF;
    REVOKE ALL ON cc_webhook_refusals
        FROM PUBLIC, anon, authenticated, service_role, switchboard_app;
    -- A counter: incremented (UPDATE) and deleted once audited in summary.
    GRANT SELECT, INSERT, UPDATE, DELETE ON cc_webhook_refusals TO service_role;
END
$$;

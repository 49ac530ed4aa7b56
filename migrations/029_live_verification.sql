-- 029: the console's verification badge follows a conversation live: a one-time code sent,
-- checked or expired (cc_auth_sessions) and one of the assistant's tool calls (cc_tool_calls:
-- it may have verified the caller) are announced on cc_live as kind `verification`, with the
-- row's id and its conversation's id only, as 026 announces the rest (docs/agents.md, "Live
-- updates"). A code session without a conversation (a tool's code for a caller not yet
-- threaded) announces nothing: there is no badge to change.
--
-- By hand:  psql -1 -v ON_ERROR_STOP=1 -f migrations/029_live_verification.sql
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all;
-- every function and trigger is made with CREATE OR REPLACE, so the file can run again.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE OR REPLACE FUNCTION cc_private.live_verification() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
    payload jsonb[];
BEGIN
    payload := ARRAY(
        SELECT pg_catalog.jsonb_build_object('id', r.id, 'conversation_id', r.conversation_id)
        FROM changed_rows AS r WHERE r.conversation_id IS NOT NULL);
    PERFORM pg_catalog.pg_notify('cc_live', pg_catalog.jsonb_build_object(
                'kind', 'verification', 'rows', pg_catalog.to_jsonb(payload[i:i + 24]))::text)
    FROM pg_catalog.generate_series(1, pg_catalog.cardinality(payload), 25) AS i;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER cc_auth_sessions_live_insert AFTER INSERT ON cc_auth_sessions
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cc_private.live_verification();
CREATE OR REPLACE TRIGGER cc_auth_sessions_live_update AFTER UPDATE ON cc_auth_sessions
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cc_private.live_verification();
CREATE OR REPLACE TRIGGER cc_tool_calls_live_insert AFTER INSERT ON cc_tool_calls
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cc_private.live_verification();

-- Nobody calls the notifier (a trigger fires without EXECUTE): PostgreSQL's grant to PUBLIC,
-- and Supabase's to its roles, are taken back.
DO $$
BEGIN
    EXECUTE 'REVOKE ALL ON FUNCTION cc_private.live_verification() FROM PUBLIC';
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
        EXECUTE 'REVOKE ALL ON FUNCTION cc_private.live_verification() FROM anon';
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        EXECUTE 'REVOKE ALL ON FUNCTION cc_private.live_verification() FROM authenticated';
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
        EXECUTE 'REVOKE ALL ON FUNCTION cc_private.live_verification() FROM service_role';
    END IF;
END
$$;

-- 023: agents' internal notes on a conversation: never sent, never changed.
--
-- * cc_conversation_notes: one row per note (conversation, author agent, body, created_at). Only
--   appended: service_role may SELECT and INSERT. An agent reads the notes of the conversation
--   their transaction reads, under the same policy as its messages (021).
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all
-- squawk-ignore-file require-concurrent-index-creation -- the index is built on the table
-- created just above, empty: there are no writes to block.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE IF NOT EXISTS cc_conversation_notes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid NOT NULL REFERENCES cc_conversations (id),
    author_agent_id uuid NOT NULL REFERENCES cc_agents (id),
    body text NOT NULL CONSTRAINT cc_conversation_notes_body_check CHECK (body <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS cc_conversation_notes_conversation_id_created_at_idx
    ON cc_conversation_notes (conversation_id, created_at DESC);

DO $$
BEGIN
    ALTER TABLE cc_conversation_notes ENABLE ROW LEVEL SECURITY;
    IF NOT EXISTS (SELECT FROM pg_policy WHERE polrelid = 'cc_conversation_notes'::regclass
                                           AND polname = 'cc_conversation_notes_service_role_all') THEN
        CREATE POLICY cc_conversation_notes_service_role_all ON cc_conversation_notes
            AS PERMISSIVE FOR ALL TO service_role USING (true) WITH CHECK (true);
    END IF;
    REVOKE ALL ON cc_conversation_notes
        FROM PUBLIC, anon, authenticated, service_role, switchboard_app;
    GRANT SELECT, INSERT ON cc_conversation_notes TO service_role;
    GRANT SELECT ON cc_conversation_notes TO authenticated;
    DROP POLICY IF EXISTS cc_conversation_notes_agent_read ON cc_conversation_notes;
    CREATE POLICY cc_conversation_notes_agent_read ON cc_conversation_notes
        FOR SELECT TO authenticated
        USING (conversation_id = (SELECT cc_private.read_conversation()));
END
$$;

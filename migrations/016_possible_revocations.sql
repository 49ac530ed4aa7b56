-- 016: texts that may ask, in words, to stop being contacted.
--
-- * cc_possible_revocations: one row per inbound text whose words may revoke consent
--   ("please stop texting me") without being an opt-out keyword. Nothing is changed for the
--   customer on such a text; the row flags its conversation for a person to confirm. Written
--   in the transaction that stores the message, at most once per message. Only ever
--   appended: what a person decides about a flag is recorded by the agent side, not here.
-- squawk-ignore-file prefer-robust-stmts -- the table is created IF NOT EXISTS and the DO block
-- guards its policy; squawk cannot see guards inside DO blocks.
-- squawk-ignore-file require-concurrent-index-creation -- the index is built on the table
-- created just above, empty, in the same migration: there are no writes to block.
SET lock_timeout = '500ms';
SET statement_timeout = 0;

CREATE TABLE IF NOT EXISTS cc_possible_revocations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid NOT NULL REFERENCES cc_conversations (id),
    message_id uuid NOT NULL REFERENCES cc_messages (id),
    bank_customer_id uuid REFERENCES cc_bank_customers (id),
    channel text NOT NULL
        CONSTRAINT cc_possible_revocations_channel_check
        CHECK (channel IN ('sms', 'email', 'voice', 'whatsapp')),
    phrase text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cc_possible_revocations_message_id_key UNIQUE (message_id)
);

CREATE INDEX IF NOT EXISTS cc_possible_revocations_conversation_id_idx
    ON cc_possible_revocations (conversation_id, created_at);

DO $$
BEGIN
    ALTER TABLE cc_possible_revocations ENABLE ROW LEVEL SECURITY;
    IF NOT EXISTS (SELECT FROM pg_policy
                   WHERE polrelid = 'cc_possible_revocations'::regclass
                     AND polname = 'cc_possible_revocations_service_role_all') THEN
        CREATE POLICY cc_possible_revocations_service_role_all ON cc_possible_revocations
            AS PERMISSIVE FOR ALL TO service_role USING (true) WITH CHECK (true);
    END IF;
    -- Supabase grants ALL on new tables to anon, authenticated and service_role by default:
    -- an append-only table gets INSERT and SELECT only, and browser roles nothing.
    REVOKE ALL ON cc_possible_revocations
        FROM PUBLIC, anon, authenticated, service_role, switchboard_app;
    GRANT SELECT, INSERT ON cc_possible_revocations TO service_role;
END
$$;

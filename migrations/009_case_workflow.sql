-- 009: what the case workflow needs: a case's conversation, its notes (appended, never
-- edited), and updated_at kept by the database.
-- switchboard: no-transaction
-- squawk-ignore-file prefer-robust-stmts -- every statement is guarded or re-runnable as it
-- stands; squawk cannot see the guards inside the DO blocks.
SET lock_timeout = '500ms';
SET statement_timeout = 0;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'cc_cases'::regclass
                   AND attname = 'conversation_id' AND NOT attisdropped) THEN
        ALTER TABLE cc_cases ADD COLUMN conversation_id uuid;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'cc_cases'::regclass
                   AND conname = 'cc_cases_conversation_id_fkey') THEN
        ALTER TABLE cc_cases ADD CONSTRAINT cc_cases_conversation_id_fkey
            FOREIGN KEY (conversation_id) REFERENCES cc_conversations (id) NOT VALID;
    END IF;
END
$$;

SET lock_timeout = 0;
ALTER TABLE cc_cases VALIDATE CONSTRAINT cc_cases_conversation_id_fkey;
SET lock_timeout = '500ms';

-- Rows that must never change once written (case notes) share one refusal, naming the table.
DO $do$
BEGIN
    IF to_regprocedure('cc_forbid_change()') IS NULL THEN
        CREATE FUNCTION cc_forbid_change() RETURNS trigger
        LANGUAGE plpgsql AS $fn$
        BEGIN
            RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $fn$;
    END IF;
END
$do$;

CREATE TABLE IF NOT EXISTS cc_case_notes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    case_id uuid NOT NULL REFERENCES cc_cases (id),
    author_type text NOT NULL,
    author_id text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_case_notes_case_id_created_at_idx
    ON cc_case_notes (case_id, created_at);

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'cc_case_notes'::regclass
                   AND tgname = 'cc_case_notes_immutable') THEN
        CREATE TRIGGER cc_case_notes_immutable BEFORE UPDATE OR DELETE ON cc_case_notes
            FOR EACH ROW EXECUTE FUNCTION cc_forbid_change();
        CREATE TRIGGER cc_case_notes_no_truncate BEFORE TRUNCATE ON cc_case_notes
            FOR EACH STATEMENT EXECUTE FUNCTION cc_forbid_change();
        ALTER TABLE cc_case_notes ENABLE ALWAYS TRIGGER cc_case_notes_immutable,
            ENABLE ALWAYS TRIGGER cc_case_notes_no_truncate;
    END IF;
    ALTER TABLE cc_case_notes ENABLE ROW LEVEL SECURITY;
    IF NOT EXISTS (SELECT FROM pg_policy WHERE polrelid = 'cc_case_notes'::regclass
                   AND polname = 'cc_case_notes_service_role_all') THEN
        CREATE POLICY cc_case_notes_service_role_all ON cc_case_notes
            AS PERMISSIVE FOR ALL TO service_role USING (true) WITH CHECK (true);
    END IF;
    REVOKE ALL ON cc_case_notes FROM PUBLIC, anon, authenticated, service_role, switchboard_app;
    GRANT SELECT, INSERT ON cc_case_notes TO service_role;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'cc_cases'::regclass
                   AND tgname = 'cc_cases_set_updated_at') THEN
        CREATE TRIGGER cc_cases_set_updated_at BEFORE UPDATE ON cc_cases
            FOR EACH ROW EXECUTE FUNCTION cc_set_updated_at();
    END IF;
END
$$;

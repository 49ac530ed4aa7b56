-- 006: the contact-center Step 1 checklist, the user's specification item for item.
-- switchboard: no-transaction
--
-- By hand:  psql -v ON_ERROR_STOP=1 -f migrations/006_cc_step1_checklist.sql
-- (never with -1 / --single-transaction: indexes are built CONCURRENTLY).
--
-- Why it is written this way:
-- * It runs statement by statement, outside one big transaction, so that indexes are built
--   CONCURRENTLY and CHECK/foreign-key constraints are validated without holding a lock that
--   stops writers. Each statement holds its ACCESS EXCLUSIVE lock for milliseconds and gives
--   up after lock_timeout instead of queueing writers behind it.
-- * Every statement is guarded. Run again after success, it changes nothing; run again after
--   an interruption (process killed, lock timeout), it finishes the job and rebuilds any
--   invalid index a killed CREATE INDEX CONCURRENTLY left behind.
-- * It takes a pre-006 database however it got there: a renamed column or table may have its
--   old name, its new name, or both (the data is copied across, then the old one dropped);
--   optional legacy columns may be missing; extra columns and rows are left as they are.
-- * Nothing changes until the preflight below has passed: the pre-006 tables exist, no
--   (provider, provider_message_id) pair is duplicated, and no old/new column pair disagrees.
-- * Widened CHECK constraints allow the specification's values, every value the constraint
--   they replace allowed, and every value already present in the data.
-- * What it changes is noted in switchboard_migration_changes, so that the rollback undoes
--   exactly that: a column, table, CHECK or RLS setting the database had before 006 survives.

-- squawk-ignore-file prefer-robust-stmts -- every statement is guarded or re-runnable as it
-- stands (VALIDATE, SET DEFAULT); squawk cannot see the guards inside the DO blocks.
SET lock_timeout = '500ms';
SET statement_timeout = 0;

-- One migration run at a time, psql included: the runner's session already holds this lock
-- (taking it again only counts up), and a psql session waits here for any run in progress.
DO $$ BEGIN PERFORM pg_advisory_lock(hashtextextended('switchboard:migrations', 0)); END $$;

-- Session-local helpers (pg_temp): they vanish with the connection and leave no trace.

CREATE OR REPLACE FUNCTION pg_temp.cc_has_column(tbl text, col text) RETURNS boolean
LANGUAGE sql STABLE AS $fn$
    SELECT EXISTS (
        SELECT FROM pg_attribute
        WHERE attrelid = to_regclass(tbl) AND attname = col AND attnum > 0 AND NOT attisdropped
    )
$fn$;

-- What 006 changed, so that its rollback undoes exactly that and nothing the database had
-- before. switchboard_migration_changes is created right after the preflight.
CREATE OR REPLACE FUNCTION pg_temp.cc_note(kind text, target text, detail jsonb DEFAULT '{}')
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO switchboard_migration_changes (migration, kind, target, detail)
    VALUES ('006', kind, target, detail) ON CONFLICT DO NOTHING;
END
$fn$;

CREATE OR REPLACE FUNCTION pg_temp.cc_noted(change_kind text, change_target text)
RETURNS boolean LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN EXISTS (SELECT FROM switchboard_migration_changes
                   WHERE migration = '006' AND kind = change_kind AND target = change_target);
END
$fn$;

CREATE OR REPLACE FUNCTION pg_temp.cc_add_column(tbl text, col text, coltype text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    -- Checked first so that a second run takes no lock at all.
    IF NOT pg_temp.cc_has_column(tbl, col) THEN
        EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS %I %s', tbl, col, coltype);
        PERFORM pg_temp.cc_note('column_added', tbl || '.' || col);
    END IF;
END
$fn$;

-- Both names present: copy old into new where new is empty, in committed batches, so that no
-- lock is held for long and an interruption keeps what was copied. A table with triggers of
-- its own (the audit log's immutability, updated_at) is copied in one transaction with them
-- off instead: ALTER TABLE holds its lock until commit, so no one sees them off.
CREATE OR REPLACE PROCEDURE pg_temp.cc_copy_column(tbl text, old_name text, new_name text)
LANGUAGE plpgsql AS $fn$
DECLARE
    copied bigint;
    trg record;
    states jsonb := '{}';
BEGIN
    IF NOT (pg_temp.cc_has_column(tbl, old_name) AND pg_temp.cc_has_column(tbl, new_name)) THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = to_regclass(tbl) AND NOT tgisinternal) THEN
        FOR trg IN SELECT tgname::text AS name, tgenabled::text AS enabled FROM pg_trigger
                   WHERE tgrelid = to_regclass(tbl) AND NOT tgisinternal LOOP
            states := states || jsonb_build_object(trg.name, trg.enabled);
            EXECUTE format('ALTER TABLE %I DISABLE TRIGGER %I', tbl, trg.name);
        END LOOP;
        EXECUTE format('UPDATE %I SET %I = %I WHERE %I IS NULL AND %I IS NOT NULL',
                       tbl, new_name, old_name, new_name, old_name);
        FOR trg IN SELECT key AS name, value #>> '{}' AS enabled FROM jsonb_each(states) LOOP
            EXECUTE format('ALTER TABLE %I %s TRIGGER %I', tbl,
                           CASE trg.enabled WHEN 'A' THEN 'ENABLE ALWAYS'
                                            WHEN 'R' THEN 'ENABLE REPLICA'
                                            WHEN 'D' THEN 'DISABLE'
                                            ELSE 'ENABLE' END, trg.name);
        END LOOP;
        COMMIT;
        RETURN;
    END IF;
    LOOP
        EXECUTE format('UPDATE %I SET %I = %I WHERE ctid = ANY (ARRAY(SELECT ctid FROM %I '
                       'WHERE %I IS NULL AND %I IS NOT NULL LIMIT 10000))',
                       tbl, new_name, old_name, tbl, new_name, old_name);
        GET DIAGNOSTICS copied = ROW_COUNT;
        COMMIT;
        EXIT WHEN copied = 0;
    END LOOP;
END
$fn$;

-- Old name only: rename. Both names (after cc_copy_column): drop the old one.
CREATE OR REPLACE FUNCTION pg_temp.cc_rename_column(tbl text, old_name text, new_name text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    left_behind boolean;
BEGIN
    IF NOT pg_temp.cc_has_column(tbl, old_name) THEN
        RETURN;
    END IF;
    IF NOT pg_temp.cc_has_column(tbl, new_name) THEN
        EXECUTE format('ALTER TABLE %I RENAME COLUMN %I TO %I', tbl, old_name, new_name);
        PERFORM pg_temp.cc_note('column_renamed', tbl || '.' || new_name,
                                jsonb_build_object('from', old_name));
        RETURN;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT FROM %I WHERE %I IS NULL AND %I IS NOT NULL)',
                   tbl, new_name, old_name) INTO left_behind;
    IF left_behind THEN
        RAISE EXCEPTION 'rows were written to %.% while 006 copied it into %', tbl, old_name, new_name
            USING HINT = 'stop writers using the old column name, then run 006 again';
    END IF;
    EXECUTE format('ALTER TABLE %I DROP COLUMN %I', tbl, old_name);
    PERFORM pg_temp.cc_note('column_merged', tbl || '.' || new_name,
                            jsonb_build_object('from', old_name));
END
$fn$;

-- Replace the list-of-values CHECK constraints on one column by `con_name`, allowing
-- `allowed`, every value they allowed, and every value present. Other CHECKs on the column
-- (status <> '', say) are kept. Added NOT VALID; the VALIDATE runs as its own statement so
-- that no writer waits for the scan. The replaced definitions are noted for the rollback.
CREATE OR REPLACE FUNCTION pg_temp.cc_widen_check(
    tbl text, col text, con_name text, allowed text[]
) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    col_num smallint;
    existing record;
    literals text[];
    present text[];
    drops text := '';
    replaced jsonb := '[]';
    values_sql text;
BEGIN
    SELECT attnum INTO col_num FROM pg_attribute
    WHERE attrelid = to_regclass(tbl) AND attname = col AND NOT attisdropped;
    FOR existing IN
        SELECT conname::text AS conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conrelid = to_regclass(tbl) AND contype = 'c' AND conkey = ARRAY[col_num]
    LOOP
        CONTINUE WHEN existing.def !~ ' = ANY \(';
        SELECT array_agg(replace(m[1], '''''', '''')) INTO literals
        FROM regexp_matches(existing.def, '''((?:[^'']|'''')*)''', 'g') AS m;
        IF existing.conname = con_name AND literals @> allowed THEN
            RETURN;  -- already widened
        END IF;
        allowed := allowed || coalesce(literals, '{}');
        drops := drops || format('DROP CONSTRAINT %I, ', existing.conname);
        replaced := replaced || jsonb_build_array(
            jsonb_build_object('name', existing.conname, 'def', existing.def));
    END LOOP;
    IF EXISTS (SELECT FROM pg_constraint WHERE conrelid = to_regclass(tbl) AND conname = con_name)
       AND NOT replaced @> jsonb_build_array(jsonb_build_object('name', con_name)) THEN
        con_name := con_name || '_values';  -- the name belongs to a CHECK that is kept
    END IF;
    -- A column 006 has just added holds nothing yet: no need to read it.
    IF NOT pg_temp.cc_noted('column_added', tbl || '.' || col) THEN
        EXECUTE format('SELECT array_agg(DISTINCT %I::text) FROM %I WHERE %I IS NOT NULL',
                       col, tbl, col) INTO present;
    END IF;
    SELECT string_agg(quote_literal(v), ', ' ORDER BY v) INTO values_sql
    FROM (SELECT DISTINCT unnest(allowed || coalesce(present, '{}')) AS v) AS d;
    EXECUTE format('ALTER TABLE %I %s ADD CONSTRAINT %I CHECK (%I IN (%s)) NOT VALID',
                   tbl, drops, con_name, col, values_sql);
    PERFORM pg_temp.cc_note('check_replaced', tbl || '.' || col,
                            jsonb_build_object('constraint', con_name, 'replaced', replaced));
END
$fn$;

CREATE OR REPLACE FUNCTION pg_temp.cc_add_foreign_key(
    tbl text, col text, ref_tbl text, con_name text
) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint
                   WHERE conrelid = to_regclass(tbl) AND conname = con_name) THEN
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES %I (id) NOT VALID',
                       tbl, con_name, col, ref_tbl);
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION pg_temp.cc_unique_using_index(tbl text, con_name text)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint
                   WHERE conrelid = to_regclass(tbl) AND conname = con_name) THEN
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I UNIQUE USING INDEX %I',
                       tbl, con_name, con_name);
    END IF;
END
$fn$;

-- ---------------------------------------------------------------------------------------
-- Preflight: refuse, with the database unchanged, when 006 cannot be applied safely.
-- ---------------------------------------------------------------------------------------
DO $preflight$
DECLARE
    missing text;
    pair record;
    conflicts text;
    common text[];
    old_type oid;
    new_type oid;
    old_type_name text;
    new_type_name text;
    widened record;
    msg_key text;
    dup_count bigint;
    dup_list text;
BEGIN
    SELECT string_agg(t, ', ') INTO missing
    FROM unnest(ARRAY['cc_bank_customers', 'cc_conversations', 'cc_messages', 'cc_cases',
                      'cc_auth_sessions', 'cc_audit_logs']) AS t
    WHERE to_regclass(t) IS NULL;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SB003',
            MESSAGE = format('006 needs the pre-006 schema, but these tables are missing: %s', missing),
            HINT = 'apply 001-005 first (switchboard db upgrade --to 005), or create those tables';
    END IF;

    FOR pair IN
        SELECT * FROM (VALUES
            ('cc_messages', 'provider_msg_id', 'provider_message_id'),
            ('cc_messages', 'text', 'body_text'),
            ('cc_audit_logs', 'actor', 'actor_type'),
            ('cc_audit_logs', 'action', 'event_type'),
            ('cc_audit_logs', 'payload_redacted', 'input_redacted')
        ) AS v(tbl, old_name, new_name)
    LOOP
        CONTINUE WHEN NOT (pg_temp.cc_has_column(pair.tbl, pair.old_name)
                           AND pg_temp.cc_has_column(pair.tbl, pair.new_name));
        SELECT o.atttypid, n.atttypid, format_type(o.atttypid, o.atttypmod),
               format_type(n.atttypid, n.atttypmod)
        INTO old_type, new_type, old_type_name, new_type_name
        FROM pg_attribute AS o, pg_attribute AS n
        WHERE o.attrelid = to_regclass(pair.tbl) AND o.attname = pair.old_name
          AND n.attrelid = to_regclass(pair.tbl) AND n.attname = pair.new_name;
        IF old_type <> new_type AND NOT EXISTS (
            SELECT FROM pg_cast WHERE castsource = old_type AND casttarget = new_type
                                  AND castcontext IN ('a', 'i')) THEN
            RAISE EXCEPTION USING ERRCODE = 'SB002',
                MESSAGE = format('%s has both %I (%s) and %I (%s): values of the first cannot be copied into the second',
                                 pair.tbl, pair.old_name, old_type_name, pair.new_name, new_type_name),
                HINT = 'convert one column to the other''s type, or drop the one not in use, then run 006 again; nothing was changed';
        END IF;
        EXECUTE format(
            'SELECT string_agg(id::text, '', '') FROM (SELECT id FROM %I WHERE %I IS NOT NULL '
            'AND %I IS NOT NULL AND %I::%s IS DISTINCT FROM %I ORDER BY id LIMIT 20) AS c',
            pair.tbl, pair.old_name, pair.new_name, pair.old_name, new_type_name, pair.new_name)
        INTO conflicts;
        IF conflicts IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'SB002',
                MESSAGE = format('%s has both %I and %I, holding different values in rows: %s',
                                 pair.tbl, pair.old_name, pair.new_name, conflicts),
                HINT = format('decide which value is right and set the other to NULL in those rows, then run 006 again; nothing was changed');
        END IF;
    END LOOP;

    -- The columns whose CHECK 006 widens must be text, and their value lists their own.
    FOR widened IN
        SELECT v.tbl, v.col, a.attnum, format_type(a.atttypid, a.atttypmod) AS coltype,
               t.typcategory
        FROM (VALUES ('cc_conversations', 'status'), ('cc_cases', 'case_type'),
                     ('cc_cases', 'status'), ('cc_auth_sessions', 'status')) AS v(tbl, col)
        JOIN pg_attribute AS a ON a.attrelid = to_regclass(v.tbl) AND a.attname = v.col
                              AND NOT a.attisdropped
        JOIN pg_type AS t ON t.oid = a.atttypid
    LOOP
        IF widened.typcategory <> 'S' THEN
            RAISE EXCEPTION USING ERRCODE = 'SB004',
                MESSAGE = format('%s.%s is of type %s, but 006 widens the values of a text column',
                                 widened.tbl, widened.col, widened.coltype),
                HINT = 'convert the column to text, then run 006 again; nothing was changed';
        END IF;
        SELECT string_agg(conname, ', ') INTO conflicts FROM pg_constraint
        WHERE conrelid = to_regclass(widened.tbl) AND contype = 'c'
          AND widened.attnum = ANY (conkey) AND cardinality(conkey) > 1
          AND pg_get_constraintdef(oid) ~ ' = ANY \(';
        IF conflicts IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'SB004',
                MESSAGE = format('%s has CHECK constraint %s listing the values of %s together with other columns; 006 cannot widen it safely',
                                 widened.tbl, conflicts, widened.col),
                HINT = 'split it into one CHECK per column, then run 006 again; nothing was changed';
        END IF;
    END LOOP;

    IF to_regclass('cc_preferences') IS NOT NULL AND to_regclass('cc_comm_preferences') IS NOT NULL THEN
        SELECT array_agg(a.attname::text) INTO common
        FROM pg_attribute AS a
        JOIN pg_attribute AS b ON b.attrelid = 'cc_comm_preferences'::regclass AND b.attname = a.attname
                              AND b.attnum > 0 AND NOT b.attisdropped
        WHERE a.attrelid = 'cc_preferences'::regclass AND a.attnum > 0 AND NOT a.attisdropped;
        EXECUTE
            'SELECT string_agg(DISTINCT p.id::text, '', '') FROM cc_preferences AS p '
            'JOIN cc_comm_preferences AS c ON c.id = p.id OR c.bank_customer_id = p.bank_customer_id '
            'WHERE (SELECT jsonb_object_agg(key, value) FROM jsonb_each(to_jsonb(p)) WHERE key = ANY($1)) '
            '   IS DISTINCT FROM '
            '      (SELECT jsonb_object_agg(key, value) FROM jsonb_each(to_jsonb(c)) WHERE key = ANY($1))'
        INTO conflicts USING common;
        IF conflicts IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'SB002',
                MESSAGE = format('cc_preferences and cc_comm_preferences both exist and disagree on rows: %s', conflicts),
                HINT = 'make each customer''s row the same in both tables (or delete it from one), then run 006 again; nothing was changed';
        END IF;
    END IF;

    -- A unique constraint already in place proves there are no duplicates; skip the scan.
    IF pg_temp.cc_has_column('cc_messages', 'provider')
       AND NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'cc_messages'::regclass
                       AND conname = 'cc_messages_provider_message_id_key') THEN
        msg_key := CASE
            WHEN pg_temp.cc_has_column('cc_messages', 'provider_message_id')
                 AND pg_temp.cc_has_column('cc_messages', 'provider_msg_id')
                THEN 'coalesce(provider_message_id, provider_msg_id)'
            WHEN pg_temp.cc_has_column('cc_messages', 'provider_message_id') THEN 'provider_message_id'
            WHEN pg_temp.cc_has_column('cc_messages', 'provider_msg_id') THEN 'provider_msg_id'
        END;
        IF msg_key IS NOT NULL THEN
            EXECUTE format(
                'SELECT count(*), string_agg(format(''  provider=%%s provider_message_id=%%s (%%s rows)'', '
                'provider, message_id, n), E''\n'') FILTER (WHERE rank <= 50) '
                'FROM (SELECT provider, %s AS message_id, count(*) AS n, '
                '             row_number() OVER (ORDER BY count(*) DESC, provider, %s) AS rank '
                '      FROM cc_messages WHERE provider IS NOT NULL AND %s IS NOT NULL '
                '      GROUP BY 1, 2 HAVING count(*) > 1) AS d',
                msg_key, msg_key, msg_key)
            INTO dup_count, dup_list;
            IF dup_count > 0 THEN
                RAISE EXCEPTION USING ERRCODE = 'SB001',
                    MESSAGE = format(E'cc_messages has %s duplicated (provider, provider_message_id) pairs; 006 changed nothing.\n%s',
                                     dup_count, dup_list),
                    HINT = 'keep one message of each pair (or give the others distinct ids), then run 006 again';
            END IF;
        END IF;
    END IF;
END
$preflight$;

-- The record of what 006 changes, read by its rollback. Created after the preflight, so a
-- refused run leaves the database as it found it.
CREATE TABLE IF NOT EXISTS switchboard_migration_changes (
    migration text NOT NULL,
    kind text NOT NULL,
    target text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}',
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (migration, kind, target)
);
REVOKE ALL ON switchboard_migration_changes FROM PUBLIC;

-- ---------------------------------------------------------------------------------------
-- Renames ("if exists"): 5. cc_audit_logs, 2. cc_messages, 7. cc_comm_preferences.
-- Where both names exist, the old values are copied across first, in committed batches.
-- ---------------------------------------------------------------------------------------
CALL pg_temp.cc_copy_column('cc_messages', 'provider_msg_id', 'provider_message_id');
CALL pg_temp.cc_copy_column('cc_messages', 'text', 'body_text');
CALL pg_temp.cc_copy_column('cc_audit_logs', 'actor', 'actor_type');
CALL pg_temp.cc_copy_column('cc_audit_logs', 'action', 'event_type');
CALL pg_temp.cc_copy_column('cc_audit_logs', 'payload_redacted', 'input_redacted');

DO $$
BEGIN
    PERFORM pg_temp.cc_rename_column('cc_messages', 'provider_msg_id', 'provider_message_id');
    PERFORM pg_temp.cc_rename_column('cc_messages', 'text', 'body_text');
END
$$;

DO $$
BEGIN
    PERFORM pg_temp.cc_rename_column('cc_audit_logs', 'actor', 'actor_type');
    PERFORM pg_temp.cc_rename_column('cc_audit_logs', 'action', 'event_type');
    PERFORM pg_temp.cc_rename_column('cc_audit_logs', 'payload_redacted', 'input_redacted');
END
$$;

DO $$
DECLARE
    extra record;
    cols text;
    carried text := '';
BEGIN
    IF to_regclass('cc_preferences') IS NULL THEN
        RETURN;
    END IF;
    IF to_regclass('cc_comm_preferences') IS NULL THEN
        ALTER TABLE cc_preferences RENAME TO cc_comm_preferences;
        PERFORM pg_temp.cc_note('table_renamed', 'cc_comm_preferences', '{"from": "cc_preferences"}');
        RETURN;
    END IF;
    -- Both tables: carry every column and every row across (the preflight refused rows that
    -- disagree), then keep the new name only.
    FOR extra IN
        SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS coltype
        FROM pg_attribute AS a
        WHERE a.attrelid = 'cc_preferences'::regclass AND a.attnum > 0 AND NOT a.attisdropped
          AND NOT pg_temp.cc_has_column('cc_comm_preferences', a.attname)
        ORDER BY a.attnum
    LOOP
        EXECUTE format('ALTER TABLE cc_comm_preferences ADD COLUMN %I %s', extra.name, extra.coltype);
        carried := carried || format('%s%I = p.%I', CASE WHEN carried = '' THEN '' ELSE ', ' END,
                                     extra.name, extra.name);
    END LOOP;
    -- Rows already copied across get the values of the columns that were not.
    IF carried <> '' THEN
        EXECUTE format('UPDATE cc_comm_preferences AS c SET %s FROM cc_preferences AS p '
                       'WHERE c.id = p.id', carried);
    END IF;
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_attribute WHERE attrelid = 'cc_preferences'::regclass AND attnum > 0 AND NOT attisdropped;
    EXECUTE format(
        'INSERT INTO cc_comm_preferences (%s) SELECT %s FROM cc_preferences AS p '
        'WHERE NOT EXISTS (SELECT FROM cc_comm_preferences AS c WHERE c.id = p.id)', cols, cols);
    DROP TABLE cc_preferences;
    PERFORM pg_temp.cc_note('table_merged', 'cc_comm_preferences', '{"from": "cc_preferences"}');
END
$$;

-- ---------------------------------------------------------------------------------------
-- Columns. Nullable and without defaults, so adding them rewrites nothing.
-- ---------------------------------------------------------------------------------------
-- 1. cc_conversations
DO $$
BEGIN
    PERFORM pg_temp.cc_add_column('cc_conversations', 'provider', 'text');
    PERFORM pg_temp.cc_add_column('cc_conversations', 'provider_conversation_id', 'text');
END
$$;

-- 2. cc_messages
DO $$
BEGIN
    PERFORM pg_temp.cc_add_column('cc_messages', 'provider', 'text');
    PERFORM pg_temp.cc_add_column('cc_messages', 'provider_message_id', 'text');
    PERFORM pg_temp.cc_add_column('cc_messages', 'from_address', 'text');
    PERFORM pg_temp.cc_add_column('cc_messages', 'to_address', 'text');
    PERFORM pg_temp.cc_add_column('cc_messages', 'body_text', 'text');
    PERFORM pg_temp.cc_add_column('cc_messages', 'body_json', 'jsonb');
    PERFORM pg_temp.cc_add_column('cc_messages', 'status', 'text');
END
$$;

-- 3. cc_cases (description and resolved_at are kept; added if a database never had them)
DO $$
BEGIN
    PERFORM pg_temp.cc_add_column('cc_cases', 'description', 'text');
    PERFORM pg_temp.cc_add_column('cc_cases', 'resolved_at', 'timestamptz');
    PERFORM pg_temp.cc_add_column('cc_cases', 'summary', 'text');
    PERFORM pg_temp.cc_add_column('cc_cases', 'closed_at', 'timestamptz');
END
$$;

-- 4. cc_auth_sessions. Existing rows keep updated_at NULL (not updated since 006); new rows
-- get now(). A column the database already had keeps its own default.
DO $$
BEGIN
    PERFORM pg_temp.cc_add_column('cc_auth_sessions', 'channel', 'text');
    PERFORM pg_temp.cc_add_column('cc_auth_sessions', 'destination', 'text');
    PERFORM pg_temp.cc_add_column('cc_auth_sessions', 'provider', 'text');
    PERFORM pg_temp.cc_add_column('cc_auth_sessions', 'provider_request_id', 'text');
    PERFORM pg_temp.cc_add_column('cc_auth_sessions', 'updated_at', 'timestamptz');
    IF pg_temp.cc_noted('column_added', 'cc_auth_sessions.updated_at') AND NOT EXISTS (
        SELECT FROM pg_attrdef AS d JOIN pg_attribute AS a
            ON a.attrelid = d.adrelid AND a.attnum = d.adnum
        WHERE d.adrelid = 'cc_auth_sessions'::regclass AND a.attname = 'updated_at') THEN
        ALTER TABLE cc_auth_sessions ALTER COLUMN updated_at SET DEFAULT now();
    END IF;
END
$$;

-- 5. cc_audit_logs
DO $$
BEGIN
    PERFORM pg_temp.cc_add_column('cc_audit_logs', 'case_id', 'uuid');
    PERFORM pg_temp.cc_add_column('cc_audit_logs', 'bank_customer_id', 'uuid');
    PERFORM pg_temp.cc_add_column('cc_audit_logs', 'actor_type', 'text');
    PERFORM pg_temp.cc_add_column('cc_audit_logs', 'actor_id', 'text');
    PERFORM pg_temp.cc_add_column('cc_audit_logs', 'event_type', 'text');
    PERFORM pg_temp.cc_add_column('cc_audit_logs', 'event_version', 'integer');
    PERFORM pg_temp.cc_add_column('cc_audit_logs', 'input_redacted', 'jsonb');
    PERFORM pg_temp.cc_add_column('cc_audit_logs', 'output_redacted', 'jsonb');
    PERFORM pg_temp.cc_add_column('cc_audit_logs', 'success', 'boolean');
    PERFORM pg_temp.cc_add_column('cc_audit_logs', 'error_code', 'text');
    PERFORM pg_temp.cc_add_column('cc_audit_logs', 'error_message', 'text');
END
$$;

-- 6. cc_identity_links (new table)
DO $$
BEGIN
    IF to_regclass('cc_identity_links') IS NULL THEN
        CREATE TABLE cc_identity_links (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            bank_customer_id uuid NOT NULL REFERENCES cc_bank_customers (id),
            channel text NOT NULL CONSTRAINT cc_identity_links_channel_check
                CHECK (channel IN ('phone', 'email', 'whatsapp')),
            address text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        PERFORM pg_temp.cc_note('table_created', 'cc_identity_links');
    END IF;
END
$$;

-- 7. cc_comm_preferences (created with the legacy shape if the database never had it)
DO $$
BEGIN
    IF to_regclass('cc_comm_preferences') IS NULL THEN
        CREATE TABLE cc_comm_preferences (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            bank_customer_id uuid NOT NULL UNIQUE REFERENCES cc_bank_customers (id),
            do_not_contact boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        PERFORM pg_temp.cc_note('table_created', 'cc_comm_preferences');
    END IF;
    PERFORM pg_temp.cc_add_column('cc_comm_preferences', 'allowed_channels', 'jsonb');
    PERFORM pg_temp.cc_add_column('cc_comm_preferences', 'timezone', 'text');
END
$$;

-- 8. cc_assignments (new table): a queue entry for a conversation, a case, or both.
DO $$
BEGIN
    IF to_regclass('cc_assignments') IS NULL THEN
        CREATE TABLE cc_assignments (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            conversation_id uuid REFERENCES cc_conversations (id),
            case_id uuid REFERENCES cc_cases (id),
            queue_name text NOT NULL,
            assigned_to text,
            sla_due_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT cc_assignments_subject_check
                CHECK (conversation_id IS NOT NULL OR case_id IS NOT NULL)
        );
        PERFORM pg_temp.cc_note('table_created', 'cc_assignments');
    END IF;
END
$$;

-- ---------------------------------------------------------------------------------------
-- Constraints: added NOT VALID (a brief lock, no scan), one per transaction, so that no scan
-- of a table happens while its lock is held; then validated.
-- ---------------------------------------------------------------------------------------
DO $$ BEGIN PERFORM pg_temp.cc_widen_check('cc_conversations', 'status',
    'cc_conversations_status_check', ARRAY['open', 'pending', 'active', 'closed', 'archived']);
END $$;
DO $$ BEGIN PERFORM pg_temp.cc_widen_check('cc_conversations', 'provider',
    'cc_conversations_provider_check', ARRAY['twilio', 'sendgrid', 'vapi', 'other']);
END $$;
DO $$ BEGIN PERFORM pg_temp.cc_widen_check('cc_messages', 'status',
    'cc_messages_status_check', ARRAY['received', 'sent', 'delivered', 'failed', 'read']);
END $$;
DO $$ BEGIN PERFORM pg_temp.cc_widen_check('cc_cases', 'case_type',
    'cc_cases_case_type_check', ARRAY['fraud', 'cards', 'payments', 'loans', 'disputes',
                                      'complaints', 'general', 'card', 'payment', 'account']);
END $$;
DO $$ BEGIN PERFORM pg_temp.cc_widen_check('cc_cases', 'status',
    'cc_cases_status_check', ARRAY['new', 'triage', 'in_progress', 'waiting_customer',
                                   'resolved', 'closed', 'open']);
END $$;
DO $$ BEGIN PERFORM pg_temp.cc_widen_check('cc_auth_sessions', 'status',
    'cc_auth_sessions_status_check', ARRAY['created', 'sent', 'verified', 'failed', 'expired',
                                           'cancelled', 'pending']);
END $$;
DO $$ BEGIN PERFORM pg_temp.cc_widen_check('cc_auth_sessions', 'provider',
    'cc_auth_sessions_provider_check', ARRAY['twilio_verify', 'sendgrid', 'vapi', 'other']);
END $$;

DO $$ BEGIN PERFORM pg_temp.cc_add_foreign_key('cc_audit_logs', 'case_id', 'cc_cases',
    'cc_audit_logs_case_id_fkey');
END $$;
DO $$ BEGIN PERFORM pg_temp.cc_add_foreign_key('cc_audit_logs', 'bank_customer_id',
    'cc_bank_customers', 'cc_audit_logs_bank_customer_id_fkey');
END $$;

-- VALIDATE takes SHARE UPDATE EXCLUSIVE, which writers never wait for, so waiting for it is
-- harmless. Only the constraints 006 added are validated, one table per transaction.
CREATE OR REPLACE FUNCTION pg_temp.cc_validate(tbl text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    con text;
BEGIN
    FOR con IN
        SELECT c.conname FROM pg_constraint AS c
        WHERE c.conrelid = to_regclass(tbl) AND NOT c.convalidated
          AND (c.conname IN ('cc_audit_logs_case_id_fkey', 'cc_audit_logs_bank_customer_id_fkey')
               OR c.conname IN (SELECT detail->>'constraint' FROM switchboard_migration_changes
                                WHERE migration = '006' AND kind = 'check_replaced'
                                  AND target LIKE tbl || '.%'))
    LOOP
        EXECUTE format('ALTER TABLE %I VALIDATE CONSTRAINT %I', tbl, con);
    END LOOP;
END
$fn$;

SET lock_timeout = 0;
DO $$ BEGIN PERFORM pg_temp.cc_validate('cc_conversations'); END $$;
DO $$ BEGIN PERFORM pg_temp.cc_validate('cc_messages'); END $$;
DO $$ BEGIN PERFORM pg_temp.cc_validate('cc_cases'); END $$;
DO $$ BEGIN PERFORM pg_temp.cc_validate('cc_auth_sessions'); END $$;
DO $$ BEGIN PERFORM pg_temp.cc_validate('cc_audit_logs'); END $$;
SET lock_timeout = '500ms';

-- ---------------------------------------------------------------------------------------
-- Triggers: 4. updated_at on cc_auth_sessions; 5. the audit log is immutable. Functions are
-- created when missing and otherwise left as they are.
-- ---------------------------------------------------------------------------------------
DO $do$
BEGIN
    IF to_regprocedure('cc_set_updated_at()') IS NULL THEN
        CREATE FUNCTION cc_set_updated_at() RETURNS trigger
        LANGUAGE plpgsql AS $fn$
        BEGIN
            NEW.updated_at := now();
            RETURN NEW;
        END
        $fn$;
    END IF;
    IF to_regprocedure('cc_audit_logs_forbid_change()') IS NULL THEN
        CREATE FUNCTION cc_audit_logs_forbid_change() RETURNS trigger
        LANGUAGE plpgsql AS $fn$
        BEGIN
            RAISE EXCEPTION 'cc_audit_logs is append-only: % is not allowed', TG_OP
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'audit records can only be inserted and read';
        END
        $fn$;
    END IF;
END
$do$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'cc_auth_sessions'::regclass
                   AND tgname = 'cc_auth_sessions_set_updated_at') THEN
        CREATE TRIGGER cc_auth_sessions_set_updated_at
            BEFORE UPDATE ON cc_auth_sessions
            FOR EACH ROW EXECUTE FUNCTION cc_set_updated_at();
    END IF;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'cc_audit_logs'::regclass
                   AND tgname = 'cc_audit_logs_immutable') THEN
        CREATE TRIGGER cc_audit_logs_immutable
            BEFORE UPDATE OR DELETE ON cc_audit_logs
            FOR EACH ROW EXECUTE FUNCTION cc_audit_logs_forbid_change();
    END IF;
END
$$;

-- ---------------------------------------------------------------------------------------
-- Indexes, built CONCURRENTLY. CREATE INDEX CONCURRENTLY takes SHARE UPDATE EXCLUSIVE, so
-- writers go on; a killed build leaves an INVALID index, which is dropped here and rebuilt.
-- ---------------------------------------------------------------------------------------
DO $$
DECLARE
    leftover record;
BEGIN
    FOR leftover IN
        SELECT c.relname, t.relname AS tbl
        FROM pg_index AS i
        JOIN pg_class AS c ON c.oid = i.indexrelid
        JOIN pg_class AS t ON t.oid = i.indrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND NOT i.indisvalid
          AND c.relname = ANY (ARRAY[
              'cc_conversations_channel_provider_conversation_id_idx',
              'cc_messages_provider_message_id_key', 'cc_messages_conversation_id_created_at_idx',
              'cc_messages_from_address_idx', 'cc_cases_bank_customer_id_created_at_idx',
              'cc_cases_status_priority_idx', 'cc_cases_case_type_created_at_idx',
              'cc_auth_sessions_provider_request_id_key', 'cc_audit_logs_conversation_id_created_at_idx',
              'cc_audit_logs_case_id_idx', 'cc_audit_logs_bank_customer_id_idx',
              'cc_identity_links_channel_address_key', 'cc_identity_links_bank_customer_id_idx',
              'cc_identity_links_address_idx', 'cc_comm_preferences_do_not_contact_idx',
              'cc_assignments_queue_name_sla_due_at_idx', 'cc_assignments_assigned_to_idx',
              'cc_assignments_conversation_id_idx', 'cc_assignments_case_id_idx'])
    LOOP
        RAISE NOTICE 'dropping invalid index % left by an interrupted run; it is rebuilt below',
            leftover.relname;
        EXECUTE format('DROP INDEX %I', leftover.relname);
    END LOOP;
END
$$;

SET lock_timeout = 0;

-- 1. cc_conversations
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_conversations_channel_provider_conversation_id_idx
    ON cc_conversations (channel, provider_conversation_id);

-- 2. cc_messages (and 10.: the idempotency key)
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS cc_messages_provider_message_id_key
    ON cc_messages (provider, provider_message_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_messages_conversation_id_created_at_idx
    ON cc_messages (conversation_id, created_at DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_messages_from_address_idx
    ON cc_messages (from_address);

-- 3. cc_cases
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_cases_bank_customer_id_created_at_idx
    ON cc_cases (bank_customer_id, created_at DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_cases_status_priority_idx
    ON cc_cases (status, priority);
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_cases_case_type_created_at_idx
    ON cc_cases (case_type, created_at DESC);

-- 4. cc_auth_sessions
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS cc_auth_sessions_provider_request_id_key
    ON cc_auth_sessions (provider, provider_request_id);

-- 5. cc_audit_logs
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_audit_logs_conversation_id_created_at_idx
    ON cc_audit_logs (conversation_id, created_at DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_audit_logs_case_id_idx
    ON cc_audit_logs (case_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_audit_logs_bank_customer_id_idx
    ON cc_audit_logs (bank_customer_id);

-- 6. cc_identity_links (and 10.)
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS cc_identity_links_channel_address_key
    ON cc_identity_links (channel, address);
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_identity_links_bank_customer_id_idx
    ON cc_identity_links (bank_customer_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_identity_links_address_idx
    ON cc_identity_links (address);

-- 7. cc_comm_preferences
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_comm_preferences_do_not_contact_idx
    ON cc_comm_preferences (do_not_contact);

-- 8. cc_assignments
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_assignments_queue_name_sla_due_at_idx
    ON cc_assignments (queue_name, sla_due_at);
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_assignments_assigned_to_idx
    ON cc_assignments (assigned_to);
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_assignments_conversation_id_idx
    ON cc_assignments (conversation_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_assignments_case_id_idx
    ON cc_assignments (case_id);

SET lock_timeout = '500ms';

-- 10. The unique indexes become the unique constraints (a brief lock, no scan).
DO $$
BEGIN
    PERFORM pg_temp.cc_unique_using_index('cc_messages', 'cc_messages_provider_message_id_key');
END
$$;

DO $$
BEGIN
    PERFORM pg_temp.cc_unique_using_index('cc_identity_links', 'cc_identity_links_channel_address_key');
END
$$;

-- ---------------------------------------------------------------------------------------
-- 9. Row Level Security on all nine tables, with service-role policies. The service role
-- bypasses RLS anyway; the policies are placeholders for user-based access. Where the role
-- does not exist yet (plain PostgreSQL), 007 creates it and these policies.
-- One table per transaction: locking two tables in one transaction can deadlock with a
-- writer that holds one and, through a foreign key, waits for the other.
-- ---------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION pg_temp.cc_enable_rls(tbl text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT (SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass(tbl)) THEN
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
        PERFORM pg_temp.cc_note('rls_enabled', tbl);
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
        RAISE NOTICE '%: RLS enabled; role service_role does not exist, 007 adds its policy', tbl;
    ELSIF NOT EXISTS (SELECT FROM pg_policy WHERE polrelid = to_regclass(tbl)
                                              AND polname = tbl || '_service_role_all') THEN
        EXECUTE format('CREATE POLICY %I ON %I AS PERMISSIVE FOR ALL TO service_role '
                       'USING (true) WITH CHECK (true)', tbl || '_service_role_all', tbl);
    END IF;
END
$fn$;

DO $$ BEGIN PERFORM pg_temp.cc_enable_rls('cc_conversations'); END $$;
DO $$ BEGIN PERFORM pg_temp.cc_enable_rls('cc_messages'); END $$;
DO $$ BEGIN PERFORM pg_temp.cc_enable_rls('cc_cases'); END $$;
DO $$ BEGIN PERFORM pg_temp.cc_enable_rls('cc_auth_sessions'); END $$;
DO $$ BEGIN PERFORM pg_temp.cc_enable_rls('cc_audit_logs'); END $$;
DO $$ BEGIN PERFORM pg_temp.cc_enable_rls('cc_identity_links'); END $$;
DO $$ BEGIN PERFORM pg_temp.cc_enable_rls('cc_comm_preferences'); END $$;
DO $$ BEGIN PERFORM pg_temp.cc_enable_rls('cc_assignments'); END $$;
DO $$ BEGIN PERFORM pg_temp.cc_enable_rls('cc_bank_customers'); END $$;

DO $$ BEGIN PERFORM pg_advisory_unlock(hashtextextended('switchboard:migrations', 0)); END $$;

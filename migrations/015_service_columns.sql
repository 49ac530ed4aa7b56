-- 015: what the service needs of a pre-006 database made elsewhere, beyond what 006 adds.
--
-- By hand:  psql -1 -v ON_ERROR_STOP=1 -f migrations/015_service_columns.sql
--
-- * On a database 001-005 made, this changes nothing. On one `db adopt` took over, it adds
--   the columns the service reads or writes that the database never had (nullable, no
--   default: rows written before keep NULL, so nothing is rewritten or invented), and the
--   defaults the service inserts rows by: gen_random_uuid() for a uuid id, now() for
--   created_at and updated_at, 0 for the check count. A column the database has keeps its
--   type, its NOT NULL and its default; `db adopt` refused beforehand what cannot be fixed
--   here (src/switchboard/migrations/fit.py, docs/migrations.md).
-- * The list below is SERVICE_COLUMNS of src/switchboard/migrations/expected.py; a test
--   builds foreign databases and checks that after 015 the service finds what it needs.
-- * What it changes is noted in switchboard_migration_changes for its rollback.
-- squawk-ignore-file prefer-robust-stmts -- every statement is guarded inside the DO block;
-- squawk cannot see the guards there.
SET lock_timeout = '5s';
SET statement_timeout = '30s';

DO $$
DECLARE
    need record;
    coltype text;
    has_default boolean;
    fits text;
BEGIN
    FOR need IN
        SELECT * FROM (VALUES
            ('cc_conversations', 'bank_customer_id', 'uuid', NULL),
            ('cc_conversations', 'created_at', 'timestamptz', 'now()'),
            ('cc_conversations', 'updated_at', 'timestamptz', 'now()'),
            ('cc_conversations', 'id', NULL, 'gen_random_uuid()'),
            ('cc_messages', 'created_at', NULL, 'now()'),
            ('cc_messages', 'id', NULL, 'gen_random_uuid()'),
            ('cc_cases', 'created_at', NULL, 'now()'),
            ('cc_cases', 'updated_at', 'timestamptz', 'now()'),
            ('cc_cases', 'id', NULL, 'gen_random_uuid()'),
            ('cc_auth_sessions', 'bank_customer_id', 'uuid', NULL),
            ('cc_auth_sessions', 'expires_at', 'timestamptz', NULL),
            ('cc_auth_sessions', 'check_attempts', NULL, '0'),
            ('cc_audit_logs', 'created_at', NULL, 'now()'),
            ('cc_audit_logs', 'id', NULL, 'gen_random_uuid()'),
            ('cc_identity_links', 'created_at', 'timestamptz', 'now()'),
            ('cc_identity_links', 'updated_at', 'timestamptz', 'now()'),
            ('cc_identity_links', 'id', NULL, 'gen_random_uuid()'),
            ('cc_comm_preferences', 'created_at', 'timestamptz', 'now()'),
            ('cc_comm_preferences', 'updated_at', 'timestamptz', 'now()'),
            ('cc_comm_preferences', 'id', NULL, 'gen_random_uuid()'),
            ('cc_assignments', 'created_at', 'timestamptz', 'now()'),
            ('cc_assignments', 'updated_at', 'timestamptz', 'now()'),
            ('cc_assignments', 'id', NULL, 'gen_random_uuid()')
        ) AS v(tbl, col, add_type, default_sql)
    LOOP
        SELECT format_type(a.atttypid, a.atttypmod), a.atthasdef OR a.attidentity <> ''
        INTO coltype, has_default
        FROM pg_attribute AS a
        WHERE a.attrelid = to_regclass(need.tbl) AND a.attname = need.col
          AND a.attnum > 0 AND NOT a.attisdropped;
        IF coltype IS NULL AND need.add_type IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I ADD COLUMN %I %s', need.tbl, need.col, need.add_type);
            INSERT INTO switchboard_migration_changes (migration, kind, target)
            VALUES ('015', 'column_added', need.tbl || '.' || need.col);
            coltype := format_type(need.add_type::regtype, NULL);
            has_default := false;
        END IF;
        -- A default only of the type it fits: an integer id keeps its own (adopt refused one
        -- without), and a column of another type was refused by adopt as well.
        fits := CASE need.default_sql WHEN 'gen_random_uuid()' THEN 'uuid'
                                      WHEN 'now()' THEN 'timestamp with time zone'
                                      ELSE 'integer' END;
        IF need.default_sql IS NOT NULL AND NOT has_default AND coltype = fits THEN
            EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET DEFAULT %s',
                           need.tbl, need.col, need.default_sql);
            INSERT INTO switchboard_migration_changes (migration, kind, target)
            VALUES ('015', 'default_set', need.tbl || '.' || need.col);
        END IF;
    END LOOP;
END
$$;

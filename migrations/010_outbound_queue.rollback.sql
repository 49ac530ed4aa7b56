-- Undo 010: the job queue (procrastinate's tables, types and functions) and the sandbox
-- outbox go. Refused while a send is still waiting in the queue: dropping it would lose it.
-- squawk-ignore-file ban-drop-table, ban-drop-function, ban-drop-type -- the rollback drops
-- what 010 created, in one transaction
SET lock_timeout = '5s';
SET statement_timeout = '5min';

DO $$
DECLARE
    waiting bigint;
BEGIN
    IF to_regclass('procrastinate_jobs') IS NOT NULL THEN
        SELECT count(*) INTO waiting FROM procrastinate_jobs WHERE status IN ('todo', 'doing');
        IF waiting > 0 THEN
            RAISE EXCEPTION 'refusing to drop the job queue: % job(s) still waiting or running',
                waiting
                USING HINT = 'run `switchboard worker` until the queue is empty, or cancel '
                             'the jobs, then roll back again';
        END IF;
    END IF;
END
$$;

DROP TABLE IF EXISTS cc_sandbox_outbox;

-- procrastinate's objects are named procrastinate_*, whichever of its versions made them (010
-- took its schema from the installed package, and the package's own migrations may have run
-- since). Functions that return a table's rows go before the tables, trigger functions after
-- the tables whose triggers call them, types last.
DO $$
DECLARE
    here constant regnamespace := current_schema()::regnamespace;
    listed text;
BEGIN
    SELECT string_agg(p.oid::regprocedure::text, ', ') INTO listed FROM pg_proc AS p
    WHERE p.pronamespace = here AND p.proname LIKE 'procrastinate\_%'
      AND p.prorettype <> 'trigger'::regtype;
    IF listed IS NOT NULL THEN
        EXECUTE 'DROP FUNCTION ' || listed;
    END IF;
    SELECT string_agg(c.oid::regclass::text, ', ') INTO listed FROM pg_class AS c
    WHERE c.relnamespace = here AND c.relkind IN ('r', 'p') AND c.relname LIKE 'procrastinate\_%';
    IF listed IS NOT NULL THEN
        EXECUTE 'DROP TABLE ' || listed;
    END IF;
    SELECT string_agg(p.oid::regprocedure::text, ', ') INTO listed FROM pg_proc AS p
    WHERE p.pronamespace = here AND p.proname LIKE 'procrastinate\_%';
    IF listed IS NOT NULL THEN
        EXECUTE 'DROP FUNCTION ' || listed;
    END IF;
    SELECT string_agg(t.oid::regtype::text, ', ') INTO listed FROM pg_type AS t
    WHERE t.typnamespace = here AND t.typname LIKE 'procrastinate\_%' AND t.typtype IN ('e', 'c')
      AND (t.typrelid = 0 OR EXISTS (SELECT FROM pg_class AS c
                                     WHERE c.oid = t.typrelid AND c.relkind = 'c'));
    IF listed IS NOT NULL THEN
        EXECUTE 'DROP TYPE ' || listed;
    END IF;
END
$$;

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

-- This function returns a row of procrastinate_jobs, so it goes before the table.
DROP FUNCTION IF EXISTS procrastinate_fetch_job_v2(character varying[], bigint);
DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,
    procrastinate_workers;
DROP FUNCTION IF EXISTS
    procrastinate_defer_jobs_v1(procrastinate_job_to_defer_v1[]),
    procrastinate_defer_periodic_job_v2(character varying, character varying, character varying,
        character varying, integer, character varying, bigint, jsonb),
    procrastinate_finish_job_v1(bigint, procrastinate_job_status, boolean),
    procrastinate_cancel_job_v1(bigint, boolean, boolean),
    procrastinate_retry_job_v1(bigint, timestamp with time zone, integer, character varying,
        character varying),
    procrastinate_retry_job_v2(bigint, timestamp with time zone, integer, character varying,
        character varying),
    procrastinate_notify_queue_job_inserted_v1(),
    procrastinate_notify_queue_abort_job_v1(),
    procrastinate_trigger_function_status_events_insert_v1(),
    procrastinate_trigger_function_status_events_update_v1(),
    procrastinate_trigger_function_scheduled_events_v1(),
    procrastinate_trigger_abort_requested_events_procedure_v1(),
    procrastinate_unlink_periodic_defers_v1(),
    procrastinate_register_worker_v1(),
    procrastinate_unregister_worker_v1(bigint),
    procrastinate_update_heartbeat_v1(bigint),
    procrastinate_prune_stalled_workers_v1(double precision);
DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type,
    procrastinate_job_status;

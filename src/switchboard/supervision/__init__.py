"""What a supervisor reads of their queues: the live figures, the items waiting or held, recent
SLA breaches. Every read runs in the supervisor's name under row-level security (021, 024, 028)."""

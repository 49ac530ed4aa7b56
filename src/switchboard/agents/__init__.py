"""Agents: the people who work the queues, their roles, queues and enrolment."""

"""Work handed to human queues, each with the time it must be picked up by."""

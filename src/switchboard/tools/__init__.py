"""The tools the AI voice assistant calls mid-call, and what each may do for whom."""

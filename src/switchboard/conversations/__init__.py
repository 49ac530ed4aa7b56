"""Conversations: the threads messages belong to, one per channel-specific thread key."""

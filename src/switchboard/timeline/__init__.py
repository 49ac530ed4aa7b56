"""What an agent reads of a conversation: its messages across channels and the assistant's tool
calls, newest first, a page at a time, and the caller's verification level now."""

"""What an agent reads of a conversation: its messages across channels, the assistant's tool
calls and agents' internal notes, newest first, a page at a time; and the caller's
verification level now."""

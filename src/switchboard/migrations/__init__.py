"""Plain-SQL schema migrations: reading them, applying them in order, checking the result."""

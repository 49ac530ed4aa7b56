"""The agent console: server-rendered pages under /console, with htmx and its SSE extension
served from static/vendor/ (fetched by `make setup` at the versions vendor.json pins)."""

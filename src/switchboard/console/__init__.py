"""The agent console: pages rendered on the server (Jinja2) under /console and updated in place
with htmx, for agents and supervisors. It reads through the agents' API's own handlers and
writes by calling the API from the browser: no second path to the data. htmx and its SSE
extension are served from static/vendor/, fetched by `make setup` at the versions vendor.json
pins."""

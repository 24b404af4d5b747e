"""The web UI: server-rendered pages (Jinja2, HTMX), vendored JavaScript, session login."""

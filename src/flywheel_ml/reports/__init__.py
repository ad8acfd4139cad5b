"""Documents and summaries rendered from recorded facts (Jinja2 → Markdown / HTML)."""

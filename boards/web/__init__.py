"""The pages and htmx partials: form -> access check -> one service call or query -> render."""

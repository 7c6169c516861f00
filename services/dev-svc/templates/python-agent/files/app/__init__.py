"""The agent service: an HTTP front (app.main) around the agent itself (app.agent)."""

"""The agent: what it answers. Replace `reply` with your model or tool calls."""

from dataclasses import dataclass, field


@dataclass
class Agent:
    """A small conversational agent that keeps no state between requests."""

    name: str = "python-agent"
    greetings: tuple = field(default=("hello", "hi", "hey"))

    def reply(self, text: str) -> str:
        """Answers one message. Pure and fast, so it is easy to test."""
        message = text.strip()
        if not message:
            return "Say something and I will answer."
        if message.lower().rstrip("!.") in self.greetings:
            return f"Hello! I am {self.name}. Ask me anything."
        if message.endswith("?"):
            return f"Good question. You asked: {message}"
        return f"You said: {message}"

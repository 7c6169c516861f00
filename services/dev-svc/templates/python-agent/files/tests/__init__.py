"""Tests of the agent and of its HTTP service."""

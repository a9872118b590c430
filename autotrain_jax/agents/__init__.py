"""Agents that learn to steer training."""

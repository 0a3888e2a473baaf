"""Channels: what the chatbot, the public FAQ and the agents' API are served, and from one rule."""

"""The quickstart example project (reviews, prompts, suite), shipped as package data."""

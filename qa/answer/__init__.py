"""The answer chain: condense follow-up -> retrieve -> answer -> cite."""

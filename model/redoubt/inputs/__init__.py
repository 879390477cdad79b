"""The edge where files and keywords come in: scenario files, their schema and limits."""

"""Artifacts: find the files a response produced, archive them to storage, describe them."""

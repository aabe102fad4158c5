"""Package data: the music-genre crowd set (see CITATION.md beside this file)."""

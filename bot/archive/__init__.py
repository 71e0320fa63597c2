"""The archive, opened: full-text search, counts, charts and exports over stored posts.

``terms`` makes what the FTS5 index holds for a text, ``fts`` turns a parsed rule into an
FTS5 query, ``search`` runs it (candidates from SQLite, confirmed by the matcher),
``indexer`` builds the index for posts stored before it existed, ``window`` reads the
periods people type.
"""

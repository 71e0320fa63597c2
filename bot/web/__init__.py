"""``chanwatch web``: the archive in a browser through Datasette (the optional ``web`` extra).

site.py assembles Datasette (metadata, settings, canned queries); plugin.py teaches it the
rule language and refuses writes; auth.py puts the password in front; queries.py holds the
SQL. Importing this package imports nothing of Datasette: the modules do, when used.
"""

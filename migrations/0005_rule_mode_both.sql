-- A rule's default is now to alert at once *and* count in the digest ('both'); before, new
-- rules were 'instant' and a chat that turned on /digest got an empty digest with its ordinary
-- rules. Rules at the old default move to the new one. (The column's DEFAULT stays 'instant' —
-- SQLite cannot change a default without rebuilding the table — so every insert names its mode;
-- see Store.add_rule.) /mode <n> instant still makes a rule alerts-only.
UPDATE rules SET mode = 'both' WHERE mode = 'instant';

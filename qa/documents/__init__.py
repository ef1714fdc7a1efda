"""Your documents: a registry of what was added, the kept originals, and the one writer that changes the store.

`registry` persists documents and jobs (SQLite in the data folder), `library` makes each change
(add, replace, delete, reindex, folder sync, recovery after a crash), `writer` runs those changes
one at a time on a single thread of the serving process, and `lock` keeps a second process from
writing beside it.
"""

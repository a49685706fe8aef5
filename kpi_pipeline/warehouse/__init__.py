"""The DuckDB warehouse: range-replace loads, the analysts' published copy,
storage problems in words.

``database`` (the connection, atomic range replace, publish), ``loading`` (a stream's pages ->
one load), ``published`` (the copy on disk, an analyst's writes kept aside), ``storage`` (a full
disk, a denied folder, a program holding the file), ``faults`` (fault points tests arm).
"""

"""ASTM E1381 (CLSI LIS01-A2) low level and ASTM E1394 (CLSI LIS02-A2) records, sans-I/O.

- :mod:`.frames`: frame build/parse, checksum, an incremental scanner for byte streams.
- :mod:`.link`: the E1381 link state machine for both roles (sender and receiver in one endpoint).
- :mod:`.records`: E1394 records, delimiters from the H record, escapes.
- :mod:`.capture`: decode a raw capture (ENQ … EOT as a sniffer records it) into sessions and results.
"""

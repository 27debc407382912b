"""Sans-I/O codecs: bytes in, events/records out. No sockets, no sleeping; timers are driven by the
caller passing ``now`` timestamps."""

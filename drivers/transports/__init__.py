"""Transports: byte links to instruments (serial, TCP, Modbus). Codecs never see these; the caller moves
bytes between a transport and a sans-I/O codec."""

"""Instrument drivers: transports, sans-I/O codecs and device profiles declared as data.

May import only the standard library, pyserial, pymodbus and numpy (ARCHITECTURE.md).
"""

"""The tlsmgm core: config reading, domain model, matching, certificates, validation, TLS, DB.

Nothing under this package imports click or rich, prints, or exits: functions take plain
arguments and return plain data (dataclasses, dicts, lists) or raise TlsmgmError.
"""

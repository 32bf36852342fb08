"""Vocabulary shared by every layer: plain frozen values, enums and errors. No I/O."""

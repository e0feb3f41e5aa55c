"""LambdaMOO textdumps: the classic database files (LambdaCore and every world built on
it), read as LambdaMOO 1.8.1 reads them (``reader.py``, into ``model.py``'s structures)."""

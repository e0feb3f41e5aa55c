"""LambdaMOO textdumps: the classic database files (LambdaCore and every world built on
it), read and written as LambdaMOO 1.8.1 reads and writes them (``reader.py`` and
``writer.py``, with ``model.py``'s structures between them)."""

"""The MOO language: LambdaMOO 1.8's language, compiled to Python code objects.

The pipeline, each step its own module:

1. ``lexer``: source text -> tokens (LambdaMOO's token rules: ``#12``, ``E_DIV``, floats,
   strings with ``\\`` escapes, ``..``, ``=>``, ``$name``).
2. ``parser``: tokens -> the AST of ``tree`` (the contract between every later step). A
   syntax error raises ``MooSyntaxError`` with LambdaMOO-style messages and line numbers.
3. ``unparse``: AST -> source text in LambdaMOO's canonical layout (``@list``, ``verb_code``).
4. ``codegen``: AST -> a Python ``ast.Module`` -> a code object, via ``compile``. MOO names
   never become Python names as written (every variable is mangled), and the code runs
   with empty ``__builtins__``: it reaches only the runtime helpers ``codegen`` passes in.
   ``analysis`` tells it what is known before writing (int-only variables, tick-free
   loops); ``fastpaths`` and ``fast_statements`` write the inline fast paths of the common
   cases, ``loops`` the
   loops with their ticks.
5. ``ops``: the helpers compiled code calls for what Python would do differently
   (arithmetic with MOO's types and errors, case-insensitive equality, 1-based indexing,
   ranges, scattering).
6. ``builtins/``: the builtin functions (``length``, ``tostr``, ``create``, ...), one registry.

Values (``moo.world.values``): int, float, str, ObjRef, Err, list (never changed where
anything but the one variable changing it holds it: ``fast_statements``).
Errors raised by MOO code are ``moo.lang.errors.MooRaise``; a task over its tick or time
budget is ended by ``TaskAbort``, which MOO code cannot catch.
"""
